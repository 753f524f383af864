/* zck_keymerge.c - is any key in two sorted runs?  A k-way merge in bounded memory.
 *
 * The writer's duplicate-path check keeps at most a fixed number of path keys
 * in memory; each time that set fills up, its keys are written out, sorted, as
 * a run.  A key that appears twice across runs is found here: the runs are
 * merged in ascending order, and two equal keys come out next to each other.
 *
 * The caller keeps the runs (a file, usually) and feeds each run in pieces of
 * at most ZCK_KEYMERGE_FEED keys when next() asks for one, so the memory used
 * here is that many keys per run, however long the runs are.
 *
 * A binary min-heap orders the runs that have a key in hand by that key; each
 * heap slot holds the key itself (as two big-endian halves, which order as the
 * bytes do), so sifting never reaches into the runs' buffers. */
#include "zck_internal.h"

#define KEY ((size_t)ZCK_PATHSET_KEY)
#define FEED ((size_t)ZCK_KEYMERGE_FEED)

typedef struct {
    uint8_t keys[ZCK_KEYMERGE_FEED * ZCK_PATHSET_KEY];
    size_t pos, len;
} run_buf;

typedef struct {
    uint64_t hi, lo; /* the run's current key */
    size_t run;
} heap_slot;

struct zck_keymerge {
    run_buf *runs;
    size_t n_runs;
    heap_slot *heap;   /* runs with a key in hand, smallest key on top */
    size_t heap_len;
    size_t primed;     /* runs 0 .. primed-1 have had their first feed */
    size_t asked;      /* the run next() asked for, when `asking` */
    int asking;
    uint8_t last[ZCK_PATHSET_KEY];
    int have_last;
};

zck_keymerge *zck_keymerge_new(size_t runs)
{
    if (runs > SIZE_MAX / sizeof(run_buf) || runs > SIZE_MAX / sizeof(heap_slot))
        return NULL;
    zck_keymerge *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->n_runs = runs;
    if (runs > 0) {
        m->runs = malloc(runs * sizeof(run_buf));
        m->heap = malloc(runs * sizeof(heap_slot));
        if (m->runs == NULL || m->heap == NULL) {
            zck_keymerge_free(m);
            return NULL;
        }
    }
    return m;
}

void zck_keymerge_free(zck_keymerge *m)
{
    if (m == NULL)
        return;
    free(m->runs);
    free(m->heap);
    free(m);
}

size_t zck_keymerge_sizeof(const zck_keymerge *m)
{
    return m == NULL ? 0 : sizeof *m + m->n_runs * (sizeof(run_buf) + sizeof(heap_slot));
}

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Load run's current key into slot i. */
static void slot_load(zck_keymerge *m, size_t i, size_t run)
{
    const run_buf *r = &m->runs[run];
    const uint8_t *key = r->keys + r->pos * KEY;
    m->heap[i].hi = load_be64(key);
    m->heap[i].lo = load_be64(key + 8);
    m->heap[i].run = run;
}

static int heap_less(const zck_keymerge *m, size_t a, size_t b)
{
    const heap_slot *x = &m->heap[a], *y = &m->heap[b];
    return x->hi < y->hi || (x->hi == y->hi && x->lo < y->lo);
}

static void heap_swap(zck_keymerge *m, size_t a, size_t b)
{
    heap_slot t = m->heap[a];
    m->heap[a] = m->heap[b];
    m->heap[b] = t;
}

static void heap_down(zck_keymerge *m, size_t i)
{
    for (;;) {
        size_t smallest = i, l = 2 * i + 1, r = 2 * i + 2;
        if (l < m->heap_len && heap_less(m, l, smallest))
            smallest = l;
        if (r < m->heap_len && heap_less(m, r, smallest))
            smallest = r;
        if (smallest == i)
            return;
        heap_swap(m, i, smallest);
        i = smallest;
    }
}

static void heap_push(zck_keymerge *m, size_t run)
{
    size_t i = m->heap_len++;
    slot_load(m, i, run);
    while (i > 0 && heap_less(m, i, (i - 1) / 2)) {
        heap_swap(m, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

int zck_keymerge_feed(zck_keymerge *m, size_t run, const uint8_t *keys, size_t n)
{
    ZCK_RETURN_IF(m == NULL || (keys == NULL && n != 0) || n > FEED, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(!m->asking || run != m->asked, ZCK_E_STATE);
    m->asking = 0;
    if (m->primed < m->n_runs && run == m->primed)
        m->primed++;
    if (n == 0)
        return ZCK_OK; /* the run is used up */
    run_buf *r = &m->runs[run];
    memcpy(r->keys, keys, n * KEY);
    r->pos = 0;
    r->len = n;
    heap_push(m, run);
    return ZCK_OK;
}

int zck_keymerge_next(zck_keymerge *m, int *want, size_t *need, uint8_t *dup)
{
    ZCK_RETURN_IF(m == NULL || want == NULL || need == NULL || dup == NULL, ZCK_E_INVALID_ARGUMENT);
    *want = 0;
    *need = 0;
    ZCK_RETURN_IF(m->asking, ZCK_E_STATE);
    if (m->primed < m->n_runs) {
        m->asking = 1;
        m->asked = m->primed;
        *want = 1;
        *need = m->primed;
        return ZCK_OK;
    }
    while (m->heap_len > 0) {
        size_t top = m->heap[0].run;
        run_buf *r = &m->runs[top];
        const uint8_t *key = r->keys + r->pos * KEY;
        if (m->have_last && memcmp(key, m->last, KEY) == 0) {
            memcpy(dup, key, KEY);
            return ZCK_E_TAR_DUPLICATE_PATH;
        }
        memcpy(m->last, key, KEY);
        m->have_last = 1;
        if (++r->pos < r->len) {
            slot_load(m, 0, top);
            heap_down(m, 0);
            continue;
        }
        /* the run's piece is used up: take it off the heap and ask for more */
        m->heap[0] = m->heap[--m->heap_len];
        heap_down(m, 0);
        m->asking = 1;
        m->asked = top;
        *want = 1;
        *need = top;
        return ZCK_OK;
    }
    return ZCK_OK;
}

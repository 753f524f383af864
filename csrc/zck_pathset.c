/* zck_pathset.c - a set of byte strings kept as 128-bit SHA-256 prefixes.
 *
 * The writer must refuse a second tar entry for a path it has already seen
 * (tar-split cannot represent two).  Keeping every path as a Python string
 * costs about 130 bytes per entry; this table costs 16 bytes per slot at a
 * load of at most 3/4.  Two different paths share a 128-bit prefix of their
 * SHA-256 with probability about n^2 / 2^129: zero for any real layer.
 *
 * Open addressing with linear probing; slot i is free when used[i] == 0.
 * The table doubles when it would pass 3/4 full. */
#include "zck_internal.h"

#define PATHSET_KEY ((size_t)ZCK_PATHSET_KEY)
#define PATHSET_MIN_SLOTS 1024u

struct zck_pathset {
    uint8_t *keys;    /* slots * PATHSET_KEY bytes */
    uint8_t *used;    /* slots flags */
    size_t slots;     /* a power of two */
    size_t count;
    int sha_ni;
};

static int pathset_alloc(size_t slots, uint8_t **keys, uint8_t **used)
{
    if (slots > SIZE_MAX / PATHSET_KEY)
        return ZCK_E_OVERFLOW;
    *keys = malloc(slots * PATHSET_KEY);
    *used = calloc(slots, 1);
    if (*keys == NULL || *used == NULL) {
        free(*keys);
        free(*used);
        *keys = NULL;
        *used = NULL;
        return ZCK_E_NOMEM;
    }
    return ZCK_OK;
}

zck_pathset *zck_pathset_new(void)
{
    zck_pathset *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (pathset_alloc(PATHSET_MIN_SLOTS, &s->keys, &s->used) != ZCK_OK) {
        free(s);
        return NULL;
    }
    s->slots = PATHSET_MIN_SLOTS;
    s->sha_ni = zck_sha256_ni_available();
    return s;
}

void zck_pathset_free(zck_pathset *s)
{
    if (s == NULL)
        return;
    free(s->keys);
    free(s->used);
    free(s);
}

size_t zck_pathset_count(const zck_pathset *s)
{
    return s == NULL ? 0 : s->count;
}

size_t zck_pathset_sizeof(const zck_pathset *s)
{
    return s == NULL ? 0 : sizeof *s + s->slots * (PATHSET_KEY + 1);
}

static size_t pathset_home(const uint8_t *key, size_t slots)
{
    return (size_t)zck_load_le64(key) & (slots - 1);
}

/* Index of key's slot, or of the free slot where it belongs. */
static size_t pathset_find(const uint8_t *keys, const uint8_t *used, size_t slots, const uint8_t *key)
{
    size_t i = pathset_home(key, slots);
    while (used[i] && memcmp(keys + i * PATHSET_KEY, key, PATHSET_KEY) != 0)
        i = (i + 1) & (slots - 1);
    return i;
}

static int pathset_grow(zck_pathset *s)
{
    if (s->slots > SIZE_MAX / 2)
        return ZCK_E_OVERFLOW;
    size_t slots = s->slots * 2;
    uint8_t *keys, *used;
    int rc = pathset_alloc(slots, &keys, &used);
    if (rc != ZCK_OK)
        return rc;
    for (size_t i = 0; i < s->slots; i++) {
        if (!s->used[i])
            continue;
        const uint8_t *key = s->keys + i * PATHSET_KEY;
        size_t j = pathset_find(keys, used, slots, key);
        memcpy(keys + j * PATHSET_KEY, key, PATHSET_KEY);
        used[j] = 1;
    }
    free(s->keys);
    free(s->used);
    s->keys = keys;
    s->used = used;
    s->slots = slots;
    return ZCK_OK;
}

int zck_pathset_add(zck_pathset *s, const uint8_t *p, size_t n, int *added)
{
    ZCK_RETURN_IF(s == NULL || added == NULL || (p == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    *added = 0;
    /* keep the load at or below 3/4 after this insertion */
    if ((s->count + 1) > s->slots / 4 * 3)
        ZCK_FORWARD(pathset_grow(s));
    zck_sha256_ctx ctx;
    uint8_t digest[32];
    zck_sha256_init(&ctx, s->sha_ni);
    zck_sha256_update(&ctx, p, n);
    zck_sha256_final(&ctx, digest);
    size_t i = pathset_find(s->keys, s->used, s->slots, digest);
    if (s->used[i])
        return ZCK_OK;
    memcpy(s->keys + i * PATHSET_KEY, digest, PATHSET_KEY);
    s->used[i] = 1;
    s->count++;
    *added = 1;
    return ZCK_OK;
}

static int pathset_key_order(const void *a, const void *b)
{
    return memcmp(a, b, PATHSET_KEY);
}

int zck_pathset_drain_sorted(zck_pathset *s, uint8_t *out, size_t cap, size_t *n)
{
    ZCK_RETURN_IF(s == NULL || n == NULL || (out == NULL && cap != 0), ZCK_E_INVALID_ARGUMENT);
    *n = 0;
    ZCK_RETURN_IF(cap < s->count, ZCK_E_DST_TOO_SMALL);
    size_t k = 0;
    for (size_t i = 0; i < s->slots && k < s->count; i++) {
        if (s->used[i])
            memcpy(out + (k++) * PATHSET_KEY, s->keys + i * PATHSET_KEY, PATHSET_KEY);
    }
    if (k > 1)
        qsort(out, k, PATHSET_KEY, pathset_key_order);
    memset(s->used, 0, s->slots);
    s->count = 0;
    *n = k;
    return ZCK_OK;
}

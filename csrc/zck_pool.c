/* zck_pool.c - persistent worker pool compressing batches of independent
 * frames (zck_job) or running payload jobs (zck_pjob, zck_payload.c).
 *
 * One ZSTD_CCtx and one chunker per worker, all set up identically
 * (zck_cctx_setup).  Workers take the next job index under the mutex, run it
 * into the job's own output buffers and record the result in the job's own
 * slots: no two threads ever write the same memory, and the bytes of a frame
 * do not depend on which worker made it.  Payload jobs are handed out largest
 * first (a schedule sorted at submit), plain jobs in index order.  Workers
 * never call back into Python and never exit the process; they only leave
 * their loop when the pool is freed. */
#include "zck_internal.h"
#include "zck_threads.h"

typedef struct {
    zck_pool *pool;
    unsigned index;
} zck_worker;

/* One entry of a payload batch's schedule. */
typedef struct {
    size_t size;
    size_t index;
} zck_sched;

struct zck_pool {
    unsigned nthreads;   /* worker threads (0: run in the caller inside wait) */
    unsigned started;    /* threads actually running */
    unsigned n_cctx;     /* nthreads + 1: one per worker, the last for a caller running jobs */
    int level;
    int sha_ni;          /* zck_sha256_ni_available(), asked once at creation */
    zck_mutex_t mu;
    zck_cond_t work_cv;  /* workers: a batch arrived, or shutdown */
    zck_cond_t done_cv;  /* waiters: the batch finished */
    ZSTD_CCtx **cctx;
    zck_chunker **chunkers; /* n_cctx of them, for payload jobs */
    zck_thread_t *threads;
    zck_worker *workers;

    /* batch state, guarded by mu */
    zck_job *jobs;       /* a zck_job batch, or */
    zck_pjob *pjobs;     /* a payload batch, run in the order of sched[] */
    zck_sched *sched;    /* grown by submit; read by workers only while busy */
    size_t sched_cap;
    size_t n_jobs;
    size_t next;         /* next job index to hand out */
    size_t done;         /* jobs finished */
    int busy;            /* a batch was submitted and not yet waited for */
    int caller_running;  /* a waiter is running jobs (nthreads == 0, or zck_pool_wait_assist) */
    int shutdown;
};

static const uint8_t zck_pool_empty = 0;

static void compress_job(ZSTD_CCtx *cctx, zck_job *j)
{
    size_t r;
    j->dst_size = 0;
    if ((j->src == NULL && j->src_size > 0) || (j->dst == NULL && j->dst_capacity > 0)) {
        j->error = ZCK_E_INVALID_ARGUMENT;
        return;
    }
    r = ZSTD_compress2(cctx, j->dst, j->dst_capacity, j->src != NULL ? j->src : &zck_pool_empty, j->src_size);
    j->error = zck_from_zstd_error(r);
    if (j->error == ZCK_OK)
        j->dst_size = r;
}

/* Run jobs until none is left to hand out, with the contexts of worker
 * `index`.  Called and returns with mu held. */
static void run_jobs(zck_pool *p, unsigned index)
{
    while (p->busy && p->next < p->n_jobs) {
        size_t i = p->next++;
        zck_pjob *pj = p->pjobs != NULL ? &p->pjobs[p->sched[i].index] : NULL;
        zck_job *j = p->pjobs != NULL ? NULL : &p->jobs[i];
        zck_mutex_unlock(&p->mu);
        if (pj != NULL) {
            zck_pjob_worker w;
            w.cctx = p->cctx[index];
            w.chunker = p->chunkers[index];
            w.sha_ni = p->sha_ni;
            zck_pjob_run(&w, pj);
        } else {
            compress_job(p->cctx[index], j);
        }
        zck_mutex_lock(&p->mu);
        p->done++;
        if (p->done == p->n_jobs)
            zck_cond_broadcast(&p->done_cv);
    }
}

static void worker_main(void *arg)
{
    zck_worker *w = (zck_worker *)arg;
    zck_pool *p = w->pool;

    zck_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && !(p->busy && p->next < p->n_jobs))
            zck_cond_wait(&p->work_cv, &p->mu);
        if (p->shutdown)
            break;
        run_jobs(p, w->index);
    }
    zck_mutex_unlock(&p->mu);
}

static void destroy(zck_pool *p)
{
    unsigned i;
    if (p->started > 0) {
        zck_mutex_lock(&p->mu);
        p->shutdown = 1;
        zck_cond_broadcast(&p->work_cv);
        zck_mutex_unlock(&p->mu);
        for (i = 0; i < p->started; i++)
            (void)zck_thread_join(p->threads[i]);
    }
    if (p->cctx != NULL) {
        for (i = 0; i < p->n_cctx; i++)
            ZSTD_freeCCtx(p->cctx[i]);
    }
    if (p->chunkers != NULL) {
        for (i = 0; i < p->n_cctx; i++)
            zck_chunker_free(p->chunkers[i]);
    }
    free(p->cctx);
    free(p->chunkers);
    free(p->sched);
    free(p->threads);
    free(p->workers);
    zck_cond_destroy(&p->done_cv);
    zck_cond_destroy(&p->work_cv);
    zck_mutex_destroy(&p->mu);
    free(p);
}

zck_pool *zck_pool_new(unsigned nthreads, int level, int *err)
{
    zck_pool *p;
    unsigned i;
    int rc;

    if (err != NULL)
        *err = ZCK_OK;
    rc = zck_check_level(level);
    if (rc == ZCK_OK && nthreads > 1024u)
        rc = ZCK_E_INVALID_ARGUMENT;
    if (rc != ZCK_OK) {
        if (err != NULL)
            *err = rc;
        return NULL;
    }
    p = (zck_pool *)calloc(1, sizeof(*p));
    if (p == NULL) {
        if (err != NULL)
            *err = ZCK_E_NOMEM;
        return NULL;
    }
    p->nthreads = nthreads;
    p->level = level;
    p->sha_ni = zck_sha256_ni_available();
    p->n_cctx = nthreads + 1u;
    if (zck_mutex_init(&p->mu) != 0) {
        free(p);
        if (err != NULL)
            *err = ZCK_E_THREAD;
        return NULL;
    }
    if (zck_cond_init(&p->work_cv) != 0) {
        zck_mutex_destroy(&p->mu);
        free(p);
        if (err != NULL)
            *err = ZCK_E_THREAD;
        return NULL;
    }
    if (zck_cond_init(&p->done_cv) != 0) {
        zck_cond_destroy(&p->work_cv);
        zck_mutex_destroy(&p->mu);
        free(p);
        if (err != NULL)
            *err = ZCK_E_THREAD;
        return NULL;
    }
    /* From here on destroy() cleans up whatever was created. */
    p->cctx = (ZSTD_CCtx **)calloc(p->n_cctx, sizeof(*p->cctx));
    p->chunkers = (zck_chunker **)calloc(p->n_cctx, sizeof(*p->chunkers));
    if (nthreads > 0) {
        p->threads = (zck_thread_t *)calloc(nthreads, sizeof(*p->threads));
        p->workers = (zck_worker *)calloc(nthreads, sizeof(*p->workers));
    }
    rc = ZCK_OK;
    if (p->cctx == NULL || p->chunkers == NULL || (nthreads > 0 && (p->threads == NULL || p->workers == NULL)))
        rc = ZCK_E_NOMEM;
    for (i = 0; rc == ZCK_OK && i < p->n_cctx; i++) {
        p->cctx[i] = ZSTD_createCCtx();
        p->chunkers[i] = zck_chunker_new();
        if (p->cctx[i] == NULL || p->chunkers[i] == NULL)
            rc = ZCK_E_NOMEM;
        else
            rc = zck_cctx_setup(p->cctx[i], level);
    }
    for (i = 0; rc == ZCK_OK && i < nthreads; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        if (zck_thread_create(&p->threads[i], worker_main, &p->workers[i]) != 0)
            rc = ZCK_E_THREAD;
        else
            p->started++;
    }
    if (rc != ZCK_OK) {
        destroy(p);
        if (err != NULL)
            *err = rc;
        return NULL;
    }
    return p;
}

void zck_pool_free(zck_pool *p)
{
    if (p == NULL)
        return;
    zck_mutex_lock(&p->mu);
    /* Let a batch in flight finish: workers write into the caller's buffers. */
    while (p->busy && p->done < p->n_jobs && (p->started > 0 || p->caller_running))
        zck_cond_wait(&p->done_cv, &p->mu);
    p->busy = 0;
    zck_mutex_unlock(&p->mu);
    destroy(p);
}

size_t zck_pool_sizeof(const zck_pool *p)
{
    size_t total;
    unsigned i;
    if (p == NULL)
        return 0;
    total = sizeof(*p) + p->n_cctx * (sizeof(*p->cctx) + sizeof(*p->chunkers));
    total += p->nthreads * (sizeof(*p->threads) + sizeof(*p->workers));
    total += p->sched_cap * sizeof(*p->sched);
    for (i = 0; i < p->n_cctx; i++)
        total += ZSTD_sizeof_CCtx(p->cctx[i]) + zck_chunker_sizeof(p->chunkers[i]);
    return total;
}

unsigned zck_pool_threads(const zck_pool *p)
{
    return p == NULL ? 0 : p->nthreads;
}

/* Publish a batch (of plain jobs or of payload jobs) to the workers and wake
 * them.  Called with p->mu held, which it releases. */
static int start_batch(zck_pool *p, zck_job *jobs, zck_pjob *pjobs, size_t n)
{
    p->jobs = jobs;
    p->pjobs = pjobs;
    p->n_jobs = n;
    p->next = 0;
    p->done = 0;
    p->busy = 1;
    if (p->started > 0 && n > 0)
        zck_cond_broadcast(&p->work_cv);
    zck_mutex_unlock(&p->mu);
    return ZCK_OK;
}

int zck_pool_submit(zck_pool *p, zck_job *jobs, size_t n)
{
    size_t i;
    ZCK_RETURN_IF(p == NULL || (jobs == NULL && n > 0), ZCK_E_INVALID_ARGUMENT);
    zck_mutex_lock(&p->mu);
    if (p->busy) {
        zck_mutex_unlock(&p->mu);
        return ZCK_E_BUSY;
    }
    for (i = 0; i < n; i++) {
        jobs[i].dst_size = 0;
        jobs[i].error = ZCK_OK;
    }
    return start_batch(p, jobs, NULL, n);
}

/* Wait for the batch; the caller runs jobs itself (with the contexts of
 * index nthreads) when there are no workers, or when `assist` is set. */
static int wait_batch(zck_pool *p, int assist)
{
    size_t i;
    int rc = ZCK_OK;
    ZCK_RETURN_IF(p == NULL, ZCK_E_INVALID_ARGUMENT);
    zck_mutex_lock(&p->mu);
    if (!p->busy) {
        zck_mutex_unlock(&p->mu);
        return ZCK_E_NOT_SUBMITTED;
    }
    if ((p->started == 0 || assist) && !p->caller_running) {
        p->caller_running = 1;
        run_jobs(p, p->nthreads);
        p->caller_running = 0;
    }
    while (p->busy && p->done < p->n_jobs)
        zck_cond_wait(&p->done_cv, &p->mu);
    if (!p->busy) {
        /* Another thread collected this batch while we slept. */
        zck_mutex_unlock(&p->mu);
        return ZCK_E_NOT_SUBMITTED;
    }
    for (i = 0; i < p->n_jobs; i++) {
        int e = p->pjobs != NULL ? p->pjobs[i].error : p->jobs[i].error;
        if (e != ZCK_OK) {
            rc = e;
            break;
        }
    }
    p->busy = 0;
    p->jobs = NULL;
    p->pjobs = NULL;
    p->n_jobs = 0;
    p->next = 0;
    p->done = 0;
    zck_mutex_unlock(&p->mu);
    return rc;
}

/* Largest first; equal sizes in index order (so the schedule is a total order). */
static int sched_cmp(const void *a, const void *b)
{
    const zck_sched *x = (const zck_sched *)a, *y = (const zck_sched *)b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

int zck_pool_submit_pjobs(zck_pool *p, zck_pjob *jobs, size_t n)
{
    size_t i;
    ZCK_RETURN_IF(p == NULL || (jobs == NULL && n > 0), ZCK_E_INVALID_ARGUMENT);
    zck_mutex_lock(&p->mu);
    if (p->busy) {
        zck_mutex_unlock(&p->mu);
        return ZCK_E_BUSY;
    }
    /* Not busy: no worker reads sched[] now. */
    if (n > p->sched_cap) {
        zck_sched *grown;
        size_t cap = n > SIZE_MAX / 2 ? n : ZCK_MAX(n, 2 * p->sched_cap);
        if (cap > SIZE_MAX / sizeof(*grown)) {
            zck_mutex_unlock(&p->mu);
            return ZCK_E_NOMEM;
        }
        grown = (zck_sched *)realloc(p->sched, cap * sizeof(*grown));
        if (grown == NULL) {
            zck_mutex_unlock(&p->mu);
            return ZCK_E_NOMEM;
        }
        p->sched = grown;
        p->sched_cap = cap;
    }
    for (i = 0; i < n; i++) {
        jobs[i].dst_size = 0;
        jobs[i].n_chunks = 0;
        jobs[i].crc64 = 0;
        memset(jobs[i].sha256, 0, sizeof(jobs[i].sha256));
        jobs[i].error = ZCK_OK;
        p->sched[i].size = jobs[i].src_size;
        p->sched[i].index = i;
    }
    if (n > 1)
        qsort(p->sched, n, sizeof(*p->sched), sched_cmp);
    return start_batch(p, NULL, jobs, n);
}

int zck_pool_wait(zck_pool *p)
{
    return wait_batch(p, 0);
}

int zck_pool_wait_assist(zck_pool *p)
{
    return wait_batch(p, 1);
}

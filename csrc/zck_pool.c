/* zck_pool.c - persistent worker pool compressing batches of independent
 * frames.
 *
 * One ZSTD_CCtx per worker, all set up identically (zck_cctx_setup).  Workers
 * take the next job index under the mutex, compress it into the job's own
 * output buffer and record the result in the job's own error slot: no two
 * threads ever write the same memory, and the bytes of a frame do not depend
 * on which worker made it.  Workers never call back into Python and never
 * exit the process; they only leave their loop when the pool is freed. */
#include "zck_internal.h"
#include "zck_threads.h"

typedef struct {
    zck_pool *pool;
    unsigned index;
} zck_worker;

struct zck_pool {
    unsigned nthreads;   /* worker threads (0: run in the caller inside wait) */
    unsigned started;    /* threads actually running */
    unsigned n_cctx;     /* max(1, nthreads) */
    int level;
    zck_mutex_t mu;
    zck_cond_t work_cv;  /* workers: a batch arrived, or shutdown */
    zck_cond_t done_cv;  /* waiters: the batch finished */
    ZSTD_CCtx **cctx;
    zck_thread_t *threads;
    zck_worker *workers;

    /* batch state, guarded by mu */
    zck_job *jobs;
    size_t n_jobs;
    size_t next;         /* next job index to hand out */
    size_t done;         /* jobs finished */
    int busy;            /* a batch was submitted and not yet waited for */
    int caller_running;  /* nthreads == 0: a waiter is running the jobs */
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

/* Run jobs until none is left to hand out.  Called and returns with mu held. */
static void run_jobs(zck_pool *p, ZSTD_CCtx *cctx)
{
    while (p->busy && p->next < p->n_jobs) {
        zck_job *j = &p->jobs[p->next++];
        zck_mutex_unlock(&p->mu);
        compress_job(cctx, j);
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
    ZSTD_CCtx *cctx = p->cctx[w->index];

    zck_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && !(p->busy && p->next < p->n_jobs))
            zck_cond_wait(&p->work_cv, &p->mu);
        if (p->shutdown)
            break;
        run_jobs(p, cctx);
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
    free(p->cctx);
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
    p->n_cctx = nthreads > 0 ? nthreads : 1u;
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
    if (nthreads > 0) {
        p->threads = (zck_thread_t *)calloc(nthreads, sizeof(*p->threads));
        p->workers = (zck_worker *)calloc(nthreads, sizeof(*p->workers));
    }
    rc = ZCK_OK;
    if (p->cctx == NULL || (nthreads > 0 && (p->threads == NULL || p->workers == NULL)))
        rc = ZCK_E_NOMEM;
    for (i = 0; rc == ZCK_OK && i < p->n_cctx; i++) {
        p->cctx[i] = ZSTD_createCCtx();
        rc = p->cctx[i] == NULL ? ZCK_E_NOMEM : zck_cctx_setup(p->cctx[i], level);
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
    total = sizeof(*p) + p->n_cctx * sizeof(*p->cctx);
    total += p->nthreads * (sizeof(*p->threads) + sizeof(*p->workers));
    for (i = 0; i < p->n_cctx; i++)
        total += ZSTD_sizeof_CCtx(p->cctx[i]);
    return total;
}

unsigned zck_pool_threads(const zck_pool *p)
{
    return p == NULL ? 0 : p->nthreads;
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
    p->jobs = jobs;
    p->n_jobs = n;
    p->next = 0;
    p->done = 0;
    p->busy = 1;
    if (p->started > 0 && n > 0)
        zck_cond_broadcast(&p->work_cv);
    zck_mutex_unlock(&p->mu);
    return ZCK_OK;
}

int zck_pool_wait(zck_pool *p)
{
    size_t i;
    int rc = ZCK_OK;
    ZCK_RETURN_IF(p == NULL, ZCK_E_INVALID_ARGUMENT);
    zck_mutex_lock(&p->mu);
    if (!p->busy) {
        zck_mutex_unlock(&p->mu);
        return ZCK_E_NOT_SUBMITTED;
    }
    if (p->started == 0 && !p->caller_running) {
        p->caller_running = 1;
        run_jobs(p, p->cctx[0]);
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
        if (p->jobs[i].error != ZCK_OK) {
            rc = p->jobs[i].error;
            break;
        }
    }
    p->busy = 0;
    p->jobs = NULL;
    p->n_jobs = 0;
    p->next = 0;
    p->done = 0;
    zck_mutex_unlock(&p->mu);
    return rc;
}

/* zck_threads.c - thin shim over pthreads (Win32 on Windows; not exercised
 * by the test suite on Linux). */
#include "zck_threads.h"

#include <stdlib.h>

typedef struct {
    zck_thread_fn fn;
    void *arg;
} zck_thread_start;

#if defined(_WIN32)
#include <process.h>

static unsigned __stdcall trampoline(void *p)
{
    zck_thread_start st = *(zck_thread_start *)p;
    free(p);
    st.fn(st.arg);
    return 0;
}

int zck_thread_create(zck_thread_t *t, zck_thread_fn fn, void *arg)
{
    uintptr_t h;
    zck_thread_start *st = (zck_thread_start *)malloc(sizeof(*st));
    if (st == NULL)
        return -1;
    st->fn = fn;
    st->arg = arg;
    h = _beginthreadex(NULL, 0, trampoline, st, 0, NULL);
    if (h == 0) {
        free(st);
        return -1;
    }
    *t = (HANDLE)h;
    return 0;
}

int zck_thread_join(zck_thread_t t)
{
    DWORD rc = WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    return rc == WAIT_OBJECT_0 ? 0 : -1;
}

int zck_mutex_init(zck_mutex_t *m) { InitializeCriticalSection(m); return 0; }
void zck_mutex_destroy(zck_mutex_t *m) { DeleteCriticalSection(m); }
void zck_mutex_lock(zck_mutex_t *m) { EnterCriticalSection(m); }
void zck_mutex_unlock(zck_mutex_t *m) { LeaveCriticalSection(m); }
int zck_cond_init(zck_cond_t *c) { InitializeConditionVariable(c); return 0; }
void zck_cond_destroy(zck_cond_t *c) { (void)c; }
void zck_cond_wait(zck_cond_t *c, zck_mutex_t *m) { SleepConditionVariableCS(c, m, INFINITE); }
void zck_cond_signal(zck_cond_t *c) { WakeConditionVariable(c); }
void zck_cond_broadcast(zck_cond_t *c) { WakeAllConditionVariable(c); }

#else

static void *trampoline(void *p)
{
    zck_thread_start st = *(zck_thread_start *)p;
    free(p);
    st.fn(st.arg);
    return NULL;
}

int zck_thread_create(zck_thread_t *t, zck_thread_fn fn, void *arg)
{
    zck_thread_start *st = (zck_thread_start *)malloc(sizeof(*st));
    if (st == NULL)
        return -1;
    st->fn = fn;
    st->arg = arg;
    if (pthread_create(t, NULL, trampoline, st) != 0) {
        free(st);
        return -1;
    }
    return 0;
}

int zck_thread_join(zck_thread_t t)
{
    return pthread_join(t, NULL) == 0 ? 0 : -1;
}

int zck_mutex_init(zck_mutex_t *m) { return pthread_mutex_init(m, NULL) == 0 ? 0 : -1; }
void zck_mutex_destroy(zck_mutex_t *m) { (void)pthread_mutex_destroy(m); }
void zck_mutex_lock(zck_mutex_t *m) { (void)pthread_mutex_lock(m); }
void zck_mutex_unlock(zck_mutex_t *m) { (void)pthread_mutex_unlock(m); }
int zck_cond_init(zck_cond_t *c) { return pthread_cond_init(c, NULL) == 0 ? 0 : -1; }
void zck_cond_destroy(zck_cond_t *c) { (void)pthread_cond_destroy(c); }
void zck_cond_wait(zck_cond_t *c, zck_mutex_t *m) { (void)pthread_cond_wait(c, m); }
void zck_cond_signal(zck_cond_t *c) { (void)pthread_cond_signal(c); }
void zck_cond_broadcast(zck_cond_t *c) { (void)pthread_cond_broadcast(c); }

#endif

/* zck_threads.h - the few threading primitives the pool needs: threads,
 * mutexes and condition variables over POSIX threads (Win32 primitives on
 * Windows).  Every function returns 0 on success. */
#ifndef ZCK_THREADS_H
#define ZCK_THREADS_H

#if defined(_WIN32)
#include <windows.h>
typedef HANDLE zck_thread_t;
typedef CRITICAL_SECTION zck_mutex_t;
typedef CONDITION_VARIABLE zck_cond_t;
#else
#include <pthread.h>
typedef pthread_t zck_thread_t;
typedef pthread_mutex_t zck_mutex_t;
typedef pthread_cond_t zck_cond_t;
#endif

typedef void (*zck_thread_fn)(void *arg);

int zck_thread_create(zck_thread_t *t, zck_thread_fn fn, void *arg);
int zck_thread_join(zck_thread_t t);

int zck_mutex_init(zck_mutex_t *m);
void zck_mutex_destroy(zck_mutex_t *m);
void zck_mutex_lock(zck_mutex_t *m);
void zck_mutex_unlock(zck_mutex_t *m);

int zck_cond_init(zck_cond_t *c);
void zck_cond_destroy(zck_cond_t *c);
void zck_cond_wait(zck_cond_t *c, zck_mutex_t *m);
void zck_cond_signal(zck_cond_t *c);
void zck_cond_broadcast(zck_cond_t *c);

#endif /* ZCK_THREADS_H */

/*
 * worker_pool.h: a few threads that run slow blocking jobs (password hashes, SQL queries) for
 * a single-threaded event loop, with each job's completion delivered back on the loop.
 *
 *   worker_pool *p = worker_pool_new(loop, 2);
 *   worker_job *j = worker_pool_submit(p, hash_job, hash_done, arg);
 *       hash_job(arg)              runs on a worker thread: blocking calls only; it must not
 *                                  log, read the configuration, or touch loop-side state
 *       hash_done(arg, cancelled)  runs later on the event loop thread, exactly once per job
 *   worker_pool_cancel(p, j);      the job's result is not wanted (a session went away):
 *                                  a job not started yet never runs; done(arg, 1) still
 *                                  follows on the loop, so arg is freed in one place
 *   worker_pool_free(p);           waits for running jobs, calls every done(arg, 1) still owed
 *
 * The threads start with the first job, with WORKER_STACK_SIZE stacks: jobs call libraries
 * (crypt, database clients), they keep no large arrays on the stack.
 *
 * Completions are signalled through an eventfd watched by the loop, so a done callback never
 * runs inside another callback's stack. Jobs run in submission order (FIFO); the number of
 * queued jobs is unbounded, callers bound their own (one per session).
 */
#ifndef POSTERN_WORKER_POOL_H
#define POSTERN_WORKER_POOL_H

#include "lib/event.h"

#include <pthread.h>
#include <stddef.h>

#define WORKER_STACK_SIZE (256 * 1024)

typedef struct worker_pool worker_pool;
typedef struct worker_job worker_job;
typedef void (*worker_job_fn)(void *arg);
typedef void (*worker_done_fn)(void *arg, int cancelled);

/* NULL (errno set) when the eventfd cannot be had; threads start at the first submit. */
worker_pool *worker_pool_new(event_loop *loop, int threads);
/* Never fails (memory exhaustion aborts, as xmalloc does); when no thread can be started the
 * job runs in the caller, its done() still later on the loop. */
worker_job *worker_pool_submit(worker_pool *p, worker_job_fn job, worker_done_fn done, void *arg);
void worker_pool_cancel(worker_pool *p, worker_job *j);
void worker_pool_free(worker_pool *p);

/* Starts fn(arg) on a thread that blocks every signal, with a stack of stack_size bytes (0:
 * the default); pthread_create's result. For every helper thread Postern starts. */
int worker_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, size_t stack_size);

#endif

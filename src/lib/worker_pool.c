/*
 * worker_pool.c: threads for blocking jobs, completions back on the event loop (see
 * worker_pool.h).
 */
#include "lib/worker_pool.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct worker_job {
    worker_job_fn job;
    worker_done_fn done;
    void *arg;
    int cancelled;
    struct worker_job *next;
};

struct worker_pool {
    event_loop *loop;
    int efd;
    pthread_mutex_t lock;
    pthread_cond_t more;
    worker_job *todo_head, *todo_tail; /* waiting for a thread */
    worker_job *done_head, *done_tail; /* finished (or cancelled), done() owed on the loop */
    pthread_t *threads;
    int wanted;   /* threads to start at the first job */
    int nthreads; /* started */
    int stopping;
};

static void push(worker_job **head, worker_job **tail, worker_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void signal_loop(worker_pool *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->efd, &one, sizeof(one));
    (void)n; /* the counter cannot overflow in practice; a full counter still wakes the loop */
}

static void *worker_main(void *ctx)
{
    worker_pool *p = ctx;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->todo_head == NULL && !p->stopping)
            pthread_cond_wait(&p->more, &p->lock);
        if (p->todo_head == NULL)
            break;
        worker_job *j = p->todo_head;
        p->todo_head = j->next;
        if (p->todo_head == NULL)
            p->todo_tail = NULL;
        if (!j->cancelled) {
            pthread_mutex_unlock(&p->lock);
            j->job(j->arg);
            pthread_mutex_lock(&p->lock);
        }
        push(&p->done_head, &p->done_tail, j);
        signal_loop(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void run_completions(worker_pool *p)
{
    pthread_mutex_lock(&p->lock);
    worker_job *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    while (list) {
        worker_job *j = list;
        list = j->next;
        j->done(j->arg, j->cancelled);
        free(j);
    }
}

static void on_event(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)events;
    uint64_t n;
    while (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        ;
    run_completions(ctx);
}

int worker_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, size_t stack_size)
{
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err != 0)
        return err;
    if (stack_size > 0)
        pthread_attr_setstacksize(&attr, stack_size); /* EINVAL below the minimum: default */
    /* The thread takes no signals: a process-directed SIGHUP or SIGTERM must reach the thread
     * that handles it (a signalfd on the loop), not a worker where the default action or a
     * handler would end the process with its sessions open. New threads inherit this mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    err = pthread_create(t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return err;
}

worker_pool *worker_pool_new(event_loop *loop, int threads)
{
    worker_pool *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0 || event_add(loop, p->efd, EVENT_READ, on_event, p) < 0) {
        int e = errno;
        if (p->efd >= 0)
            close(p->efd);
        free(p);
        errno = e;
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->more, NULL);
    p->wanted = threads > 0 ? threads : 1;
    p->threads = xcalloc((size_t)p->wanted, sizeof(*p->threads));
    return p;
}

/* The threads start with the first job: a process that never has one (most smtpd processes
 * never see AUTH with a password table) keeps neither their stacks nor their malloc arenas. */
static void start_threads(worker_pool *p)
{
    for (int i = p->nthreads; i < p->wanted; i++) {
        if (worker_thread_start(&p->threads[i], worker_main, p, WORKER_STACK_SIZE) != 0)
            break;
        p->nthreads++;
    }
}

worker_job *worker_pool_submit(worker_pool *p, worker_job_fn job, worker_done_fn done, void *arg)
{
    if (p->nthreads == 0)
        start_threads(p);
    worker_job *j = xcalloc(1, sizeof(*j));
    j->job = job;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    if (p->nthreads == 0) {
        /* No thread could be had: the job runs here, late but not lost; done() still comes
         * from the loop. */
        pthread_mutex_unlock(&p->lock);
        job(arg);
        pthread_mutex_lock(&p->lock);
        push(&p->done_head, &p->done_tail, j);
        signal_loop(p);
    } else {
        push(&p->todo_head, &p->todo_tail, j);
        pthread_cond_signal(&p->more);
    }
    pthread_mutex_unlock(&p->lock);
    return j;
}

void worker_pool_cancel(worker_pool *p, worker_job *j)
{
    pthread_mutex_lock(&p->lock);
    j->cancelled = 1; /* a running job finishes; its done() says cancelled */
    pthread_mutex_unlock(&p->lock);
}

void worker_pool_free(worker_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    for (worker_job *j = p->todo_head; j; j = j->next)
        j->cancelled = 1;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    run_completions(p);
    event_remove(p->loop, p->efd);
    close(p->efd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->more);
    free(p->threads);
    free(p);
}

/*
 * queue_sync.c: worker threads that fsync committed queue files (see queue_sync.h).
 *
 * Requests wait in a FIFO list; each worker takes one, fsyncs the file, then settles the
 * directory. Per directory the pool counts submissions (tickets) and remembers the highest
 * ticket that a completed directory fsync covers: a fsync covers every ticket handed out
 * before it started, because the file's directory entry was made before its submission. A
 * worker whose ticket is not covered yet waits for a directory fsync in flight and then, if
 * that one began too early, starts the next one itself; the workers that waited meanwhile are
 * all covered by it. A failed directory fsync covers nobody: each request then tries its own
 * and reports its own error.
 *
 * Spare files: when no fsync waits, a worker makes spares until spare_target are ready: a
 * finished queue file taken back from recycle/ when recycling is on (queue_recycle.h), else a
 * nameless file (O_TMPFILE) in the spare directory. A failed create stops that until the next
 * take, so a full or unwritable directory costs one attempt per take, not a busy loop.
 *
 * Only the workers' system calls (fsync, open, close, and the recycler's renames, ftruncate and
 * fchmod) run outside the mutex; the caller's thread does all allocation and runs the
 * completion callbacks.
 */
#include "queue/queue_sync.h"
#include "queue/queue_recycle.h"
#include "lib/worker_pool.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define QUEUE_SYNC_DIR_MAX 4096
#define QUEUE_SYNC_THREADS_MAX 64
#define QUEUE_SYNC_STACK_SIZE (128 * 1024)
#define QUEUE_SYNC_SPARES_MAX 64

typedef struct sync_dir {
    struct sync_dir *next;
    unsigned long long issued;  /* tickets handed out */
    unsigned long long covered; /* every ticket <= this is durable in the directory */
    int syncing;                /* a directory fsync is in flight */
    unsigned long long in_flight_covers;
    char path[QUEUE_SYNC_DIR_MAX];
} sync_dir;

typedef struct spare_file {
    int fd;
    long claim; /* claim number in recycle/ (queue_recycle_claim_path), -1: nameless */
} spare_file;

typedef struct sync_req {
    struct sync_req *next;
    int fd;
    int err;
    unsigned long long ticket;
    sync_dir *dir;
    void *ctx;
} sync_req;

struct queue_sync {
    pthread_mutex_t lock;
    pthread_cond_t work;    /* a request was queued, or stop */
    pthread_cond_t changed; /* a directory fsync ended, or a request completed */
    sync_req *todo, **todo_tail;
    sync_req *done, **done_tail;
    sync_dir *dirs;
    size_t in_flight; /* submitted, not yet completed (under lock) */
    size_t pending;   /* submitted, not yet collected (caller's thread only) */
    int stop;
    int event_fd;
    /* Spare files (queue_sync_spares). */
    char spare_dir[QUEUE_SYNC_DIR_MAX];
    int spare_target;   /* how many to keep ready */
    int spare_creating; /* being created by a worker */
    int spare_failed;   /* the last create failed: wait for the next take before retrying */
    spare_file spares[QUEUE_SYNC_SPARES_MAX];
    int nspares;
    int recycling; /* take spares from recycler first */
    queue_recycler recycler;
    pthread_t threads[QUEUE_SYNC_THREADS_MAX];
    int nthreads;
};

static void signal_completion(queue_sync *qs)
{
    uint64_t one = 1;
    while (write(qs->event_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        continue;
}

static int fsync_directory(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = fsync(fd) < 0 ? errno : 0;
    close(fd);
    return err;
}

/* Makes sure a directory fsync that began after req's submission has completed. Called and
 * returns with the lock held. */
static int settle_directory(queue_sync *qs, sync_req *req)
{
    sync_dir *d = req->dir;
    for (;;) {
        if (d->covered >= req->ticket)
            return 0;
        if (d->syncing) {
            /* Wait for the fsync in flight: it either covers this request or ends and lets
             * this worker start one that does. */
            pthread_cond_wait(&qs->changed, &qs->lock);
            continue;
        }
        d->syncing = 1;
        d->in_flight_covers = d->issued;
        pthread_mutex_unlock(&qs->lock);
        int err = fsync_directory(d->path);
        pthread_mutex_lock(&qs->lock);
        d->syncing = 0;
        if (err == 0 && d->in_flight_covers > d->covered)
            d->covered = d->in_flight_covers;
        pthread_cond_broadcast(&qs->changed);
        if (err != 0)
            return err;
    }
}

/* Closes a spare that will not be used; a claimed one goes back to recycle/. */
static void spare_discard(queue_sync *qs, spare_file *f)
{
    char path[sizeof(qs->recycler.dir) + 64];
    close(f->fd);
    if (f->claim >= 0 &&
        queue_recycle_claim_path(&qs->recycler, (unsigned)f->claim, path, sizeof(path)) == 0)
        queue_recycle_put(&qs->recycler, path);
}

static int spare_wanted(const queue_sync *qs)
{
    return !qs->stop && !qs->spare_failed && qs->nspares + qs->spare_creating < qs->spare_target;
}

/* Creates one spare file; called and returns with the lock held. */
static void spare_create(queue_sync *qs)
{
    qs->spare_creating++;
    int recycling = qs->recycling;
    pthread_mutex_unlock(&qs->lock);
    unsigned claim = 0;
    int fd = recycling ? queue_recycle_take(&qs->recycler, &claim) : -1;
    spare_file f = {fd, fd >= 0 ? (long)claim : -1};
    if (fd < 0)
        f.fd = open(qs->spare_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    pthread_mutex_lock(&qs->lock);
    qs->spare_creating--;
    if (f.fd < 0) {
        qs->spare_failed = 1; /* the caller's own create will report why */
        return;
    }
    if (qs->stop || qs->nspares >= QUEUE_SYNC_SPARES_MAX) {
        spare_discard(qs, &f);
        return;
    }
    qs->spares[qs->nspares++] = f;
}

static void *worker_main(void *arg)
{
    queue_sync *qs = arg;
    pthread_mutex_lock(&qs->lock);
    for (;;) {
        while (qs->todo == NULL && !qs->stop && !spare_wanted(qs))
            pthread_cond_wait(&qs->work, &qs->lock);
        if (qs->todo == NULL && spare_wanted(qs)) {
            spare_create(qs);
            continue;
        }
        if (qs->todo == NULL)
            break;
        sync_req *req = qs->todo;
        qs->todo = req->next;
        if (qs->todo == NULL)
            qs->todo_tail = &qs->todo;
        pthread_mutex_unlock(&qs->lock);
        req->err = fsync(req->fd) < 0 ? errno : 0;
        pthread_mutex_lock(&qs->lock);
        if (req->err == 0)
            req->err = settle_directory(qs, req);
        req->next = NULL;
        *qs->done_tail = req;
        qs->done_tail = &req->next;
        qs->in_flight--;
        pthread_cond_broadcast(&qs->changed);
        pthread_mutex_unlock(&qs->lock);
        signal_completion(qs);
        pthread_mutex_lock(&qs->lock);
    }
    pthread_mutex_unlock(&qs->lock);
    return NULL;
}

queue_sync *queue_sync_new(int nthreads)
{
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > QUEUE_SYNC_THREADS_MAX)
        nthreads = QUEUE_SYNC_THREADS_MAX;
    queue_sync *qs = xcalloc(1, sizeof(*qs));
    qs->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (qs->event_fd < 0) {
        free(qs);
        return NULL;
    }
    pthread_mutex_init(&qs->lock, NULL);
    pthread_cond_init(&qs->work, NULL);
    pthread_cond_init(&qs->changed, NULL);
    qs->todo_tail = &qs->todo;
    qs->done_tail = &qs->done;
    /* Workers block every signal (signals stay with the caller's signalfd); they fsync, open
     * and rename, so a small stack does. */
    int err = 0;
    for (int i = 0; i < nthreads; i++) {
        err = worker_thread_start(&qs->threads[i], worker_main, qs, QUEUE_SYNC_STACK_SIZE);
        if (err != 0)
            break;
        qs->nthreads++;
    }
    if (qs->nthreads == 0) {
        close(qs->event_fd);
        pthread_mutex_destroy(&qs->lock);
        pthread_cond_destroy(&qs->work);
        pthread_cond_destroy(&qs->changed);
        free(qs);
        errno = err;
        return NULL;
    }
    return qs;
}

static sync_dir *dir_find(queue_sync *qs, const char *path)
{
    for (sync_dir *d = qs->dirs; d; d = d->next)
        if (strcmp(d->path, path) == 0)
            return d;
    sync_dir *d = xcalloc(1, sizeof(*d));
    memcpy(d->path, path, strlen(path) + 1);
    d->next = qs->dirs;
    qs->dirs = d;
    return d;
}

int queue_sync_submit(queue_sync *qs, int fd, const char *dir, void *ctx)
{
    if (strlen(dir) >= QUEUE_SYNC_DIR_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    sync_req *req = xcalloc(1, sizeof(*req));
    req->fd = fd;
    req->ctx = ctx;
    pthread_mutex_lock(&qs->lock);
    req->dir = dir_find(qs, dir);
    req->ticket = ++req->dir->issued;
    *qs->todo_tail = req;
    qs->todo_tail = &req->next;
    qs->in_flight++;
    pthread_cond_signal(&qs->work);
    pthread_mutex_unlock(&qs->lock);
    qs->pending++;
    return 0;
}

int queue_sync_spares(queue_sync *qs, const char *dir, int count)
{
    if (strlen(dir) >= QUEUE_SYNC_DIR_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    pthread_mutex_lock(&qs->lock);
    memcpy(qs->spare_dir, dir, strlen(dir) + 1);
    while (qs->nspares > 0) /* made for another directory */
        spare_discard(qs, &qs->spares[--qs->nspares]);
    qs->spare_target = count < 0                       ? 0
                       : count > QUEUE_SYNC_SPARES_MAX ? QUEUE_SYNC_SPARES_MAX
                                                       : count;
    pthread_cond_broadcast(&qs->work);
    pthread_mutex_unlock(&qs->lock);
    return 0;
}

int queue_sync_recycle(queue_sync *qs, const char *queue_dir)
{
    pthread_mutex_lock(&qs->lock);
    int rc = queue_recycler_init(&qs->recycler, queue_dir);
    qs->recycling = rc == 0;
    pthread_mutex_unlock(&qs->lock);
    return rc;
}

int queue_sync_take_spare(queue_sync *qs, char *name, size_t len)
{
    int fd = -1;
    name[0] = '\0';
    pthread_mutex_lock(&qs->lock);
    qs->spare_failed = 0;
    if (qs->nspares > 0) {
        spare_file f = qs->spares[--qs->nspares];
        fd = f.fd;
        if (f.claim >= 0 &&
            queue_recycle_claim_path(&qs->recycler, (unsigned)f.claim, name, len) < 0) {
            spare_discard(qs, &f);
            fd = -1;
        }
    }
    if (spare_wanted(qs))
        pthread_cond_signal(&qs->work);
    pthread_mutex_unlock(&qs->lock);
    return fd;
}

int queue_sync_event_fd(const queue_sync *qs)
{
    return qs->event_fd;
}

size_t queue_sync_collect(queue_sync *qs, queue_sync_done_fn fn, void *arg)
{
    uint64_t count;
    while (read(qs->event_fd, &count, sizeof(count)) < 0 && errno == EINTR)
        continue;
    pthread_mutex_lock(&qs->lock);
    sync_req *list = qs->done;
    qs->done = NULL;
    qs->done_tail = &qs->done;
    pthread_mutex_unlock(&qs->lock);
    size_t n = 0;
    while (list) {
        sync_req *req = list;
        list = req->next;
        qs->pending--;
        n++;
        fn(req->ctx, req->err, arg);
        free(req);
    }
    return n;
}

void queue_sync_drain(queue_sync *qs)
{
    pthread_mutex_lock(&qs->lock);
    while (qs->in_flight > 0)
        pthread_cond_wait(&qs->changed, &qs->lock);
    pthread_mutex_unlock(&qs->lock);
}

size_t queue_sync_pending(const queue_sync *qs)
{
    return qs->pending;
}

void queue_sync_free(queue_sync *qs)
{
    if (qs == NULL)
        return;
    pthread_mutex_lock(&qs->lock);
    qs->stop = 1;
    pthread_cond_broadcast(&qs->work);
    pthread_mutex_unlock(&qs->lock);
    for (int i = 0; i < qs->nthreads; i++)
        pthread_join(qs->threads[i], NULL);
    for (int i = 0; i < qs->nspares; i++)
        spare_discard(qs, &qs->spares[i]);
    /* Completed requests nobody collected: nothing to call back any more. */
    while (qs->done) {
        sync_req *req = qs->done;
        qs->done = req->next;
        free(req);
    }
    while (qs->dirs) {
        sync_dir *d = qs->dirs;
        qs->dirs = d->next;
        free(d);
    }
    close(qs->event_fd);
    pthread_mutex_destroy(&qs->lock);
    pthread_cond_destroy(&qs->work);
    pthread_cond_destroy(&qs->changed);
    free(qs);
}

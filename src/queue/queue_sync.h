/*
 * queue_sync.h: fsyncs of committed queue files on worker threads, with group commit.
 *
 * An event-driven server (smtpd) must not stop serving every client while one queue file
 * reaches stable storage. queue_sync_new() starts a few worker threads that do nothing but
 * fsync() (and open/close the directory to fsync it): no logging, no configuration, no memory
 * shared with the caller except the requests, under one mutex.
 *
 *   queue_sync_submit(qs, fd, dir, ctx)   fsync(fd), then make sure an fsync of directory dir
 *                                         that began after this call has completed
 *   queue_sync_event_fd(qs)               readable (eventfd) when requests have completed
 *   queue_sync_collect(qs, fn, arg)       on the caller's thread: fn(ctx, err, arg) for each
 *                                         completed request (err 0 or the failing errno)
 *   queue_sync_drain(qs)                  waits until every submitted request has completed
 *   queue_sync_free(qs)                   drains, stops the threads (collect before it)
 *   queue_sync_spares(qs, dir, n)         keep n empty nameless files (O_TMPFILE) ready in dir
 *   queue_sync_recycle(qs, queue_dir)     make spares from queue_dir/recycle/ first
 *   queue_sync_take_spare(qs, name, len)  one of them, or -1 if none is ready
 *
 * Group commit: requests in flight together share the file system's journal commits, and one
 * directory fsync covers every request for the same directory submitted before it started, so
 * many sessions committing at once cost far fewer than two flushes each. The fd must stay open
 * until the request is collected. Worker threads block every signal.
 *
 * Spare files exist because creating a file can wait for the file system journal (the inode
 * table is part of every commit) for as long as an fsync; a worker creates them ahead, so the
 * caller's new queue file costs one link (queue_writer_adopt). A nameless spare has no name
 * until it is linked, so neither an exit nor a crash leaves anything behind, and no one who
 * lists the queue directory sees it. A recycled spare is an emptied queue file claimed in
 * recycle/ (queue_recycle.h): it saves the inode's allocation as well, and is named there until
 * it is renamed under its queue id; spares not used by queue_sync_free go back to recycle/.
 */
#ifndef POSTERN_QUEUE_SYNC_H
#define POSTERN_QUEUE_SYNC_H

#include <stddef.h>

typedef struct queue_sync queue_sync;
typedef void (*queue_sync_done_fn)(void *ctx, int err, void *arg);

/* NULL with errno set when the eventfd or a thread cannot be created. */
queue_sync *queue_sync_new(int nthreads);
/* 0, or -1 (ENAMETOOLONG) when dir is too long; the request is then not queued. */
int queue_sync_submit(queue_sync *qs, int fd, const char *dir, void *ctx);
int queue_sync_event_fd(const queue_sync *qs);
/* Returns the number of completed requests handed to fn. */
size_t queue_sync_collect(queue_sync *qs, queue_sync_done_fn fn, void *arg);
void queue_sync_drain(queue_sync *qs);
/* 0, or -1 (ENAMETOOLONG). count is capped at 64; 0 stops making spares. */
int queue_sync_spares(queue_sync *qs, const char *dir, int count);
/* 0, or -1 (ENAMETOOLONG). */
int queue_sync_recycle(queue_sync *qs, const char *queue_dir);
/* A spare file's descriptor (open read-write, empty); the caller owns it. name gets "" for a
 * nameless file (not linked anywhere), else the path of the recycled file in recycle/, which
 * the caller renames or removes. -1 when none is ready (or the file system has no O_TMPFILE). */
int queue_sync_take_spare(queue_sync *qs, char *name, size_t len);
/* Number of requests submitted and not yet collected. */
size_t queue_sync_pending(const queue_sync *qs);
void queue_sync_free(queue_sync *qs);

#endif

/*
 * queue_recycle.h: finished queue files are emptied and reused instead of unlinked.
 *
 * Creating and removing an inode costs the file system more than renaming a file: a bitmap and
 * an inode table block change each time, and ext4 without a journal scans past every inode
 * freed in the last few seconds on each create, so under load that scan dominates the kernel
 * time of the whole mail system (docs/performance.md). The queue manager therefore gives the
 * file of a fully delivered message to queue_directory/recycle/ instead of unlinking it, and
 * smtpd's sync threads take such files back as spare queue files.
 *
 *   queue_recycle_put(r, path)            the file path is finished: rename it to the next
 *                                          slot recycle/<n> (never replacing a file), or unlink
 *                                          it when that slot is taken or recycle/ is missing
 *   queue_recycle_take(r, &n)              claims one slot: renames it to recycle/claim.PID.n,
 *                                          checks that it is a plain file of ours with one
 *                                          link, empties it and resets its mode to 0600
 *   queue_recycle_claim_path(r, n, ...)    the name of claim n
 *   queue_recycle_purge(queue_dir)         removes everything in recycle/ (master start)
 *   queue_recycle_purge_stale(queue_dir)   removes the claims of processes that no longer run
 *                                          (a killed smtpd's spares; postsuper -p)
 *
 * Slots are a ring of QUEUE_RECYCLE_SLOTS names, filled and taken in order, so both sides try
 * the name they expect and rarely a second; a taker that keeps missing looks at the directory
 * now and then to find where the filler is. Only system calls: take runs on smtpd's worker
 * threads (no logging, no configuration). A claimed file is named in recycle/ until the writer
 * renames it into incoming/ under its queue id (queue_writer_adopt), so a crash leaves at most
 * the process's few spares behind, and the next master start removes them. Nothing in
 * recycle/ is ever mail: no scan or tool reads it.
 */
#ifndef POSTERN_QUEUE_RECYCLE_H
#define POSTERN_QUEUE_RECYCLE_H

#include <stdatomic.h>
#include <stddef.h>

#define QUEUE_RECYCLE_DIR "recycle"
#define QUEUE_RECYCLE_SLOTS 256u

typedef struct queue_recycler {
    char dir[4096]; /* queue_directory/recycle */
    atomic_uint next;   /* the slot to fill (put) or take next */
    atomic_uint claims; /* claim names handed out */
    atomic_uint misses; /* takes that found nothing since the last look at the directory */
} queue_recycler;

/* 0, or -1 (ENAMETOOLONG) when queue_dir is too long. */
int queue_recycler_init(queue_recycler *r, const char *queue_dir);
/* 0 when the name path is gone (recycled or unlinked), else -1 with errno. */
int queue_recycle_put(queue_recycler *r, const char *path);
/* An empty file open read-write, named by claim number *claim (queue_recycle_claim_path); -1
 * when no slot had a usable file. */
int queue_recycle_take(queue_recycler *r, unsigned *claim);
/* The path of this process's claim number claim; 0, or -1 when buf is too short. */
int queue_recycle_claim_path(const queue_recycler *r, unsigned claim, char *buf, size_t len);
/* Number of files removed, or -1 with errno when recycle/ cannot be read (ENOENT is 0). */
int queue_recycle_purge(const char *queue_dir);
/* The same for claim.PID.N files whose PID no longer exists; slots and live claims stay. */
int queue_recycle_purge_stale(const char *queue_dir);

#endif

/*
 * queue_id.h: queue ids, Postfix's short form.
 *
 * queue_id_format() builds an id from the microseconds of the creation time (5 upper-case hex
 * digits, zero-padded) followed by the queue file's inode number in upper-case hex, e.g.
 * "9DF7520804A". The inode makes the id unique among live files of one file system; the
 * microseconds make a reused inode give a different id. queue_id_valid() (queue_dir.h) accepts
 * these and Postfix's long form.
 */
#ifndef POSTERN_QUEUE_ID_H
#define POSTERN_QUEUE_ID_H

#include <stddef.h>

/* Writes the id into buf; returns 0, or -1 when it does not fit or usec is out of range. */
int queue_id_format(char *buf, size_t len, long usec, unsigned long long inode);

#endif

/*
 * mail_trigger.h: wakes a trigger service (qmgr, pickup) under the queue directory.
 *
 * mail_trigger(queue_dir, "public/qmgr", code): the path is a FIFO or a UNIX socket (stream,
 * else datagram); one byte is written without blocking. A full FIFO or backlog counts as
 * success (wake-ups are already pending). Returns 0, or -1 with errno set when nobody listens
 * or the path is longer than a socket address holds (ENAMETOOLONG, never a cut path).
 * Used by daemons and commands alike, so it lives in global/, not in the daemon library.
 */
#ifndef POSTERN_MAIL_TRIGGER_H
#define POSTERN_MAIL_TRIGGER_H

int mail_trigger(const char *queue_dir, const char *path, char code);

#endif

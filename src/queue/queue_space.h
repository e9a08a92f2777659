/*
 * queue_space.h: is there room in the queue file system for one more message?
 *
 *   queue_space_enough(queue_dir, minfree, size_limit, size)
 *
 * The rule of Postfix's SMTP server at MAIL FROM (postconf(5), queue_minfree): with f the
 * bytes free for unprivileged users in the file system of queue_dir, a new message is refused
 * when f < queue_minfree, when f < 1.5 * message_size_limit (size_limit > 0), or when the
 * client announced SIZE=size and size >= (f - queue_minfree) / 1.5. When statvfs fails the
 * answer is "enough": the queue file write then fails and is answered with a 4xx.
 */
#ifndef POSTERN_QUEUE_SPACE_H
#define POSTERN_QUEUE_SPACE_H

/* 1 when a message of size bytes (0: not announced) may be accepted, else 0. */
int queue_space_enough(const char *queue_dir, long long minfree, long long size_limit,
                       long long size);
/* The rule itself, for unit tests: free_bytes as statvfs gave it. */
int queue_space_rule(double free_bytes, long long minfree, long long size_limit, long long size);

#endif

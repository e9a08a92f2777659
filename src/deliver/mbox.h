/*
 * mbox.h: delivery into a UNIX mbox file, and the mailbox locks.
 *
 * mbox_deliver() opens (creating with mode 0600) a regular, single-link, non-symlink file,
 * takes the locks named by a mailbox_delivery_lock style list ("fcntl", "flock", "dotlock"),
 * appends the message with the "From " line, Return-Path:/Delivered-To: headers, mboxrd
 * ">From " quoting and a final empty line, fsyncs, and on any failure truncates the file back
 * to its old size so a half-written message never stays behind. size_limit bounds the whole
 * file (mailbox_size_limit, virtual_mailbox_limit); 0 = none.
 *
 * A dotlock is FILE.lock, created exclusively; it is retried deliver_lock_attempts times
 * deliver_lock_delay apart and a lock older than stale_lock_time is removed. When the
 * mailbox directory is not writable by the recipient (a root-owned spool directory) the lock
 * is made with root privileges, as Postfix does.
 */
#ifndef POSTERN_MBOX_H
#define POSTERN_MBOX_H

#include "deliver/deliver_request.h"
#include "deliver/mail_copy.h"

#define MBOX_LOCK_FCNTL 1
#define MBOX_LOCK_FLOCK 2
#define MBOX_LOCK_DOTLOCK 4

/* Parses "fcntl, dotlock" into MBOX_LOCK_* bits; unknown names are logged and ignored. */
int mbox_lock_methods(const char *list);

/* 0 delivered, -1 with dsn and why set. */
int mbox_deliver(const char *path, mail_source *src, const char *sender,
                 const char *delivered_to, long long size_limit, int lock_methods,
                 char dsn[DSN_MAX], strbuf *why);

/* Dot-locking, exposed for tests. 0 locked, -1 with why. */
int mbox_dotlock_acquire(const char *path, strbuf *why);
void mbox_dotlock_release(const char *path);

#endif

/*
 * maildir.h: delivery into a Maildir.
 *
 * The message is written to DIR/tmp/<unique>, fsync'd, linked into DIR/new/<unique> and the
 * new/ directory fsync'd, so a message is either completely in new/ or not at all. When a
 * delivery finds DIR/tmp or DIR/new missing, whatever is missing of DIR, DIR/tmp, DIR/new and
 * DIR/cur is created (mode 0700) with the caller's identity.
 * Unique names are "<sec>.M<usec>P<pid>Q<count>.<host>" where host has '/' and ':' written
 * as \057 and \072, as the Maildir specification asks.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include "deliver/deliver_request.h"
#include "deliver/mail_copy.h"

#include <stddef.h>
#include <sys/types.h>

void maildir_unique_name(strbuf *out, long sec, long usec, long pid, unsigned long count,
                         const char *host);
/* 0 delivered, -1 failed with dsn and why set. size_limit 0 = none. */
int maildir_deliver(const char *dir, mail_source *src, const char *sender,
                    const char *delivered_to, long long size_limit, char dsn[DSN_MAX],
                    strbuf *why);
/* mkdir -p with mode; 0 or -1 (errno set). */
int maildir_make_dirs(const char *path, mode_t mode);

#endif

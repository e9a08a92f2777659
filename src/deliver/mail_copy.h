/*
 * mail_copy.h: copying a queued message into a mailbox, a file or a pipe.
 *
 * mail_source_open() opens queue_directory/<queue_name>/<queue_id> read-only and reads its
 * envelope. mail_copy() writes the message with the envelope headers a delivery adds
 * ("Return-Path: <sender>", "Delivered-To: rcpt") and, for mbox files, the "From sender  date"
 * line, ">From " quoting of lines matching ^>*From  (mboxrd, so the quoting is reversible)
 * and the empty line that ends a message. The writer stops at size_limit bytes so a mailbox
 * cannot pass mailbox_size_limit. mail_copy_loop_check() reads the headers and finds mail that
 * has looped: a "Delivered-To:" equal to this recipient, or more Received:/Delivered-To:
 * headers than hopcount_limit.
 */
#ifndef POSTERN_MAIL_COPY_H
#define POSTERN_MAIL_COPY_H

#include "deliver/deliver_request.h"
#include "queue/queue_file.h"

typedef struct mail_source {
    int fd;
    queue_envelope env;
    int have_env;
} mail_source;

typedef struct mail_copy_opts {
    int from_line;            /* mbox "From sender  date" line first */
    int quote_from;           /* mboxrd ">From " quoting */
    int blank_line;           /* empty line after the message (mbox) */
    int return_path;          /* "Return-Path: <sender>" */
    const char *delivered_to; /* "Delivered-To: rcpt", NULL for none */
    long long size_limit;     /* bytes this copy may write; 0 = no limit */
    int sync;                 /* fsync out_fd once written; a failure is a write error */
} mail_copy_opts;

/* mail_copy() results. */
#define MAIL_COPY_OK 0
#define MAIL_COPY_READ_ERROR 1  /* the queue file: defer 4.3.0 */
#define MAIL_COPY_WRITE_ERROR 2 /* the destination; errno-based text in why */
#define MAIL_COPY_TOO_BIG 3     /* size_limit reached: 5.2.2 mailbox full */

int mail_source_open(mail_source *src, const deliver_request *req, strbuf *why);
/* mail_source_open(); when the file cannot be read, defers every recipient with 4.3.0, logs each
 * as delivered through relay, and returns -1. */
int mail_source_open_or_defer(mail_source *src, deliver_request *req, const char *relay);
void mail_source_close(mail_source *src);

/* 0 no loop, 1 loop (why says "mail forwarding loop for rcpt"), -1 queue file unreadable. */
int mail_copy_loop_check(mail_source *src, const char *rcpt, strbuf *why);

/* Writes the message to out_fd; *written receives the bytes written (may be NULL). */
int mail_copy(mail_source *src, const char *sender, int out_fd, const mail_copy_opts *opts,
              long long *written, strbuf *why);
/* The DSN status for a mail_copy() failure with its errno (saved in *err_no). */
const char *mail_copy_dsn(int result, int err_no);

/* Transforms one content line for an mbox: writes ">" first when the line matches ^>*From .
 * Exposed for tests: returns 1 when the line needs the extra '>'. */
int mail_copy_needs_quote(const char *line, size_t len);

#endif

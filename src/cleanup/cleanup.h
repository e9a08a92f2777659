/*
 * cleanup.h: turns one submitted message into a queue file.
 *
 * smtpd (per SMTP transaction) and pickup (per maildrop file) feed the envelope and the content
 * lines through one cleanup; cleanup_close() finishes the headers (Message-ID:, Date: and From:
 * when missing and the submission is local or always_add_missing_headers = yes), enforces
 * message_size_limit, header_size_limit and hopcount_limit, commits the queue file (fsync'd
 * before it returns 0) and logs "ID: message-id=<...>". Nothing before the 250 reply is lost;
 * a failure leaves no file behind.
 */
#ifndef POSTERN_CLEANUP_H
#define POSTERN_CLEANUP_H

#include "lib/strbuf.h"

#include <stddef.h>

/* cleanup_close() status bits; the SMTP reply for each is in cleanup_status_reply(). */
#define CLEANUP_STAT_OK 0
#define CLEANUP_STAT_BAD 1    /* internal error */
#define CLEANUP_STAT_WRITE 2  /* 451 4.3.0 error writing the queue file */
#define CLEANUP_STAT_SIZE 4   /* 552 5.3.4 message too big */
#define CLEANUP_STAT_CONT 8   /* 550 5.7.1 rejected by header/body checks */
#define CLEANUP_STAT_HOPS 16  /* 554 5.4.0 too many hops */
#define CLEANUP_STAT_RCPT 32  /* 554 5.5.1 no recipients */
#define CLEANUP_STAT_DEFER 64 /* 451 4.6.0 alias expansion failed: try again later */

typedef struct cleanup cleanup;

/* Opens a new queue file in queue_name ("incoming") under the current queue_directory. */
cleanup *cleanup_open(const char *queue_name, strbuf *err);
/* The same with a spare file of that queue directory, nameless (name "") or recycled (name is
 * its path, queue_writer_adopt): cleanup owns fd and name from here on, also on failure. */
cleanup *cleanup_open_spare(const char *queue_name, int fd, const char *name, strbuf *err);
const char *cleanup_queue_id(const cleanup *c);
/* Named attributes as Postfix records them: log_client_name, log_client_address,
 * log_helo_name, log_protocol_name, client_name, client_address, helo_name, rewrite_context
 * ("local" or "remote"), envelope_id (DSN ENVID), dsn_ret (1 FULL, 2 HDRS), ... */
int cleanup_attr(cleanup *c, const char *name, const char *value);
int cleanup_sender(cleanup *c, const char *sender);
int cleanup_recipient(cleanup *c, const char *rcpt, const char *orig, int notify,
                      const char *dsn_orcpt);
/* One content line without its terminator (the SMTP server has already removed dot-stuffing).
 * The first lines may be a Received: header the caller prepends. Recipients may not be added
 * after the first line, except by extraction (cleanup_extract_recipients). */
int cleanup_line(cleanup *c, const char *line, size_t len);
/* A piece of a content line longer than the caller's line buffer: partial = 1 when the line
 * continues in the next call. The pieces are stored as one line and delivered joined again. */
int cleanup_line_part(cleanup *c, const char *data, size_t len, int partial);
/* sendmail -t: take recipients from To:, Cc:, Bcc: (and remove Bcc:). Call before content. */
void cleanup_extract_recipients(cleanup *c, int on);
/* Bytes of content accepted so far. */
long cleanup_size(const cleanup *c);
/* Finishes and commits. Returns CLEANUP_STAT_OK or a bit mask; on failure nothing is queued. */
int cleanup_close(cleanup *c);
/* cleanup_close() in steps, for a caller that runs the fsyncs elsewhere (queue_sync.h):
 * prepare returns CLEANUP_STAT_OK when the file is written and marked complete but not yet
 * durable (any other status: it failed and c is freed); the caller fsyncs cleanup_sync_fd()
 * and the directory cleanup_sync_dir(), then cleanup_close_finish() takes 0 or the errno of a
 * failed fsync, returns the final status and frees c. */
int cleanup_close_prepare(cleanup *c);
int cleanup_sync_fd(const cleanup *c);
const char *cleanup_sync_dir(const cleanup *c);
int cleanup_close_finish(cleanup *c, int sync_errno);
void cleanup_abort(cleanup *c);
/* SMTP reply ("552 5.3.4 Error: message file too big") for a cleanup_close() status. */
const char *cleanup_status_reply(int status);

#endif

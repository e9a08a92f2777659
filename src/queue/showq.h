/*
 * showq.h: reading the queue for listings (mailq, postqueue -p, postqueue -j).
 *
 * A listing is a sequence of showq_entry values: the queue a message is in, its id, arrival
 * time, size, sender, and the recipients not yet done, each with the reason its delivery was
 * deferred when the defer log has one. The format functions are pure (entry in, text out) so
 * the layout, which scripts parse, is tested against golden text. It follows Postfix's:
 *
 *   -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
 *   9DF7520804A*    1234 Sat Nov 28 20:42:07  sender@example.com
 *                               (connect to mx.example.net[192.0.2.1]:25: Connection timed out)
 *                                            rcpt@example.net
 *
 *   -- 1 Kbytes in 1 Request.
 *
 * The queue id gets '*' in active/, '!' in hold/ and '#' when the message was force-expired.
 * A reason line is printed when it differs from the previous recipient's, right-aligned to
 * column 76; addresses are made printable (control characters become '?'), and a local part
 * that needs quoting is quoted. "-- N Kbytes" is the sum of message sizes divided by 1024,
 * rounded down.
 *
 * showq_walk() reads the queues in Postfix's order (maildrop, active, incoming, deferred, hold),
 * skips files that are not complete (owner-execute bit clear) and merges each message's defer
 * log (queue_directory/defer/<hash>/ID: blank-line separated records of name=value lines; only
 * recipient= and reason= are used, anything else is ignored).
 */
#ifndef POSTERN_SHOWQ_H
#define POSTERN_SHOWQ_H

#include "lib/strbuf.h"

#include <stddef.h>
#include <time.h>

#define SHOWQ_DEFER_LOG_LIMIT (1024 * 1024) /* bytes of a defer log that are read */

typedef struct showq_rcpt {
    char *address; /* printable, quoted form */
    char *reason;  /* "" when there is none */
} showq_rcpt;

typedef struct showq_entry {
    char queue_name[16];
    char queue_id[64];
    time_t arrival;
    long size;
    int forced_expire;
    char *sender; /* printable, quoted; the null sender already replaced */
    showq_rcpt *rcpts;
    size_t nrcpt;
    size_t cap;
    size_t ndeferred; /* the first ndeferred recipients came from the defer log */
} showq_entry;

/* 0, or -1 when the queue name or id is too long for the entry (no queue gives one). */
int showq_entry_init(showq_entry *e, const char *queue_name, const char *queue_id);
/* Sets the sender: "" becomes empty_address (MAILER-DAEMON); quoted and made printable. */
void showq_entry_set_sender(showq_entry *e, const char *sender, const char *empty_address);
/* Adds a recipient unless it is already listed. quote: quote the local part (queue file
 * addresses are raw; defer log addresses are already quoted). reason may be NULL. */
void showq_entry_add_rcpt(showq_entry *e, const char *address, const char *reason, int quote);
void showq_entry_free(showq_entry *e);

/* Text (mailq) output. long_ids: enable_long_queue_ids layout. */
void showq_format_heading(strbuf *out, int long_ids);
void showq_format_message(strbuf *out, const showq_entry *e, int long_ids);
/* The last line(s): "Mail queue is empty" or "\n-- N Kbytes in M Requests." */
void showq_format_summary(strbuf *out, unsigned long messages, unsigned long total_size);
/* One JSON object and a newline (postqueue -j). */
void showq_format_json(strbuf *out, const showq_entry *e);

/* Adds the recipients and reasons of a defer log's text to e. Returns the number found. */
size_t showq_parse_defer_log(showq_entry *e, const char *text, size_t len);

/* Calls fn for every complete message in the queues, in Postfix's order; stops when fn returns
 * non-zero and returns that value. Unreadable files are warned about and skipped. */
int showq_walk(const char *queue_dir, const char *empty_address,
               int (*fn)(const showq_entry *e, void *ctx), void *ctx);

#endif

/*
 * bounce.h: delivery status notifications (RFC 3464), as Postfix's bounce(8) sends them.
 *
 * bounce_notify() writes one notification about some recipients of a queued message and queues
 * it through cleanup (a new file in incoming/, committed before it returns), then wakes qmgr.
 * The caller (the queue manager) passes what it knows about each recipient; bounce_notify()
 * decides who is told what:
 *
 *   BOUNCE_FAILURE  "Undelivered Mail Returned to Sender" to the envelope sender, null sender,
 *                   about the recipients whose DSN NOTIFY is unset or has FAILURE; the original
 *                   message comes back whole (message/rfc822) unless RET=HDRS or it is larger
 *                   than bounce_size_limit, then its headers only (text/rfc822-headers).
 *                   With notify_classes containing "bounce", postmaster (bounce_notice_recipient)
 *                   also gets a copy with the headers only.
 *   BOUNCE_DELAY    "Delayed Mail (still being retried)" about recipients with NOTIFY unset or
 *                   DELAY (whether to warn at all, delay_warning_time, is the caller's choice);
 *                   headers only; notify_classes "delay" copies delay_notice_recipient.
 *   BOUNCE_SUCCESS  "Successful Mail Delivery Report" about recipients with NOTIFY=SUCCESS only;
 *                   headers only.
 *
 * Never a bounce of a bounce: when the original sender is the null sender, a failure (or delay)
 * report goes to 2bounce_notice_recipient instead, only when notify_classes has "bounce" or
 * "2bounce" (delay: "2bounce"), as Postfix does; its envelope sender is the double-bounce
 * address ($double_bounce_sender@$myorigin). A message from that address that fails is
 * discarded with a warning, so nothing can loop. Sender notifications use the null sender.
 *
 * Logged as Postfix's bounce daemon logs: "ID: sender non-delivery notification: NEWID",
 * "ID: sender delay notification: NEWID", "ID: sender delivery status notification: NEWID",
 * "ID: postmaster non-delivery notification: NEWID", "ID: postmaster delay notification: NEWID".
 *
 * Text from recipients and remote servers is hostile: control and non-ASCII characters are
 * shown as '?', long lines are folded, and every line stays within bounds.
 */
#ifndef POSTERN_BOUNCE_H
#define POSTERN_BOUNCE_H

#include "lib/strbuf.h"
#include "queue/queue_file.h"

#include <stddef.h>
#include <time.h>

typedef struct bounce_rcpt {
    const char *address;    /* final recipient */
    const char *orig;       /* original recipient (may be NULL) */
    const char *dsn_orcpt;  /* DSN ORCPT "rfc822;addr" or NULL */
    const char *status;     /* "5.1.1", "4.4.1", "2.0.0" */
    const char *action;     /* "failed", "delayed", "delivered", "relayed", "expanded" */
    const char *diagnostic; /* "smtp; 550 5.1.1 <x>: user unknown" or "X-Postfix; ..." text */
    const char *remote_mta; /* "dns; mx.example.com" or NULL */
    time_t last_attempt;    /* 0 = unknown */
} bounce_rcpt;

typedef enum { BOUNCE_FAILURE, BOUNCE_DELAY, BOUNCE_SUCCESS } bounce_kind;

/* Queues one notification about rcpts of the message in queue file fd (envelope env) to the
 * sender (or postmaster, see above). Each recipient's DSN NOTIFY bits are taken from the
 * envelope recipient with the same address (or original address). Returns 0 with the new queue
 * id in new_id ("" when nothing was sent, e.g. NOTIFY=NEVER for all rcpts), or -1 with the
 * reason in err when the notification could not be queued (the caller tries again later).
 * A failed postmaster copy only logs a warning. */
int bounce_notify(int fd, const queue_envelope *env, bounce_kind kind, const bounce_rcpt *rcpts,
                  size_t n, char *new_id, size_t new_id_len, strbuf *err);

/* Helpers, exposed for the unit tests. */

/* Appends text with control and non-ASCII bytes replaced by '?'. */
void bounce_append_safe(strbuf *out, const char *text);
/* Non-zero when the comma/space separated notify_classes value names class. */
int bounce_notify_class(const char *classes, const char *class_name);

#endif

/*
 * qmgr.h: the queue manager's shared state (internal to src/qmgr/).
 *
 * One event-driven process. qmgr.c owns the event loop, the trigger endpoint and the queue
 * scans; qmgr_message.c the life of a message in the active queue (open, resolve recipients into
 * jobs, record results, remove or defer); qmgr_notify.c the notices a message's results call
 * for (bounce.h); qmgr_transport.c the delivery agents: per-destination job queues,
 * connections to queue_directory/private/<transport> and the request/reply exchange
 * (deliver_request.h); qmgr_policy.c the pure scheduling rules below, for the unit tests.
 *
 * A job is one delivery request: recipients of one message with the same transport and
 * nexthop, at most <transport>_destination_recipient_limit of them. A message leaves the active
 * queue when its last job has finished.
 *
 * Scheduling policy (as Postfix's qmgr(8), simplified where said):
 *  - Backoff: a message with deferred recipients goes to deferred/ with its file's mtime set to
 *    the next attempt time, now + clamp(now - arrival, minimal_backoff_time,
 *    maximal_backoff_time). The delay is the message's age, as in Postfix (not a per-message
 *    attempt counter), so the gap between attempts roughly doubles each time until it reaches
 *    maximal_backoff_time. deferred/ is scanned every queue_run_delay for files whose mtime has
 *    passed; a flush ('F' trigger, postqueue -f) takes every deferred file at once.
 *  - Clock steps: a deferred file whose mtime lies further ahead than maximal_backoff_time (+
 *    QMGR_CLOCK_SLACK) was deferred while the clock was ahead: it is due at once and its mtime
 *    is reset. Ages (backoff, expiry, delay warning) use qmgr_age_clock(), which ignores steps
 *    forward made while the queue manager runs. Intervals inside the process (suspensions,
 *    dead transports, the stop wait) use the monotonic clock.
 *  - Expiry: a message still deferred when now >= arrival + maximal_queue_lifetime
 *    (bounce_queue_lifetime for the null sender) is returned: every deferred recipient fails
 *    with its last 4.x.x status and reason ("ID: from=<S>, status=expired, returned to sender").
 *    0 means one attempt only.
 *  - Delay warning: a message still deferred when delay_warning_time > 0 and now >= arrival +
 *    delay_warning_time gets one BOUNCE_DELAY notice about its deferred recipients; the size
 *    record's QUEUE_FLAG_DELAY_WARNED bit (queue_file_set_flags) records it after the notice is
 *    committed, so a crash can repeat the notice but never lose it.
 *  - Bounces: permanent failures (5.x.x, expiry) are collected during a pass and sent as one
 *    BOUNCE_FAILURE notice when the message's last job ends; the recipients are marked done only
 *    after bounce_notify() succeeded, else they stay deferred and the next attempt retries.
 *    NOTIFY=SUCCESS recipients that were delivered get a BOUNCE_SUCCESS notice (best effort: a
 *    failure is logged, the delivery is not repeated).
 *  - Destinations: each transport+nexthop has a concurrency window that starts at
 *    initial_destination_concurrency, grows by one per delivery that reached the destination,
 *    up to <transport>_destination_concurrency_limit (Postfix's positive feedback with a
 *    feedback of 1). A connection-level failure (every recipient of the reply 4.4.1, 4.4.2 or
 *    4.4.3 without a server reply in the text: "connect to ...", "lost connection ... while
 *    receiving the initial server greeting", DNS failure) suspends the destination for
 *    minimal_backoff_time: its queued and new jobs are deferred with "delivery temporarily
 *    suspended: REASON" without being tried; afterwards the window starts over at its initial
 *    value (Postfix's negative feedback, simplified to a reset). Other destinations keep going.
 *    All destinations of a transport together use at most the service's maxproc agents.
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include "deliver/deliver_request.h"
#include "global/resolve.h"
#include "lib/event.h"
#include "master/mail_server.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "queue/queue_recycle.h"

#include <stddef.h>
#include <time.h>

typedef struct qmgr qmgr;
typedef struct qmgr_transport qmgr_transport;
typedef struct qmgr_dest qmgr_dest;

/* What happened to one recipient during the current pass through the active queue. */
typedef enum {
    QMGR_RCPT_PENDING,  /* no result yet (or done before this pass) */
    QMGR_RCPT_SENT,     /* delivered, marked done */
    QMGR_RCPT_FAILED,   /* permanent failure; marked done once the bounce is queued */
    QMGR_RCPT_DEFERRED, /* temporary failure; in the defer log */
} qmgr_rcpt_outcome;

typedef struct qmgr_rcpt_result {
    qmgr_rcpt_outcome outcome;
    char dsn[DSN_MAX];
    char *reason; /* as logged */
    char *diag;   /* RFC 3464 Diagnostic-Code "type; text", or NULL */
    char *mta;    /* Remote-MTA "dns; host", or NULL */
    time_t when;
} qmgr_rcpt_result;

/* A delivery agent's (or the queue manager's own) verdict on one recipient. */
typedef struct qmgr_verdict {
    const char *dsn;
    const char *reason;
    const char *diag; /* may be NULL: derived from reason */
    const char *mta;  /* may be NULL: derived from reason */
} qmgr_verdict;

/* A destination's concurrency window (qmgr_policy.c). */
typedef struct qmgr_window {
    int value;
    int initial;
    int limit;
} qmgr_window;

typedef struct qmgr_message {
    char id[QUEUE_ID_MAX];
    int fd; /* active/ID, read-write */
    queue_envelope env;
    qmgr_rcpt_result *results; /* one per env.rcpts entry, this pass only */
    double active_time;
    int jobs_pending;
    int deferred; /* a recipient was deferred in this pass */
    int unsynced; /* records were marked done since the last fsync */
    struct qmgr_message *prev, *next;
} qmgr_message;

typedef struct qmgr_job {
    qmgr_message *msg;
    qmgr_transport *transport;
    qmgr_dest *dest; /* set by qmgr_transport_submit */
    char nexthop[512];
    size_t *rcpts; /* indexes into msg->env.rcpts */
    size_t nrcpt;
    int retries; /* times the job was put back after an agent vanished */
    struct qmgr_job *next;
} qmgr_job;

struct qmgr {
    mail_server *srv;
    event_loop *loop;
    resolver *res;
    char queue_dir[QUEUE_DIR_MAX + 1]; /* mail_params_check() refused a longer one */
    qmgr_message *active; /* list of messages in the active queue */
    size_t nactive;
    size_t active_limit;
    int scan_more;      /* the last incoming scan stopped at active_limit */
    int scan_scheduled; /* a scan timer is pending */
    int want_incoming;  /* what the pending scan should do */
    int want_deferred;
    int want_flush;  /* deferred scan ignoring the next-attempt time */
    double stopping; /* mail_time_steady() when a stop was requested; 0 = running */
    double clock_base; /* time of day - mail_time_steady() at start, for qmgr_age_clock() */
    qmgr_transport *transports;
    void *master_cf; /* master_cf *, for the agents' maxproc */
    queue_recycler recycler; /* where finished queue files go (queue_recycle.h) */
    int trigger_conns;       /* open trigger connections, to bound them */
};

/* qmgr.c */
void qmgr_request_scan(qmgr *q, int incoming, int deferred, int flush);

/* qmgr_message.c */
/* Starts the deliveries of id, which the caller has moved to active/ (and fsync'd active/).
 * 0, or -1 when the file is not usable now (left in active/, or moved to corrupt/). */
int qmgr_message_activate(qmgr *q, const char *id);
/* Records one recipient's outcome (the agent has logged it). */
void qmgr_message_result(qmgr *q, qmgr_message *msg, size_t rcpt, const qmgr_verdict *v);
/* Records an outcome decided by the queue manager itself, and logs it (relay=none). */
void qmgr_message_result_log(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                             const char *reason);
/* A job of msg has finished: fsync, and when it was the last one, remove or defer msg. */
void qmgr_message_job_done(qmgr *q, qmgr_message *msg);
void qmgr_message_free_all(qmgr *q);
/* Marks recipient rcpt done in the queue file (fsync is the caller's). 0 or -1. */
int qmgr_message_mark_done(qmgr_message *msg, size_t rcpt);
/* Appends a deferred recipient's record to the defer log (postqueue -p shows its reason). */
void qmgr_defer_log_append(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                           const char *reason);

/* qmgr_notify.c: the notices at the end of a pass (see the policy above). */
/* Queues one failure notice for the FAILED recipients and marks them done; when it cannot be
 * queued they become DEFERRED again. Returns the number of recipients marked done. */
size_t qmgr_notify_failures(qmgr *q, qmgr_message *msg);
/* BOUNCE_SUCCESS for delivered recipients with NOTIFY=SUCCESS; failures are only logged. */
void qmgr_notify_success(qmgr *q, qmgr_message *msg);
/* The one delay notice, when due; sets QUEUE_FLAG_DELAY_WARNED after it is queued. */
void qmgr_notify_delay(qmgr *q, qmgr_message *msg, time_t now);

/* qmgr_policy.c: pure rules, no I/O. */
/* Seconds until the next attempt of a message that arrived at arrival. */
long qmgr_backoff_delay(time_t now, time_t arrival, long min_backoff, long max_backoff);
/* Non-zero when a deferred file with this next attempt time (its mtime) is due at now: the
 * time has come, or it lies more than max_backoff + slack ahead, further than any backoff puts
 * it, because the clock was ahead when it was set; then it is due at once (never stranded). */
int qmgr_retry_due(time_t now, time_t next_attempt, long max_backoff, long slack);
/* The clock that a message's age is measured with (backoff, expiry, delay warning): wall (the
 * time of day), but never ahead of base + steady, where steady is mail_time_steady() and base
 * was the time of day minus mail_time_steady() when the queue manager started. So a clock step
 * forward while it runs (and back again) does not age mail: no early expiry or delay notice; a
 * step back makes mail age more slowly, which delays a bounce and never loses mail. */
time_t qmgr_age_clock(time_t wall, double steady, double base);
/* Non-zero when a message that arrived at arrival has outlived lifetime (0 = at once). */
int qmgr_lifetime_expired(time_t now, time_t arrival, long lifetime);
/* Non-zero when the delay notice is due (warn_time <= 0 disables it). */
int qmgr_delay_warning_due(time_t now, time_t arrival, long warn_time, long flags);
void qmgr_window_init(qmgr_window *w, int initial, int limit);
void qmgr_window_success(qmgr_window *w);
void qmgr_window_failure(qmgr_window *w);
/* Non-zero when a reply with these results says the destination could not be reached. */
int qmgr_site_failure(const char *const *dsns, const char *const *reasons, size_t n);
/* Derives RFC 3464 fields from an agent's reason: "host H[A] said: TEXT (in reply to X
 * command)" gives diag "smtp; TEXT" and mta "dns; H"; anything else gives an untyped diag
 * (the bounce module labels it X-<mail_name>) and no mta. Results are malloc'ed; *mta may be
 * NULL. */
void qmgr_reason_to_dsn_fields(const char *reason, char **diag, char **mta);

/* qmgr_transport.c */
qmgr_transport *qmgr_transport_get(qmgr *q, const char *name);
int qmgr_transport_recipient_limit(const qmgr_transport *t);
/* Queues a job (or finishes it at once when the transport cannot take it). */
void qmgr_transport_submit(qmgr *q, qmgr_job *job);
void qmgr_transport_free_all(qmgr *q);
void qmgr_job_free(qmgr_job *job);

#endif

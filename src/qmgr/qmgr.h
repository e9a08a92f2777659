/*
 * qmgr.h: the queue manager's shared state (internal to src/qmgr/).
 *
 * One event-driven process. qmgr.c owns the event loop, the trigger endpoint and the queue
 * scans; qmgr_message.c the life of a message in the active queue (open, resolve recipients into
 * jobs, record results, remove or defer); qmgr_transport.c the delivery agents: per-transport
 * job queues, connections to queue_directory/private/<transport> and the request/reply
 * exchange (deliver_request.h).
 *
 * A job is one delivery request: recipients of one message with the same transport and
 * nexthop, at most <transport>_destination_recipient_limit of them. A message leaves the active
 * queue when its last job has finished.
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include "deliver/deliver_request.h"
#include "global/resolve.h"
#include "lib/event.h"
#include "master/mail_server.h"
#include "queue/queue_file.h"

#include <stddef.h>

typedef struct qmgr qmgr;
typedef struct qmgr_transport qmgr_transport;

typedef struct qmgr_message {
    char id[QUEUE_ID_MAX];
    int fd; /* active/ID, read-write */
    queue_envelope env;
    double active_time;
    int jobs_pending;
    int deferred;  /* a recipient was deferred in this pass */
    int unsynced;  /* records were marked done since the last fsync */
    struct qmgr_message *prev, *next;
} qmgr_message;

typedef struct qmgr_job {
    qmgr_message *msg;
    qmgr_transport *transport;
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
    char queue_dir[4096];
    qmgr_message *active; /* list of messages in the active queue */
    size_t nactive;
    size_t active_limit;
    int scan_more;         /* the last incoming scan stopped at active_limit */
    int scan_scheduled;    /* a scan timer is pending */
    int want_incoming;     /* what the pending scan should do */
    int want_deferred;
    int want_flush;        /* deferred scan ignoring the next-attempt time */
    double stopping;       /* when a stop was requested; 0 = running */
    qmgr_transport *transports;
    void *master_cf;       /* master_cf *, for the agents' maxproc */
};

/* qmgr.c */
void qmgr_request_scan(qmgr *q, int incoming, int deferred, int flush);

/* qmgr_message.c */
/* Moves id from queue_name to active/ and starts its deliveries. 0, or -1 when the file is
 * not usable now (left where it was, or moved to corrupt/). */
int qmgr_message_activate(qmgr *q, const char *queue_name, const char *id);
/* Records one recipient's outcome (logging is the caller's, except for nothing). */
void qmgr_message_result(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                         const char *reason);
/* Records an outcome decided by the queue manager itself, and logs it (relay=none). */
void qmgr_message_result_log(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                             const char *reason);
/* A job of msg has finished: fsync, and when it was the last one, remove or defer msg. */
void qmgr_message_job_done(qmgr *q, qmgr_message *msg);
/* The permanent-failure hook: the next issue builds the non-delivery notice here. */
void qmgr_bounce_recipient(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                           const char *reason);
void qmgr_message_free_all(qmgr *q);

/* qmgr_transport.c */
qmgr_transport *qmgr_transport_get(qmgr *q, const char *name);
int qmgr_transport_recipient_limit(const qmgr_transport *t);
/* Queues a job (or finishes it at once when the transport cannot take it). */
void qmgr_transport_submit(qmgr *q, qmgr_job *job);
void qmgr_transport_free_all(qmgr *q);
void qmgr_job_free(qmgr_job *job);

#endif

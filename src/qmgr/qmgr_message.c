/*
 * qmgr_message.c: a message's stay in the active queue.
 *
 * Activation (the scan in qmgr.c has moved the file to active/ and fsync'd the directory once
 * for every file it moved) reads the envelope (an unreadable file goes to
 * corrupt/, never deleted), logs "ID: from=<...>, size=N, nrcpt=N (queue active)", resolves
 * every recipient not yet done and groups them into jobs per transport and nexthop.
 *
 * Results: success marks the recipient done in the queue file (fsync'd once per finished job
 * while other jobs of the message go on, and before the file moves to deferred/; not at all
 * when the file is removed at once);
 * a permanent failure is remembered for this pass (qmgr_notify.c marks it done once its
 * notice is queued); a temporary failure appends a record to the defer log
 * queue_directory/defer/<hash>/ID, blank-line separated attr.h lines:
 *     recipient=ADDR  orig_rcpt=ADDR  offset=N  dsn_orig_rcpt=...  notify_flags=N
 *     status=4.x.x  action=delayed  reason=TEXT
 * (postqueue -p shows recipient= and reason=; each attempt starts a fresh log, so it holds the
 * latest reason). When the last job ends: expiry, the failure / success / delay notices, then
 * a message whose recipients are all done is removed with its defer log ("ID: removed");
 * otherwise it moves to deferred/ with its mtime set to the next attempt time (qmgr.h).
 */
#include "global/mail_date.h"
#include "global/mail_params.h"
#include "lib/attr.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "qmgr/qmgr.h"
#include "queue/queue_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static double now_seconds(void)
{
    return mail_time_now();
}

static void message_unlink(qmgr *q, qmgr_message *msg)
{
    if (msg->prev)
        msg->prev->next = msg->next;
    else
        q->active = msg->next;
    if (msg->next)
        msg->next->prev = msg->prev;
    q->nactive--;
}

static void result_clear(qmgr_rcpt_result *r)
{
    free(r->reason);
    free(r->diag);
    free(r->mta);
    memset(r, 0, sizeof(*r));
}

static void message_free(qmgr_message *msg)
{
    for (size_t i = 0; msg->results && i < msg->env.nrcpt; i++)
        result_clear(&msg->results[i]);
    free(msg->results);
    if (msg->fd >= 0)
        close(msg->fd);
    queue_envelope_free(&msg->env);
    free(msg);
}

/* A request describing msg for deliver_log() when the queue manager decides an outcome. */
static void log_outcome(const qmgr_message *msg, size_t rcpt, const char *dsn, const char *reason)
{
    deliver_request req;
    deliver_request_init(&req);
    req.queue_id = (char *)msg->id;
    req.arrival = (double)msg->env.arrival.tv_sec + (double)msg->env.arrival.tv_nsec / 1e9;
    req.active_time = msg->active_time;
    req.receive_time = now_seconds();
    const queue_rcpt *r = &msg->env.rcpts[rcpt];
    deliver_log(&req, r->address, r->orig, "none", dsn, reason);
}

void qmgr_defer_log_append(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                           const char *reason)
{
    char path[4096];
    if (queue_path(path, sizeof(path), q->queue_dir, "defer", msg->id, 1) < 0) {
        log_warning("%s: defer log path too long", msg->id);
        return;
    }
    const queue_rcpt *r = &msg->env.rcpts[rcpt];
    strbuf rec;
    strbuf_init(&rec, 0);
    attr_put(&rec, "recipient", r->address);
    attr_put(&rec, "orig_rcpt", r->orig ? r->orig : r->address);
    attr_put_long(&rec, "offset", r->offset);
    attr_put(&rec, "dsn_orig_rcpt", r->dsn_orcpt ? r->dsn_orcpt : "");
    attr_put_long(&rec, "notify_flags", r->notify);
    attr_put(&rec, "status", dsn);
    attr_put(&rec, "action", "delayed");
    attr_put(&rec, "reason", reason);
    attr_end(&rec);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || attr_write_all(fd, rec.data, rec.len) < 0)
        log_warning("%s: cannot update defer log %s: %s", msg->id, path, strerror(errno));
    if (fd >= 0)
        close(fd);
    strbuf_free(&rec);
}

static void defer_log_remove(qmgr *q, const char *id)
{
    char path[4096];
    if (queue_path(path, sizeof(path), q->queue_dir, "defer", id, 0) == 0 && unlink(path) < 0 &&
        errno != ENOENT)
        log_warning("%s: cannot remove defer log %s: %s", id, path, strerror(errno));
}

int qmgr_message_mark_done(qmgr_message *msg, size_t rcpt)
{
    queue_rcpt *r = &msg->env.rcpts[rcpt];
    if (r->done)
        return 0;
    if (queue_file_mark_done(msg->fd, r->offset) < 0) {
        /* The recipient stays 'R': a later attempt delivers it again rather than losing it. */
        log_warning("%s: cannot mark recipient %s done: %s", msg->id, r->address, strerror(errno));
        msg->deferred = 1;
        return -1;
    }
    r->done = 1;
    msg->unsynced = 1;
    return 0;
}

static void result_set(qmgr_rcpt_result *res, qmgr_rcpt_outcome outcome, const char *dsn,
                       const qmgr_verdict *v)
{
    result_clear(res);
    res->outcome = outcome;
    dsn_set(res->dsn, sizeof(res->dsn), dsn);
    res->reason = xstrdup(v->reason ? v->reason : "");
    res->when = time(NULL);
    if (v->diag && v->diag[0]) {
        res->diag = xstrdup(v->diag);
        res->mta = v->mta && v->mta[0] ? xstrdup(v->mta) : NULL;
    } else {
        qmgr_reason_to_dsn_fields(res->reason, &res->diag, &res->mta);
        if (v->mta && v->mta[0]) {
            free(res->mta);
            res->mta = xstrdup(v->mta);
        }
    }
}

void qmgr_message_result(qmgr *q, qmgr_message *msg, size_t rcpt, const qmgr_verdict *v)
{
    qmgr_rcpt_result *res = &msg->results[rcpt];
    const char *dsn = v->dsn;
    switch (dsn_class(dsn)) {
    case 2:
        result_set(res, QMGR_RCPT_SENT, dsn, v);
        qmgr_message_mark_done(msg, rcpt);
        break;
    case 5:
        /* Marked done only once the non-delivery notice is queued (qmgr_notify.c). */
        result_set(res, QMGR_RCPT_FAILED, dsn, v);
        break;
    default:
        dsn = dsn_class(dsn) == 4 ? dsn : "4.3.0";
        result_set(res, QMGR_RCPT_DEFERRED, dsn, v);
        qmgr_defer_log_append(q, msg, rcpt, dsn, res->reason);
        msg->deferred = 1;
        break;
    }
}

void qmgr_message_result_log(qmgr *q, qmgr_message *msg, size_t rcpt, const char *dsn,
                             const char *reason)
{
    char status[DSN_MAX];
    dsn_set(status, sizeof(status), dsn);
    if (status[0] == '5' && mail_params_current()->soft_bounce)
        status[0] = '4';
    log_outcome(msg, rcpt, status, reason);
    qmgr_verdict v = {status, reason, NULL, NULL};
    qmgr_message_result(q, msg, rcpt, &v);
}

static int all_done(const qmgr_message *msg)
{
    for (size_t i = 0; i < msg->env.nrcpt; i++)
        if (!msg->env.rcpts[i].done)
            return 0;
    return 1;
}

static int any_deferred(const qmgr_message *msg)
{
    for (size_t i = 0; i < msg->env.nrcpt; i++)
        if (!msg->env.rcpts[i].done && msg->results[i].outcome == QMGR_RCPT_DEFERRED)
            return 1;
    return 0;
}

/* The message outlived its queue lifetime: its deferred recipients fail with their last
 * temporary status, as Postfix returns an expired message. */
static void expire_if_old(qmgr_message *msg, time_t now)
{
    const char *sender = msg->env.sender ? msg->env.sender : "";
    long lifetime = cfg_time(sender[0] ? "maximal_queue_lifetime" : "bounce_queue_lifetime");
    if (!any_deferred(msg) || !qmgr_lifetime_expired(now, msg->env.arrival.tv_sec, lifetime))
        return;
    log_info("%s: from=<%s>, status=expired, returned to sender", msg->id, sender);
    for (size_t i = 0; i < msg->env.nrcpt; i++)
        if (!msg->env.rcpts[i].done && msg->results[i].outcome == QMGR_RCPT_DEFERRED)
            msg->results[i].outcome = QMGR_RCPT_FAILED;
}

/* Defers msg: next attempt at now (time of day) + the backoff for its age at age_now. */
static void move_to_deferred(qmgr *q, qmgr_message *msg, time_t now, time_t age_now)
{
    char path[4096];
    strbuf err;
    strbuf_init(&err, 4096);
    if (queue_move(q->queue_dir, msg->id, "active", "deferred", &err) < 0) {
        log_warning("%s: cannot move to deferred: %s", msg->id, err.data);
    } else if (queue_path(path, sizeof(path), q->queue_dir, "deferred", msg->id, 0) == 0) {
        /* The deferred file's mtime is its next attempt time, as in Postfix. */
        time_t next =
            now + qmgr_backoff_delay(age_now, msg->env.arrival.tv_sec, mail_params_current()->minimal_backoff_time,
                                     mail_params_current()->maximal_backoff_time);
        struct utimbuf tb = {.actime = next, .modtime = next};
        if (utime(path, &tb) < 0)
            log_warning("%s: cannot set the next attempt time: %s", msg->id, strerror(errno));
    }
    strbuf_free(&err);
}

static void message_finish(qmgr *q, qmgr_message *msg)
{
    char path[4096];
    time_t now = time(NULL);
    time_t age_now = qmgr_age_clock(now, mail_time_steady(), q->clock_base);
    expire_if_old(msg, age_now);
    qmgr_notify_failures(q, msg);
    qmgr_notify_success(q, msg);
    if (!all_done(msg))
        qmgr_notify_delay(q, msg, age_now);
    /* A file that is removed right away needs no fsync of its done marks: they only spare
     * recipients a second delivery after a crash, and a crash that loses the marks loses the
     * (later) unlink too, so the file comes back and is delivered again, never lost
     * (docs/queue-format.md, "Durability"). */
    if (!all_done(msg) && msg->unsynced && fsync(msg->fd) < 0)
        log_warning("%s: fsync: %s", msg->id, strerror(errno));
    msg->unsynced = 0;
    if (all_done(msg)) {
        if (queue_path(path, sizeof(path), q->queue_dir, "active", msg->id, 0) == 0 &&
            queue_recycle_put(&q->recycler, path) == 0) {
            defer_log_remove(q, msg->id);
            log_info("%s: removed", msg->id);
        } else {
            log_warning("%s: cannot remove queue file: %s", msg->id, strerror(errno));
        }
    } else {
        move_to_deferred(q, msg, now, age_now);
    }
    message_unlink(q, msg);
    message_free(msg);
    if (q->scan_more)
        qmgr_request_scan(q, 1, 0, 0);
}

void qmgr_message_job_done(qmgr *q, qmgr_message *msg)
{
    if (--msg->jobs_pending <= 0) {
        message_finish(q, msg); /* fsyncs only what it keeps */
        return;
    }
    /* Other jobs go on: make this job's done marks durable now, so a crash meanwhile does
     * not repeat its deliveries. */
    if (msg->unsynced && fsync(msg->fd) < 0)
        log_warning("%s: fsync: %s", msg->id, strerror(errno));
    msg->unsynced = 0;
}

/* Moves a file that cannot be parsed out of the way; never deletes it. */
static void quarantine(qmgr *q, const char *id, const char *why)
{
    strbuf err;
    strbuf_init(&err, 4096);
    if (queue_move(q->queue_dir, id, "active", "corrupt", &err) == 0)
        log_warning("%s: corrupt queue file: %s; moved to corrupt", id, why);
    else
        log_warning("%s: corrupt queue file: %s; cannot move it to corrupt: %s", id, why, err.data);
    strbuf_free(&err);
}

/* Resolves the recipients and hands out the jobs. */
static void message_schedule(qmgr *q, qmgr_message *msg)
{
    strmap *open_jobs = strmap_new(); /* "transport\nnexthop" -> qmgr_job being filled */
    qmgr_job *list = NULL, **tail = &list;
    strbuf err, key;
    strbuf_init(&err, 4096);
    strbuf_init(&key, 4096);
    /* Guard so the message cannot finish while its own jobs are still being submitted. */
    msg->jobs_pending = 1;
    for (size_t i = 0; i < msg->env.nrcpt; i++) {
        queue_rcpt *r = &msg->env.rcpts[i];
        if (r->done)
            continue;
        resolved res;
        if (resolve_address(q->res, r->address, &res, &err) < 0) {
            log_warning("%s: address resolver failure for %s: %s", msg->id, r->address, err.data);
            qmgr_message_result_log(q, msg, i, "4.3.0", "address resolver failure");
            continue;
        }
        _Static_assert(sizeof(((qmgr_job *)0)->nexthop) >= sizeof(res.nexthop), "nexthop fits");
        qmgr_transport *t = qmgr_transport_get(q, res.transport);
        strbuf_reset(&key);
        strbuf_printf(&key, "%s\n%s", res.transport, res.nexthop);
        qmgr_job *job = strmap_get(open_jobs, key.data);
        if (job == NULL || job->nrcpt >= (size_t)qmgr_transport_recipient_limit(t)) {
            job = xcalloc(1, sizeof(*job));
            job->msg = msg;
            job->transport = t;
            memcpy(job->nexthop, res.nexthop, sizeof(res.nexthop));
            job->rcpts = xcalloc((size_t)qmgr_transport_recipient_limit(t), sizeof(size_t));
            strmap_put(open_jobs, key.data, job);
            *tail = job;
            tail = &job->next;
            msg->jobs_pending++;
        }
        job->rcpts[job->nrcpt++] = i;
    }
    strmap_free(open_jobs, NULL);
    strbuf_free(&err);
    strbuf_free(&key);
    while (list) {
        qmgr_job *next = list->next;
        list->next = NULL;
        qmgr_transport_submit(q, list);
        list = next;
    }
    qmgr_message_job_done(q, msg); /* drops the guard */
}

int qmgr_message_activate(qmgr *q, const char *id)
{
    char path[4096];
    strbuf err;
    strbuf_init(&err, 4096);
    if (queue_path(path, sizeof(path), q->queue_dir, "active", id, 0) < 0) {
        strbuf_free(&err);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        log_warning("%s: cannot open %s: %s", id, path, strerror(errno));
        strbuf_free(&err);
        return -1;
    }
    qmgr_message *msg = xcalloc(1, sizeof(*msg));
    if (fixed_copy(msg->id, sizeof(msg->id), id) < 0) /* the scan passes only queue_id_valid ids */
        log_fatal("%s: queue id longer than %zu bytes", id, sizeof(msg->id) - 1);
    msg->fd = fd;
    strbuf_reset(&err);
    if (queue_envelope_read(fd, &msg->env, &err) < 0) {
        close(fd);
        free(msg);
        quarantine(q, id, err.data);
        strbuf_free(&err);
        return -1;
    }
    strbuf_free(&err);
    msg->results = xcalloc(msg->env.nrcpt ? msg->env.nrcpt : 1, sizeof(*msg->results));
    msg->active_time = now_seconds();
    msg->next = q->active;
    if (q->active)
        q->active->prev = msg;
    q->active = msg;
    q->nactive++;
    /* This attempt writes a fresh defer log. */
    defer_log_remove(q, id);
    long nrcpt = msg->env.rcpt_count > 0 ? msg->env.rcpt_count : (long)msg->env.nrcpt;
    log_info("%s: from=<%s>, size=%ld, nrcpt=%ld (queue active)", id, msg->env.sender,
             msg->env.message_size, nrcpt);
    message_schedule(q, msg);
    return 0;
}

void qmgr_message_free_all(qmgr *q)
{
    while (q->active) {
        qmgr_message *msg = q->active;
        message_unlink(q, msg);
        message_free(msg);
    }
}

/*
 * qmgr_notify.c: the delivery status notices a message's pass calls for (qmgr.h, bounce.h).
 *
 * Called when a message's last job has ended, with every recipient's result of this pass in
 * msg->results. Failures: one BOUNCE_FAILURE notice for all FAILED recipients; they are marked
 * done only after bounce_notify() has committed the notice, so a crash or a full disk never
 * loses a failure (the recipients stay 'R' and are deferred with the reason why). Successes:
 * a BOUNCE_SUCCESS notice for delivered recipients with NOTIFY=SUCCESS. Delay: one
 * BOUNCE_DELAY notice per message, remembered in the size record's flags.
 */
#include "bounce/bounce.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "qmgr/qmgr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOTICE_RETRY_DSN "4.3.0"

static void fill_rcpt(bounce_rcpt *b, const qmgr_message *msg, size_t i, const char *action)
{
    const queue_rcpt *r = &msg->env.rcpts[i];
    const qmgr_rcpt_result *res = &msg->results[i];
    b->address = r->address;
    b->orig = r->orig;
    b->dsn_orcpt = r->dsn_orcpt;
    b->status = res->dsn;
    b->action = action;
    b->diagnostic = res->diag ? res->diag : res->reason;
    b->remote_mta = res->mta;
    b->last_attempt = res->when;
}

/* Collects recipients with the given outcome (and, when notify_bit != 0, that NOTIFY bit). */
static size_t collect(const qmgr_message *msg, qmgr_rcpt_outcome outcome, int notify_bit,
                      const char *action, bounce_rcpt *out, size_t *index)
{
    size_t n = 0;
    for (size_t i = 0; i < msg->env.nrcpt; i++) {
        const queue_rcpt *r = &msg->env.rcpts[i];
        if (msg->results[i].outcome != outcome)
            continue;
        if (outcome == QMGR_RCPT_FAILED && r->done)
            continue;
        if (notify_bit && !(r->notify & notify_bit))
            continue;
        fill_rcpt(&out[n], msg, i, action);
        index[n++] = i;
    }
    return n;
}

static int notify(qmgr *q, qmgr_message *msg, bounce_kind kind, const bounce_rcpt *rcpts, size_t n,
                  strbuf *err)
{
    char new_id[QUEUE_ID_MAX];
    _Static_assert(sizeof(msg->env.id) == sizeof(msg->id), "queue ids have one size");
    memcpy(msg->env.id, msg->id, sizeof(msg->id));
    int rc = bounce_notify(msg->fd, &msg->env, kind, rcpts, n, new_id, sizeof(new_id), err);
    if (rc == 0 && new_id[0])
        qmgr_request_scan(q, 1, 0, 0); /* deliver the notice soon */
    return rc;
}

size_t qmgr_notify_failures(qmgr *q, qmgr_message *msg)
{
    size_t nrcpt = msg->env.nrcpt;
    bounce_rcpt *rcpts = xcalloc(nrcpt ? nrcpt : 1, sizeof(*rcpts));
    size_t *index = xcalloc(nrcpt ? nrcpt : 1, sizeof(*index));
    size_t n = collect(msg, QMGR_RCPT_FAILED, 0, "failed", rcpts, index);
    size_t marked = 0;
    if (n > 0) {
        strbuf err;
        strbuf_init(&err, 4096);
        if (notify(q, msg, BOUNCE_FAILURE, rcpts, n, &err) == 0) {
            for (size_t k = 0; k < n; k++)
                if (qmgr_message_mark_done(msg, index[k]) == 0)
                    marked++;
        } else {
            log_warning("%s: cannot queue the non-delivery notification: %s; will retry", msg->id,
                        err.data);
            strbuf reason;
            strbuf_init(&reason, 4096);
            for (size_t k = 0; k < n; k++) {
                qmgr_rcpt_result *res = &msg->results[index[k]];
                strbuf_reset(&reason);
                strbuf_printf(&reason, "bounce notification failed: %s", res->reason);
                qmgr_defer_log_append(q, msg, index[k], NOTICE_RETRY_DSN, reason.data);
                res->outcome = QMGR_RCPT_DEFERRED;
            }
            strbuf_free(&reason);
            msg->deferred = 1;
        }
        strbuf_free(&err);
    }
    free(index);
    free(rcpts);
    return marked;
}

void qmgr_notify_success(qmgr *q, qmgr_message *msg)
{
    size_t nrcpt = msg->env.nrcpt;
    bounce_rcpt *rcpts = xcalloc(nrcpt ? nrcpt : 1, sizeof(*rcpts));
    size_t *index = xcalloc(nrcpt ? nrcpt : 1, sizeof(*index));
    size_t n = collect(msg, QMGR_RCPT_SENT, DSN_NOTIFY_SUCCESS, "delivered", rcpts, index);
    if (n > 0) {
        strbuf err;
        strbuf_init(&err, 4096);
        if (notify(q, msg, BOUNCE_SUCCESS, rcpts, n, &err) < 0)
            log_warning("%s: cannot queue the delivery status notification: %s", msg->id, err.data);
        strbuf_free(&err);
    }
    free(index);
    free(rcpts);
}

void qmgr_notify_delay(qmgr *q, qmgr_message *msg, time_t now)
{
    if (!qmgr_delay_warning_due(now, msg->env.arrival.tv_sec, mail_params_current()->delay_warning_time,
                                msg->env.flags))
        return;
    size_t nrcpt = msg->env.nrcpt;
    bounce_rcpt *rcpts = xcalloc(nrcpt ? nrcpt : 1, sizeof(*rcpts));
    size_t *index = xcalloc(nrcpt ? nrcpt : 1, sizeof(*index));
    size_t n = collect(msg, QMGR_RCPT_DEFERRED, 0, "delayed", rcpts, index);
    if (n > 0) {
        strbuf err;
        strbuf_init(&err, 4096);
        if (notify(q, msg, BOUNCE_DELAY, rcpts, n, &err) < 0) {
            log_warning("%s: cannot queue the delay notification: %s; will retry", msg->id,
                        err.data);
        } else {
            long flags = msg->env.flags | QUEUE_FLAG_DELAY_WARNED;
            if (queue_file_set_flags(msg->fd, flags) < 0)
                log_warning("%s: cannot record the delay notification: %s", msg->id,
                            strerror(errno));
            else
                msg->env.flags = flags;
            msg->unsynced = 1;
        }
        strbuf_free(&err);
    }
    free(index);
    free(rcpts);
}

/*
 * smtpd_async.c: the waiting part of the check pipeline (see smtpd_async.h): the list of
 * asynchronous kinds, and the per-session request with its deadline.
 */
#include "smtpd/smtpd_async.h"
#include "lib/log.h"

#include <string.h>

/* One line per kind (smtpd_async_NAME.c). */
extern const smtpd_async_kind smtpd_async_policy;
extern const smtpd_async_kind smtpd_async_dns;

const smtpd_async_kind *const smtpd_async_kinds[] = {
    &smtpd_async_policy,
    &smtpd_async_dns,
    NULL,
};

void smtpd_wait_init(smtpd_wait *w, smtpd_async_env *env, void (*wake)(void *), void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->env = env;
    w->wake = wake;
    w->wake_ctx = ctx;
    strbuf_init(&w->answer, 0);
}

static void on_deadline(event_loop *loop, void *ctx)
{
    (void)loop;
    smtpd_wait *w = ctx;
    w->timer = 0;
    if (!w->running)
        return;
    w->kind->cancel(w);
    strbuf_reset(&w->answer);
    strbuf_printf(&w->answer, "no answer within %ld ms", w->timeout_ms);
    smtpd_wait_finish(w, SMTPD_WAIT_TIMEOUT);
}

int smtpd_wait_start(smtpd_wait *w, const restriction *r, const smtpd_check_args *a)
{
    smtpd_wait_reset(w);
    w->kind = r->kind;
    w->r = r;
    w->running = 1;
    w->starting = 1;
    w->timeout_ms = 10000;
    r->kind->start(w, a);
    w->starting = 0;
    if (w->done)
        return 1;
    if (w->env && w->env->loop && w->timeout_ms > 0)
        w->timer = event_timer_add(w->env->loop, w->timeout_ms, on_deadline, w);
    return 0;
}

void smtpd_wait_finish(smtpd_wait *w, smtpd_wait_status status)
{
    if (!w->running)
        return;
    w->running = 0;
    w->done = 1;
    w->status = status;
    w->req = NULL;
    if (w->timer) {
        event_timer_cancel(w->env->loop, w->timer);
        w->timer = 0;
    }
    if (!w->starting && w->wake)
        w->wake(w->wake_ctx);
}

void smtpd_wait_reset(smtpd_wait *w)
{
    if (w->running && w->kind)
        w->kind->cancel(w);
    if (w->timer && w->env && w->env->loop)
        event_timer_cancel(w->env->loop, w->timer);
    w->timer = 0;
    w->running = w->done = 0;
    w->req = NULL;
    w->r = NULL;
    w->code = 0;
    w->status = SMTPD_WAIT_OK;
    strbuf_reset(&w->answer);
}

void smtpd_wait_free(smtpd_wait *w)
{
    smtpd_wait_reset(w);
    strbuf_free(&w->answer);
}

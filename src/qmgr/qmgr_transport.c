/*
 * qmgr_transport.c: delivery agents as seen from the queue manager.
 *
 * Each transport has one FIFO of jobs per destination (nexthop) and up to `limit`
 * connections to queue_directory/private/<transport>, the service's maxproc in master.cf
 * (default_process_limit for "-", no bound for 0). A destination has at most its concurrency
 * window of jobs in flight: initial_destination_concurrency, growing by one per delivery that
 * reached it up to <transport>_destination_concurrency_limit
 * (default_destination_concurrency_limit when not set). A reply that says the destination
 * could not be reached (qmgr_site_failure) suspends it for minimal_backoff_time: its jobs are
 * deferred with "delivery temporarily suspended: REASON" and its window starts over (qmgr.h).
 * Destinations with jobs take turns for free connections. A request is written as soon as the
 * connection is made (the agent's hello is read before its reply); a connection that has delivered
 * waits idle for the next job and is closed after QMGR_IDLE_CLOSE_MS without one, so the agent can
 * report idle and exit on max_idle.
 *
 * Internal transports: "error" bounces with the nexthop as reason, "retry" defers likewise,
 * "discard" marks the recipients done. A transport in defer_transports is deferred. A transport
 * whose endpoint is missing or refuses connections, or whose agent goes away twice without a
 * reply, is "dead" for transport_retry_time: its recipients are deferred with "4.3.0 mail
 * transport unavailable", as Postfix does.
 */
#include "global/mail_date.h"
#include "global/mail_params.h"
#include "lib/attr.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/word_list.h"
#include "lib/xalloc.h"
#include "master/master_cf.h"
#include "qmgr/qmgr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define QMGR_IDLE_CLOSE_MS 2000
#define QMGR_RETRY_CONNECT_MS 200
#define QMGR_REPLY_LIMIT (1024 * 1024)

typedef enum { CONN_WAIT_HELLO, CONN_IDLE, CONN_BUSY } conn_state;

typedef struct qmgr_conn {
    qmgr *q;
    qmgr_transport *t;
    int fd;
    conn_state state;
    int hello_seen;
    attr_reader rd;
    strbuf out;      /* request bytes not yet written */
    size_t out_done; /* bytes of out already written */
    qmgr_job *job;
    deliver_request req;
    event_timer_id timer;
    struct qmgr_conn *next;
} qmgr_conn;

struct qmgr_dest {
    qmgr_transport *t;
    char *nexthop;
    qmgr_job *head, *tail; /* jobs waiting for a connection */
    int busy;              /* jobs in flight */
    qmgr_window window;
    double suspended_until; /* mail_time_steady() seconds; 0 = not suspended */
    char suspend_dsn[DSN_MAX];
    char *suspend_reason;
    event_timer_id resume_timer;
    struct qmgr_dest *next;
};

struct qmgr_transport {
    char *name;
    int limit;               /* agents (connections) for all destinations together */
    int dest_limit;          /* <transport>_destination_concurrency_limit */
    int initial_concurrency; /* <transport>_initial_destination_concurrency */
    int rcpt_limit;
    qmgr_dest *dests;
    qmgr_conn *conns;
    int nconns;
    double dead_until; /* mail_time_steady() seconds */
    event_timer_id retry_timer;
    qmgr *q;
    struct qmgr_transport *next;
};

static void dispatch(qmgr_transport *t);
static void job_finish_all(qmgr *q, qmgr_job *job, const char *dsn, const char *reason);

void qmgr_job_free(qmgr_job *job)
{
    free(job->rcpts);
    free(job);
}

/* A whole-number parameter (config_audit refused a malformed one at postfix check, start and
 * reload), or fallback when it is unset. */
static long param_long(const char *name, long fallback)
{
    const char *v = cfg_str(name);
    if (v == NULL || *v == '\0')
        return fallback;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 0) {
        log_warning("parameter %s: bad value \"%s\" (want a whole number): using %ld", name, v,
                    fallback);
        return fallback;
    }
    return n;
}

/* <transport><suffix> ("smtp_destination_concurrency_limit"), or fallback. */
static long transport_param_long(const char *transport, const char *suffix, long fallback)
{
    strbuf name;
    strbuf_init(&name, 0);
    strbuf_printf(&name, "%s%s", transport, suffix);
    long n = param_long(name.data, fallback);
    strbuf_free(&name);
    return n;
}

static int master_maxproc(qmgr *q, const char *name)
{
    const master_cf *mcf = q->master_cf;
    long def = mail_params_current()->default_process_limit;
    for (size_t i = 0; mcf && i < mcf->count; i++) {
        const master_cf_entry *e = &mcf->entries[i];
        if (e->type == MASTER_TYPE_UNIX && strcmp(e->name, name) == 0)
            return e->maxproc > 0 ? e->maxproc : 1000;
    }
    return def > 0 ? (int)def : 100;
}

qmgr_transport *qmgr_transport_get(qmgr *q, const char *name)
{
    for (qmgr_transport *t = q->transports; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    qmgr_transport *t = xcalloc(1, sizeof(*t));
    t->name = xstrdup(name);
    t->q = q;
    long conc = transport_param_long(name, "_destination_concurrency_limit",
                                     param_long("default_destination_concurrency_limit", 20));
    int maxproc = master_maxproc(q, name);
    t->limit = maxproc > 0 ? maxproc : 1;
    /* 0 means no limit, as in Postfix: the process limit is the only bound then */
    t->dest_limit = (int)(conc > 0 && conc < 100000 ? conc : 100000);
    long initial = transport_param_long(name, "_initial_destination_concurrency",
                                        param_long("initial_destination_concurrency", 5));
    t->initial_concurrency = (int)(initial < 1 ? 1 : initial < 100000 ? initial : 100000);
    long rcpts = transport_param_long(name, "_destination_recipient_limit",
                                      param_long("default_destination_recipient_limit", 50));
    /* 0 (no limit) and anything larger go in batches of the most an agent takes at once */
    t->rcpt_limit = (int)(rcpts > 0 && rcpts < DELIVER_RCPT_MAX ? rcpts : DELIVER_RCPT_MAX);
    t->next = q->transports;
    q->transports = t;
    return t;
}

int qmgr_transport_recipient_limit(const qmgr_transport *t)
{
    return t->rcpt_limit;
}

/* Finishes a job with the same outcome for each recipient, logged by the queue manager. */
static void job_finish_all(qmgr *q, qmgr_job *job, const char *dsn, const char *reason)
{
    for (size_t i = 0; i < job->nrcpt; i++)
        qmgr_message_result_log(q, job->msg, job->rcpts[i], dsn, reason);
    qmgr_message *msg = job->msg;
    qmgr_job_free(job);
    qmgr_message_job_done(q, msg);
}

/* "5.1.1 text" -> dsn "5.1.1", text; anything else keeps the default dsn. */
static void split_dsn_text(const char *nexthop, const char *def_dsn, char dsn[DSN_MAX],
                           const char **text)
{
    dsn_set(dsn, DSN_MAX, def_dsn);
    *text = nexthop;
    const char *sp = strchr(nexthop, ' ');
    if (sp && (size_t)(sp - nexthop) < DSN_MAX) { /* a longer first word is no status code */
        char cand[DSN_MAX];
        memcpy(cand, nexthop, (size_t)(sp - nexthop));
        cand[sp - nexthop] = '\0';
        if (dsn_class(cand) == def_dsn[0] - '0') {
            dsn_set(dsn, DSN_MAX, cand);
            *text = sp + 1;
        }
    }
    if (**text == '\0')
        *text = def_dsn[0] == '5' ? "mail for this address is refused" : "delivery deferred";
}

static int in_defer_transports(const char *name)
{
    return word_list_has(mail_params_current()->defer_transports, name, WORD_LIST_EXACT);
}

/* ---- destinations ---- */

static qmgr_dest *dest_get(qmgr_transport *t, const char *nexthop)
{
    for (qmgr_dest *d = t->dests; d; d = d->next)
        if (strcmp(d->nexthop, nexthop) == 0)
            return d;
    qmgr_dest *d = xcalloc(1, sizeof(*d));
    d->t = t;
    d->nexthop = xstrdup(nexthop);
    qmgr_window_init(&d->window, t->initial_concurrency, t->dest_limit);
    d->next = t->dests;
    t->dests = d;
    return d;
}

static qmgr_job *dest_pop(qmgr_dest *d)
{
    qmgr_job *job = d->head;
    if (job) {
        d->head = job->next;
        if (d->head == NULL)
            d->tail = NULL;
        job->next = NULL;
    }
    return job;
}

static void dest_push_front(qmgr_dest *d, qmgr_job *job)
{
    job->next = d->head;
    d->head = job;
    if (d->tail == NULL)
        d->tail = job;
}

static void dest_defer_job(qmgr_dest *d, qmgr_job *job)
{
    strbuf reason;
    strbuf_init(&reason, 4096);
    strbuf_printf(&reason, "delivery temporarily suspended: %s",
                  d->suspend_reason ? d->suspend_reason : "destination unreachable");
    job_finish_all(d->t->q, job, d->suspend_dsn[0] ? d->suspend_dsn : "4.4.1", reason.data);
    strbuf_free(&reason);
}

static void dest_free(qmgr_dest *d)
{
    if (d->resume_timer)
        event_timer_cancel(d->t->q->loop, d->resume_timer);
    free(d->suspend_reason);
    free(d->nexthop);
    free(d);
}

/* Forgets destinations with nothing queued, nothing in flight and no suspension, as Postfix
 * frees an empty queue (its window starts over next time). */
static void dest_sweep(qmgr_transport *t)
{
    for (qmgr_dest **pp = &t->dests; *pp;) {
        qmgr_dest *d = *pp;
        if (d->head == NULL && d->busy == 0 && d->suspended_until == 0) {
            *pp = d->next;
            dest_free(d);
        } else {
            pp = &d->next;
        }
    }
}

static void dest_resume(event_loop *loop, void *ctx)
{
    (void)loop;
    qmgr_dest *d = ctx;
    d->resume_timer = 0;
    d->suspended_until = 0;
    qmgr_window_failure(&d->window); /* start over at the initial window */
    dispatch(d->t);
}

/* The destination could not be reached: defer its waiting jobs and new ones for a while. */
static void dest_suspend(qmgr_dest *d, const char *dsn, const char *reason)
{
    qmgr *q = d->t->q;
    long pause = mail_params_current()->minimal_backoff_time;
    if (pause <= 0)
        pause = 1;
    dsn_set(d->suspend_dsn, sizeof(d->suspend_dsn), dsn);
    free(d->suspend_reason);
    d->suspend_reason = xstrdup(reason && reason[0] ? reason : "destination unreachable");
    qmgr_window_failure(&d->window);
    d->suspended_until = mail_time_steady() + (double)pause;
    if (d->resume_timer)
        event_timer_cancel(q->loop, d->resume_timer);
    d->resume_timer = event_timer_add(q->loop, pause * 1000, dest_resume, d);
    qmgr_job *job;
    while ((job = dest_pop(d)) != NULL)
        dest_defer_job(d, job);
}

void qmgr_transport_submit(qmgr *q, qmgr_job *job)
{
    qmgr_transport *t = job->transport;
    char dsn[DSN_MAX];
    const char *text;
    if (strcmp(t->name, "error") == 0) {
        split_dsn_text(job->nexthop, "5.0.0", dsn, &text);
        job_finish_all(q, job, dsn, text);
        return;
    }
    if (strcmp(t->name, "retry") == 0) {
        split_dsn_text(job->nexthop, "4.0.0", dsn, &text);
        job_finish_all(q, job, dsn, text);
        return;
    }
    if (strcmp(t->name, "discard") == 0) {
        job_finish_all(q, job, "2.0.0", job->nexthop[0] ? job->nexthop : "discarded");
        return;
    }
    if (in_defer_transports(t->name)) {
        job_finish_all(q, job, "4.3.2", "deferred transport");
        return;
    }
    if (t->dead_until > mail_time_steady()) {
        job_finish_all(q, job, "4.3.0", "mail transport unavailable");
        return;
    }
    qmgr_dest *d = dest_get(t, job->nexthop);
    job->dest = d;
    if (d->suspended_until > 0) {
        dest_defer_job(d, job);
        return;
    }
    if (d->tail)
        d->tail->next = job;
    else
        d->head = job;
    d->tail = job;
    job->next = NULL;
    dispatch(t);
}

/* ---- connections ---- */

static void conn_close(qmgr_conn *c)
{
    qmgr_transport *t = c->t;
    for (qmgr_conn **pp = &t->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    t->nconns--;
    if (c->timer)
        event_timer_cancel(c->q->loop, c->timer);
    event_remove(c->q->loop, c->fd);
    close(c->fd);
    attr_reader_free(&c->rd);
    strbuf_free(&c->out);
    deliver_request_free(&c->req);
    free(c);
}

static void mark_dead(qmgr_transport *t)
{
    t->dead_until = mail_time_steady() + (double)mail_params_current()->transport_retry_time;
    log_warning("transport %s: mail transport unavailable; deferring its mail for %lds", t->name,
                mail_params_current()->transport_retry_time);
    for (qmgr_dest *d = t->dests; d; d = d->next) {
        qmgr_job *job;
        while ((job = dest_pop(d)) != NULL)
            job_finish_all(t->q, job, "4.3.0", "mail transport unavailable");
    }
}

/* The job in flight on c is over (replied, or given up): its destination has a free slot. */
static qmgr_job *conn_take_job(qmgr_conn *c)
{
    qmgr_job *job = c->job;
    c->job = NULL;
    if (job && job->dest && job->dest->busy > 0)
        job->dest->busy--;
    return job;
}

/* The connection failed. A job in flight is put back once, then deferred. */
static void conn_fail(qmgr_conn *c, const char *why)
{
    qmgr_transport *t = c->t;
    qmgr *q = c->q;
    qmgr_job *job = conn_take_job(c);
    int had_hello = c->hello_seen;
    conn_close(c);
    if (job) {
        if (job->retries++ < 1 && job->dest->suspended_until == 0) {
            dest_push_front(job->dest, job);
        } else {
            log_warning("transport %s: %s", t->name, why);
            if (!had_hello)
                mark_dead(t);
            job_finish_all(q, job, "4.3.0",
                           had_hello ? "unknown mail transport error"
                                     : "mail transport unavailable");
        }
    }
    dispatch(t);
}

static void conn_idle_timeout(event_loop *loop, void *ctx)
{
    (void)loop;
    qmgr_conn *c = ctx;
    c->timer = 0;
    if (c->state == CONN_IDLE)
        conn_close(c);
}

static void conn_hello_timeout(event_loop *loop, void *ctx)
{
    (void)loop;
    qmgr_conn *c = ctx;
    c->timer = 0;
    if (!c->hello_seen)
        conn_fail(c, "timeout waiting for the delivery agent");
}

static void conn_handle_reply(qmgr_conn *c, const attr_record *rec)
{
    strbuf err;
    strbuf_init(&err, 4096);
    qmgr *q = c->q;
    if (deliver_reply_decode(rec, &c->req, &err) < 0) {
        log_warning("transport %s: bad reply: %s", c->t->name, err.data);
        strbuf_free(&err);
        conn_fail(c, "bad reply");
        return;
    }
    strbuf_free(&err);
    qmgr_job *job = conn_take_job(c);
    const char **dsns = xcalloc(job->nrcpt ? job->nrcpt : 1, sizeof(*dsns));
    const char **reasons = xcalloc(job->nrcpt ? job->nrcpt : 1, sizeof(*reasons));
    for (size_t i = 0; i < job->nrcpt; i++) {
        const deliver_rcpt *r = &c->req.rcpts[i];
        qmgr_verdict v = {r->dsn, r->reason ? r->reason : "", r->diag, r->mta};
        dsns[i] = r->dsn;
        reasons[i] = v.reason;
        qmgr_message_result(q, job->msg, job->rcpts[i], &v);
    }
    qmgr_dest *d = job->dest;
    if (qmgr_site_failure(dsns, reasons, job->nrcpt))
        dest_suspend(d, dsns[0], reasons[0]);
    else
        qmgr_window_success(&d->window);
    free(dsns);
    free(reasons);
    deliver_request_free(&c->req);
    c->state = CONN_IDLE;
    qmgr_message *msg = job->msg;
    qmgr_job_free(job);
    qmgr_message_job_done(q, msg);
    qmgr_transport *t = c->t;
    dispatch(t);
    /* dispatch() may have given c a new job; otherwise let it idle out. */
    if (c->state == CONN_IDLE && c->timer == 0)
        c->timer = event_timer_add(q->loop, QMGR_IDLE_CLOSE_MS, conn_idle_timeout, c);
}

static void conn_event(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)fd;
    qmgr_conn *c = ctx;
    if (events & EVENT_WRITE) {
        while (c->out_done < c->out.len) {
            ssize_t n = write(c->fd, c->out.data + c->out_done, c->out.len - c->out_done);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                conn_fail(c, strerror(errno));
                return;
            }
            c->out_done += (size_t)n;
        }
        if (c->out_done >= c->out.len)
            event_modify(c->q->loop, c->fd, EVENT_READ);
    }
    if (!(events & (EVENT_READ | EVENT_ERROR)))
        return;
    strbuf err;
    strbuf_init(&err, 4096);
    attr_record rec;
    attr_record_init(&rec);
    for (;;) {
        strbuf_reset(&err);
        int got = attr_reader_next(&c->rd, &rec, &err);
        if (got == 0)
            break;
        if (got < 0) {
            if (c->state == CONN_IDLE && c->rd.eof) {
                conn_close(c); /* the agent ended an idle connection (max_use, max_idle) */
            } else {
                conn_fail(c, err.data);
            }
            break;
        }
        if (!c->hello_seen) {
            const char *proto = attr_get(&rec, "protocol");
            if (proto == NULL || strcmp(proto, DELIVER_PROTOCOL) != 0) {
                conn_fail(c, "unexpected protocol greeting");
                break;
            }
            c->hello_seen = 1;
            if (c->timer) {
                event_timer_cancel(c->q->loop, c->timer);
                c->timer = 0;
            }
            continue;
        }
        if (c->state != CONN_BUSY || c->job == NULL) {
            conn_fail(c, "unexpected reply");
            break;
        }
        conn_handle_reply(c, &rec);
        break; /* c may be gone or busy with a new request; the loop reports the rest */
    }
    attr_record_free(&rec);
    strbuf_free(&err);
}

static void conn_send(qmgr_conn *c, qmgr_job *job)
{
    qmgr_message *msg = job->msg;
    deliver_request_free(&c->req);
    deliver_request *req = &c->req;
    deliver_request_set(&req->queue_name, "active");
    deliver_request_set(&req->queue_id, msg->id);
    deliver_request_set(&req->sender, msg->env.sender);
    deliver_request_set(&req->nexthop, job->nexthop);
    req->arrival = (double)msg->env.arrival.tv_sec + (double)msg->env.arrival.tv_nsec / 1e9;
    req->active_time = msg->active_time;
    req->request_time = mail_time_now();
    req->message_size = msg->env.message_size;
    for (size_t i = 0; i < job->nrcpt; i++) {
        const queue_rcpt *r = &msg->env.rcpts[job->rcpts[i]];
        deliver_request_add_rcpt(req, r->address, r->orig, r->dsn_orcpt, r->offset, r->notify);
    }
    strbuf_reset(&c->out);
    c->out_done = 0;
    deliver_request_encode(req, &c->out);
    c->job = job;
    c->state = CONN_BUSY;
    if (c->timer && c->hello_seen) {
        event_timer_cancel(c->q->loop, c->timer);
        c->timer = 0;
    }
    event_modify(c->q->loop, c->fd, EVENT_READ | EVENT_WRITE);
}

/* Opens a connection. NULL when the agent cannot be reached; *retry says whether to try again
 * soon (backlog full) rather than give up on the transport. */
static qmgr_conn *conn_open(qmgr_transport *t, int *retry)
{
    qmgr *q = t->q;
    *retry = 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/private/%s", q->queue_dir, t->name);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        log_warning("transport %s: socket path too long", t->name);
        return NULL;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        if (saved == EAGAIN) {
            *retry = 1;
        } else {
            log_warning("connect to transport private/%s: %s", t->name, strerror(saved));
        }
        return NULL;
    }
    qmgr_conn *c = xcalloc(1, sizeof(*c));
    c->q = q;
    c->t = t;
    c->fd = fd;
    c->state = CONN_WAIT_HELLO;
    attr_reader_init(&c->rd, fd, QMGR_REPLY_LIMIT);
    strbuf_init(&c->out, DELIVER_RECORD_LIMIT);
    deliver_request_init(&c->req);
    if (event_add(q->loop, fd, EVENT_READ, conn_event, c) < 0) {
        attr_reader_free(&c->rd);
        strbuf_free(&c->out);
        close(fd);
        free(c);
        return NULL;
    }
    long ipc_ms = mail_params_current()->qmgr_ipc_timeout * 1000;
    c->timer = event_timer_add(q->loop, ipc_ms > 0 ? ipc_ms : 60000, conn_hello_timeout, c);
    c->next = t->conns;
    t->conns = c;
    t->nconns++;
    return c;
}

static void retry_dispatch(event_loop *loop, void *ctx)
{
    (void)loop;
    qmgr_transport *t = ctx;
    t->retry_timer = 0;
    dispatch(t);
}

static qmgr_conn *find_idle(qmgr_transport *t)
{
    for (qmgr_conn *c = t->conns; c; c = c->next)
        if (c->state == CONN_IDLE)
            return c;
    return NULL;
}

/* A connection for the next job: an idle one, or a new one within the transport's limit.
 * NULL when none can be had now (*gave_up: the transport was marked dead). */
static qmgr_conn *conn_for_job(qmgr_transport *t, int *gave_up)
{
    *gave_up = 0;
    qmgr_conn *c = find_idle(t);
    if (c != NULL) {
        if (c->timer) {
            event_timer_cancel(t->q->loop, c->timer);
            c->timer = 0;
        }
        return c;
    }
    if (t->nconns >= t->limit)
        return NULL;
    int retry;
    c = conn_open(t, &retry);
    if (c == NULL) {
        if (retry) {
            if (t->retry_timer == 0)
                t->retry_timer =
                    event_timer_add(t->q->loop, QMGR_RETRY_CONNECT_MS, retry_dispatch, t);
        } else {
            mark_dead(t);
            *gave_up = 1;
        }
    }
    return c;
}

static int dest_ready(const qmgr_dest *d)
{
    return d->head != NULL && d->suspended_until == 0 && d->busy < d->window.value;
}

/* Hands waiting jobs to connections, one destination after another in turn. */
static void dispatch(qmgr_transport *t)
{
    int progress = 1;
    while (progress) {
        progress = 0;
        for (qmgr_dest *d = t->dests; d; d = d->next) {
            if (!dest_ready(d))
                continue;
            int gave_up;
            qmgr_conn *c = conn_for_job(t, &gave_up);
            if (c == NULL) {
                progress = 0;
                break;
            }
            qmgr_job *job = dest_pop(d);
            d->busy++;
            conn_send(c, job);
            progress = 1;
        }
    }
    dest_sweep(t);
}

void qmgr_transport_free_all(qmgr *q)
{
    while (q->transports) {
        qmgr_transport *t = q->transports;
        q->transports = t->next;
        while (t->conns) {
            qmgr_conn *c = t->conns;
            if (c->job)
                qmgr_job_free(c->job);
            c->job = NULL;
            conn_close(c);
        }
        while (t->dests) {
            qmgr_dest *d = t->dests;
            t->dests = d->next;
            qmgr_job *job;
            while ((job = dest_pop(d)) != NULL)
                qmgr_job_free(job);
            dest_free(d);
        }
        if (t->retry_timer)
            event_timer_cancel(q->loop, t->retry_timer);
        free(t->name);
        free(t);
    }
}

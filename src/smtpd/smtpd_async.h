/*
 * smtpd_async.h: restrictions that wait for an external answer (policy services, DNS, later
 * SQL tables, milters), and how a new kind of them is added.
 *
 * The check pipeline (smtpd_check.c) evaluates a compiled restriction list with a cursor.
 * When it reaches a restriction of an asynchronous kind it starts a request (kind->start) and
 * returns SMTPD_CHECK_WAIT; the session then reads nothing more and other sessions go on. The
 * kind calls smtpd_wait_finish() from the event loop when the answer is in; the session is
 * woken, runs the same command again, and the cursor, still on that restriction, hands the
 * answer to kind->decide(), then goes on with the next restriction. No restriction runs twice.
 *
 * Every request has a deadline (w->timeout_ms, set by start): when it passes the pipeline
 * calls kind->cancel() and decide() sees status SMTPD_WAIT_TIMEOUT. A session that goes away
 * while it waits cancels its request the same way, so an answer never reaches a freed session.
 *
 * Adding a kind: write smtpd_async_NAME.c defining a smtpd_async_kind with its restriction
 * names, compile/release (per-restriction state, at configuration load), start/cancel (the
 * request, driven by the event loop or the worker pool in lib/worker_pool.h) and decide (the
 * answer as a restriction result); then list it in smtpd_async_kinds[] (smtpd_async.c).
 */
#ifndef POSTERN_SMTPD_ASYNC_H
#define POSTERN_SMTPD_ASYNC_H

#include "lib/event.h"
#include "lib/strbuf.h"
#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_restrict.h"

struct dns_resolver;
struct worker_pool;

/* What the kinds share, made once per process: the event loop, the DNS resolver and the worker
 * threads for blocking jobs (lib/worker_pool.h). compile() gets NULL for env while the
 * configuration is only being checked (postfix check); at smtpd start env is set but its
 * members are filled in when the event loop starts, before the first session. */
typedef struct smtpd_async_env {
    event_loop *loop;
    struct dns_resolver *dns;
    struct worker_pool *workers;
} smtpd_async_env;

typedef enum {
    SMTPD_WAIT_OK = 0,       /* an answer is in w->answer / the kind's request state */
    SMTPD_WAIT_TEMPFAIL = 1, /* the request failed; w->answer says why (for the log) */
    SMTPD_WAIT_TIMEOUT = 2,  /* no answer before the deadline */
} smtpd_wait_status;

/* decide() may also return this: w->answer holds an access(5) action (OK, REJECT text, DUNNO,
 * 4NN text, restriction names...) that the pipeline applies as an access-table result. */
#define SMTPD_CHECK_ACTION 100

typedef struct smtpd_wait smtpd_wait;

typedef struct smtpd_async_name {
    const char *name;
    int nargs; /* words after the name (0 or 1) */
    int op;    /* the kind's own code for it */
} smtpd_async_name;

typedef struct smtpd_async_kind {
    const char *kind_name;
    const smtpd_async_name *names; /* ends with {NULL} */
    /* Per-restriction state from the argument, at configuration load. NULL with err set on a
     * bad argument. env->loop may be NULL (postfix check): validate only. */
    void *(*compile)(int op, const char *arg, smtpd_async_env *env, strbuf *err);
    void (*release)(void *data);
    /* Starts the request. Sets w->timeout_ms. Calls smtpd_wait_finish() later (or at once,
     * from inside start, when the answer is known without waiting). */
    void (*start)(smtpd_wait *w, const smtpd_check_args *a);
    /* Drops a request still under way: smtpd_wait_finish() must not be called for it. */
    void (*cancel)(smtpd_wait *w);
    /* The answer as a result: DUNNO, OK, REJECT (reply set; smtpd_check_reply() builds it) or
     * SMTPD_CHECK_ACTION. cls is the class of the list being evaluated (smtpd_check.h). */
    int (*decide)(smtpd_wait *w, const smtpd_check_args *a, int cls, strbuf *reply);
} smtpd_async_kind;

/* The request a session's check waits for; one per session (a session waits for one thing). */
struct smtpd_wait {
    const smtpd_async_kind *kind;
    const restriction *r;
    smtpd_async_env *env;
    void *req;         /* the kind's request state while it runs */
    long timeout_ms;
    event_timer_id timer;
    int running;       /* started, not finished */
    int done;          /* finished: status and answer are set */
    int starting;      /* inside kind->start */
    smtpd_wait_status status;
    int code;          /* kind-specific detail of the answer */
    strbuf answer;
    void (*wake)(void *ctx); /* the session goes on */
    void *wake_ctx;
};

extern const smtpd_async_kind *const smtpd_async_kinds[];

void smtpd_wait_init(smtpd_wait *w, smtpd_async_env *env, void (*wake)(void *), void *ctx);
/* Starts r's request. Returns 1 when the answer is already in (decide now), 0 when waiting. */
int smtpd_wait_start(smtpd_wait *w, const restriction *r, const smtpd_check_args *a);
/* Called by the kind with the answer (w->answer / w->code set first). */
void smtpd_wait_finish(smtpd_wait *w, smtpd_wait_status status);
/* Cancels a running request and forgets any answer. */
void smtpd_wait_reset(smtpd_wait *w);
void smtpd_wait_free(smtpd_wait *w);

#endif

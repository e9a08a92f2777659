/*
 * smtp_client.c: the smtp (and lmtp) delivery agent, as Postfix's smtp(8).
 *
 * For each delivery request from the queue manager: read the message's envelope, find the
 * destination's servers (smtp_connect.h: MX lookup or the given host), and try them in order
 * until every recipient has a final result or smtp_mx_session_limit sessions were used. A
 * recipient that gets a 4xx from one server is tried again at the next one; 2xx and 5xx are
 * final. Connection failures are logged as info lines ("connect to host[addr]:port: Connection
 * refused") and, when no server could be reached, end as 4.4.1 with the last such text. Each
 * recipient's result is logged with relay=host[addr]:port (relay=none when no server answered).
 *
 * A session that ends in a known state is kept (smtp_cache.h) for the next request to the same
 * nexthop when smtp_connection_cache_on_demand is on, and reset with RSET before it is used
 * again. Started as "lmtp", the agent speaks LMTP (LHLO, one reply per recipient after DATA, no
 * MX lookups, unix:/path destinations).
 */
#include "deliver/deliver_server.h"
#include "deliver/smtp_settings.h"
#include "deliver/mail_copy.h"
#include "deliver/smtp_body.h"
#include "deliver/smtp_cache.h"
#include "deliver/smtp_connect.h"
#include "deliver/smtp_nexthop.h"
#include "deliver/smtp_param.h"
#include "deliver/smtp_sasl.h"
#include "deliver/smtp_session.h"
#include "deliver/smtp_tls.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct smtp_agent {
    smtp_cache cache;
    int lmtp;
    smtp_tls_engine *tls;
    smtp_sasl *sasl;
    int wrappermode; /* PREFIX_tls_wrappermode */
} smtp_agent;

/* Per-request bookkeeping: which recipients are final and which relay their result names. */
typedef struct delivery {
    deliver_request *req;
    smtp_message msg;
    int *final;
    const char **relay; /* points into relays[] or to a literal */
    char relays[SMTP_CANDIDATE_MAX + 2][SMTP_NAME_MAX];
    size_t nrelays;
    size_t open; /* recipients without a final result */
    /* the last failure that happened before a transaction */
    char fail_dsn[DSN_MAX];
    strbuf fail_why;
    const char *fail_relay;
} delivery;

static void finalize(delivery *d, size_t i)
{
    deliver_rcpt *r = &d->req->rcpts[i];
    d->final[i] = 1;
    d->open--;
    deliver_log(d->req, r->address, r->orig, d->relay[i] ? d->relay[i] : "none", r->dsn, r->reason);
}

static const char *remember_relay(delivery *d, const char *relay)
{
    if (d->nrelays == sizeof(d->relays) / sizeof(d->relays[0]))
        d->nrelays--; /* reuse the last slot; only reached with absurd candidate counts */
    /* relay is a session's or candidate's name, made for SMTP_NAME_MAX bytes */
    if (fixed_copy(d->relays[d->nrelays], SMTP_NAME_MAX, relay) < 0)
        log_warning("relay name too long: %s", relay);
    return d->relays[d->nrelays++];
}

/* One transaction for the open recipients. more: another server may still be tried, so 4xx
 * results stay open. */
static void attempt(delivery *d, smtp_session *s, int more)
{
    deliver_request *req = d->req;
    deliver_rcpt **list = xcalloc(req->nrcpt, sizeof(*list));
    size_t *index = xcalloc(req->nrcpt, sizeof(*index));
    size_t n = 0;
    for (size_t i = 0; i < req->nrcpt; i++) {
        if (!d->final[i]) {
            index[n] = i;
            list[n++] = &req->rcpts[i];
        }
    }
    smtp_session_transaction(s, &d->msg, list, n);
    const char *relay = remember_relay(d, s->relay);
    for (size_t k = 0; k < n; k++) {
        size_t i = index[k];
        d->relay[i] = relay;
        if (dsn_class(req->rcpts[i].dsn) != 4 || !more)
            finalize(d, i);
    }
    free(list);
    free(index);
}

/* Parks or closes a session after use. A TLS session is kept only with connection_reuse, one
 * authenticated for a sender never. */
static void release_session(smtp_agent *agent, const char *key, smtp_session *s, int tls_reuse)
{
    int per_sender = s->authenticated && smtp_sasl_per_sender(agent->sasl);
    if (s->usable && smtp_settings_current()->connection_cache_on_demand && (!s->tls || tls_reuse) &&
        !per_sender) {
        smtp_cache_put(&agent->cache, key, s);
        return;
    }
    smtp_session_quit(s);
    free(s);
}

static void remember_failure(delivery *d, const char *dsn, const strbuf *why, const char *relay)
{
    dsn_set(d->fail_dsn, sizeof(d->fail_dsn), dsn);
    strbuf_reset(&d->fail_why);
    strbuf_append(&d->fail_why, why->data, why->len);
    d->fail_relay = relay;
}

/* What open_session needs to know about the destination. */
typedef struct session_target {
    const smtp_candidate *c;
    const smtp_tls_policy *policy;
    const char *nexthop; /* the destination's domain or host */
    const char *key;     /* the destination as written, for the password table */
    const char *sender;
} session_target;

/* Connects to one server and brings the session up to MAIL FROM: greeting, EHLO, STARTTLS per
 * policy (again in plaintext when a may-level handshake failed), AUTH. NULL with dsn and why;
 * *connected says whether a connection was made at all. */
static smtp_session *open_session(smtp_agent *agent, const session_target *t, char *dsn,
                                  size_t dsnlen, strbuf *why, int *connected)
{
    const smtp_candidate *c = t->c;
    const smtp_tls_policy *policy = t->policy;
    smtp_tls_policy plain = *policy;
    const smtp_tls_policy *p = policy;
    *connected = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = smtp_connect_candidate(c, smtp_settings_current()->connect_timeout, why);
        if (fd < 0) {
            dsn_set(dsn, dsnlen, "4.4.1");
            return NULL;
        }
        *connected = 1;
        smtp_session *s = xmalloc(sizeof(*s));
        strbuf_reset(why);
        smtp_session_open(s, fd, c, agent->lmtp);
        int rc = 0;
        if (agent->wrappermode)
            rc = smtp_tls_wrap(agent->tls, s, p, t->nexthop, c, dsn, dsnlen, why);
        if (rc == 0)
            rc = smtp_session_greet(s, dsn, dsnlen, why);
        if (rc == 0)
            rc = smtp_tls_start(agent->tls, s, p, t->nexthop, c, dsn, dsnlen, why);
        if (rc == 0)
            rc = smtp_sasl_authenticate(agent->sasl, s, t->sender, t->key, c, dsn, dsnlen, why);
        if (rc == 0)
            return s;
        free(s);
        if (rc != SMTP_TLS_RETRY_PLAIN)
            return NULL;
        log_info("%s: TLS handshake failed; trying again without TLS", why->data);
        plain.level = SMTP_TLS_NONE;
        p = &plain;
    }
    return NULL;
}

/* Tries the destination's servers for the open recipients. */
static void try_servers(smtp_agent *agent, delivery *d, const char *nexthop, const char *key)
{
    smtp_dest dests[SMTP_DEST_MAX];
    strbuf why;
    strbuf_init(&why, 0);
    int ndest = smtp_nexthop_parse(nexthop, agent->lmtp, dests, SMTP_DEST_MAX, &why);
    if (ndest < 0) {
        log_warning("%s: %s", d->req->queue_id, why.data);
        dsn_set(d->fail_dsn, sizeof(d->fail_dsn), "4.3.5");
        strbuf_reset(&d->fail_why);
        strbuf_printf(&d->fail_why, "mail system configuration error: %s", why.data);
        strbuf_free(&why);
        return;
    }
    smtp_tls_policy *policies = xcalloc((size_t)ndest, sizeof(*policies));
    int *policy_ok = xcalloc((size_t)ndest, sizeof(*policy_ok));
    for (int i = 0; i < ndest; i++) {
        policy_ok[i] = smtp_tls_policy_for(agent->tls, &dests[i], &policies[i], &why) == 0;
        if (!policy_ok[i]) {
            log_warning("%s: %s", d->req->queue_id, why.data);
            remember_failure(d, "4.7.5", &why, NULL);
        }
    }
    smtp_candidate *cands = xcalloc(SMTP_CANDIDATE_MAX, sizeof(*cands));
    int ncand = smtp_candidates(dests, (size_t)ndest, cands, SMTP_CANDIDATE_MAX, d->fail_dsn,
                                sizeof(d->fail_dsn), &why);
    if (ncand == 0) {
        strbuf_reset(&d->fail_why);
        strbuf_append(&d->fail_why, why.data, why.len);
    }
    long session_limit = smtp_settings_current()->mx_session_limit;
    long sessions = 0;
    for (int i = 0; i < ncand && d->open > 0; i++) {
        if (session_limit > 0 && sessions >= session_limit)
            break;
        const smtp_candidate *c = &cands[i];
        if (!policy_ok[c->dest])
            continue;
        char dsn[DSN_MAX];
        strbuf_reset(&why);
        int connected = 0;
        char dkey[SMTP_DEST_KEY_MAX];
        smtp_dest_key(&dests[c->dest], agent->lmtp, dkey);
        session_target t = {c, &policies[c->dest], dests[c->dest].host, dkey, d->req->sender};
        smtp_session *s = open_session(agent, &t, dsn, sizeof(dsn), &why, &connected);
        if (s == NULL && !connected) {
            log_info("%s", why.data);
            remember_failure(d, dsn, &why, NULL);
            continue;
        }
        sessions++;
        int more = i + 1 < ncand && (session_limit <= 0 || sessions < session_limit);
        if (s == NULL) {
            char name[SMTP_NAME_MAX];
            smtp_candidate_name(c, 1, name, sizeof(name));
            remember_failure(d, dsn, &why, remember_relay(d, name));
            if (dsn_class(dsn) == 5 || !more)
                break;
            continue;
        }
        attempt(d, s, more);
        release_session(agent, key, s, policies[c->dest].connection_reuse);
    }
    free(cands);
    free(policies);
    free(policy_ok);
    strbuf_free(&why);
}

static int scan_8bit(const char *data, size_t len, int partial, void *ctx)
{
    (void)partial;
    (void)ctx;
    return smtp_body_has_8bit(data, len);
}

/* The nexthop, or the first recipient's domain when the queue manager gave none. */
static const char *choose_nexthop(const deliver_request *req)
{
    if (req->nexthop && req->nexthop[0])
        return req->nexthop;
    const char *at = req->nrcpt ? strrchr(req->rcpts[0].address, '@') : NULL;
    return at ? at + 1 : "";
}

static void fail_all(deliver_request *req, const char *dsn, const char *why)
{
    for (size_t i = 0; i < req->nrcpt; i++) {
        deliver_set_result(&req->rcpts[i], dsn, "%s", why);
        deliver_log(req, req->rcpts[i].address, req->rcpts[i].orig, "none", req->rcpts[i].dsn,
                    req->rcpts[i].reason);
    }
}

static void smtp_deliver(deliver_request *req, void *ctx)
{
    smtp_agent *agent = ctx;
    mail_source src;
    strbuf why;
    strbuf_init(&why, 0);
    if (mail_source_open(&src, req, &why) < 0) {
        log_warning("%s: %s", req->queue_id, why.data);
        fail_all(req, "4.3.0", "cannot read the queue file");
        strbuf_free(&why);
        return;
    }
    int scan = queue_content_each(src.fd, &src.env, scan_8bit, NULL);
    if (scan < 0) {
        log_warning("%s: malformed queue file content", req->queue_id);
        fail_all(req, "4.3.0", "error reading message file");
        mail_source_close(&src);
        strbuf_free(&why);
        return;
    }
    delivery *d = xcalloc(1, sizeof(*d));
    d->req = req;
    d->final = xcalloc(req->nrcpt ? req->nrcpt : 1, sizeof(*d->final));
    d->relay = xcalloc(req->nrcpt ? req->nrcpt : 1, sizeof(*d->relay));
    d->open = req->nrcpt;
    strbuf_init(&d->fail_why, 0);
    dsn_set(d->fail_dsn, sizeof(d->fail_dsn), "4.4.1");
    strbuf_append_str(&d->fail_why, "no mail server could be reached");
    const char *ret = queue_envelope_attr(&src.env, "dsn_ret");
    d->msg = (smtp_message){.req = req,
                            .fd = src.fd,
                            .env = &src.env,
                            .has_8bit = scan == 1,
                            .envid = queue_envelope_attr(&src.env, "envelope_id"),
                            .dsn_ret = ret ? atoi(ret) : 0};

    const char *nexthop = choose_nexthop(req); /* whole: a cut one named another destination */
    strbuf cache_key;
    strbuf_init(&cache_key, 0);
    strbuf_printf(&cache_key, "%s:%s", agent->lmtp ? "lmtp" : "smtp", nexthop);
    const char *key = cache_key.data;

    smtp_session *cached = smtp_cache_take(&agent->cache, key);
    if (cached != NULL) {
        if (smtp_session_reset(cached) == 0) {
            attempt(d, cached, 0);
            release_session(agent, key, cached, 1);
        } else {
            smtp_session_close(cached);
            free(cached);
        }
    }
    if (d->open > 0)
        try_servers(agent, d, nexthop, key);
    for (size_t i = 0; i < req->nrcpt; i++) {
        if (d->final[i])
            continue;
        if (d->relay[i] == NULL) { /* never reached a transaction */
            deliver_set_result(&req->rcpts[i], d->fail_dsn, "%s", d->fail_why.data);
            d->relay[i] = d->fail_relay;
        }
        finalize(d, i);
    }
    strbuf_free(&d->fail_why);
    free(d->final);
    free(d->relay);
    free(d);
    mail_source_close(&src);
    strbuf_free(&cache_key);
    strbuf_free(&why);
}

/* Trust anchors, client certificate and password tables are opened while still root, as
 * Postfix's smtp does, so they may be readable by root only. */
static void open_secrets(mail_server *srv, void *ctx)
{
    (void)srv;
    smtp_agent *agent = ctx;
    const char *prefix = agent->lmtp ? "lmtp" : "smtp";
    strbuf err;
    strbuf_init(&err, 0);
    agent->tls = smtp_tls_engine_create(prefix, agent->lmtp, &err);
    if (agent->tls == NULL)
        log_fatal("%s", err.data);
    char n[SMTP_PARAM_NAME_MAX];
    smtp_param_name(n, prefix, "tls_wrappermode");
    agent->wrappermode = cfg_bool(n);
    agent->sasl = smtp_sasl_create(prefix, &err);
    if (agent->sasl == NULL)
        log_fatal("%s", err.data);
    strbuf_free(&err);
}

int smtp_main(int argc, char **argv)
{
    const char *self = argc > 0 && argv[0] ? argv[0] : "smtp";
    const char *base = strrchr(self, '/');
    base = base ? base + 1 : self;
    smtp_agent agent;
    smtp_cache_init(&agent.cache);
    agent.lmtp = strcmp(base, "lmtp") == 0;
    mail_server srv;
    mail_server_init_with(&srv, agent.lmtp ? "lmtp" : "smtp", argc, argv, open_secrets, &agent);
    strbuf bad;
    strbuf_init(&bad, 0);
    if (smtp_settings_check(smtp_settings_current(), &bad) < 0)
        log_fatal("%s", bad.data);
    strbuf_free(&bad);
    int rc = deliver_server_run(&srv, smtp_deliver, &agent);
    smtp_cache_close_all(&agent.cache);
    smtp_tls_engine_free(agent.tls);
    smtp_sasl_free(agent.sasl);
    return rc;
}

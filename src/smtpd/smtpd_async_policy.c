/*
 * smtpd_async_policy.c: check_policy_service, Postfix's SMTPD policy delegation, as a waiting
 * restriction (smtpd_async.h).
 *
 *   check_policy_service unix:/path | unix:private/name | inet:host:port
 *   check_policy_service { inet:host:port, timeout=10s, default_action=DUNNO, max_idle=300s,
 *                          max_ttl=1000s, try_limit=2, request_limit=0, policy_context=text }
 *
 * The client is non-blocking inside the event loop: connect, write the request, read the
 * reply (smtpd_policy_proto.h), each step driven by readiness events, so a slow policy server
 * holds only the session that asked. Connections are kept for reuse (smtpd_policy_service_
 * max_idle, max_ttl, request_limit); a reused connection that turns out closed is replaced
 * at once, any other failure is retried up to try_limit times in all. The whole request has
 * one deadline, smtpd_policy_service_timeout (Postfix applies it to each of connect, write and
 * read). When no answer comes, the action is smtpd_policy_service_default_action, as Postfix
 * ("451 4.3.5 Server configuration problem" by default).
 */
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/str_trim.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd_async.h"
#include "smtpd/smtpd_policy_proto.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct policy_conn {
    int fd;
    long long born_ms, idle_ms;
    long requests;
    struct policy_conn *next;
} policy_conn;

typedef struct policy_service {
    char *endpoint;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    long timeout_ms, max_idle_ms, max_ttl_ms;
    long try_limit, request_limit;
    char *default_action, *context;
    policy_conn *idle;
    smtpd_async_env *env;
} policy_service;

typedef struct policy_req {
    smtpd_wait *w;
    policy_service *svc;
    policy_conn conn;
    int reused, tries, writing;
    strbuf out, in;
    size_t off;
} policy_req;

static const smtpd_async_name policy_names[] = {
    {"check_policy_service", 1, 0},
    {NULL, 0, 0},
};

/* ---- configuration ---- */

static long time_setting(const char *value, long fallback)
{
    long v = config_parse_time(value, 's');
    return v >= 0 ? v : fallback;
}

static int set_option(policy_service *svc, const char *name, const char *value, strbuf *err)
{
    if (strcmp(name, "timeout") == 0)
        svc->timeout_ms = time_setting(value, -1) * 1000;
    else if (strcmp(name, "max_idle") == 0)
        svc->max_idle_ms = time_setting(value, -1) * 1000;
    else if (strcmp(name, "max_ttl") == 0)
        svc->max_ttl_ms = time_setting(value, -1) * 1000;
    else if (strcmp(name, "try_limit") == 0)
        svc->try_limit = strtol(value, NULL, 10);
    else if (strcmp(name, "request_limit") == 0)
        svc->request_limit = strtol(value, NULL, 10);
    else if (strcmp(name, "default_action") == 0) {
        free(svc->default_action);
        svc->default_action = xstrdup(value);
    } else if (strcmp(name, "policy_context") == 0) {
        free(svc->context);
        svc->context = xstrdup(value);
    } else if (strcmp(name, "retry_delay") == 0) {
        /* accepted: retries here go at once, within the one deadline */
    } else {
        strbuf_printf(err, "check_policy_service: unknown attribute \"%s\"", name);
        return -1;
    }
    if (svc->timeout_ms < 0 || svc->max_idle_ms < 0 || svc->max_ttl_ms < 0 ||
        svc->try_limit < 1) {
        strbuf_printf(err, "check_policy_service: bad %s value \"%s\"", name, value);
        return -1;
    }
    return 0;
}

/* "{ endpoint, name=value, ... }" or a bare endpoint. */
static int parse_arg(policy_service *svc, const char *arg, strbuf *err)
{
    char *copy = xstrdup(arg);
    char *body = str_trim(copy);
    int rc = 0;
    if (*body == '{') {
        size_t n = strlen(body);
        if (n < 2 || body[n - 1] != '}') {
            strbuf_printf(err, "check_policy_service: missing '}' in \"%s\"", arg);
            free(copy);
            return -1;
        }
        body[n - 1] = '\0';
        body++;
    }
    int first = 1;
    for (char *save = NULL, *item = strtok_r(body, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        item = str_trim(item);
        if (*item == '\0')
            continue;
        char *eq = strchr(item, '=');
        if (first && eq == NULL) {
            svc->endpoint = xstrdup(item);
        } else if (eq) {
            *eq = '\0';
            rc = set_option(svc, str_trim(item), str_trim(eq + 1), err);
        } else {
            strbuf_printf(err, "check_policy_service: \"%s\" is not name=value", item);
            rc = -1;
        }
        first = 0;
    }
    free(copy);
    if (rc == 0 && svc->endpoint == NULL) {
        strbuf_append_str(err, "check_policy_service: no server endpoint");
        rc = -1;
    }
    return rc;
}

/* unix:PATH (relative to queue_directory) or inet:host:port, resolved now (at load; not when
 * only validating). */
static int resolve_endpoint(policy_service *svc, int lookup, strbuf *err)
{
    const char *ep = svc->endpoint;
    if (strncmp(ep, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&svc->addr;
        const char *path = ep + 5;
        int rc = path[0] == '/' ? fixed_copy(sun->sun_path, sizeof(sun->sun_path), path)
                                : fixed_printf(sun->sun_path, sizeof(sun->sun_path), "%s/%s",
                                               cfg_str("queue_directory"), path);
        if (rc < 0) {
            strbuf_printf(err, "check_policy_service: socket path too long: %s", ep);
            return -1;
        }
        sun->sun_family = AF_UNIX;
        svc->addrlen = (socklen_t)sizeof(*sun);
        return 0;
    }
    if (strncmp(ep, "inet:", 5) != 0) {
        strbuf_printf(err, "check_policy_service: endpoint \"%s\" is not unix:path or "
                           "inet:host:port", ep);
        return -1;
    }
    const char *hp = ep + 5;
    const char *colon = strrchr(hp, ':');
    if (colon == NULL || colon == hp || colon[1] == '\0') {
        strbuf_printf(err, "check_policy_service: \"%s\": need inet:host:port", ep);
        return -1;
    }
    char host[256];
    size_t hlen = (size_t)(colon - hp);
    if (hp[0] == '[' && hlen >= 2 && hp[hlen - 1] == ']') {
        hp++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host)) {
        strbuf_printf(err, "check_policy_service: host name too long in \"%s\"", ep);
        return -1;
    }
    memcpy(host, hp, hlen);
    host[hlen] = '\0';
    if (!lookup)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        strbuf_printf(err, "check_policy_service: %s: %s", ep, gai_strerror(gai));
        return -1;
    }
    memcpy(&svc->addr, res->ai_addr, res->ai_addrlen);
    svc->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void service_free(void *data)
{
    policy_service *svc = data;
    while (svc->idle) {
        policy_conn *c = svc->idle;
        svc->idle = c->next;
        close(c->fd);
        free(c);
    }
    free(svc->endpoint);
    free(svc->default_action);
    free(svc->context);
    free(svc);
}

static void *policy_compile(int op, const char *arg, smtpd_async_env *env, strbuf *err)
{
    (void)op;
    policy_service *svc = xcalloc(1, sizeof(*svc));
    svc->env = env;
    svc->timeout_ms = time_setting(cfg_str("smtpd_policy_service_timeout"), 100) * 1000;
    svc->max_idle_ms = time_setting(cfg_str("smtpd_policy_service_max_idle"), 300) * 1000;
    svc->max_ttl_ms = time_setting(cfg_str("smtpd_policy_service_max_ttl"), 1000) * 1000;
    svc->try_limit = cfg_int("smtpd_policy_service_try_limit");
    if (svc->try_limit < 1)
        svc->try_limit = 1;
    svc->request_limit = cfg_int("smtpd_policy_service_request_limit");
    svc->default_action = xstrdup(cfg_str("smtpd_policy_service_default_action"));
    svc->context = xstrdup(cfg_str("smtpd_policy_service_policy_context"));
    if (parse_arg(svc, arg, err) < 0 || resolve_endpoint(svc, env != NULL, err) < 0) {
        service_free(svc);
        return NULL;
    }
    return svc;
}

/* ---- one request ---- */

static void conn_close(policy_req *q)
{
    if (q->conn.fd < 0)
        return;
    if (q->svc->env->loop && event_watching(q->svc->env->loop, q->conn.fd))
        event_remove(q->svc->env->loop, q->conn.fd);
    close(q->conn.fd);
    q->conn.fd = -1;
}

static void req_free(policy_req *q)
{
    conn_close(q);
    strbuf_free(&q->out);
    strbuf_free(&q->in);
    free(q);
}

/* Ends the request with a temporary failure; the reason is formatted into the answer. */
static void req_fail(policy_req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void req_fail(policy_req *q, const char *fmt, ...)
{
    smtpd_wait *w = q->w;
    strbuf_reset(&w->answer);
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&w->answer, fmt, ap);
    va_end(ap);
    req_free(q);
    smtpd_wait_finish(w, SMTPD_WAIT_TEMPFAIL);
}

static void on_io(event_loop *loop, int fd, unsigned events, void *ctx);

/* A fresh idle connection, or a new one. 0, or -1 with errno. */
static int attach_connection(policy_req *q)
{
    policy_service *svc = q->svc;
    long long now = event_now_ms();
    while (svc->idle) {
        policy_conn *c = svc->idle;
        svc->idle = c->next;
        int fresh = now - c->idle_ms < svc->max_idle_ms && now - c->born_ms < svc->max_ttl_ms &&
                    (svc->request_limit <= 0 || c->requests < svc->request_limit);
        if (fresh) {
            q->conn = *c;
            q->reused = 1;
            free(c);
            return 0;
        }
        close(c->fd);
        free(c);
    }
    q->reused = 0;
    int fd = socket(svc->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&svc->addr, svc->addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    q->conn = (policy_conn){.fd = fd, .born_ms = now, .idle_ms = now};
    return 0;
}

/* Starts (or restarts) the exchange on a connection. 0 or -1 (q failed and freed). */
static int attempt(policy_req *q)
{
    for (;;) {
        q->tries++;
        if (attach_connection(q) == 0 &&
            event_add(q->svc->env->loop, q->conn.fd, EVENT_WRITE, on_io, q) == 0) {
            q->off = 0;
            q->writing = 1;
            strbuf_reset(&q->in);
            return 0;
        }
        int err = errno;
        conn_close(q);
        if (q->tries >= q->svc->try_limit) {
            req_fail(q, "connect to %s: %s", q->svc->endpoint, strerror(err));
            return -1;
        }
    }
}

/* The connection broke: a stale reused one is replaced at once, others count as a try. */
static void retry_or_fail(policy_req *q, const char *why)
{
    conn_close(q);
    if (q->reused)
        q->tries--; /* the server closed an idle connection: that was no real try */
    if (q->tries < q->svc->try_limit) {
        attempt(q);
        return;
    }
    req_fail(q, "%s: %s", q->svc->endpoint, why);
}

static void reply_done(policy_req *q)
{
    smtpd_wait *w = q->w;
    policy_service *svc = q->svc;
    event_remove(svc->env->loop, q->conn.fd);
    policy_conn *c = xmalloc(sizeof(*c));
    *c = q->conn;
    c->requests++;
    c->idle_ms = event_now_ms();
    c->next = svc->idle;
    svc->idle = c;
    q->conn.fd = -1;
    req_free(q);
    smtpd_wait_finish(w, SMTPD_WAIT_OK);
}

static void read_reply(policy_req *q)
{
    char buf[4096];
    ssize_t n = read(q->conn.fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        retry_or_fail(q, n == 0 ? "connection closed by server" : strerror(errno));
        return;
    }
    strbuf_append(&q->in, buf, (size_t)n);
    size_t used = 0;
    strbuf err;
    strbuf_init(&err, 0);
    policy_reply_status st = policy_reply_parse(q->in.data, q->in.len, &used, &q->w->answer, &err);
    if (st == POLICY_REPLY_DONE)
        reply_done(q);
    else if (st == POLICY_REPLY_ERROR) {
        conn_close(q);
        req_fail(q, "%s: %s", q->svc->endpoint, err.data);
    }
    strbuf_free(&err);
}

static void write_request(policy_req *q)
{
    if (q->off == 0 && !q->reused) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(q->conn.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
            retry_or_fail(q, strerror(soerr));
            return;
        }
    }
    while (q->off < q->out.len) {
        ssize_t n = send(q->conn.fd, q->out.data + q->off, q->out.len - q->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            retry_or_fail(q, strerror(errno));
            return;
        }
        q->off += (size_t)n;
    }
    q->writing = 0;
    event_modify(q->svc->env->loop, q->conn.fd, EVENT_READ);
}

static void on_io(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)fd;
    policy_req *q = ctx;
    if (q->writing) {
        if (events & (EVENT_WRITE | EVENT_ERROR))
            write_request(q);
        return;
    }
    if (events & (EVENT_READ | EVENT_ERROR))
        read_reply(q);
}

static void policy_start(smtpd_wait *w, const smtpd_check_args *a)
{
    policy_service *svc = w->r->async_data;
    policy_req *q = xcalloc(1, sizeof(*q));
    q->w = w;
    q->svc = svc;
    q->conn.fd = -1;
    strbuf_init(&q->out, 0);
    strbuf_init(&q->in, POLICY_REPLY_MAX + 4096);
    /* One instance per mail transaction of a session (policy servers count per message). */
    unsigned long h = 5381;
    for (const char *p = a->sender ? a->sender : ""; *p; p++)
        h = h * 33 + (unsigned char)*p;
    char instance[3 * 2 * sizeof(unsigned long) + 3]; /* three hex numbers, two dots */
    if (fixed_printf(instance, sizeof(instance), "%lx.%lx.%lx", (unsigned long)getpid(),
                     (unsigned long)(uintptr_t)w->wake_ctx, h) < 0)
        log_fatal("policy instance name does not fit"); /* cannot happen: see its size */
    policy_request_format(a, svc->context, instance, &q->out);
    w->req = q;
    w->timeout_ms = svc->timeout_ms > 0 ? svc->timeout_ms : 1000;
    attempt(q);
}

static void policy_cancel(smtpd_wait *w)
{
    if (w->req)
        req_free(w->req);
    w->req = NULL;
}

static int policy_decide(smtpd_wait *w, const smtpd_check_args *a, int cls, strbuf *reply)
{
    (void)a;
    (void)cls;
    (void)reply;
    policy_service *svc = w->r->async_data;
    if (w->status != SMTPD_WAIT_OK) {
        log_warning("problem talking to server %s: %s", svc->endpoint, w->answer.data);
        strbuf_reset(&w->answer);
        strbuf_append_str(&w->answer, svc->default_action);
    }
    return SMTPD_CHECK_ACTION;
}

const smtpd_async_kind smtpd_async_policy = {
    .kind_name = "policy",
    .names = policy_names,
    .compile = policy_compile,
    .release = service_free,
    .start = policy_start,
    .cancel = policy_cancel,
    .decide = policy_decide,
};

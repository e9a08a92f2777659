/*
 * smtpd_sasl_dovecot.c: SMTP AUTH through Dovecot (smtpd_sasl_type = dovecot), speaking
 * Dovecot's auth-client protocol (dovecot_auth_proto.h) on smtpd_sasl_path: a UNIX socket
 * (relative names are under queue_directory, as Postfix's "private/auth") or inet:host:port.
 *
 * One connection per smtpd process, opened at the first AUTH and kept; it is non-blocking and
 * lives in the event loop, so a slow Dovecot delays only the sessions waiting for it. Every
 * login, whatever the client's mechanism (PLAIN or LOGIN), is sent as PLAIN with the whole
 * response, so Dovecot answers OK or FAIL at once. Requests made while the handshake is still
 * under way wait in the output buffer until Dovecot says DONE. When the connection breaks, the
 * waiting checks fail temporarily ("Connection lost to authentication server") and the next
 * AUTH reconnects. The password travels only on this socket and is wiped from our buffers.
 */
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtpd/dovecot_auth_proto.h"
#include "smtpd/smtpd_sasl_backend.h"
#include "smtpd/smtpd_sasl_decode.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct dv_request {
    long id;
    sasl_done_fn done;
    void *ctx;
    struct dv_request *next;
} dv_request;

typedef struct sasl_dovecot {
    event_loop *loop;
    char *path; /* socket path (fits sun_path), or host:port with inet */
    int inet;
    int fd;
    int ready; /* DONE received */
    strbuf out, hold; /* hold: requests written before DONE */
    char in[DOVECOT_LINE_MAX * 2];
    size_t in_len;
    long next_id;
    dv_request *pending;
    char *service;
} sasl_dovecot;

void *sasl_dovecot_open(event_loop *loop, strbuf *err)
{
    const char *path = cfg_str("smtpd_sasl_path");
    sasl_dovecot *dv = xcalloc(1, sizeof(*dv));
    dv->loop = loop;
    dv->fd = -1;
    dv->next_id = 1;
    struct sockaddr_un sun;
    int rc = 0;
    if (strncmp(path, "inet:", 5) == 0) {
        dv->inet = 1;
        dv->path = xstrdup(path + 5);
    } else {
        rc = path[0] == '/' ? fixed_copy(sun.sun_path, sizeof(sun.sun_path), path)
                            : fixed_printf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
                                           cfg_str("queue_directory"), path);
        dv->path = xstrdup(sun.sun_path);
    }
    if (rc < 0) {
        strbuf_printf(err, "smtpd_sasl_path: socket path longer than %zu bytes: %s",
                      sizeof(sun.sun_path) - 1, path);
        free(dv->path);
        free(dv);
        return NULL;
    }
    dv->service = xstrdup(cfg_str("smtpd_sasl_service"));
    strbuf_init(&dv->out, 1024 * 1024);
    strbuf_init(&dv->hold, 1024 * 1024);
    return dv;
}

static void fail_all(sasl_dovecot *dv, sasl_result r, const char *reason)
{
    dv_request *list = dv->pending; /* callbacks may start new requests */
    dv->pending = NULL;
    while (list) {
        dv_request *q = list;
        list = q->next;
        q->done(q->ctx, r, "", reason);
        free(q);
    }
}

static void disconnect(sasl_dovecot *dv)
{
    if (dv->fd >= 0) {
        event_remove(dv->loop, dv->fd);
        close(dv->fd);
    }
    dv->fd = -1;
    dv->ready = 0;
    dv->in_len = 0;
    OPENSSL_cleanse(dv->out.data, dv->out.len);
    OPENSSL_cleanse(dv->hold.data, dv->hold.len);
    strbuf_reset(&dv->out);
    strbuf_reset(&dv->hold);
}

static void lost(sasl_dovecot *dv, const char *why)
{
    log_warning("SASL authentication server %s: %s", dv->path, why);
    disconnect(dv);
    fail_all(dv, SASL_RESULT_TEMP, "Connection lost to authentication server");
}

static void update_interest(sasl_dovecot *dv)
{
    event_modify(dv->loop, dv->fd, EVENT_READ | (dv->out.len ? EVENT_WRITE : 0));
}

static dv_request *take_request(sasl_dovecot *dv, long id)
{
    for (dv_request **pp = &dv->pending; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            dv_request *q = *pp;
            *pp = q->next;
            return q;
        }
    }
    return NULL;
}

static void handle_line(sasl_dovecot *dv, char *line)
{
    dovecot_line l;
    if (dovecot_line_parse(line, &l) < 0)
        return;
    if (strcmp(l.field[0], "DONE") == 0) {
        dv->ready = 1;
        strbuf_append(&dv->out, dv->hold.data, dv->hold.len);
        OPENSSL_cleanse(dv->hold.data, dv->hold.len);
        strbuf_reset(&dv->hold);
        return;
    }
    long id;
    dovecot_reply kind = dovecot_reply_kind(&l, &id);
    if (kind == DOVECOT_REPLY_NONE || id < 0)
        return; /* MECH, SPID, CUID, COOKIE, VERSION: nothing we need */
    dv_request *q = take_request(dv, id);
    if (q == NULL)
        return; /* cancelled */
    const char *user = dovecot_line_param(&l, 2, "user");
    if (kind == DOVECOT_REPLY_OK) {
        q->done(q->ctx, SASL_RESULT_OK, user ? user : "", "");
    } else {
        const char *reason = dovecot_line_param(&l, 2, "reason");
        int temp = dovecot_line_param(&l, 2, "temp") != NULL;
        if (kind == DOVECOT_REPLY_CONT)
            reason = "unexpected continuation from authentication server";
        q->done(q->ctx, temp ? SASL_RESULT_TEMP : SASL_RESULT_FAIL, user ? user : "",
                reason && *reason ? reason : "authentication failure");
    }
    free(q);
}

static void on_socket(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    sasl_dovecot *dv = ctx;
    if (events & EVENT_WRITE && dv->out.len) {
        ssize_t n = send(fd, dv->out.data, dv->out.len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            lost(dv, strerror(errno));
            return;
        }
        if (n > 0) {
            OPENSSL_cleanse(dv->out.data, (size_t)n);
            memmove(dv->out.data, dv->out.data + n, dv->out.len - (size_t)n);
            strbuf_truncate(&dv->out, dv->out.len - (size_t)n);
        }
    }
    if (events & (EVENT_READ | EVENT_ERROR)) {
        ssize_t n = read(fd, dv->in + dv->in_len, sizeof(dv->in) - dv->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            lost(dv, n == 0 ? "connection closed" : strerror(errno));
            return;
        }
        if (n > 0)
            dv->in_len += (size_t)n;
        char *start = dv->in, *nl;
        while ((nl = memchr(start, '\n', dv->in_len - (size_t)(start - dv->in))) != NULL) {
            *nl = '\0';
            handle_line(dv, start);
            start = nl + 1;
        }
        size_t rest = dv->in_len - (size_t)(start - dv->in);
        memmove(dv->in, start, rest);
        dv->in_len = rest;
        if (dv->in_len == sizeof(dv->in)) {
            lost(dv, "line too long");
            return;
        }
    }
    if (dv->fd >= 0)
        update_interest(dv);
}

/* host is "host:port" or "[host]:port", edited in place. */
static int inet_socket(sasl_dovecot *dv, char *host, strbuf *err)
{
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        strbuf_printf(err, "smtpd_sasl_path inet:%s has no port", dv->path);
        return -1;
    }
    *colon = '\0';
    char *h = host;
    if (h[0] == '[' && colon > h + 1 && colon[-1] == ']') {
        h++;
        colon[-1] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    if (getaddrinfo(h, colon + 1, &hints, &res) != 0 || res == NULL) {
        strbuf_printf(err, "smtpd_sasl_path inet:%s: want a numeric address", dv->path);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int connect_inet(sasl_dovecot *dv, strbuf *err)
{
    char *host = xstrdup(dv->path);
    int fd = inet_socket(dv, host, err);
    free(host);
    return fd;
}

static int dv_connect(sasl_dovecot *dv, strbuf *err)
{
    int fd;
    if (dv->inet) {
        fd = connect_inet(dv, err);
    } else {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        memcpy(sun.sun_path, dv->path, strlen(dv->path) + 1); /* checked at open */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
            errno != EINPROGRESS && errno != EAGAIN) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        if (err->len == 0)
            strbuf_printf(err, "cannot connect to SASL authentication server %s: %s", dv->path,
                          strerror(errno));
        return -1;
    }
    if (event_add(dv->loop, fd, EVENT_READ | EVENT_WRITE, on_socket, dv) < 0) {
        close(fd);
        strbuf_printf(err, "cannot watch the SASL socket: %s", strerror(errno));
        return -1;
    }
    dv->fd = fd;
    strbuf_printf(&dv->out, "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
    return 0;
}

static void *dovecot_check(void *impl, const sasl_credentials *cred, sasl_done_fn done,
                           void *ctx, strbuf *err)
{
    sasl_dovecot *dv = impl;
    if (dv->fd < 0 && dv_connect(dv, err) < 0)
        return NULL;
    /* PLAIN message: NUL user NUL password, base64-encoded. */
    size_t ul = strlen(cred->user), pl = strlen(cred->password);
    if (ul > SASL_NAME_MAX || pl > SASL_PASSWORD_MAX) {
        strbuf_append_str(err, "credentials too long");
        return NULL;
    }
    unsigned char msg[SASL_NAME_MAX + SASL_PASSWORD_MAX + 2];
    msg[0] = '\0';
    memcpy(msg + 1, cred->user, ul);
    msg[1 + ul] = '\0';
    memcpy(msg + 2 + ul, cred->password, pl);
    char b64[(sizeof(msg) + 2) / 3 * 4 + 1];
    sasl_base64_encode(msg, ul + pl + 2, b64, sizeof(b64));
    OPENSSL_cleanse(msg, sizeof(msg));
    dv_request *q = xcalloc(1, sizeof(*q));
    q->id = dv->next_id++;
    q->done = done;
    q->ctx = ctx;
    strbuf *to = dv->ready ? &dv->out : &dv->hold;
    strbuf_printf(to, "AUTH\t%ld\tPLAIN\tservice=", q->id);
    dovecot_escape(dv->service, to);
    strbuf_append_str(to, "\tnologin\tlip=");
    dovecot_escape(cred->local_addr, to);
    strbuf_append_str(to, "\trip=");
    dovecot_escape(cred->client_addr, to);
    strbuf_printf(to, "%s\tresp=%s\n", cred->secured ? "\tsecured" : "", b64);
    OPENSSL_cleanse(b64, sizeof(b64));
    q->next = dv->pending;
    dv->pending = q;
    update_interest(dv);
    return q;
}

static void dovecot_cancel(void *impl, void *handle)
{
    sasl_dovecot *dv = impl;
    free(take_request(dv, ((dv_request *)handle)->id)); /* a late reply is dropped */
}

static void dovecot_close(void *impl)
{
    sasl_dovecot *dv = impl;
    disconnect(dv);
    fail_all(dv, SASL_RESULT_TEMP, "shutting down");
    strbuf_free(&dv->out);
    strbuf_free(&dv->hold);
    free(dv->path);
    free(dv->service);
    free(dv);
}

const sasl_backend_ops sasl_dovecot_ops = {dovecot_check, dovecot_cancel, dovecot_close};

/*
 * smtpd_sasl.c: SMTP AUTH in the SMTP server (see smtpd_sasl.h).
 */
#include "smtpd/smtpd_sasl.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd.h"
#include "smtpd/smtpd_sasl_backend.h"
#include "smtpd/smtpd_sasl_decode.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SASL_IDLE, SASL_WAIT_PLAIN, SASL_WAIT_LOGIN_USER, SASL_WAIT_LOGIN_PASSWORD };

/* ---- backend dispatch ---- */

struct sasl_backend {
    const sasl_backend_ops *ops;
    void *impl;
};

sasl_backend *sasl_backend_open(event_loop *loop, worker_pool *workers, strbuf *err)
{
    const char *type = cfg_str("smtpd_sasl_type");
    const sasl_backend_ops *ops;
    void *impl;
    if (strcmp(type, "postern") == 0) {
        ops = &sasl_postern_ops;
        impl = workers ? sasl_postern_open(workers, err) : NULL;
        if (workers == NULL)
            strbuf_append_str(err, "no worker threads for password hashing");
    } else if (strcmp(type, "dovecot") == 0) {
        ops = &sasl_dovecot_ops;
        impl = sasl_dovecot_open(loop, err);
    } else {
        strbuf_printf(err, "smtpd_sasl_type = %s is not supported (use postern or dovecot)", type);
        return NULL;
    }
    if (impl == NULL)
        return NULL;
    sasl_backend *b = xcalloc(1, sizeof(*b));
    b->ops = ops;
    b->impl = impl;
    return b;
}

void sasl_backend_close(sasl_backend *b)
{
    if (b == NULL)
        return;
    b->ops->close(b->impl);
    free(b);
}

void *sasl_backend_check(sasl_backend *b, const sasl_credentials *cred, sasl_done_fn done,
                         void *ctx, strbuf *err)
{
    return b->ops->check(b->impl, cred, done, ctx, err);
}

void sasl_backend_cancel(sasl_backend *b, void *handle)
{
    b->ops->cancel(b->impl, handle);
}

/* ---- settings ---- */

int smtpd_sasl_options_parse(const char *param, const char *value, int *plaintext_ok, strbuf *err)
{
    static const char *const known[] = {"noanonymous",  "noplaintext", "noactive",
                                        "nodictionary", "mutual_auth", "forward_secrecy"};
    int rc = 0;
    *plaintext_ok = 1;
    char *copy = xstrdup(value);
    for (char *save = NULL, *w = strtok_r(copy, " \t,\n", &save); w && rc == 0;
         w = strtok_r(NULL, " \t,\n", &save)) {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcasecmp(w, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            strbuf_printf(err, "parameter %s: unknown value \"%s\"", param, w);
            rc = -1;
        } else if (i > 0) {
            *plaintext_ok = 0; /* everything but noanonymous excludes PLAIN and LOGIN */
        }
    }
    free(copy);
    return rc;
}

/* 1 when the options leave plaintext mechanisms (PLAIN, LOGIN) usable; fatal on a bad word. */
static int plaintext_allowed(const char *param)
{
    int ok;
    strbuf err;
    strbuf_init(&err, 0);
    if (smtpd_sasl_options_parse(param, cfg_str(param), &ok, &err) < 0)
        log_fatal("%s", err.data);
    strbuf_free(&err);
    return ok;
}

void smtpd_sasl_load(smtpd_server *srv)
{
    srv->sasl_enable = cfg_bool("smtpd_sasl_auth_enable") && !srv->standalone;
    if (!srv->sasl_enable)
        return;
    srv->sasl_plain_ok = plaintext_allowed("smtpd_sasl_security_options");
    srv->sasl_tls_plain_ok = plaintext_allowed("smtpd_sasl_tls_security_options");
    srv->sasl_broken_clients = cfg_bool("broken_sasl_auth_clients");
    srv->sasl_auth_header = cfg_bool("smtpd_sasl_authenticated_header");
    /* The realm is Postern's own table's business; Dovecot gets the name as typed, as
     * Postfix's Dovecot client ignores smtpd_sasl_local_domain too. */
    const char *dom = strcmp(cfg_str("smtpd_sasl_type"), "postern") == 0
                          ? cfg_str("smtpd_sasl_local_domain")
                          : "";
    if (strlen(dom) >= sizeof(srv->sasl_local_domain))
        log_fatal("parameter smtpd_sasl_local_domain: longer than %d bytes", DNS_NAME_MAX);
    memcpy(srv->sasl_local_domain, dom, strlen(dom) + 1);
    const char *exc = cfg_str("smtpd_sasl_exceptions_networks");
    if (*exc) {
        strbuf err;
        strbuf_init(&err, 0);
        srv->sasl_exceptions = net_list_open(exc, &err);
        if (srv->sasl_exceptions == NULL)
            log_fatal("smtpd_sasl_exceptions_networks: %s", err.data);
        strbuf_free(&err);
    }
    srv->auth_rate_limit = cfg_int("smtpd_client_auth_rate_limit");
    srv->rate_unit_ms = cfg_time("anvil_rate_time_unit") * 1000;
    if (srv->rate_unit_ms <= 0)
        srv->rate_unit_ms = 60000;
    long delay = config_parse_time(cfg_str("postern_sasl_failure_delay"), 's');
    if (delay < 0)
        log_fatal("bad postern_sasl_failure_delay value \"%s\"",
                  cfg_str("postern_sasl_failure_delay"));
    srv->sasl_failure_delay_ms = delay * 1000;
    srv->auth_rates = strmap_new();
}

void smtpd_sasl_start(smtpd_server *srv)
{
    if (!srv->sasl_enable)
        return;
    strbuf err;
    strbuf_init(&err, 0);
    srv->sasl = sasl_backend_open(srv->loop, srv->async_env.workers, &err);
    if (srv->sasl == NULL)
        log_fatal("SASL authentication is enabled but cannot be set up: %s", err.data);
    strbuf_free(&err);
}

void smtpd_sasl_unload(smtpd_server *srv)
{
    sasl_backend_close(srv->sasl);
    srv->sasl = NULL;
    match_list_close(srv->sasl_exceptions);
    srv->sasl_exceptions = NULL;
    strmap_free(srv->auth_rates, free);
    srv->auth_rates = NULL;
}

/* ---- the offer ---- */

const char *smtpd_sasl_mechanisms(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    if (!srv->sasl_enable || srv->sasl == NULL || s->sasl_username)
        return NULL;
    if (srv->tls_auth_only && !s->tls_active)
        return NULL;
    if (!(s->tls_active ? srv->sasl_tls_plain_ok : srv->sasl_plain_ok))
        return NULL;
    if (srv->sasl_exceptions && net_list_match(srv->sasl_exceptions, s->addr) == 1)
        return NULL;
    return "PLAIN LOGIN";
}

/* ---- rate limit ---- */

typedef struct auth_rate {
    long long window_start;
    long count;
} auth_rate;

/* The client's AUTH count in the current window, this one included. */
static long count_auth(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    if (srv->auth_rate_limit <= 0)
        return 0;
    if (srv->event_limit_exceptions && net_list_match(srv->event_limit_exceptions, s->addr) == 1)
        return 0;
    long long now = event_now_ms();
    auth_rate *r = strmap_get(srv->auth_rates, s->addr);
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        strmap_put(srv->auth_rates, s->addr, r);
    }
    if (now - r->window_start >= srv->rate_unit_ms) {
        r->window_start = now;
        r->count = 0;
    }
    return ++r->count;
}

/* ---- the dialog ---- */

static void end_dialog(smtpd_session *s)
{
    s->sasl_state = SASL_IDLE;
    if (s->sasl_login_user) {
        OPENSSL_cleanse(s->sasl_login_user, strlen(s->sasl_login_user));
        free(s->sasl_login_user);
        s->sasl_login_user = NULL;
    }
}

static void finish(smtpd_session *s, const char *text, int ok)
{
    smtpd_reply(s, "%s", text);
    if (ok)
        s->counts[SMTPD_CMD_AUTH][0]++;
    else
        s->error_count++;
}

static void on_delay(event_loop *loop, void *ctx)
{
    (void)loop;
    smtpd_session *s = ctx;
    s->sasl_timer = 0;
    s->sasl_busy = 0;
    finish(s, s->sasl_reply, 0);
    free(s->sasl_reply);
    s->sasl_reply = NULL;
    smtpd_io_resume(s);
}

static void check_done(void *ctx, sasl_result result, const char *user, const char *reason)
{
    smtpd_session *s = ctx;
    smtpd_server *srv = s->server;
    s->sasl_req = NULL;
    if (result == SASL_RESULT_OK) {
        const char *name = *user ? user : s->sasl_tried_user;
        s->sasl_username = xstrdup(name);
        memcpy(s->sasl_method, s->sasl_mech, sizeof(s->sasl_method)); /* same size */
        s->sasl_busy = 0;
        finish(s, "235 2.7.0 Authentication successful", 1);
        smtpd_io_resume(s);
        return;
    }
    log_warning("%s: SASL %s authentication failed: %s", s->namaddr, s->sasl_mech, reason);
    strbuf t;
    strbuf_init(&t, 1024);
    if (result == SASL_RESULT_TEMP)
        strbuf_printf(&t, "454 4.7.0 Temporary authentication failure: %s", reason);
    else
        strbuf_printf(&t, "535 5.7.8 Error: authentication failed: %s", reason);
    s->auth_failures++;
    long long delay = srv->sasl_failure_delay_ms * s->auth_failures;
    if (delay > SMTPD_SASL_MAX_DELAY_MS)
        delay = SMTPD_SASL_MAX_DELAY_MS;
    if (result == SASL_RESULT_FAIL && delay > 0 && srv->loop) {
        s->sasl_reply = strbuf_detach(&t);
        s->sasl_timer = event_timer_add(srv->loop, (long)delay, on_delay, s);
        return;
    }
    s->sasl_busy = 0;
    finish(s, t.data, 0);
    strbuf_free(&t);
    smtpd_io_resume(s);
}

static void abort_dialog(smtpd_session *s, const char *text)
{
    end_dialog(s);
    finish(s, text, 0);
}

/* Credentials complete: hand them to the backend. */
static void start_check(smtpd_session *s, const char *user, char *password)
{
    smtpd_server *srv = s->server;
    /* user is at most SASL_NAME_MAX bytes (decoding refuses more) and the domain less than
     * sizeof(srv->sasl_local_domain): s->sasl_tried_user holds "user@domain" (smtpd.h). */
    int rc = srv->sasl_local_domain[0] && strchr(user, '@') == NULL
                 ? fixed_printf(s->sasl_tried_user, sizeof(s->sasl_tried_user), "%s@%s", user,
                                srv->sasl_local_domain)
                 : fixed_copy(s->sasl_tried_user, sizeof(s->sasl_tried_user), user);
    if (rc < 0) {
        OPENSSL_cleanse(password, strlen(password));
        abort_dialog(s, "535 5.7.8 Error: authentication failed: user name too long");
        return;
    }
    sasl_credentials cred = {
        .user = s->sasl_tried_user,
        .password = password,
        .client_addr = s->addr,
        .local_addr = s->local_addr,
        .secured = s->tls_active,
    };
    strbuf err;
    strbuf_init(&err, 1024);
    s->sasl_req = sasl_backend_check(srv->sasl, &cred, check_done, s, &err);
    OPENSSL_cleanse(password, strlen(password));
    end_dialog(s);
    if (s->sasl_req == NULL) {
        log_warning("%s: SASL %s authentication failed: %s", s->namaddr, s->sasl_mech, err.data);
        strbuf t;
        strbuf_init(&t, 1024);
        strbuf_printf(&t, "454 4.7.0 Temporary authentication failure: %s", err.data);
        finish(s, t.data, 0);
        strbuf_free(&t);
    } else {
        s->sasl_busy = 1;
    }
    strbuf_free(&err);
}

/* Decodes one base64 response into buf (NUL-terminated). -1 with the reply queued. */
static long decode(smtpd_session *s, const char *b64, unsigned char *buf, size_t buflen)
{
    if (strcmp(b64, "=") == 0) {
        buf[0] = '\0';
        return 0;
    }
    size_t len = strlen(b64), pad = 0;
    while (pad < 2 && pad < len && b64[len - 1 - pad] == '=')
        pad++;
    if (len % 4 == 0 && len / 4 * 3 - pad > buflen - 1) {
        /* well-formed base64, but more than a user name or password Postern takes */
        log_warning("%s: SASL %s authentication failed: response of %zu bytes is too long",
                    s->namaddr, s->sasl_mech, len / 4 * 3 - pad);
        abort_dialog(s, "535 5.7.8 Error: authentication failed: response too long");
        return -1;
    }
    long n = sasl_base64_decode(b64, len, buf, buflen - 1);
    if (n < 0) {
        abort_dialog(s, "501 5.5.2 Cannot decode response");
        return -1;
    }
    buf[n] = '\0';
    return n;
}

static void plain_response(smtpd_session *s, const char *b64)
{
    unsigned char buf[SASL_NAME_MAX * 2 + SASL_PASSWORD_MAX + 8];
    long n = decode(s, b64, buf, sizeof(buf));
    if (n < 0)
        return;
    sasl_plain p;
    if (sasl_plain_split(buf, (size_t)n, &p) < 0) {
        OPENSSL_cleanse(buf, sizeof(buf));
        log_warning("%s: SASL PLAIN authentication failed: malformed response", s->namaddr);
        abort_dialog(s, "535 5.7.8 Error: authentication failed: malformed response");
        return;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    start_check(s, p.authcid, p.passwd);
    OPENSSL_cleanse(&p, sizeof(p));
}

static void login_response(smtpd_session *s, const char *b64)
{
    unsigned char buf[SASL_PASSWORD_MAX + 2];
    long n = decode(s, b64, buf,
                    s->sasl_state == SASL_WAIT_LOGIN_USER ? SASL_NAME_MAX + 1 : sizeof(buf));
    if (n < 0)
        return;
    if (memchr(buf, '\0', (size_t)n) != NULL || n == 0) {
        OPENSSL_cleanse(buf, sizeof(buf));
        log_warning("%s: SASL LOGIN authentication failed: malformed response", s->namaddr);
        abort_dialog(s, "535 5.7.8 Error: authentication failed: malformed response");
        return;
    }
    if (s->sasl_state == SASL_WAIT_LOGIN_USER) {
        s->sasl_login_user = xstrdup((char *)buf);
        s->sasl_state = SASL_WAIT_LOGIN_PASSWORD;
        smtpd_reply(s, "334 UGFzc3dvcmQ6"); /* "Password:" */
        return;
    }
    char *user = s->sasl_login_user;
    s->sasl_login_user = NULL;
    start_check(s, user, (char *)buf);
    OPENSSL_cleanse(user, strlen(user));
    free(user);
    OPENSSL_cleanse(buf, sizeof(buf));
}

void smtpd_sasl_response(smtpd_session *s, const char *line)
{
    if (strcmp(line, "*") == 0) {
        abort_dialog(s, "501 5.7.0 Authentication aborted");
        return;
    }
    if (s->sasl_state == SASL_WAIT_PLAIN)
        plain_response(s, line);
    else
        login_response(s, line);
}

int smtpd_sasl_auth_command(smtpd_session *s, const char *args)
{
    smtpd_server *srv = s->server;
    if (smtpd_sasl_mechanisms(s) == NULL && !s->sasl_username) {
        smtpd_reply(s, "503 5.5.1 Error: authentication not enabled");
        return -1;
    }
    if (s->helo == NULL) {
        smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (s->sasl_username) {
        smtpd_reply(s, "503 5.5.1 Error: already authenticated");
        return -1;
    }
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
        return -1;
    }
    long rate = count_auth(s);
    if (srv->auth_rate_limit > 0 && rate > srv->auth_rate_limit) {
        log_warning("Maximal number of AUTH commands exceeded: %ld from %s for service %s", rate,
                    s->namaddr, srv->ms ? srv->ms->service : "smtpd");
        smtpd_reply(s, "450 4.7.1 Error: too many AUTH commands from %s", s->addr);
        return -1;
    }
    const char *initial;
    if (sasl_auth_args(args, s->sasl_mech, sizeof(s->sasl_mech), &initial) < 0) {
        smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
        return -1;
    }
    int plain = strcmp(s->sasl_mech, "PLAIN") == 0, login = strcmp(s->sasl_mech, "LOGIN") == 0;
    if (!plain && !login) {
        log_warning("%s: SASL %s authentication failed: Invalid authentication mechanism",
                    s->namaddr, s->sasl_mech);
        smtpd_reply(s, "535 5.7.8 Error: authentication failed: Invalid authentication mechanism");
        return -1;
    }
    if (plain) {
        s->sasl_state = SASL_WAIT_PLAIN;
        if (initial)
            plain_response(s, initial);
        else
            smtpd_reply(s, "334 ");
    } else {
        s->sasl_state = SASL_WAIT_LOGIN_USER;
        if (initial)
            login_response(s, initial);
        else
            smtpd_reply(s, "334 VXNlcm5hbWU6"); /* "Username:" */
    }
    return 1; /* counted when the outcome is known */
}

void smtpd_sasl_reset(smtpd_session *s)
{
    end_dialog(s);
    if (s->sasl_req && s->server->sasl)
        sasl_backend_cancel(s->server->sasl, s->sasl_req);
    s->sasl_req = NULL;
    if (s->sasl_timer && s->server->loop)
        event_timer_cancel(s->server->loop, s->sasl_timer);
    s->sasl_timer = 0;
    free(s->sasl_reply);
    s->sasl_reply = NULL;
    s->sasl_busy = 0;
    free(s->sasl_username);
    s->sasl_username = NULL;
    s->sasl_method[0] = '\0';
}

/*
 * smtpd_tls.c: the SMTP server's TLS settings and per-session TLS I/O (see smtpd_tls.h).
 */
#include "smtpd/smtpd_tls.h"
#include "lib/config.h"
#include "lib/log.h"
#include "smtpd/smtpd.h"
#include "tls/tls_server.h"

#include <errno.h>
#include <openssl/err.h>
#include <string.h>

static int parse_level(const char *value, smtpd_tls_level *out)
{
    if (strcmp(value, "none") == 0)
        *out = SMTPD_TLS_NONE;
    else if (strcmp(value, "may") == 0)
        *out = SMTPD_TLS_MAY;
    else if (strcmp(value, "encrypt") == 0)
        *out = SMTPD_TLS_ENCRYPT;
    else
        return -1;
    return 0;
}

int smtpd_tls_level_of(config *cfg, smtpd_tls_level *out, strbuf *err)
{
    const char *level = config_get(cfg, "smtpd_tls_security_level");
    *out = SMTPD_TLS_NONE;
    if (*level) {
        if (parse_level(level, out) < 0) {
            strbuf_printf(err,
                          "parameter smtpd_tls_security_level: invalid value \"%s\" (want none, "
                          "may or encrypt)",
                          level);
            return -1;
        }
    } else if (config_get_bool(cfg, "smtpd_enforce_tls")) {
        *out = SMTPD_TLS_ENCRYPT;
    } else if (config_get_bool(cfg, "smtpd_use_tls")) {
        *out = SMTPD_TLS_MAY;
    }
    if (config_get_bool(cfg, "smtpd_tls_wrappermode"))
        *out = SMTPD_TLS_ENCRYPT; /* a TLS-wrapped port is TLS or nothing */
    return 0;
}

void smtpd_tls_load(smtpd_server *srv)
{
    smtpd_tls_level lv;
    strbuf bad;
    strbuf_init(&bad, 0);
    if (smtpd_tls_level_of(config_current(), &lv, &bad) < 0)
        log_fatal("%s", bad.data);
    strbuf_free(&bad);
    srv->tls_wrapper = cfg_bool("smtpd_tls_wrappermode");
    srv->tls_auth_only = cfg_bool("smtpd_tls_auth_only");
    srv->tls_received_header = cfg_bool("smtpd_tls_received_header");
    srv->tls_loglevel = (int)cfg_int("smtpd_tls_loglevel");
    srv->tls_ask_ccert = cfg_bool("smtpd_tls_ask_ccert");
    srv->tls_level = lv;
    srv->starttls_timeout_ms = cfg_time("smtpd_starttls_timeout") * 1000;
    if (srv->starttls_timeout_ms <= 0)
        srv->starttls_timeout_ms = 300000;
    if (lv == SMTPD_TLS_NONE || srv->standalone)
        return;
    tls_server_config tc = {
        .get = cfg_str,
        .mandatory = lv == SMTPD_TLS_ENCRYPT,
        .ticket_timeout = cfg_time("smtpd_tls_session_cache_timeout"),
        .ask_ccert = srv->tls_ask_ccert,
    };
    strbuf err;
    strbuf_init(&err, 0);
    srv->tls = tls_server_open(&tc, &err);
    if (srv->tls == NULL) {
        if (lv == SMTPD_TLS_ENCRYPT)
            log_fatal("TLS is required (smtpd_tls_security_level = encrypt%s) but cannot be "
                      "set up: %s",
                      srv->tls_wrapper ? ", smtpd_tls_wrappermode = yes" : "", err.data);
        log_warning("cannot set up TLS: %s; STARTTLS will not be offered", err.data);
        srv->tls_level = SMTPD_TLS_NONE;
    }
    strbuf_free(&err);
}

void smtpd_tls_unload(smtpd_server *srv)
{
    tls_server_close(srv->tls);
    srv->tls = NULL;
}

static void log_library_problem(void)
{
    if (ERR_peek_error() == 0)
        return;
    strbuf t;
    strbuf_init(&t, 0);
    tls_error_text(&t);
    log_warning("TLS library problem: %s", t.data);
    strbuf_free(&t);
}

int smtpd_tls_begin(smtpd_session *s)
{
    ERR_clear_error();
    s->ssl = tls_server_new_ssl(s->server->tls, s->in_fd);
    if (s->ssl == NULL) {
        log_library_problem();
        return -1;
    }
    s->tls_handshaking = 1;
    if (s->server->tls_loglevel >= 2)
        log_info("setting up TLS connection from %s", s->namaddr);
    return 0;
}

/* Maps an OpenSSL result to AGAIN (with s->tls_want set) or -1. */
static int would_block(smtpd_session *s, int rc)
{
    int e = SSL_get_error(s->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        s->tls_want = EVENT_READ;
        return SMTPD_TLS_AGAIN;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        s->tls_want = EVENT_WRITE;
        return SMTPD_TLS_AGAIN;
    }
    if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EINTR)) {
        s->tls_want = EVENT_READ;
        return SMTPD_TLS_AGAIN;
    }
    return -1;
}

int smtpd_tls_handshake(smtpd_session *s)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        s->tls_handshaking = 0;
        s->tls_want = 0;
        if (s->server->tls_loglevel >= 1) {
            strbuf d;
            strbuf_init(&d, 0);
            tls_describe(s->ssl, &d);
            log_info("%s TLS connection established from %s: %s", tls_peer_trust(s->ssl),
                     s->namaddr, d.data);
            strbuf_free(&d);
        }
        return 1;
    }
    if (would_block(s, rc) == SMTPD_TLS_AGAIN)
        return SMTPD_TLS_AGAIN;
    log_info("SSL_accept error from %s: %d", s->namaddr, rc);
    log_library_problem();
    return -1;
}

ssize_t smtpd_tls_read(smtpd_session *s, char *buf, size_t len)
{
    ERR_clear_error();
    int want = len > 1 << 30 ? 1 << 30 : (int)len;
    int rc = SSL_read(s->ssl, buf, want);
    if (rc > 0)
        return rc;
    int e = SSL_get_error(s->ssl, rc);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (would_block(s, rc) == SMTPD_TLS_AGAIN)
        return SMTPD_TLS_AGAIN;
    if (e == SSL_ERROR_SSL)
        log_library_problem();
    return e == SSL_ERROR_SYSCALL && errno == 0 ? 0 : -1; /* EOF without close_notify */
}

ssize_t smtpd_tls_write(smtpd_session *s, const char *buf, size_t len)
{
    ERR_clear_error();
    int want = len > 1 << 30 ? 1 << 30 : (int)len;
    int rc = SSL_write(s->ssl, buf, want);
    if (rc > 0)
        return rc;
    if (would_block(s, rc) == SMTPD_TLS_AGAIN)
        return SMTPD_TLS_AGAIN;
    return -1;
}

int smtpd_tls_pending(smtpd_session *s)
{
    return s->ssl && !s->tls_handshaking ? SSL_pending(s->ssl) : 0;
}

void smtpd_tls_end(smtpd_session *s)
{
    if (s->ssl == NULL)
        return;
    if (!s->tls_handshaking && s->tls_active) {
        ERR_clear_error();
        SSL_shutdown(s->ssl); /* one try: the socket is non-blocking */
    }
    ERR_clear_error();
    SSL_free(s->ssl);
    s->ssl = NULL;
}

/* smtp_tls.c: STARTTLS, server authentication and session reuse for the SMTP client (see
 * smtp_tls.h). */
#include "deliver/smtp_dane.h"
#include "deliver/smtp_settings.h"
#include "deliver/smtp_dns.h"
#include "deliver/smtp_param.h"
#include "deliver/smtp_tls.h"
#include "global/mail_date.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "tls/tls_fprint.h"
#include "tls/tls_proto.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct tls_cached_session {
    char key[SMTP_NAME_MAX + 320];
    SSL_SESSION *session;
    double stored; /* mail_time_steady() */
} tls_cached_session;

struct smtp_tls_engine {
    char prefix[8];
    int lmtp;
    SSL_CTX *ctx; /* NULL when no level can ever use TLS */
    map_list *policy_maps;
    X509_STORE *anchors; /* PREFIX_tls_trust_anchor_file, NULL when unset */
    const EVP_MD *fprint_md;
    long loglevel;
    int session_cache;    /* PREFIX_tls_session_cache_database is set */
    long session_timeout; /* seconds */
    tls_cached_session sessions[SMTP_TLS_SESSIONS_MAX];
    size_t nsessions;
};

static const char *param(const smtp_tls_engine *e, const char *name, char *buf, size_t len)
{
    (void)len; /* SMTP_PARAM_NAME_MAX */
    return cfg_str(smtp_param_name(buf, e->prefix, name));
}

static void openssl_reason(strbuf *out)
{
    unsigned long code = ERR_peek_last_error();
    char text[256]; /* the size OpenSSL documents for one error string */
    ERR_error_string_n(code, text, sizeof(text));
    strbuf_append_str(out, code ? text : "unknown error");
    ERR_clear_error();
}

/* Frees a half set-up ssl and says why in why ("cannot set up ...: " and OpenSSL's reason);
 * returns NULL. */
static SSL *setup_failed(SSL *ssl, const char *what, strbuf *why)
{
    strbuf_reset(why);
    strbuf_append_str(why, what);
    openssl_reason(why);
    SSL_free(ssl);
    return NULL;
}

/* ---- session cache ---- */

static void cache_drop(smtp_tls_engine *e, size_t i)
{
    SSL_SESSION_free(e->sessions[i].session);
    memmove(&e->sessions[i], &e->sessions[i + 1], (e->nsessions - i - 1) * sizeof(e->sessions[0]));
    e->nsessions--;
}

static SSL_SESSION *cache_find(smtp_tls_engine *e, const char *key)
{
    double now = mail_time_steady();
    for (size_t i = 0; i < e->nsessions;) {
        if (now - e->sessions[i].stored >= (double)e->session_timeout) {
            cache_drop(e, i);
            continue;
        }
        if (strcmp(e->sessions[i].key, key) == 0)
            return e->sessions[i].session;
        i++;
    }
    return NULL;
}

/* OpenSSL hands every new client session here (TLS 1.3 tickets arrive after the handshake). */
static int cache_new_session(SSL *ssl, SSL_SESSION *session)
{
    smtp_tls_engine *e = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const smtp_session *s = SSL_get_app_data(ssl);
    if (e == NULL || s == NULL || s->tls_cache_key[0] == '\0' || !SSL_SESSION_is_resumable(session))
        return 0;
    for (size_t i = 0; i < e->nsessions; i++) {
        if (strcmp(e->sessions[i].key, s->tls_cache_key) == 0) {
            cache_drop(e, i);
            break;
        }
    }
    if (e->nsessions == SMTP_TLS_SESSIONS_MAX)
        cache_drop(e, 0);
    tls_cached_session *c = &e->sessions[e->nsessions++];
    if (fixed_copy(c->key, sizeof(c->key), s->tls_cache_key) < 0) { /* same size: not reached */
        e->nsessions--;
        return 0;
    }
    c->session = session; /* returning 1 keeps OpenSSL's reference for us */
    c->stored = mail_time_steady();
    return 1;
}

/* ---- engine ---- */

/* A value of parameter name other than empty, word1 or word2 is one Postern does not implement:
 * -1 with the refusal in err. */
static int refuse_unimplemented(const char *name, const char *word1, const char *word2,
                                strbuf *err)
{
    const char *value = cfg_str(name);
    if (value[0] == '\0' || strcmp(value, word1) == 0 || strcmp(value, word2) == 0)
        return 0;
    strbuf_reset(err);
    strbuf_printf(err, "%s = %s: not implemented by Postern; refusing to run without it", name,
                  value);
    return -1;
}

/* Checks the main.cf settings every delivery will use, so mistakes stop the agent at start. */
static int check_settings(smtp_tls_engine *e, strbuf *err)
{
    char n[SMTP_PARAM_NAME_MAX];
    smtp_tls_policy p;
    if (smtp_tls_policy_defaults(e->prefix, &p, err) < 0)
        return -1;
    if (refuse_unimplemented("smtp_dns_support_level", "enabled", "dnssec", err) < 0 ||
        refuse_unimplemented("smtp_tls_dane_insecure_mx_policy", "dane", "may", err) < 0)
        return -1;
    if (p.level == SMTP_TLS_DANE_ONLY && !smtp_dns_dnssec_enabled()) {
        strbuf_reset(err);
        strbuf_printf(err, "%s_tls_security_level = dane-only needs smtp_dns_support_level = "
                           "dnssec",
                      e->prefix);
        return -1;
    }
    if (p.level == SMTP_TLS_DANE && !smtp_dns_dnssec_enabled())
        log_warning("%s_tls_security_level = dane without smtp_dns_support_level = dnssec: "
                    "using may",
                    e->prefix);
    static const char *const lists[] = {"tls_protocols", "tls_mandatory_protocols"};
    for (size_t i = 0; i < 2; i++) {
        tls_protocols range;
        if (tls_protocols_parse(param(e, lists[i], n, sizeof(n)), &range, err) < 0)
            return -1;
    }
    strbuf out;
    strbuf_init(&out, 0);
    int rc = 0;
    if (tls_cipherlist(param(e, "tls_ciphers", n, sizeof(n)), "", cfg_str, &out, err) < 0 ||
        tls_cipherlist(param(e, "tls_mandatory_ciphers", n, sizeof(n)), "", cfg_str, &out, err) < 0)
        rc = -1;
    strbuf_free(&out);
    if (rc < 0)
        return -1;
    e->fprint_md = tls_fprint_digest(param(e, "tls_fingerprint_digest", n, sizeof(n)));
    if (e->fprint_md == NULL) {
        strbuf_reset(err);
        strbuf_printf(err, "%s: unknown digest \"%s\"", n, cfg_str(n));
        return -1;
    }
    smtp_param_name(n, e->prefix, "tls_loglevel");
    e->loglevel = cfg_int(n);
    e->session_cache = param(e, "tls_session_cache_database", n, sizeof(n))[0] != '\0';
    smtp_param_name(n, e->prefix, "tls_session_cache_timeout");
    e->session_timeout = cfg_time(n);
    return 0;
}

/* PREFIX_tls_trust_anchor_file: certificates that alone anchor verify/secure, in place of the
 * CA store; an anchor need not be self-signed (a pinned intermediate or server certificate).
 * Bare public keys are not supported: such a file is refused. */
static int load_anchors(smtp_tls_engine *e, strbuf *err)
{
    char n[SMTP_PARAM_NAME_MAX];
    const char *files = param(e, "tls_trust_anchor_file", n, sizeof(n));
    if (files[0] == '\0')
        return 0;
    e->anchors = X509_STORE_new();
    const char *p = files;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t len = strcspn(p, ", \t\r\n");
        if (len == 0)
            break;
        char path[4096];
        int certs = 0;
        FILE *fp = NULL;
        if (fixed_printf(path, sizeof(path), "%.*s", (int)len, p) == 0) /* else refused below */
            fp = fopen(path, "r");
        for (X509 *x; fp && (x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL; certs++) {
            X509_STORE_add_cert(e->anchors, x);
            X509_free(x);
        }
        int clean_end = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE;
        ERR_clear_error();
        if (fp)
            fclose(fp);
        if (fp == NULL || certs == 0 || !clean_end) {
            strbuf_reset(err);
            strbuf_printf(err, "%s: cannot use \"%.*s\": not a readable file of PEM "
                               "certificates (public-key anchors are not supported)",
                          n, (int)len, p);
            return -1;
        }
        p += len;
    }
    X509_STORE_set_flags(e->anchors, X509_V_FLAG_PARTIAL_CHAIN);
    return 0;
}

static int load_trust(smtp_tls_engine *e, strbuf *err)
{
    if (load_anchors(e, err) < 0)
        return -1;
    char n1[128], n2[128];
    const char *file = param(e, "tls_CAfile", n1, sizeof(n1));
    const char *path = param(e, "tls_CApath", n2, sizeof(n2));
    int ok = file[0] || path[0]
                 ? SSL_CTX_load_verify_locations(e->ctx, file[0] ? file : NULL,
                                                 path[0] ? path : NULL)
                 : SSL_CTX_set_default_verify_paths(e->ctx);
    if (!ok) {
        strbuf_reset(err);
        strbuf_printf(err, "cannot load the trust anchors (%s = %s, %s = %s): ", n1, file, n2,
                      path);
        openssl_reason(err);
        return -1;
    }
    return 0;
}

/* The optional client certificate (PREFIX_tls_cert_file, PREFIX_tls_key_file). */
static int load_client_cert(smtp_tls_engine *e, strbuf *err)
{
    char n1[128], n2[128];
    const char *cert = param(e, "tls_cert_file", n1, sizeof(n1));
    const char *key = param(e, "tls_key_file", n2, sizeof(n2));
    if (cert[0] == '\0')
        return 0;
    if (SSL_CTX_use_certificate_chain_file(e->ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(e->ctx, key[0] ? key : cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(e->ctx) != 1) {
        strbuf_reset(err);
        strbuf_printf(err, "cannot load the client certificate %s = %s: ", n1, cert);
        openssl_reason(err);
        return -1;
    }
    return 0;
}

smtp_tls_engine *smtp_tls_engine_create(const char *prefix, int lmtp, strbuf *err)
{
    smtp_tls_engine *e = xcalloc(1, sizeof(*e));
    e->lmtp = lmtp;
    if (fixed_copy(e->prefix, sizeof(e->prefix), prefix) < 0) {
        strbuf_printf(err, "TLS engine: bad parameter prefix %s", prefix);
        goto fail;
    }
    char n[SMTP_PARAM_NAME_MAX];
    const char *maps = param(e, "tls_policy_maps", n, sizeof(n));
    if (check_settings(e, err) < 0)
        goto fail;
    if (maps[0] != '\0' && (e->policy_maps = map_list_open(maps, err)) == NULL)
        goto fail;
    e->ctx = SSL_CTX_new(TLS_client_method());
    if (e->ctx == NULL) {
        strbuf_reset(err);
        openssl_reason(err);
        goto fail;
    }
    SSL_CTX_set_app_data(e->ctx, e);
    if (SSL_CTX_dane_enable(e->ctx) <= 0) {
        strbuf_reset(err);
        strbuf_append_str(err, "cannot enable DANE: ");
        openssl_reason(err);
        goto fail;
    }
    SSL_CTX_set_mode(e->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(e->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(e->ctx, cache_new_session);
    smtp_param_name(n, prefix, "tls_scert_verifydepth");
    SSL_CTX_set_verify_depth(e->ctx, (int)cfg_int(n));
    if (load_trust(e, err) < 0 || load_client_cert(e, err) < 0)
        goto fail;
    return e;
fail:
    smtp_tls_engine_free(e);
    return NULL;
}

void smtp_tls_engine_free(smtp_tls_engine *e)
{
    if (e == NULL)
        return;
    while (e->nsessions > 0)
        cache_drop(e, 0);
    if (e->policy_maps)
        map_list_close(e->policy_maps);
    SSL_CTX_free(e->ctx);
    X509_STORE_free(e->anchors);
    free(e);
}

/* ---- policy ---- */

int smtp_tls_policy_for(smtp_tls_engine *e, const smtp_dest *d, smtp_tls_policy *p, strbuf *err)
{
    if (smtp_tls_policy_defaults(e->prefix, p, err) < 0)
        return -1;
    if (d->is_unix && p->level != SMTP_TLS_NONE) {
        p->level = SMTP_TLS_NONE; /* Postfix never uses TLS over a UNIX-domain socket */
        return 0;
    }
    if (e->policy_maps == NULL)
        return 0;
    char key[SMTP_DEST_KEY_MAX]; /* the policy table key of the destination */
    smtp_dest_key(d, e->lmtp, key);
    strbuf value;
    strbuf_init(&value, MAP_VALUE_MAX);
    int found = map_list_lookup(e->policy_maps, key, &value);
    /* Parent domains: ".example.com" covers every subdomain. */
    for (const char *dot = strchr(d->host, '.'); found == 0 && d->mx_lookup && dot;
         dot = strchr(dot + 1, '.'))
        found = map_list_lookup(e->policy_maps, dot, &value);
    int rc = 0;
    if (found < 0) {
        strbuf_reset(err);
        strbuf_printf(err, "TLS policy lookup for %s: %s", key, value.data);
        rc = -1;
    } else if (found > 0 && smtp_tls_policy_parse(value.data, p, err) < 0) {
        strbuf tmp;
        strbuf_init(&tmp, 0);
        strbuf_printf(&tmp, "TLS policy lookup for %s: %s", key, err->data);
        strbuf_reset(err);
        strbuf_append(err, tmp.data, tmp.len);
        strbuf_free(&tmp);
        rc = -1;
    }
    strbuf_free(&value);
    return rc;
}

/* ---- judging the server ---- */

int smtp_tls_match_names(X509 *cert, const char *list, const char *hostname, const char *nexthop)
{
    const char *p = list ? list : "";
    char name[SMTP_HOST_MAX + 2];
    while (*p) {
        p += strspn(p, ", :\t\r\n");
        size_t len = strcspn(p, ", :\t\r\n");
        if (len == 0)
            break;
        /* a name longer than a host name (name is left "") matches no certificate */
        int rc;
        if (len == 8 && strncasecmp(p, "hostname", 8) == 0)
            rc = fixed_copy(name, sizeof(name), hostname);
        else if (len == 7 && strncasecmp(p, "nexthop", 7) == 0)
            rc = fixed_copy(name, sizeof(name), nexthop);
        else if (len == 11 && strncasecmp(p, "dot-nexthop", 11) == 0)
            rc = fixed_printf(name, sizeof(name), ".%s", nexthop);
        else
            rc = fixed_printf(name, sizeof(name), "%.*s", (int)len, p);
        if (rc < 0)
            name[0] = '\0';
        p += len;
        /* A leading dot asks OpenSSL for any subdomain; partial wildcards ("f*.example.com")
         * are not names a mail server should present. */
        if (name[0] != '\0' &&
            X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
            return 1;
    }
    return 0;
}

/* The match list of a level: the policy's, else main.cf's. */
static const char *match_list(const smtp_tls_engine *e, const smtp_tls_policy *p, char *buf,
                              size_t len)
{
    if (p->match[0] != '\0')
        return p->match;
    if (p->level == SMTP_TLS_FINGERPRINT)
        return param(e, "tls_fingerprint_cert_match", buf, len);
    return param(e, p->level == SMTP_TLS_SECURE ? "tls_secure_cert_match" : "tls_verify_cert_match",
                 buf, len);
}

typedef struct tls_verdict {
    int has_cert, trusted, matched;
    long verify_error;
} tls_verdict;

static void judge_server(const smtp_tls_engine *e, SSL *ssl, const smtp_tls_policy *p,
                         const char *nexthop, const smtp_candidate *c, tls_verdict *v)
{
    memset(v, 0, sizeof(*v));
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL)
        return;
    v->has_cert = 1;
    v->verify_error = SSL_get_verify_result(ssl);
    v->trusted = v->verify_error == X509_V_OK;
    char n[SMTP_PARAM_NAME_MAX];
    const char *list = match_list(e, p, n, sizeof(n));
    if (p->level == SMTP_TLS_FINGERPRINT) {
        char fp[TLS_FPRINT_MAX];
        for (int pkey = 0; pkey < 2 && !v->matched; pkey++)
            v->matched = tls_fprint_cert(cert, e->fprint_md, pkey, fp, sizeof(fp)) == 0 &&
                         tls_fprint_match(list, fp);
    } else if (p->level == SMTP_TLS_VERIFY || p->level == SMTP_TLS_SECURE) {
        v->matched = v->trusted && smtp_tls_match_names(cert, list, c->host, nexthop);
    } else if (p->level >= SMTP_TLS_DANE) {
        v->matched = smtp_dane_matched(ssl);
    }
}

/* " key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256" */
static void describe_keys(SSL *ssl, strbuf *out)
{
    EVP_PKEY *kex = NULL;
    if (SSL_get_peer_tmp_key(ssl, &kex) == 1 && kex != NULL) {
        char curve[64];
        size_t clen = 0;
        if (EVP_PKEY_is_a(kex, "EC") &&
            EVP_PKEY_get_group_name(kex, curve, sizeof(curve), &clen)) {
            const char *nist = EC_curve_nid2nist(OBJ_txt2nid(curve));
            strbuf_printf(out, " key-exchange ECDHE (%s)", nist ? nist : curve);
        } else if (EVP_PKEY_is_a(kex, "DH")) {
            strbuf_printf(out, " key-exchange DHE (%d bits)", EVP_PKEY_get_bits(kex));
        } else {
            strbuf_printf(out, " key-exchange %s", EVP_PKEY_get0_type_name(kex));
        }
        EVP_PKEY_free(kex);
    }
    X509 *cert = SSL_get0_peer_certificate(ssl);
    EVP_PKEY *pk = cert ? X509_get0_pubkey(cert) : NULL;
    if (pk == NULL)
        return;
    int sigtype = NID_undef;
    SSL_get_peer_signature_type_nid(ssl, &sigtype);
    const char *kind = sigtype == EVP_PKEY_RSA_PSS ? "RSA-PSS"
                       : EVP_PKEY_is_a(pk, "RSA") ? "RSA"
                       : EVP_PKEY_is_a(pk, "EC")  ? "ECDSA"
                                                  : EVP_PKEY_get0_type_name(pk);
    char curve[64];
    size_t clen = 0;
    if (EVP_PKEY_is_a(pk, "EC") && EVP_PKEY_get_group_name(pk, curve, sizeof(curve), &clen)) {
        const char *nist = EC_curve_nid2nist(OBJ_txt2nid(curve));
        strbuf_printf(out, " server-signature %s (%s)", kind ? kind : "unknown",
                      nist ? nist : curve);
    } else {
        strbuf_printf(out, " server-signature %s (%d bits)", kind ? kind : "unknown",
                      EVP_PKEY_get_bits(pk));
    }
    int md = NID_undef;
    if (SSL_get_peer_signature_nid(ssl, &md) && md != NID_undef)
        strbuf_printf(out, " server-digest %s", OBJ_nid2sn(md));
}

static void log_established(const smtp_session *s, SSL *ssl, const tls_verdict *v)
{
    const char *how = !v->has_cert ? "Anonymous"
                      : v->matched ? "Verified"
                      : v->trusted ? "Trusted"
                                   : "Untrusted";
    int alg_bits = 0;
    int bits = SSL_get_cipher_bits(ssl, &alg_bits);
    strbuf line;
    strbuf_init(&line, 0);
    strbuf_printf(&line, "%s TLS connection established to %s: %s with cipher %s (%d/%d bits)",
                  how, s->relay, SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits, alg_bits);
    describe_keys(ssl, &line);
    log_info("%s", line.data);
    strbuf_free(&line);
}

/* ---- STARTTLS ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs SSL_connect on the non-blocking socket until done or the deadline. 0 or -1. */
static int handshake(SSL *ssl, int fd, long timeout)
{
    long long deadline = now_ms() + (timeout > 0 ? timeout : 1) * 1000LL;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1)
            return 0;
        int err = SSL_get_error(ssl, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            return -1;
        long long left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int verify_continue(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1; /* judge after the handshake, as Postfix does: the result is in the session */
}

/* A configured SSL for this policy, or NULL with why. */
static SSL *new_connection(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                           const smtp_dane *dane, const char *nexthop, const smtp_candidate *c,
                           strbuf *why)
{
    char n[SMTP_PARAM_NAME_MAX];
    int mandatory = smtp_tls_level_mandatory(p->level);
    const char *protocols = p->protocols[0]
                                ? p->protocols
                                : param(e, mandatory ? "tls_mandatory_protocols" : "tls_protocols",
                                        n, sizeof(n));
    const char *grade = p->ciphers[0]
                            ? p->ciphers
                            : param(e, mandatory ? "tls_mandatory_ciphers" : "tls_ciphers", n,
                                    sizeof(n));
    char xn[SMTP_PARAM_NAME_MAX];
    strbuf exclude;
    strbuf_init(&exclude, 0); /* a capped one dropped a long exclusion list whole */
    strbuf_append_str(&exclude, p->exclude[0] ? p->exclude
                                              : param(e, "tls_exclude_ciphers", xn, sizeof(xn)));
    if (mandatory)
        strbuf_printf(&exclude, " %s", param(e, "tls_mandatory_exclude_ciphers", xn, sizeof(xn)));
    strbuf ciphers;
    strbuf_init(&ciphers, 0);
    tls_protocols range;
    SSL *ssl = NULL;
    if (tls_protocols_parse(protocols, &range, why) < 0 ||
        tls_cipherlist(grade, exclude.data, cfg_str, &ciphers, why) < 0)
        goto done;
    ssl = SSL_new(e->ctx);
    if (ssl == NULL || !SSL_set_min_proto_version(ssl, range.min_version) ||
        !SSL_set_max_proto_version(ssl, range.max_version) ||
        !SSL_set_cipher_list(ssl, ciphers.data) || !SSL_set_fd(ssl, s->stream.fd)) {
        ssl = setup_failed(ssl, "cannot set up TLS: ", why);
        goto done;
    }
    SSL_set_options(ssl, (uint64_t)range.no_options);
    if (e->anchors && (p->level == SMTP_TLS_VERIFY || p->level == SMTP_TLS_SECURE)) {
        SSL_set1_verify_cert_store(ssl, e->anchors);
        X509_VERIFY_PARAM_set_flags(SSL_get0_param(ssl), X509_V_FLAG_PARTIAL_CHAIN);
    }
    SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_continue);
    const char *sni = strcasecmp(p->servername, "hostname") == 0 ? c->host : p->servername;
    if (sni[0] != '\0')
        SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_app_data(ssl, s);
    if (p->level >= SMTP_TLS_DANE && smtp_dane_apply(ssl, dane, c->host, nexthop) < 0) {
        ssl = setup_failed(ssl, "cannot set up DANE: ", why);
        goto done;
    }
    if (e->session_cache && p->level < SMTP_TLS_DANE) {
        /* relay (at most SMTP_NAME_MAX) + level + SNI (a host name): fits; a key that did not
         * would mean no caching (""), never a cut key shared by two destinations */
        if (fixed_printf(s->tls_cache_key, sizeof(s->tls_cache_key), "%s/%s/%s", s->relay,
                         smtp_tls_level_name(p->level), sni) < 0)
            log_warning("%s: TLS session cache key too long; not caching", s->relay);
        SSL_SESSION *old = cache_find(e, s->tls_cache_key);
        if (old)
            SSL_set_session(ssl, old);
    }
done:
    strbuf_free(&ciphers);
    strbuf_free(&exclude);
    return ssl;
}

/* Sends STARTTLS. 1 when the server agreed, 0 when it refused (reply in r), -1 on a stream
 * failure. */
static int send_starttls(smtp_session *s, smtp_reply *r)
{
    long timeout = smtp_settings_current()->helo_timeout;
    if (smtp_stream_put(&s->stream, "STARTTLS\r\n", 10, timeout) < 0 ||
        smtp_stream_flush(&s->stream, timeout) < 0 ||
        smtp_stream_read_reply(&s->stream, r, timeout) < 0)
        return -1;
    return smtp_reply_class(r) == 2;
}

static int fail_session(smtp_session *s, char *dsn, size_t dsnlen, const char *code)
{
    dsn_set(dsn, dsnlen, code);
    smtp_session_close(s);
    return -1;
}

/* STARTTLS when the server refused it or offers none: fine for may, fatal otherwise. */
static int starttls_unavailable(smtp_session *s, const smtp_tls_policy *p, const smtp_reply *r,
                                char *dsn, size_t dsnlen, strbuf *why)
{
    if (!smtp_tls_level_mandatory(p->level))
        return 0;
    strbuf_reset(why);
    if (r == NULL) {
        strbuf_printf(why, "TLS is required, but was not offered by host %s", s->host_addr);
        return fail_session(s, dsn, dsnlen, "4.7.4");
    }
    char code[DSN_MAX];
    smtp_reply_dsn(r, code, sizeof(code));
    code[0] = '4';
    strbuf_printf(why, "TLS is required, but host %s refused to start TLS: %s", s->host_addr,
                  r->text.data);
    return fail_session(s, dsn, dsnlen, code);
}

static int server_not_verified(const smtp_tls_engine *e, smtp_session *s, const tls_verdict *v,
                               char *dsn, size_t dsnlen, strbuf *why)
{
    (void)e;
    if (!v->has_cert)
        log_info("server certificate verification failed for %s: no certificate", s->relay);
    else if (!v->trusted)
        log_info("server certificate verification failed for %s: num=%ld:%s", s->relay,
                 v->verify_error, X509_verify_cert_error_string(v->verify_error));
    else
        log_info("server certificate verification failed for %s: certificate does not match the "
                 "expected name or fingerprint",
                 s->relay);
    strbuf_reset(why);
    strbuf_append_str(why, "Server certificate not verified");
    smtp_session_quit(s);
    dsn_set(dsn, dsnlen, "4.7.5");
    return -1;
}

/* Handshake on the session's socket, then the verdict on the server. 0, SMTP_TLS_RETRY_PLAIN
 * or -1 with dsn and why (the session is closed). */
static int secure_channel(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                          const smtp_dane *dane, const char *nexthop, const smtp_candidate *c,
                          char *dsn, size_t dsnlen, strbuf *why)
{
    SSL *ssl = new_connection(e, s, p, dane, nexthop, c, why);
    if (ssl == NULL)
        return fail_session(s, dsn, dsnlen, "4.7.5");
    smtp_stream_set_tls(&s->stream, ssl);
    char n[SMTP_PARAM_NAME_MAX];
    smtp_param_name(n, e->prefix, "starttls_timeout");
    if (handshake(ssl, s->stream.fd, cfg_time(n)) < 0) {
        strbuf hs;
        strbuf_init(&hs, 0);
        openssl_reason(&hs);
        log_info("SSL_connect error to %s: %s", s->relay, hs.data);
        strbuf_free(&hs);
        strbuf_reset(why);
        strbuf_append_str(why, "Cannot start TLS: handshake failure");
        fail_session(s, dsn, dsnlen, "4.7.5");
        return p->level == SMTP_TLS_MAY ? SMTP_TLS_RETRY_PLAIN : -1;
    }
    s->tls = 1;
    tls_verdict v;
    judge_server(e, ssl, p, nexthop, c, &v);
    s->tls_verified = v.matched;
    if (e->loglevel >= 1)
        log_established(s, ssl, &v);
    if (p->level >= SMTP_TLS_FINGERPRINT && !v.matched)
        return server_not_verified(e, s, &v, dsn, dsnlen, why);
    return 0;
}

/* STARTTLS at level p (dane already resolved to may, encrypt or DANE with records). */
static int start_tls(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                     const smtp_dane *dane, const char *nexthop, const smtp_candidate *c,
                     char *dsn, size_t dsnlen, strbuf *why)
{
    if (!(s->features & SMTP_FEATURE_STARTTLS))
        return starttls_unavailable(s, p, NULL, dsn, dsnlen, why);
    smtp_reply reply;
    smtp_reply_init(&reply);
    int agreed = send_starttls(s, &reply);
    if (agreed <= 0) {
        int rc;
        if (agreed < 0) {
            strbuf_reset(why);
            strbuf_printf(why, "lost connection with %s while sending STARTTLS", s->host_addr);
            rc = fail_session(s, dsn, dsnlen, "4.4.2");
        } else {
            rc = starttls_unavailable(s, p, &reply, dsn, dsnlen, why);
        }
        smtp_reply_free(&reply);
        return rc;
    }
    smtp_reply_free(&reply);
    size_t junk = smtp_stream_discard_input(&s->stream);
    if (junk > 0)
        log_warning("%s: discarding %zu bytes the server sent after its STARTTLS reply", s->relay,
                    junk);
    int rc = secure_channel(e, s, p, dane, nexthop, c, dsn, dsnlen, why);
    return rc == 0 ? smtp_session_hello(s, 0, dsn, dsnlen, why) : rc;
}

typedef int (*tls_step)(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                        const smtp_dane *dane, const char *nexthop, const smtp_candidate *c,
                        char *dsn, size_t dsnlen, strbuf *why);

/* Resolves dane/dane-only for this server (smtp_dane.h), raises the level to encrypt for the
 * wrapper mode, and runs step at the resulting level. */
static int with_effective_level(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                                const char *nexthop, const smtp_candidate *c, int wrapper,
                                tls_step step, char *dsn, size_t dsnlen, strbuf *why)
{
    smtp_tls_policy effective = *p;
    smtp_dane *dane = NULL;
    int rc = 0;
    if (p->level >= SMTP_TLS_DANE) {
        dane = xmalloc(sizeof(*dane));
        rc = smtp_dane_prepare(p->level, c, dane, &effective.level, dsn, dsnlen, why);
        if (rc < 0)
            smtp_session_close(s);
    }
    if (wrapper && effective.level < SMTP_TLS_ENCRYPT)
        effective.level = SMTP_TLS_ENCRYPT; /* TLS is the only way to talk to this server */
    if (rc == 0)
        rc = step(e, s, &effective, dane, nexthop, c, dsn, dsnlen, why);
    free(dane);
    return rc;
}

int smtp_tls_start(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                   const char *nexthop, const smtp_candidate *c, char *dsn, size_t dsnlen,
                   strbuf *why)
{
    if (p->level == SMTP_TLS_NONE || s->tls)
        return 0;
    return with_effective_level(e, s, p, nexthop, c, 0, start_tls, dsn, dsnlen, why);
}

int smtp_tls_wrap(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                  const char *nexthop, const smtp_candidate *c, char *dsn, size_t dsnlen,
                  strbuf *why)
{
    return with_effective_level(e, s, p, nexthop, c, 1, secure_channel, dsn, dsnlen, why);
}

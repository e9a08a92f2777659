/*
 * tls_server.c: the server TLS context and connection descriptions (see tls_server.h).
 */
#include "tls/tls_server.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "tls/tls_fprint.h"
#include "tls/tls_proto.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICKET_NAME_LEN 16
#define TICKET_KEY_LEN 32

typedef struct ticket_key {
    unsigned char name[TICKET_NAME_LEN];
    unsigned char aes[TICKET_KEY_LEN];
    unsigned char hmac[TICKET_KEY_LEN];
    time_t made; /* 0: no key */
} ticket_key;

struct tls_server {
    SSL_CTX *ctx;
    long ticket_timeout;
    ticket_key current, previous;
    map_list *sni_maps; /* tls_server_sni_maps, NULL when unset */
    strmap *sni_ctx;    /* chain-file list -> SSL_CTX* holding those certificates */
};

static int ctx_index = -1;

void tls_error_text(strbuf *out)
{
    unsigned long e;
    char buf[256];
    int n = 0;
    while ((e = ERR_get_error()) != 0) {
        if (n++ < 4) {
            ERR_error_string_n(e, buf, sizeof(buf));
            strbuf_printf(out, "%s%s", n > 1 ? "; " : "", buf);
        }
    }
    if (n == 0)
        strbuf_append_str(out, "no OpenSSL error recorded");
}

static int fail(strbuf *err, const char *what, const char *file)
{
    strbuf_printf(err, "%s %s: ", what, file);
    tls_error_text(err);
    return -1;
}

/* ---- certificates and keys ---- */

/* One key with its certificate chain, as read from smtpd_tls_chain_files. */
typedef struct key_chain {
    EVP_PKEY *key;
    X509 *leaf;
    STACK_OF(X509) *chain;
} key_chain;

static void free_chain(key_chain *kc)
{
    EVP_PKEY_free(kc->key);
    X509_free(kc->leaf);
    sk_X509_pop_free(kc->chain, X509_free);
    memset(kc, 0, sizeof(*kc));
}

static int install_chain(SSL_CTX *ctx, key_chain *kc, const char *file, strbuf *err)
{
    int rc = 0;
    if (kc->key == NULL && kc->leaf == NULL)
        return 0;
    if (kc->key == NULL || kc->leaf == NULL) {
        strbuf_printf(err, "%s: each private key needs its certificate right after it", file);
        rc = -1;
    } else if (SSL_CTX_use_cert_and_key(ctx, kc->leaf, kc->key, kc->chain, 1) != 1) {
        rc = fail(err, "cannot use the key and certificate chain in", file);
    }
    free_chain(kc);
    return rc;
}

/* Postfix's chain-file layout: each private key followed by its certificate chain (leaf
 * first), any number of such groups in one or several files. */
static int load_chain_file(SSL_CTX *ctx, const char *file, strbuf *err)
{
    BIO *bio = BIO_new_file(file, "r");
    if (bio == NULL)
        return fail(err, "cannot open", file);
    key_chain kc = {0};
    int rc = 0, objects = 0;
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long len = 0;
        if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
            ERR_clear_error();
            break;
        }
        const unsigned char *p = data;
        objects++;
        if (strstr(name, "PRIVATE KEY") != NULL) {
            if ((rc = install_chain(ctx, &kc, file, err)) < 0)
                goto next;
            kc.key = d2i_AutoPrivateKey(NULL, &p, len);
            if (kc.key == NULL)
                rc = fail(err, "cannot read a private key in", file);
        } else if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "TRUSTED CERTIFICATE") == 0) {
            X509 *x = d2i_X509(NULL, &p, len);
            if (x == NULL) {
                rc = fail(err, "cannot read a certificate in", file);
            } else if (kc.leaf == NULL) {
                kc.leaf = x;
            } else {
                if (kc.chain == NULL)
                    kc.chain = sk_X509_new_null();
                sk_X509_push(kc.chain, x);
            }
        }
    next:
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (rc < 0)
            break;
    }
    BIO_free(bio);
    if (rc == 0)
        rc = install_chain(ctx, &kc, file, err);
    else
        free_chain(&kc);
    if (rc == 0 && objects == 0) {
        strbuf_printf(err, "%s: no PEM objects", file);
        rc = -1;
    }
    return rc;
}

static int load_pair(SSL_CTX *ctx, const char *cert, const char *key, strbuf *err)
{
    if (*cert == '\0')
        return 0;
    if (*key == '\0')
        key = cert;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return fail(err, "cannot load certificate chain from", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return fail(err, "cannot load private key from", key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(err, "private key does not match the certificate in", cert);
    return 1;
}

static int load_certificates(SSL_CTX *ctx, const tls_server_config *cfg, strbuf *err)
{
    const char *chain_files = cfg->get("smtpd_tls_chain_files");
    int loaded = 0;
    if (*chain_files) {
        char *copy = xstrdup(chain_files);
        for (char *save = NULL, *f = strtok_r(copy, " \t,\n", &save); f;
             f = strtok_r(NULL, " \t,\n", &save)) {
            if (load_chain_file(ctx, f, err) < 0) {
                free(copy);
                return -1;
            }
            loaded = 1;
        }
        free(copy);
        return loaded ? 0 : -1;
    }
    static const char *const pairs[][2] = {
        {"smtpd_tls_cert_file", "smtpd_tls_key_file"},
        {"smtpd_tls_eccert_file", "smtpd_tls_eckey_file"},
        {"smtpd_tls_dcert_file", "smtpd_tls_dkey_file"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        int rc = load_pair(ctx, cfg->get(pairs[i][0]), cfg->get(pairs[i][1]), err);
        if (rc < 0)
            return -1;
        loaded |= rc;
    }
    if (!loaded) {
        strbuf_append_str(err, "no server certificate: set smtpd_tls_chain_files or "
                               "smtpd_tls_cert_file and smtpd_tls_key_file");
        return -1;
    }
    return 0;
}

/* ---- protocol and cipher policy ---- */

static int set_policy(SSL_CTX *ctx, const tls_server_config *cfg, strbuf *err)
{
    const char *name = cfg->mandatory ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols";
    tls_protocols tp;
    if (tls_protocols_parse(cfg->get(name), &tp, err) < 0) {
        strbuf_printf(err, " in %s", name);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, tp.min_version);
    SSL_CTX_set_max_proto_version(ctx, tp.max_version);
    SSL_CTX_set_options(ctx, (uint64_t)tp.no_options);
    name = cfg->mandatory ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers";
    strbuf exclude, list;
    strbuf_init(&exclude, 0);
    strbuf_init(&list, 0);
    strbuf_append_str(&exclude, cfg->get("smtpd_tls_exclude_ciphers"));
    if (cfg->mandatory)
        strbuf_printf(&exclude, " %s", cfg->get("smtpd_tls_mandatory_exclude_ciphers"));
    int rc = tls_cipherlist(cfg->get(name), exclude.data, cfg->get, &list, err);
    if (rc < 0)
        strbuf_printf(err, " in %s", name);
    else if (SSL_CTX_set_cipher_list(ctx, list.data) != 1)
        rc = fail(err, "invalid cipher list", list.data);
    strbuf_free(&exclude);
    strbuf_free(&list);
    return rc;
}

static int load_dh(SSL_CTX *ctx, const char *file, strbuf *err)
{
    if (*file == '\0') {
        SSL_CTX_set_dh_auto(ctx, 1);
        return 0;
    }
    BIO *bio = BIO_new_file(file, "r");
    if (bio == NULL)
        return fail(err, "cannot open smtpd_tls_dh1024_param_file", file);
    EVP_PKEY *dh = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);
    if (dh == NULL)
        return fail(err, "cannot read DH parameters from", file);
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
        EVP_PKEY_free(dh);
        return fail(err, "cannot use DH parameters from", file);
    }
    return 0;
}

/* ---- session tickets ---- */

static int new_ticket_key(ticket_key *k)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        return -1;
    k->made = time(NULL);
    return 0;
}

static void rotate_ticket_keys(tls_server *ts)
{
    time_t now = time(NULL);
    if (ts->current.made != 0 && now - ts->current.made < ts->ticket_timeout)
        return;
    ticket_key fresh;
    if (new_ticket_key(&fresh) < 0)
        return; /* keep the old key rather than none */
    ts->previous = ts->current;
    ts->current = fresh;
    OPENSSL_cleanse(&fresh, sizeof(fresh));
}

static int set_hmac(EVP_MAC_CTX *hctx, ticket_key *k)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(hctx, k->hmac, sizeof(k->hmac), params) == 1 ? 0 : -1;
}

static int ticket_callback(SSL *ssl, unsigned char *name, unsigned char *iv,
                           EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    tls_server *ts = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (ts == NULL)
        return -1;
    rotate_ticket_keys(ts);
    if (enc) {
        ticket_key *k = &ts->current;
        if (k->made == 0 || RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
            return -1;
        memcpy(name, k->name, TICKET_NAME_LEN);
        if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 ||
            set_hmac(hctx, k) < 0)
            return -1;
        return 1;
    }
    ticket_key *k = NULL;
    if (ts->current.made && memcmp(name, ts->current.name, TICKET_NAME_LEN) == 0)
        k = &ts->current;
    else if (ts->previous.made && memcmp(name, ts->previous.name, TICKET_NAME_LEN) == 0 &&
             time(NULL) - ts->previous.made < 2 * ts->ticket_timeout)
        k = &ts->previous;
    if (k == NULL)
        return 0; /* unknown or expired key: full handshake */
    if (set_hmac(hctx, k) < 0 || EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
        return -1;
    return k == &ts->current ? 1 : 2; /* 2: valid, but issue a ticket under the new key */
}

static int verify_any(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1; /* asked, not required: the certificate is judged by the restrictions */
}

static int set_ccert(SSL_CTX *ctx, const tls_server_config *cfg, strbuf *err)
{
    if (!cfg->ask_ccert)
        return 0;
    const char *cafile = cfg->get("smtpd_tls_CAfile"), *capath = cfg->get("smtpd_tls_CApath");
    if ((*cafile || *capath) &&
        SSL_CTX_load_verify_locations(ctx, *cafile ? cafile : NULL, *capath ? capath : NULL) != 1)
        return fail(err, "cannot load CA certificates from", *cafile ? cafile : capath);
    if (*cafile) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, verify_any);
    return 0;
}

/* ---- SNI (tls_server_sni_maps) ---- */

/* A context holding only the certificates named by an SNI table value (chain-file layout);
 * the connection keeps its own protocol and cipher settings when it switches to it. */
static SSL_CTX *sni_context(tls_server *ts, const char *files, strbuf *err)
{
    SSL_CTX *ctx = strmap_get(ts->sni_ctx, files);
    if (ctx)
        return ctx;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_ex_data(ctx, ctx_index, ts); /* the ticket keys are found through it */
    char *copy = xstrdup(files);
    int rc = 0, n = 0;
    for (char *save = NULL, *f = strtok_r(copy, " \t,\n", &save); f && rc == 0;
         f = strtok_r(NULL, " \t,\n", &save), n++)
        rc = load_chain_file(ctx, f, err);
    free(copy);
    if (rc < 0 || n == 0) {
        if (n == 0)
            strbuf_append_str(err, "empty tls_server_sni_maps value");
        SSL_CTX_free(ctx);
        return NULL;
    }
    strmap_put(ts->sni_ctx, files, ctx);
    return ctx;
}

/* Looks the name up, then its parent domains as ".example.com". 1 found, 0 not, -1 error. */
static int sni_lookup(tls_server *ts, const char *name, strbuf *value)
{
    int rc = map_list_lookup(ts->sni_maps, name, value);
    for (const char *d = strchr(name, '.'); rc == 0 && d && d[1]; d = strchr(d + 1, '.'))
        rc = map_list_lookup(ts->sni_maps, d, value);
    return rc;
}

static int sni_callback(SSL *ssl, int *alert, void *arg)
{
    tls_server *ts = arg;
    const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sent == NULL || *sent == '\0')
        return SSL_TLSEXT_ERR_NOACK;
    char name[256];
    size_t len = strlen(sent);
    int bad = len >= sizeof(name);
    for (size_t i = 0; !bad && i <= len; i++) {
        char c = sent[i];
        name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        bad = c != '\0' && !(c == '.' || c == '-' || (c >= '0' && c <= '9') ||
                             (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    }
    if (bad) {
        log_warning("TLS SNI name too long or with unexpected characters; refused");
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    strbuf value, err;
    strbuf_init(&value, 0);
    strbuf_init(&err, 0);
    int rc = sni_lookup(ts, name, &value);
    int ret = SSL_TLSEXT_ERR_NOACK; /* not listed: the default certificates */
    if (rc < 0) {
        log_warning("tls_server_sni_maps: lookup of %s failed", name);
        *alert = SSL_AD_INTERNAL_ERROR;
        ret = SSL_TLSEXT_ERR_ALERT_FATAL;
    } else if (rc == 1) {
        SSL_CTX *ctx = sni_context(ts, value.data, &err);
        if (ctx == NULL) {
            log_warning("tls_server_sni_maps: %s: %s", name, err.data);
            *alert = SSL_AD_INTERNAL_ERROR;
            ret = SSL_TLSEXT_ERR_ALERT_FATAL;
        } else {
            SSL_set_SSL_CTX(ssl, ctx);
            ret = SSL_TLSEXT_ERR_OK;
        }
    }
    strbuf_free(&value);
    strbuf_free(&err);
    return ret;
}

static int set_sni(tls_server *ts, const tls_server_config *cfg, strbuf *err)
{
    const char *value = cfg->get("tls_server_sni_maps");
    if (*value == '\0')
        return 0;
    ts->sni_maps = map_list_open(value, err);
    if (ts->sni_maps == NULL)
        return -1;
    ts->sni_ctx = strmap_new();
    SSL_CTX_set_tlsext_servername_callback(ts->ctx, sni_callback);
    SSL_CTX_set_tlsext_servername_arg(ts->ctx, ts);
    return 0;
}

static void free_ctx(void *ctx)
{
    SSL_CTX_free(ctx);
}

tls_server *tls_server_open(const tls_server_config *cfg, strbuf *err)
{
    if (ctx_index < 0)
        ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    tls_server *ts = xcalloc(1, sizeof(*ts));
    ts->ticket_timeout = cfg->ticket_timeout > 0 ? cfg->ticket_timeout : 3600;
    ts->ctx = SSL_CTX_new(TLS_server_method());
    if (ts->ctx == NULL) {
        fail(err, "cannot create TLS context", "");
        free(ts);
        return NULL;
    }
    SSL_CTX *ctx = ts->ctx;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_ex_data(ctx, ctx_index, ts);
    static const unsigned char sid_ctx[] = "postern-smtpd";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(ctx, ts->ticket_timeout);
    rotate_ticket_keys(ts);
    if (load_certificates(ctx, cfg, err) < 0 || set_policy(ctx, cfg, err) < 0 ||
        load_dh(ctx, cfg->get("smtpd_tls_dh1024_param_file"), err) < 0 ||
        set_ccert(ctx, cfg, err) < 0 || set_sni(ts, cfg, err) < 0 ||
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback) != 1) {
        tls_server_close(ts);
        return NULL;
    }
    return ts;
}

void tls_server_close(tls_server *ts)
{
    if (ts == NULL)
        return;
    SSL_CTX_free(ts->ctx);
    strmap_free(ts->sni_ctx, free_ctx);
    map_list_close(ts->sni_maps);
    OPENSSL_cleanse(&ts->current, sizeof(ts->current));
    OPENSSL_cleanse(&ts->previous, sizeof(ts->previous));
    free(ts);
}

SSL *tls_server_new_ssl(tls_server *ts, int fd)
{
    SSL *ssl = SSL_new(ts->ctx);
    if (ssl == NULL)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

/* ---- descriptions ---- */

static void describe_key(EVP_PKEY *key, strbuf *out)
{
    char group[80];
    size_t glen = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) == 1 &&
        EVP_PKEY_is_a(key, "EC"))
        strbuf_printf(out, " (%s)", group);
    else
        strbuf_printf(out, " (%d bits)", EVP_PKEY_get_bits(key));
}

static void describe_kex(SSL *ssl, strbuf *out)
{
    EVP_PKEY *kex = NULL;
    /* Known on the server for TLS 1.3 only (the client's key share); Postfix's TLS 1.2 server
     * lines have no key-exchange part either. */
    if (SSL_get_peer_tmp_key(ssl, &kex) != 1 || kex == NULL)
        return;
    if (EVP_PKEY_is_a(kex, "EC")) {
        strbuf_append_str(out, " key-exchange ECDHE");
        describe_key(kex, out);
    } else if (EVP_PKEY_is_a(kex, "DH")) {
        strbuf_append_str(out, " key-exchange DHE");
        describe_key(kex, out);
    } else {
        strbuf_printf(out, " key-exchange %s", EVP_PKEY_get0_type_name(kex));
    }
    EVP_PKEY_free(kex);
}

static void describe_signature(SSL *ssl, strbuf *out)
{
    if (SSL_session_reused(ssl))
        return; /* no signature in a resumed handshake */
    X509 *cert = SSL_get_certificate(ssl);
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
    if (key == NULL)
        return;
    int type = NID_undef, digest = NID_undef;
    SSL_get_signature_type_nid(ssl, &type);
    const char *name = type == EVP_PKEY_RSA_PSS ? "RSA-PSS"
                       : EVP_PKEY_is_a(key, "EC") ? "ECDSA"
                       : EVP_PKEY_get0_type_name(key);
    strbuf_printf(out, " server-signature %s", name ? name : "unknown");
    describe_key(key, out);
    if (SSL_get_signature_nid(ssl, &digest) == 1 && digest != NID_undef)
        strbuf_printf(out, " server-digest %s", OBJ_nid2sn(digest));
}

static void describe_cipher(SSL *ssl, strbuf *out)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    int alg_bits = 0;
    int bits = c ? SSL_CIPHER_get_bits(c, &alg_bits) : 0;
    strbuf_printf(out, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
                  c ? SSL_CIPHER_get_name(c) : "unknown", bits, alg_bits);
}

void tls_describe(SSL *ssl, strbuf *out)
{
    describe_cipher(ssl, out);
    describe_kex(ssl, out);
    describe_signature(ssl, out);
}

const char *tls_peer_trust(SSL *ssl)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL)
        return "Anonymous";
    return SSL_get_verify_result(ssl) == X509_V_OK ? "Trusted" : "Untrusted";
}

/* The whole CommonName ("" when none), unprintable bytes and '"' as '?'. */
static void name_entry(X509_NAME *name, strbuf *out)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);
    for (int k = 0; k < len; k++)
        strbuf_append_char(out, d[k] >= 32 && d[k] < 127 && d[k] != '"' ? (char)d[k] : '?');
}

void tls_received_text(SSL *ssl, int asked_ccert, strbuf *out)
{
    strbuf_append_str(out, "\t(using ");
    describe_cipher(ssl, out);
    strbuf d;
    strbuf_init(&d, 0);
    describe_kex(ssl, &d);
    describe_signature(ssl, &d);
    if (d.len)
        strbuf_printf(out, "\n\t%s", d.data);
    strbuf_free(&d);
    strbuf_append_str(out, ")\n");
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (!asked_ccert) {
        strbuf_append_str(out, "\t(No client certificate requested)\n");
    } else if (peer == NULL) {
        strbuf_append_str(out, "\t(Client did not present a certificate)\n");
    } else {
        strbuf_append_str(out, "\t(Client CN \"");
        name_entry(X509_get_subject_name(peer), out);
        strbuf_append_str(out, "\", Issuer \"");
        name_entry(X509_get_issuer_name(peer), out);
        strbuf_printf(out, "\" (%s))\n",
                      SSL_get_verify_result(ssl) == X509_V_OK ? "verified OK" : "not verified");
    }
}

void tls_peer_fingerprint(SSL *ssl, char out[TLS_FPRINT_MAX])
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL || tls_fprint_cert(peer, EVP_sha256(), 0, out, TLS_FPRINT_MAX) < 0)
        out[0] = '\0';
}

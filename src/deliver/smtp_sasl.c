/* smtp_sasl.c: client SMTP AUTH with PLAIN and LOGIN (see smtp_sasl.h). */
#include "deliver/smtp_param.h"
#include "deliver/smtp_settings.h"
#include "deliver/smtp_sasl.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/word_list.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SASL_SECRET_MAX 1024 /* longest username:password accepted from the table */

struct smtp_sasl {
    char prefix[8];
    int enabled;
    int per_sender;
    int soft_bounce;
    map_list *passwords;
    int options, tls_options, verified_options;
    char filter[512];
};

int smtp_sasl_parse_options(const char *list)
{
    static const struct {
        const char *name;
        int flag;
    } words[] = {{"noplaintext", SMTP_SASL_NOPLAINTEXT},
                 {"noanonymous", SMTP_SASL_NOANONYMOUS},
                 {"nodictionary", SMTP_SASL_NODICTIONARY},
                 {"noactive", SMTP_SASL_NOACTIVE},
                 {"mutual_auth", SMTP_SASL_MUTUAL_AUTH}};
    int flags = 0;
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t len = strcspn(p, ", \t\r\n");
        if (len == 0)
            break;
        int known = 0;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            if (strlen(words[i].name) == len && strncasecmp(p, words[i].name, len) == 0) {
                flags |= words[i].flag;
                known = 1;
            }
        }
        if (!known)
            return -1;
        p += len;
    }
    return flags;
}

/* Postfix's match-list reading of smtp_sasl_mechanism_filter: entries in order, "name" lets a
 * mechanism through, "!name" stops it, "static:..." matches every mechanism; an empty filter
 * lets everything through, a non-empty one stops what no entry matched. */
static int filter_allows(const char *filter, const char *mech)
{
    if (filter == NULL || filter[0] == '\0')
        return 1;
    const char *p = filter;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t len = strcspn(p, ", \t\r\n");
        if (len == 0)
            break;
        int negate = p[0] == '!';
        const char *w = p + negate;
        size_t wlen = len - (size_t)negate;
        p += len;
        int all = wlen >= 7 && strncasecmp(w, "static:", 7) == 0;
        if (all || (wlen == strlen(mech) && strncasecmp(w, mech, wlen) == 0))
            return !negate;
    }
    return 0;
}

const char *smtp_sasl_choose(const char *server_mechs, const char *filter, int options)
{
    static const char *const ours[] = {"PLAIN", "LOGIN"};
    /* PLAIN and LOGIN send the password as it is: plaintext mechanisms, and they cannot
     * authenticate the server (mutual_auth). */
    if (options & (SMTP_SASL_NOPLAINTEXT | SMTP_SASL_MUTUAL_AUTH))
        return NULL;
    for (size_t i = 0; i < 2; i++) {
        if (word_list_has(server_mechs, ours[i], WORD_LIST_FOLD_CASE) &&
            filter_allows(filter, ours[i]))
            return ours[i];
    }
    return NULL;
}

/* Only names, "!names" and static: entries; other tables are not supported. */
static int filter_supported(const char *filter)
{
    const char *p = filter;
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t len = strcspn(p, ", \t\r\n");
        const char *colon = memchr(p, ':', len);
        if (colon && !(colon - p == 6 && strncasecmp(p, "static", 6) == 0))
            return 0;
        p += len;
    }
    return 1;
}

static int options_param(const char *prefix, const char *name, int *out, strbuf *err)
{
    char n[SMTP_PARAM_NAME_MAX];
    smtp_param_name(n, prefix, name);
    *out = smtp_sasl_parse_options(cfg_str(n));
    if (*out < 0) {
        strbuf_reset(err);
        strbuf_printf(err, "%s = %s: unknown security option", n, cfg_str(n));
        return -1;
    }
    return 0;
}

smtp_sasl *smtp_sasl_create(const char *prefix, strbuf *err)
{
    smtp_sasl *a = xcalloc(1, sizeof(*a));
    if (fixed_copy(a->prefix, sizeof(a->prefix), prefix) < 0) {
        strbuf_reset(err);
        strbuf_printf(err, "SASL client: bad parameter prefix %s", prefix);
        goto fail;
    }
    char n[SMTP_PARAM_NAME_MAX];
    smtp_param_name(n, prefix, "sasl_auth_enable");
    a->enabled = cfg_bool(n);
    smtp_param_name(n, prefix, "sender_dependent_authentication");
    a->per_sender = cfg_bool(n);
    smtp_param_name(n, prefix, "sasl_auth_soft_bounce");
    a->soft_bounce = cfg_bool(n);
    smtp_param_name(n, prefix, "sasl_mechanism_filter");
    const char *filter = cfg_str(n);
    if (!filter_supported(filter)) {
        strbuf_reset(err);
        strbuf_printf(err, "%s = %s: only mechanism names, !names and static: are supported", n,
                      filter);
        goto fail;
    }
    if (fixed_copy(a->filter, sizeof(a->filter), filter) < 0) {
        strbuf_reset(err);
        strbuf_printf(err, "%s is longer than %zu bytes: %s", n, sizeof(a->filter) - 1, filter);
        goto fail;
    }
    if (options_param(prefix, "sasl_security_options", &a->options, err) < 0 ||
        options_param(prefix, "sasl_tls_security_options", &a->tls_options, err) < 0 ||
        options_param(prefix, "sasl_tls_verified_security_options", &a->verified_options, err) < 0)
        goto fail;
    smtp_param_name(n, prefix, "sasl_password_maps");
    if (a->enabled && cfg_str(n)[0] && (a->passwords = map_list_open(cfg_str(n), err)) == NULL)
        goto fail;
    return a;
fail:
    smtp_sasl_free(a);
    return NULL;
}

void smtp_sasl_free(smtp_sasl *a)
{
    if (a == NULL)
        return;
    if (a->passwords)
        map_list_close(a->passwords);
    free(a);
}

int smtp_sasl_per_sender(const smtp_sasl *a)
{
    return a->enabled && a->per_sender;
}

/* The first key with an entry. 1 found (value in out), 0 none, -1 lookup failure (out). */
static int find_secret(smtp_sasl *a, const char *sender, const char *nexthop_key,
                       const smtp_candidate *c, strbuf *out)
{
    /* The nexthop also with the default port spelled out ("[relay.example]:25"), as an
     * administrator may have written it in relayhost and in the table. */
    char with_port[SMTP_HOST_MAX + 16] = "";
    size_t klen = strlen(nexthop_key);
    int has_port = klen > 0 && nexthop_key[klen - 1] != ']' && strchr(nexthop_key, ':') != NULL;
    if (!has_port && fixed_printf(with_port, sizeof(with_port), "%s:%u", nexthop_key, c->port) < 0)
        with_port[0] = '\0'; /* longer than any [host]:port: not a key the table can hold */
    const char *keys[5] = {NULL, NULL, nexthop_key, with_port, c->host};
    if (a->per_sender && sender && sender[0]) {
        keys[0] = sender;
        keys[1] = strrchr(sender, '@');
    }
    for (size_t i = 0; i < 5; i++) {
        if (keys[i] == NULL || keys[i][0] == '\0')
            continue;
        int found = map_list_lookup(a->passwords, keys[i], out);
        if (found != 0)
            return found;
    }
    return 0;
}

static void base64(const char *data, size_t len, strbuf *out)
{
    unsigned char *enc = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock(enc, (const unsigned char *)data, (int)len);
    strbuf_append(out, (const char *)enc, n > 0 ? (size_t)n : 0);
    OPENSSL_cleanse(enc, (size_t)(n > 0 ? n : 0));
    free(enc);
}

/* Sends one line (cleansed afterwards) and reads the reply. 0 or -1. */
static int exchange(smtp_session *s, strbuf *line, smtp_reply *r)
{
    long timeout = smtp_settings_current()->helo_timeout;
    strbuf_append_str(line, "\r\n");
    int rc = smtp_stream_put(&s->stream, line->data, line->len, timeout);
    OPENSSL_cleanse(line->data, line->len);
    strbuf_reset(line);
    if (rc < 0 || smtp_stream_flush(&s->stream, timeout) < 0)
        return -1;
    return smtp_stream_read_reply(&s->stream, r, timeout);
}

/* Runs the mechanism. 0 with the final reply in r, -1 on a connection failure. */
static int converse(smtp_session *s, const char *mech, const char *user, const char *password,
                    smtp_reply *r)
{
    strbuf line;
    strbuf_init(&line, 4 * SASL_SECRET_MAX);
    int rc;
    if (strcmp(mech, "PLAIN") == 0) {
        strbuf raw;
        strbuf_init(&raw, 2 * SASL_SECRET_MAX);
        strbuf_append_char(&raw, '\0');
        strbuf_append_str(&raw, user);
        strbuf_append_char(&raw, '\0');
        strbuf_append_str(&raw, password);
        strbuf_append_str(&line, "AUTH PLAIN ");
        base64(raw.data, raw.len, &line);
        OPENSSL_cleanse(raw.data, raw.len);
        strbuf_free(&raw);
        rc = exchange(s, &line, r);
    } else {
        strbuf_append_str(&line, "AUTH LOGIN");
        rc = exchange(s, &line, r);
        if (rc == 0 && r->code == 334) {
            base64(user, strlen(user), &line);
            rc = exchange(s, &line, r);
        }
        if (rc == 0 && r->code == 334) {
            base64(password, strlen(password), &line);
            rc = exchange(s, &line, r);
        }
    }
    strbuf_free(&line);
    return rc;
}

static int give_up(smtp_session *s, const char *code, char *dsn, size_t dsnlen)
{
    dsn_set(dsn, dsnlen, code);
    smtp_session_quit(s);
    return -1;
}

/* Mechanism, exchange and verdict, with the secret "user:password" in secret. */
static int authenticate_with(smtp_sasl *a, smtp_session *s, char *secret, char *dsn,
                             size_t dsnlen, strbuf *why)
{
    int options = !s->tls ? a->options : s->tls_verified ? a->verified_options : a->tls_options;
    const char *mech = smtp_sasl_choose(s->auth_mechs, a->filter, options);
    strbuf_reset(why);
    if (mech == NULL) {
        strbuf_printf(why,
                      "SASL authentication failed; cannot authenticate to server %s: no "
                      "mechanism available",
                      s->host_addr);
        return give_up(s, "4.7.0", dsn, dsnlen);
    }
    char *colon = strchr(secret, ':');
    if (colon == NULL) {
        log_warning("%s_sasl_password_maps: entry for %s is not username:password", a->prefix,
                    s->host_addr);
        strbuf_printf(why, "SASL authentication failed; cannot authenticate to server %s: "
                           "malformed password table entry",
                      s->host_addr);
        return give_up(s, "4.7.0", dsn, dsnlen);
    }
    *colon = '\0';
    smtp_reply r;
    smtp_reply_init(&r);
    int rc = converse(s, mech, secret, colon + 1, &r);
    if (rc == 0 && r.code == 235) {
        s->authenticated = 1;
    } else if (rc < 0) {
        strbuf_printf(why, "lost connection with %s while performing SASL authentication",
                      s->host_addr);
        dsn_set(dsn, dsnlen, "4.4.2");
        smtp_session_close(s);
    } else {
        char code[DSN_MAX];
        smtp_reply_dsn(&r, code, sizeof(code));
        if (code[0] != '4' && (a->soft_bounce || code[0] != '5'))
            code[0] = '4';
        strbuf_printf(why, "SASL authentication failed; server %s said: %s", s->host_addr,
                      r.text.data);
        rc = give_up(s, code, dsn, dsnlen);
    }
    smtp_reply_free(&r);
    return s->authenticated ? 0 : -1;
}

int smtp_sasl_authenticate(smtp_sasl *a, smtp_session *s, const char *sender,
                           const char *nexthop_key, const smtp_candidate *c, char *dsn,
                           size_t dsnlen, strbuf *why)
{
    if (!a->enabled || a->passwords == NULL || s->auth_mechs[0] == '\0')
        return 0;
    strbuf secret;
    strbuf_init(&secret, SASL_SECRET_MAX);
    int found = find_secret(a, sender, nexthop_key, c, &secret);
    int rc = 0;
    if (found < 0) {
        strbuf_reset(why);
        strbuf_printf(why, "SASL authentication failed; cannot authenticate to server %s: "
                           "password table lookup failed",
                      s->host_addr);
        log_warning("%s_sasl_password_maps lookup for %s: %s", a->prefix, s->host_addr,
                    secret.data);
        rc = give_up(s, "4.3.0", dsn, dsnlen);
    } else if (found > 0) {
        rc = authenticate_with(a, s, secret.data, dsn, dsnlen, why);
    }
    OPENSSL_cleanse(secret.data, secret.len);
    strbuf_free(&secret);
    return rc;
}

/*
 * smtpd_check.c: smtpd_*_restrictions evaluation (see smtpd_check.h).
 */
#include "smtpd/smtpd_check.h"
#include "global/mail_addr.h"
#include "global/resolve.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "maps/match_list.h"
#include "smtpd/smtpd_proto_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Access tables nest restriction lists; this bounds the recursion. */
#define CHECK_MAX_DEPTH 4

struct smtpd_checker {
    resolver *resolver;
    match_list *mynetworks;
    strmap *tables; /* "type:name" -> map*, opened on first use */
    strmap *warned; /* names already warned about */
    int delay_reject;
    int reject_unlisted_recipient;
    int reject_unlisted_sender;
    int access_reject_code, access_defer_code, reject_code, defer_code, relay_code;
    int non_fqdn_code, invalid_helo_code;
    int unknown_local_code, unknown_virtual_mailbox_code, unknown_virtual_alias_code;
    char null_key[64];
};

/* Which of the client's statements a restriction is about; it names the reply. */
typedef enum {
    CLASS_CLIENT,
    CLASS_HELO,
    CLASS_SENDER,
    CLASS_RECIPIENT,
    CLASS_DATA,
} check_class;

static int code_param(const char *name, int fallback)
{
    long v = cfg_int(name);
    return v >= 400 && v <= 599 ? (int)v : fallback;
}

smtpd_checker *smtpd_checker_open(strbuf *err)
{
    smtpd_checker *ck = xcalloc(1, sizeof(*ck));
    ck->resolver = resolver_open(err);
    if (ck->resolver == NULL) {
        free(ck);
        return NULL;
    }
    ck->mynetworks = net_list_open(cfg_str("mynetworks"), err);
    if (ck->mynetworks == NULL) {
        resolver_close(ck->resolver);
        free(ck);
        return NULL;
    }
    ck->tables = strmap_new();
    ck->warned = strmap_new();
    ck->delay_reject = cfg_bool("smtpd_delay_reject");
    ck->reject_unlisted_recipient = cfg_bool("smtpd_reject_unlisted_recipient");
    ck->reject_unlisted_sender = cfg_bool("smtpd_reject_unlisted_sender");
    ck->access_reject_code = code_param("access_map_reject_code", 554);
    ck->access_defer_code = code_param("access_map_defer_code", 450);
    ck->reject_code = code_param("reject_code", 554);
    ck->defer_code = code_param("defer_code", 450);
    ck->relay_code = code_param("relay_domains_reject_code", 554);
    ck->non_fqdn_code = code_param("non_fqdn_reject_code", 504);
    ck->invalid_helo_code = code_param("invalid_hostname_reject_code", 501);
    ck->unknown_local_code = code_param("unknown_local_recipient_reject_code", 550);
    ck->unknown_virtual_mailbox_code = code_param("unknown_virtual_mailbox_reject_code", 550);
    ck->unknown_virtual_alias_code = code_param("unknown_virtual_alias_reject_code", 550);
    snprintf(ck->null_key, sizeof(ck->null_key), "%s", cfg_str("smtpd_null_access_lookup_key"));
    return ck;
}

static void close_table(void *value)
{
    map_close(value);
}

void smtpd_checker_close(smtpd_checker *ck)
{
    if (ck == NULL)
        return;
    resolver_close(ck->resolver);
    match_list_close(ck->mynetworks);
    strmap_free(ck->tables, close_table);
    strmap_free(ck->warned, NULL);
    free(ck);
}

int smtpd_check_mynetworks(smtpd_checker *ck, const char *addr)
{
    return net_list_match(ck->mynetworks, addr) == 1;
}

static void warn_once(smtpd_checker *ck, const char *fmt, const char *name)
{
    if (strmap_has(ck->warned, name))
        return;
    strmap_put(ck->warned, name, NULL);
    log_warning(fmt, name);
}

/* ---- replies ---- */

/* "<name>: Xxx rejected" for a class, with the name in its external form. */
static void reply_subject(check_class cls, const smtpd_check_args *a, strbuf *out)
{
    char quoted[SMTPD_ADDR_MAX * 2 + 8];
    switch (cls) {
    case CLASS_CLIENT:
        strbuf_printf(out, "<%s[%s]>: Client host rejected", a->client_name, a->client_addr);
        break;
    case CLASS_HELO:
        strbuf_printf(out, "<%s>: Helo command rejected", a->helo ? a->helo : "");
        break;
    case CLASS_SENDER:
        smtpd_quote_address(a->sender ? a->sender : "", quoted, sizeof(quoted));
        strbuf_printf(out, "<%s>: Sender address rejected", quoted);
        break;
    case CLASS_RECIPIENT:
        smtpd_quote_address(a->recipient ? a->recipient : "", quoted, sizeof(quoted));
        strbuf_printf(out, "<%s>: Recipient address rejected", quoted);
        break;
    case CLASS_DATA: strbuf_append_str(out, "<DATA>: Data command rejected"); break;
    }
}

/* Text may begin with its own "x.y.z " status; otherwise dsn is used, its class digit made
 * to agree with the reply code. */
static smtpd_check_result reject_with(strbuf *reply, int code, const char *dsn, check_class cls,
                                      const smtpd_check_args *a, const char *text)
{
    char detail[16];
    const char *p = text;
    if (isdigit((unsigned char)p[0]) && p[1] == '.' && strspn(p, "0123456789.") >= 5) {
        size_t n = strspn(p, "0123456789.");
        if (n < sizeof(detail) && (p[n] == ' ' || p[n] == '\0')) {
            memcpy(detail, p, n);
            detail[n] = '\0';
            dsn = detail;
            text = p[n] ? p + n + 1 : "";
        }
    }
    strbuf_reset(reply);
    strbuf_printf(reply, "%d %c%s ", code, '0' + code / 100, dsn + 1);
    reply_subject(cls, a, reply);
    strbuf_printf(reply, ": %s", *text ? text : "Access denied");
    return SMTPD_CHECK_REJECT;
}

static smtpd_check_result config_error(strbuf *reply)
{
    strbuf_reset(reply);
    strbuf_append_str(reply, "451 4.3.5 Server configuration error");
    return SMTPD_CHECK_REJECT;
}

static smtpd_check_result lookup_failure(strbuf *reply, const char *what)
{
    char quoted[SMTPD_ADDR_MAX * 2 + 8];
    smtpd_quote_address(what ? what : "", quoted, sizeof(quoted));
    strbuf_reset(reply);
    strbuf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", quoted);
    return SMTPD_CHECK_REJECT;
}

/* ---- address classes ---- */

/* Routing operators in the local part make an address unauthorized for relaying, as
 * Postfix's RESOLVE_FLAG_ROUTED does. */
static int is_routed(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    for (size_t i = 0; i < llen; i++)
        if (addr[i] == '@' || addr[i] == '!' || addr[i] == '%')
            return 1;
    return 0;
}

/* 1 when the recipient's destination is ours or one we relay for, 0 when not, -1 on error. */
static int is_auth_destination(smtpd_checker *ck, const char *rcpt)
{
    resolved res;
    strbuf err;
    strbuf_init(&err, 0);
    int rc = resolve_address(ck->resolver, rcpt, &res, &err);
    if (rc < 0)
        log_warning("%s: address resolution failed: %s", rcpt, err.data);
    strbuf_free(&err);
    if (rc < 0)
        return -1;
    if (res.cls == ADDR_CLASS_DEFAULT || is_routed(rcpt))
        return 0;
    return 1;
}

static smtpd_check_result check_unauth_destination(smtpd_checker *ck, const smtpd_check_args *a,
                                                   int code, strbuf *reply, int permit)
{
    if (a->recipient == NULL)
        return SMTPD_CHECK_DUNNO;
    int auth = is_auth_destination(ck, a->recipient);
    if (auth < 0)
        return lookup_failure(reply, a->recipient);
    if (permit)
        return auth ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
    if (auth)
        return SMTPD_CHECK_DUNNO;
    char quoted[SMTPD_ADDR_MAX * 2 + 8];
    smtpd_quote_address(a->recipient, quoted, sizeof(quoted));
    strbuf_reset(reply);
    strbuf_printf(reply, "%d %c.7.1 <%s>: Relay access denied", code, '0' + code / 100, quoted);
    return SMTPD_CHECK_REJECT;
}

/* Unknown local/virtual users: reject_unlisted_recipient and reject_unlisted_sender. */
static smtpd_check_result check_unlisted(smtpd_checker *ck, const smtpd_check_args *a,
                                         check_class cls, strbuf *reply)
{
    const char *addr = cls == CLASS_SENDER ? a->sender : a->recipient;
    if (addr == NULL || *addr == '\0')
        return SMTPD_CHECK_DUNNO;
    resolved res;
    strbuf err;
    strbuf_init(&err, 0);
    int rc = resolve_address(ck->resolver, addr, &res, &err);
    if (rc == 0)
        rc = resolve_recipient_known(ck->resolver, &res, &err);
    else
        rc = -1;
    if (rc < 0)
        log_warning("%s: recipient lookup failed: %s", addr, err.data);
    strbuf_free(&err);
    if (rc < 0)
        return lookup_failure(reply, addr);
    if (rc == 1)
        return SMTPD_CHECK_DUNNO;
    int code;
    const char *table;
    switch (res.cls) {
    case ADDR_CLASS_LOCAL:
        code = ck->unknown_local_code;
        table = "local recipient table";
        break;
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        code = ck->unknown_virtual_mailbox_code;
        table = "virtual mailbox table";
        break;
    case ADDR_CLASS_VIRTUAL_ALIAS:
        code = ck->unknown_virtual_alias_code;
        table = "virtual alias table";
        break;
    default:
        code = 550;
        table = "relay recipient table";
        break;
    }
    char text[96];
    snprintf(text, sizeof(text), "User unknown in %s", table);
    return reject_with(reply, code, cls == CLASS_SENDER ? "5.1.0" : "5.1.1", cls, a, text);
}

static smtpd_check_result check_non_fqdn(smtpd_checker *ck, const smtpd_check_args *a,
                                         check_class cls, strbuf *reply)
{
    const char *addr = cls == CLASS_SENDER ? a->sender : a->recipient;
    if (addr == NULL || *addr == '\0')
        return SMTPD_CHECK_DUNNO;
    const char *at = strrchr(addr, '@');
    if (at && mail_addr_domain_is_fqdn(at + 1))
        return SMTPD_CHECK_DUNNO;
    return reject_with(reply, ck->non_fqdn_code, "5.5.2", cls, a, "need fully-qualified address");
}

/* ---- access tables ---- */

static map *table_get(smtpd_checker *ck, const char *spec, strbuf *err)
{
    map *m = strmap_get(ck->tables, spec);
    if (m == NULL) {
        m = map_open(spec, err);
        if (m != NULL)
            strmap_put(ck->tables, spec, m);
    }
    return m;
}

static smtpd_check_result eval_list(smtpd_checker *ck, const char *value, check_class list_cls,
                                    const smtpd_check_args *a, strbuf *reply, int depth);

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Applies one access(5) result. */
static smtpd_check_result access_action(smtpd_checker *ck, const char *value, check_class cls,
                                        const smtpd_check_args *a, strbuf *reply, int depth)
{
    const char *v = value;
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strcspn(v, " \t");
    const char *text = v + n;
    while (isspace((unsigned char)*text))
        text++;
    if ((n == 2 && strncasecmp(v, "OK", 2) == 0) || (all_digits(v, n) && n != 3))
        return SMTPD_CHECK_OK;
    if (n == 5 && strncasecmp(v, "DUNNO", 5) == 0)
        return SMTPD_CHECK_DUNNO;
    if (n == 6 && strncasecmp(v, "REJECT", 6) == 0)
        return reject_with(reply, ck->access_reject_code, "5.7.1", cls, a, text);
    if (n == 5 && strncasecmp(v, "DEFER", 5) == 0)
        return reject_with(reply, ck->access_defer_code, "4.7.1", cls, a, text);
    if (n == 3 && all_digits(v, 3)) {
        int code = atoi(v);
        if (code >= 400 && code <= 599)
            return reject_with(reply, code, code >= 500 ? "5.7.1" : "4.7.1", cls, a, text);
        if (code >= 200 && code <= 299)
            return SMTPD_CHECK_OK;
        return config_error(reply);
    }
    static const char *const unsupported[] = {
        "DEFER_IF_REJECT", "DEFER_IF_PERMIT", "DISCARD", "HOLD", "FILTER", "REDIRECT",
        "PREPEND", "WARN", "INFO", "BCC",
    };
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (strlen(unsupported[i]) == n && strncasecmp(v, unsupported[i], n) == 0) {
            char name[32];
            snprintf(name, sizeof(name), "%.*s", (int)n, v);
            warn_once(ck, "access table action %s is not supported; ignored", name);
            return SMTPD_CHECK_DUNNO;
        }
    /* Anything else is a restriction list. */
    return eval_list(ck, v, cls, a, reply, depth + 1);
}

/* Looks up each key in turn; the first found decides. */
static smtpd_check_result access_lookup(smtpd_checker *ck, const char *spec,
                                        const char *const *keys, size_t nkeys, check_class cls,
                                        const smtpd_check_args *a, strbuf *reply, int depth)
{
    strbuf err;
    strbuf_init(&err, 0);
    map *m = table_get(ck, spec, &err);
    if (m == NULL) {
        log_warning("%s: table open failed: %s", spec, err.data);
        strbuf_free(&err);
        return config_error(reply);
    }
    strbuf_free(&err);
    strbuf result;
    strbuf_init(&result, 0);
    smtpd_check_result st = SMTPD_CHECK_DUNNO;
    for (size_t i = 0; i < nkeys; i++) {
        int rc = map_lookup(m, keys[i], &result);
        if (rc < 0) {
            log_warning("%s: lookup of %s failed: %s", spec, keys[i], result.data);
            st = lookup_failure(reply, keys[i]);
            break;
        }
        if (rc == 1) {
            st = access_action(ck, result.data, cls, a, reply, depth);
            break;
        }
    }
    strbuf_free(&result);
    return st;
}

#define MAX_KEYS 40

typedef struct key_list {
    char *keys[MAX_KEYS];
    size_t n;
} key_list;

static void key_add(key_list *kl, const char *key, size_t len)
{
    if (kl->n < MAX_KEYS)
        kl->keys[kl->n++] = xstrndup(key, len);
}

static void key_free(key_list *kl)
{
    for (size_t i = 0; i < kl->n; i++)
        free(kl->keys[i]);
}

/* "a.b.example", "b.example", "example" (parent_domain_matches_subdomains style). */
static void key_add_domains(key_list *kl, const char *domain)
{
    for (const char *d = domain; d && *d;) {
        key_add(kl, d, strlen(d));
        d = strchr(d, '.');
        if (d)
            d++;
    }
}

static smtpd_check_result check_access(smtpd_checker *ck, const char *spec, check_class cls,
                                       const smtpd_check_args *a, strbuf *reply, int depth)
{
    key_list kl = {.n = 0};
    switch (cls) {
    case CLASS_CLIENT: {
        if (a->client_name && strcmp(a->client_name, "unknown") != 0)
            key_add_domains(&kl, a->client_name);
        char net[64];
        snprintf(net, sizeof(net), "%s", a->client_addr ? a->client_addr : "");
        int v6 = strchr(net, ':') != NULL;
        for (char *cut; net[0];) {
            key_add(&kl, net, strlen(net));
            cut = strrchr(net, v6 ? ':' : '.');
            if (cut == NULL)
                break;
            *cut = '\0';
        }
        break;
    }
    case CLASS_HELO:
        if (a->helo == NULL)
            return SMTPD_CHECK_DUNNO;
        key_add_domains(&kl, a->helo);
        break;
    case CLASS_SENDER:
    case CLASS_RECIPIENT: {
        const char *addr = cls == CLASS_SENDER ? a->sender : a->recipient;
        if (addr == NULL)
            return SMTPD_CHECK_DUNNO;
        if (*addr == '\0') {
            key_add(&kl, ck->null_key, strlen(ck->null_key));
            break;
        }
        key_add(&kl, addr, strlen(addr));
        const char *at = strrchr(addr, '@');
        if (at) {
            key_add_domains(&kl, at + 1);
            key_add(&kl, addr, (size_t)(at - addr) + 1);
        }
        break;
    }
    case CLASS_DATA: return SMTPD_CHECK_DUNNO;
    }
    smtpd_check_result st = access_lookup(ck, spec, (const char *const *)kl.keys, kl.n, cls, a,
                                          reply, depth);
    key_free(&kl);
    return st;
}

/* ---- restriction lists ---- */

/* Restrictions Postern knows but cannot do yet (DNS, policy servers): skipped with a warning.
 * args: how many following words belong to the restriction. */
static const struct {
    const char *name;
    int args;
} skipped_restrictions[] = {
    {"check_client_a_access", 1},
    {"check_client_mx_access", 1},
    {"check_client_ns_access", 1},
    {"check_helo_a_access", 1},
    {"check_helo_mx_access", 1},
    {"check_helo_ns_access", 1},
    {"check_policy_service", 1},
    {"check_recipient_a_access", 1},
    {"check_recipient_mx_access", 1},
    {"check_recipient_ns_access", 1},
    {"check_sender_a_access", 1},
    {"check_sender_mx_access", 1},
    {"check_sender_ns_access", 1},
    {"reject_multi_recipient_bounce", 0},
    {"reject_rbl_client", 1},
    {"reject_rhsbl_client", 1},
    {"reject_rhsbl_helo", 1},
    {"reject_rhsbl_recipient", 1},
    {"reject_rhsbl_reverse_client", 1},
    {"reject_rhsbl_sender", 1},
    {"reject_unauth_pipelining", 0},
    {"reject_unknown_client_hostname", 0},
    {"reject_unknown_helo_hostname", 0},
    {"reject_unknown_recipient_domain", 0},
    {"reject_unknown_reverse_client_hostname", 0},
    {"reject_unknown_sender_domain", 0},
    {"reject_unverified_recipient", 0},
    {"reject_unverified_sender", 0},
};

#define MAX_WORDS 256

/* Splits a restriction list at commas and white space (a "{ ... }" stays one word). */
static size_t split_words(const char *value, char **words, size_t max)
{
    size_t n = 0;
    const char *p = value;
    while (*p && n < max) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (!*p)
            break;
        const char *start = p;
        int braces = 0;
        while (*p && (braces > 0 || !(isspace((unsigned char)*p) || *p == ','))) {
            if (*p == '{')
                braces++;
            else if (*p == '}' && braces > 0)
                braces--;
            p++;
        }
        words[n++] = xstrndup(start, (size_t)(p - start));
    }
    return n;
}

static smtpd_check_result eval_word(smtpd_checker *ck, char **words, size_t nwords, size_t *i,
                                    check_class list_cls, const smtpd_check_args *a,
                                    strbuf *reply, int depth)
{
    const char *w = words[*i];
    if (strcasecmp(w, "permit") == 0)
        return SMTPD_CHECK_OK;
    if (strcasecmp(w, "reject") == 0)
        return reject_with(reply, ck->reject_code, "5.7.1", list_cls, a, "Access denied");
    if (strcasecmp(w, "defer") == 0)
        return reject_with(reply, ck->defer_code, "4.7.1", list_cls, a, "Try again later");
    if (strcasecmp(w, "permit_mynetworks") == 0) {
        int m = a->client_addr ? net_list_match(ck->mynetworks, a->client_addr) : 0;
        if (m < 0)
            return lookup_failure(reply, a->client_addr);
        return m == 1 ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
    }
    if (strcasecmp(w, "permit_sasl_authenticated") == 0)
        return SMTPD_CHECK_DUNNO;
    if (strcasecmp(w, "reject_unauth_destination") == 0)
        return check_unauth_destination(ck, a, ck->relay_code, reply, 0);
    if (strcasecmp(w, "defer_unauth_destination") == 0)
        return check_unauth_destination(ck, a, 454, reply, 0);
    if (strcasecmp(w, "permit_auth_destination") == 0)
        return check_unauth_destination(ck, a, 0, reply, 1);
    if (strcasecmp(w, "reject_unlisted_recipient") == 0 ||
        strcasecmp(w, "check_recipient_maps") == 0)
        return check_unlisted(ck, a, CLASS_RECIPIENT, reply);
    if (strcasecmp(w, "reject_unlisted_sender") == 0)
        return check_unlisted(ck, a, CLASS_SENDER, reply);
    if (strcasecmp(w, "reject_non_fqdn_sender") == 0)
        return check_non_fqdn(ck, a, CLASS_SENDER, reply);
    if (strcasecmp(w, "reject_non_fqdn_recipient") == 0)
        return check_non_fqdn(ck, a, CLASS_RECIPIENT, reply);
    if (strcasecmp(w, "reject_non_fqdn_helo_hostname") == 0 ||
        strcasecmp(w, "reject_non_fqdn_hostname") == 0) {
        if (a->helo == NULL || a->helo[0] == '[' || mail_addr_domain_is_fqdn(a->helo))
            return SMTPD_CHECK_DUNNO;
        return reject_with(reply, ck->non_fqdn_code, "5.5.2", CLASS_HELO, a,
                           "need fully-qualified hostname");
    }
    if (strcasecmp(w, "reject_invalid_helo_hostname") == 0 ||
        strcasecmp(w, "reject_invalid_hostname") == 0) {
        if (a->helo == NULL || smtpd_helo_is_valid(a->helo))
            return SMTPD_CHECK_DUNNO;
        return reject_with(reply, ck->invalid_helo_code, "5.5.2", CLASS_HELO, a, "Invalid name");
    }
    static const struct {
        const char *name;
        check_class cls;
    } access_checks[] = {
        {"check_client_access", CLASS_CLIENT},
        {"check_helo_access", CLASS_HELO},
        {"check_sender_access", CLASS_SENDER},
        {"check_recipient_access", CLASS_RECIPIENT},
    };
    for (size_t k = 0; k < sizeof(access_checks) / sizeof(access_checks[0]); k++) {
        if (strcasecmp(w, access_checks[k].name) != 0)
            continue;
        if (*i + 1 >= nwords) {
            log_warning("restriction %s needs a type:table argument", w);
            return config_error(reply);
        }
        *i += 1;
        return check_access(ck, words[*i], access_checks[k].cls, a, reply, depth);
    }
    for (size_t k = 0; k < sizeof(skipped_restrictions) / sizeof(skipped_restrictions[0]); k++) {
        if (strcasecmp(w, skipped_restrictions[k].name) != 0)
            continue;
        warn_once(ck, "restriction %s is not supported by Postern yet; ignored", w);
        *i += (size_t)skipped_restrictions[k].args;
        return SMTPD_CHECK_DUNNO;
    }
    log_warning("unknown smtpd restriction: \"%s\"", w);
    return config_error(reply);
}

static smtpd_check_result eval_list(smtpd_checker *ck, const char *value, check_class list_cls,
                                    const smtpd_check_args *a, strbuf *reply, int depth)
{
    if (depth > CHECK_MAX_DEPTH) {
        log_warning("restriction lists nest deeper than %d levels", CHECK_MAX_DEPTH);
        return config_error(reply);
    }
    char *words[MAX_WORDS];
    size_t n = split_words(value, words, MAX_WORDS);
    smtpd_check_result st = SMTPD_CHECK_DUNNO;
    int warn_only = 0;
    for (size_t i = 0; i < n && st == SMTPD_CHECK_DUNNO; i++) {
        if (strcasecmp(words[i], "warn_if_reject") == 0) {
            warn_only = 1;
            continue;
        }
        st = eval_word(ck, words, n, &i, list_cls, a, reply, depth);
        if (warn_only && st == SMTPD_CHECK_REJECT) {
            log_info("reject_warning: %s[%s]: %s", a->client_name ? a->client_name : "unknown",
                     a->client_addr ? a->client_addr : "", reply->data);
            st = SMTPD_CHECK_DUNNO;
        }
        warn_only = 0;
    }
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    return st;
}

static smtpd_check_result eval_param(smtpd_checker *ck, const char *param, check_class cls,
                                     const smtpd_check_args *a, strbuf *reply)
{
    smtpd_check_result st = eval_list(ck, cfg_str(param), cls, a, reply, 0);
    return st;
}

smtpd_check_result smtpd_check_client(smtpd_checker *ck, const smtpd_check_args *a,
                                      strbuf *reply)
{
    return eval_param(ck, "smtpd_client_restrictions", CLASS_CLIENT, a, reply);
}

smtpd_check_result smtpd_check_helo(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply)
{
    if (!ck->delay_reject &&
        smtpd_check_client(ck, a, reply) == SMTPD_CHECK_REJECT)
        return SMTPD_CHECK_REJECT;
    return eval_param(ck, "smtpd_helo_restrictions", CLASS_HELO, a, reply);
}

/* The sender stage on its own (without client and helo). */
static smtpd_check_result sender_stage(smtpd_checker *ck, const smtpd_check_args *a,
                                       strbuf *reply)
{
    smtpd_check_result st = eval_param(ck, "smtpd_sender_restrictions", CLASS_SENDER, a, reply);
    if (st == SMTPD_CHECK_REJECT)
        return st;
    if (ck->reject_unlisted_sender &&
        check_unlisted(ck, a, CLASS_SENDER, reply) == SMTPD_CHECK_REJECT)
        return SMTPD_CHECK_REJECT;
    return st;
}

smtpd_check_result smtpd_check_sender(smtpd_checker *ck, const smtpd_check_args *a,
                                      strbuf *reply)
{
    if (ck->delay_reject)
        return SMTPD_CHECK_DUNNO; /* done at RCPT time */
    if (smtpd_check_client(ck, a, reply) == SMTPD_CHECK_REJECT ||
        eval_param(ck, "smtpd_helo_restrictions", CLASS_HELO, a, reply) == SMTPD_CHECK_REJECT)
        return SMTPD_CHECK_REJECT;
    return sender_stage(ck, a, reply);
}

smtpd_check_result smtpd_check_rcpt(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply)
{
    if (ck->delay_reject) {
        if (smtpd_check_client(ck, a, reply) == SMTPD_CHECK_REJECT ||
            eval_param(ck, "smtpd_helo_restrictions", CLASS_HELO, a, reply) ==
                SMTPD_CHECK_REJECT ||
            sender_stage(ck, a, reply) == SMTPD_CHECK_REJECT)
            return SMTPD_CHECK_REJECT;
    }
    const char *relay = cfg_str("smtpd_relay_restrictions");
    const char *rcpt = cfg_str("smtpd_recipient_restrictions");
    if (*relay == '\0' && *rcpt == '\0') {
        warn_once(ck, "%s", "smtpd_relay_restrictions and smtpd_recipient_restrictions are both "
                            "empty: refusing all mail");
        return config_error(reply);
    }
    smtpd_check_result st = eval_list(ck, relay, CLASS_RECIPIENT, a, reply, 0);
    if (st == SMTPD_CHECK_REJECT)
        return st;
    st = eval_list(ck, rcpt, CLASS_RECIPIENT, a, reply, 0);
    if (st == SMTPD_CHECK_REJECT)
        return st;
    if (ck->reject_unlisted_recipient &&
        check_unlisted(ck, a, CLASS_RECIPIENT, reply) == SMTPD_CHECK_REJECT)
        return SMTPD_CHECK_REJECT;
    return st;
}

smtpd_check_result smtpd_check_data(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply)
{
    return eval_param(ck, "smtpd_data_restrictions", CLASS_DATA, a, reply);
}

smtpd_check_result smtpd_check_vrfy(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply)
{
    return check_unlisted(ck, a, CLASS_RECIPIENT, reply);
}

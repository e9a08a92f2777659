/*
 * smtpd_check.c: smtpd_*_restrictions evaluation (see smtpd_check.h): the lists compiled at
 * load (smtpd_restrict.c), walked by a per-session cursor that can stop at a restriction that
 * waits (smtpd_async.h) and go on from there when the answer is in.
 */
#include "smtpd/smtpd_check.h"
#include "global/mail_addr.h"
#include "global/resolve.h"
#include "lib/config.h"
#include "lib/dns.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/word_list.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "maps/match_list.h"
#include "smtpd/smtpd_async.h"
#include "smtpd/smtpd_proto_parse.h"
#include "smtpd/smtpd_restrict.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Nested lists under way at once: restriction classes (RESTRICT_MAX_DEPTH) and access-table
 * results that name restrictions. */
#define CHECK_MAX_FRAMES (RESTRICT_MAX_DEPTH + 8)

/* The restriction parameters, compiled once. */
enum { LIST_CLIENT, LIST_HELO, LIST_SENDER, LIST_RELAY, LIST_RECIPIENT, LIST_DATA, LIST_COUNT };

static const struct {
    const char *param;
    smtpd_check_class cls;
} list_params[LIST_COUNT] = {
    {"smtpd_client_restrictions", SMTPD_CLASS_CLIENT},
    {"smtpd_helo_restrictions", SMTPD_CLASS_HELO},
    {"smtpd_sender_restrictions", SMTPD_CLASS_SENDER},
    {"smtpd_relay_restrictions", SMTPD_CLASS_RECIPIENT},
    {"smtpd_recipient_restrictions", SMTPD_CLASS_RECIPIENT},
    {"smtpd_data_restrictions", SMTPD_CLASS_DATA},
};

/* Stages after the lists: the implicit checks of smtpd_reject_unlisted_{sender,recipient}
 * and VRFY's own. */
enum { STAGE_UNLISTED_SENDER = LIST_COUNT, STAGE_UNLISTED_RECIPIENT, STAGE_VRFY, STAGE_END };

struct smtpd_checker {
    resolver *resolver;
    match_list *mynetworks;
    restrict_set set;
    restriction_list *lists[LIST_COUNT];
    int delay_reject;
    int reject_unlisted_recipient;
    int reject_unlisted_sender;
    int access_reject_code, access_defer_code, reject_code, defer_code, relay_code;
    int non_fqdn_code, invalid_helo_code;
    int unknown_local_code, unknown_virtual_mailbox_code, unknown_virtual_alias_code;
    char *null_key;
    smtpd_async_env *env;
    map_list *sender_login_maps; /* smtpd_sender_login_maps, NULL when unset */
    map_list *relay_clientcerts; /* relay_clientcerts, NULL when unset */
};

typedef struct check_frame {
    const restriction_list *list;
    restriction_list *owned; /* an access-table result compiled at lookup time */
    size_t i;
    smtpd_check_class cls;
    int warn; /* under a warn_if_reject */
} check_frame;

enum { ENTRY_NONE, ENTRY_HELO, ENTRY_MAIL, ENTRY_RCPT, ENTRY_DATA, ENTRY_VRFY };

struct smtpd_check {
    smtpd_checker *ck;
    int entry; /* the check under way, ENTRY_NONE between checks */
    int stages[STAGE_END]; /* an entry runs each stage at most once */
    size_t nstages, stage;
    check_frame frames[CHECK_MAX_FRAMES];
    size_t depth;
    smtpd_wait wait;
};

/* Internal result: the restriction pushed a nested list; go on inside it. */
#define CHECK_PUSHED 50

static int code_param(config *cfg, const char *name, int fallback)
{
    long v = config_get_int(cfg, name);
    return v >= 400 && v <= 599 ? (int)v : fallback;
}

/* "FILE, line N: " for a parameter set in main.cf, else nothing (a -o override or default). */
static void where_prefix(config *cfg, const char *param, strbuf *out)
{
    int line = config_line(cfg, param);
    if (line > 0)
        strbuf_printf(out, "%s, line %d: ", config_main_cf(cfg), line);
}

/* Text settings the server sends or uses whole: too long is a configuration error, never a cut
 * value. The greeting "220 <smtpd_banner>" must fit RFC 5321's 512-octet reply line
 * (4.5.3.1.5); host and domain names are at most DNS_NAME_MAX bytes (as Postfix's
 * valid_hostname()). */
static int text_settings_valid(config *cfg, strbuf *err)
{
    static const struct {
        const char *param;
        size_t max;
    } limits[] = {
        {"smtpd_banner", SMTPD_BANNER_MAX},
        {"myhostname", DNS_NAME_MAX},
        {"smtpd_sasl_local_domain", DNS_NAME_MAX},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (strlen(config_get(cfg, limits[i].param)) <= limits[i].max)
            continue;
        where_prefix(cfg, limits[i].param, err);
        strbuf_printf(err, "parameter %s: value longer than %zu bytes", limits[i].param,
                      limits[i].max);
        return -1;
    }
    return 0;
}

/* One restriction list: its value expanded strictly (a list that names a parameter nobody
 * defined would silently lose the restrictions meant to be there) and compiled. */
static restriction_list *compile_param(smtpd_checker *ck, config *cfg, const char *param,
                                       strbuf *why)
{
    strbuf value;
    strbuf_init(&value, 0);
    restriction_list *list = NULL;
    if (config_expand_strict(cfg, config_get_raw(cfg, param), &value, why) == 0)
        list = restriction_list_compile(&ck->set, param, value.data, why);
    strbuf_free(&value);
    return list;
}

static int compile_lists(smtpd_checker *ck, config *cfg, strbuf *err)
{
    if (text_settings_valid(cfg, err) < 0)
        return -1;
    strbuf why;
    strbuf_init(&why, 0);
    if (restrict_set_init(&ck->set, cfg, config_get(cfg, "smtpd_restriction_classes"), ck->env,
                          &why) < 0) {
        where_prefix(cfg, "smtpd_restriction_classes", err);
        strbuf_append_str(err, why.data);
        strbuf_free(&why);
        return -1;
    }
    for (int i = 0; i < LIST_COUNT; i++) {
        strbuf_reset(&why);
        ck->lists[i] = compile_param(ck, cfg, list_params[i].param, &why);
        if (ck->lists[i] == NULL) {
            where_prefix(cfg, list_params[i].param, err);
            strbuf_printf(err, "%s: %s", list_params[i].param, why.data);
            strbuf_free(&why);
            return -1;
        }
    }
    strbuf_free(&why);
    if (ck->lists[LIST_RELAY]->n == 0 && ck->lists[LIST_RECIPIENT]->n == 0) {
        where_prefix(cfg, "smtpd_relay_restrictions", err);
        strbuf_append_str(err, "smtpd_relay_restrictions and smtpd_recipient_restrictions are "
                               "both empty: at least one of them must restrict relaying");
        return -1;
    }
    return 0;
}

static void read_settings(smtpd_checker *ck, config *cfg)
{
    ck->delay_reject = config_get_bool(cfg, "smtpd_delay_reject");
    ck->reject_unlisted_recipient = config_get_bool(cfg, "smtpd_reject_unlisted_recipient");
    ck->reject_unlisted_sender = config_get_bool(cfg, "smtpd_reject_unlisted_sender");
    ck->access_reject_code = code_param(cfg, "access_map_reject_code", 554);
    ck->access_defer_code = code_param(cfg, "access_map_defer_code", 450);
    ck->reject_code = code_param(cfg, "reject_code", 554);
    ck->defer_code = code_param(cfg, "defer_code", 450);
    ck->relay_code = code_param(cfg, "relay_domains_reject_code", 554);
    ck->non_fqdn_code = code_param(cfg, "non_fqdn_reject_code", 504);
    ck->invalid_helo_code = code_param(cfg, "invalid_hostname_reject_code", 501);
    ck->unknown_local_code = code_param(cfg, "unknown_local_recipient_reject_code", 550);
    ck->unknown_virtual_mailbox_code =
        code_param(cfg, "unknown_virtual_mailbox_reject_code", 550);
    ck->unknown_virtual_alias_code = code_param(cfg, "unknown_virtual_alias_reject_code", 550);
    ck->null_key = xstrdup(config_get(cfg, "smtpd_null_access_lookup_key"));
}

/* Opens the tables the parameter name lists; an empty value leaves *out NULL. -1 with
 * "name: reason" in err. */
static int open_optional_maps(config *cfg, const char *name, map_list **out, strbuf *err)
{
    const char *value = config_get(cfg, name);
    if (*value == '\0')
        return 0;
    strbuf why;
    strbuf_init(&why, 0);
    *out = map_list_open(value, &why);
    if (*out == NULL)
        strbuf_printf(err, "%s: %s", name, why.data);
    strbuf_free(&why);
    return *out ? 0 : -1;
}

smtpd_checker *smtpd_checker_open(smtpd_async_env *env, strbuf *err)
{
    smtpd_checker *ck = xcalloc(1, sizeof(*ck));
    ck->env = env;
    config *cfg = config_current();
    read_settings(ck, cfg);
    if (compile_lists(ck, cfg, err) < 0) {
        smtpd_checker_close(ck);
        return NULL;
    }
    strbuf why;
    strbuf_init(&why, 0);
    ck->resolver = resolver_open(&why);
    if (ck->resolver != NULL)
        ck->mynetworks = net_list_open(config_get(cfg, "mynetworks"), &why);
    if (ck->resolver == NULL || ck->mynetworks == NULL) {
        strbuf_append_str(err, why.data);
        strbuf_free(&why);
        smtpd_checker_close(ck);
        return NULL;
    }
    if (open_optional_maps(cfg, "smtpd_sender_login_maps", &ck->sender_login_maps, err) < 0 ||
        open_optional_maps(cfg, "relay_clientcerts", &ck->relay_clientcerts, err) < 0) {
        strbuf_free(&why);
        smtpd_checker_close(ck);
        return NULL;
    }
    strbuf_free(&why);
    return ck;
}

void smtpd_checker_close(smtpd_checker *ck)
{
    if (ck == NULL)
        return;
    if (ck->resolver)
        resolver_close(ck->resolver);
    match_list_close(ck->mynetworks);
    for (int i = 0; i < LIST_COUNT; i++)
        restriction_list_free(ck->lists[i]);
    restrict_set_free(&ck->set);
    map_list_close(ck->sender_login_maps);
    map_list_close(ck->relay_clientcerts);
    free(ck->null_key);
    free(ck);
}

int smtpd_checker_validate(config *cfg, strbuf *err)
{
    smtpd_checker *ck = xcalloc(1, sizeof(*ck));
    read_settings(ck, cfg);
    int rc = compile_lists(ck, cfg, err);
    smtpd_checker_close(ck);
    return rc;
}

int smtpd_check_mynetworks(smtpd_checker *ck, const char *addr)
{
    return net_list_match(ck->mynetworks, addr) == 1;
}

/* ---- replies ---- */

/* "<name>: Xxx rejected" for a class, with the name in its external form. */
static void reply_subject(int cls, const smtpd_check_args *a, strbuf *out)
{
    char quoted[SMTPD_QUOTED_MAX];
    switch (cls) {
    case SMTPD_CLASS_CLIENT:
        strbuf_printf(out, "<%s[%s]>: Client host rejected", a->client_name, a->client_addr);
        break;
    case SMTPD_CLASS_HELO:
        strbuf_printf(out, "<%s>: Helo command rejected", a->helo ? a->helo : "");
        break;
    case SMTPD_CLASS_SENDER:
        smtpd_quote_address(a->sender ? a->sender : "", quoted, sizeof(quoted));
        strbuf_printf(out, "<%s>: Sender address rejected", quoted);
        break;
    case SMTPD_CLASS_RECIPIENT:
        smtpd_quote_address(a->recipient ? a->recipient : "", quoted, sizeof(quoted));
        strbuf_printf(out, "<%s>: Recipient address rejected", quoted);
        break;
    case SMTPD_CLASS_DATA: strbuf_append_str(out, "<DATA>: Data command rejected"); break;
    }
}

/* Text may begin with its own "x.y.z " status; otherwise dsn is used, its class digit made
 * to agree with the reply code. */
static smtpd_check_result reject_with(strbuf *reply, int code, const char *dsn, int cls,
                                      const smtpd_check_args *a, const char *text)
{
    char detail[16]; /* RFC 3463: at most "d.ddd.ddd"; a longer run of digits and dots is text */
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
    char quoted[SMTPD_QUOTED_MAX];
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
    char quoted[SMTPD_QUOTED_MAX];
    smtpd_quote_address(a->recipient, quoted, sizeof(quoted));
    strbuf_reset(reply);
    strbuf_printf(reply, "%d %c.7.1 <%s>: Relay access denied", code, '0' + code / 100, quoted);
    return SMTPD_CHECK_REJECT;
}

/* Unknown local/virtual users: reject_unlisted_recipient and reject_unlisted_sender. */
static smtpd_check_result check_unlisted(smtpd_checker *ck, const smtpd_check_args *a,
                                         int cls, strbuf *reply)
{
    const char *addr = cls == SMTPD_CLASS_SENDER ? a->sender : a->recipient;
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
    const char *text;
    switch (res.cls) {
    case ADDR_CLASS_LOCAL:
        code = ck->unknown_local_code;
        text = "User unknown in local recipient table";
        break;
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        code = ck->unknown_virtual_mailbox_code;
        text = "User unknown in virtual mailbox table";
        break;
    case ADDR_CLASS_VIRTUAL_ALIAS:
        code = ck->unknown_virtual_alias_code;
        text = "User unknown in virtual alias table";
        break;
    default:
        code = 550;
        text = "User unknown in relay recipient table";
        break;
    }
    return reject_with(reply, code, cls == SMTPD_CLASS_SENDER ? "5.1.0" : "5.1.1", cls, a, text);
}

static smtpd_check_result check_non_fqdn(smtpd_checker *ck, const smtpd_check_args *a,
                                         int cls, strbuf *reply)
{
    const char *addr = cls == SMTPD_CLASS_SENDER ? a->sender : a->recipient;
    if (addr == NULL || *addr == '\0')
        return SMTPD_CHECK_DUNNO;
    const char *at = strrchr(addr, '@');
    if (at && mail_addr_domain_is_fqdn(at + 1))
        return SMTPD_CHECK_DUNNO;
    return reject_with(reply, ck->non_fqdn_code, "5.5.2", cls, a, "need fully-qualified address");
}

smtpd_check_result smtpd_check_reply(strbuf *reply, int code, const char *dsn, int cls,
                                     const smtpd_check_args *a, const char *text)
{
    return reject_with(reply, code, dsn, cls, a, text);
}

smtpd_check_result smtpd_check_lookup_failure(strbuf *reply, const char *what)
{
    return lookup_failure(reply, what);
}

/* ---- access tables ---- */

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Pushes a nested list; CHECK_PUSHED, or a configuration error when nesting runs too deep. */
static int push_list(smtpd_check *c, const restriction_list *list, restriction_list *owned,
                     int cls, int warn, strbuf *reply)
{
    if (c->depth >= CHECK_MAX_FRAMES) {
        log_warning("restriction lists nest deeper than %d levels", CHECK_MAX_FRAMES);
        restriction_list_free(owned);
        return config_error(reply);
    }
    check_frame *f = &c->frames[c->depth++];
    f->list = list;
    f->owned = owned;
    f->i = 0;
    f->cls = (smtpd_check_class)cls;
    f->warn = warn;
    return CHECK_PUSHED;
}

/* Applies one access(5) result (a table's, or a policy service's action). */
static int access_action(smtpd_check *c, const char *value, int cls, int warn,
                         const smtpd_check_args *a, strbuf *reply)
{
    smtpd_checker *ck = c->ck;
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
            /* Fail closed: an action Postern cannot carry out defers the mail. */
            log_warning("access action %.*s is not implemented by Postern; deferring", (int)n, v);
            return config_error(reply);
        }
    /* Anything else is a restriction list, compiled now. */
    strbuf err;
    strbuf_init(&err, 0);
    restriction_list *list = restriction_list_compile(&ck->set, "", v, &err);
    if (list == NULL) {
        log_warning("access table result \"%s\": %s", v, err.data);
        strbuf_free(&err);
        return config_error(reply);
    }
    strbuf_free(&err);
    return push_list(c, list, list, cls, warn, reply);
}

/* Looks up each key in turn; the first found decides. */
static int access_lookup(smtpd_check *c, const restriction *r, const char *const *keys,
                         size_t nkeys, int cls, int warn, const smtpd_check_args *a,
                         strbuf *reply)
{
    map *m = restrict_table_get(r->table, event_now_ms());
    if (m == NULL) {
        log_warning("%s: table lookup failed: %s", r->table->spec,
                    r->table->open_error ? r->table->open_error : "not open");
        return lookup_failure(reply, nkeys ? keys[0] : "");
    }
    strbuf result;
    strbuf_init(&result, 0);
    int st = SMTPD_CHECK_DUNNO;
    for (size_t i = 0; i < nkeys; i++) {
        int rc = map_lookup(m, keys[i], &result);
        if (rc < 0) {
            log_warning("%s: lookup of %s failed: %s", r->table->spec, keys[i], result.data);
            st = lookup_failure(reply, keys[i]);
            break;
        }
        if (rc == 1) {
            st = access_action(c, result.data, cls, warn, a, reply);
            break;
        }
    }
    strbuf_free(&result);
    return st;
}

/* Lookup keys, as many as the name has parts. */
typedef struct key_list {
    char **keys;
    size_t n, cap;
} key_list;

static void key_add(key_list *kl, const char *key, size_t len)
{
    if (kl->n == kl->cap) {
        kl->cap = kl->cap ? kl->cap * 2 : 16;
        kl->keys = xrealloc(kl->keys, kl->cap * sizeof(*kl->keys));
    }
    kl->keys[kl->n++] = xstrndup(key, len);
}

static void key_free(key_list *kl)
{
    for (size_t i = 0; i < kl->n; i++)
        free(kl->keys[i]);
    free(kl->keys);
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

/* The client address and its networks: 192.0.2.1, 192.0.2, 192.0, 192 (or IPv6 by ':'). */
static void key_add_address(key_list *kl, const char *addr)
{
    size_t len = strlen(addr);
    char sep = strchr(addr, ':') ? ':' : '.';
    while (len > 0) {
        key_add(kl, addr, len);
        while (len > 0 && addr[len - 1] != sep)
            len--;
        if (len == 0)
            break;
        len--; /* drop the separator */
    }
}

static int check_access(smtpd_check *c, const restriction *r, int cls, int warn,
                        const smtpd_check_args *a, strbuf *reply)
{
    key_list kl = {0};
    switch (cls) {
    case SMTPD_CLASS_CLIENT:
        if (a->client_name && strcmp(a->client_name, "unknown") != 0)
            key_add_domains(&kl, a->client_name);
        key_add_address(&kl, a->client_addr ? a->client_addr : "");
        break;
    case SMTPD_CLASS_HELO:
        if (a->helo == NULL)
            return SMTPD_CHECK_DUNNO;
        key_add_domains(&kl, a->helo);
        break;
    case SMTPD_CLASS_SENDER:
    case SMTPD_CLASS_RECIPIENT: {
        const char *addr = cls == SMTPD_CLASS_SENDER ? a->sender : a->recipient;
        if (addr == NULL)
            return SMTPD_CHECK_DUNNO;
        if (*addr == '\0') {
            key_add(&kl, c->ck->null_key, strlen(c->ck->null_key));
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
    default: return SMTPD_CHECK_DUNNO;
    }
    int st = access_lookup(c, r, (const char *const *)kl.keys, kl.n, cls, warn, a, reply);
    key_free(&kl);
    return st;
}

/* ---- SASL restrictions ---- */

/* reject_{,authenticated_,known_,unauthenticated_}sender_login_mismatch, as Postfix: the
 * sender's owners come from smtpd_sender_login_maps (keys: the address, then "@domain").
 * Authenticated clients must own the sender (known_: only when the map lists it);
 * unauthenticated clients may not use a sender the map lists. */
static int check_login_mismatch(smtpd_checker *ck, const smtpd_check_args *a, restriction_op op,
                                strbuf *reply)
{
    int auth_part = op != RESTRICT_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH;
    int unauth_part = op != RESTRICT_REJECT_AUTH_SENDER_LOGIN_MISMATCH;
    int known_only = op == RESTRICT_REJECT_KNOWN_SENDER_LOGIN_MISMATCH;
    if (a->sender == NULL || a->sender[0] == '\0' || ck->sender_login_maps == NULL)
        return SMTPD_CHECK_DUNNO;
    strbuf owners;
    strbuf_init(&owners, 0);
    int rc = map_list_lookup(ck->sender_login_maps, a->sender, &owners);
    const char *at = strrchr(a->sender, '@');
    if (rc == 0 && at)
        rc = map_list_lookup(ck->sender_login_maps, at, &owners);
    int st = SMTPD_CHECK_DUNNO;
    if (rc < 0) {
        st = lookup_failure(reply, a->sender);
    } else if (a->sasl_username && auth_part && !(known_only && rc == 0) &&
               (rc == 0 || !word_list_has(owners.data, a->sasl_username, WORD_LIST_FOLD_CASE))) {
        strbuf text;
        strbuf_init(&text, 0);
        strbuf_printf(&text, "not owned by user %s", a->sasl_username);
        st = reject_with(reply, 553, "5.7.1", SMTPD_CLASS_SENDER, a, text.data);
        strbuf_free(&text);
    } else if (a->sasl_username == NULL && unauth_part && rc == 1) {
        st = reject_with(reply, 553, "5.7.1", SMTPD_CLASS_SENDER, a, "not logged in");
    }
    strbuf_free(&owners);
    return st;
}

/* check_sasl_access: the login name looked up in the table, as an access(5) result applied
 * like a client restriction. */
static int check_sasl_access(smtpd_check *c, const restriction *r, int warn,
                             const smtpd_check_args *a, strbuf *reply)
{
    if (a->sasl_username == NULL)
        return SMTPD_CHECK_DUNNO;
    const char *key = a->sasl_username;
    return access_lookup(c, r, &key, 1, SMTPD_CLASS_CLIENT, warn, a, reply);
}

/* permit_tls_clientcerts: a verified client certificate listed in relay_clientcerts. */
static int check_relay_clientcerts(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply)
{
    if (a->ccert_fingerprint == NULL || !a->ccert_verified || ck->relay_clientcerts == NULL)
        return SMTPD_CHECK_DUNNO;
    strbuf found;
    strbuf_init(&found, 0);
    int rc = map_list_lookup(ck->relay_clientcerts, a->ccert_fingerprint, &found);
    strbuf_free(&found);
    if (rc < 0)
        return lookup_failure(reply, a->ccert_fingerprint);
    return rc == 1 ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
}

/* ---- one restriction ---- */

static int access_class(restriction_op op)
{
    switch (op) {
    case RESTRICT_CHECK_CLIENT_ACCESS: return SMTPD_CLASS_CLIENT;
    case RESTRICT_CHECK_HELO_ACCESS: return SMTPD_CLASS_HELO;
    case RESTRICT_CHECK_SENDER_ACCESS: return SMTPD_CLASS_SENDER;
    default: return SMTPD_CLASS_RECIPIENT;
    }
}

/* A restriction that waits: start its request, or decide on the answer that came in. */
static int eval_async(smtpd_check *c, const restriction *r, int cls, int warn,
                      const smtpd_check_args *a, strbuf *reply)
{
    smtpd_wait *w = &c->wait;
    if (c->ck->env == NULL || c->ck->env->loop == NULL) {
        log_warning("restriction %s cannot wait in this mode", r->name);
        return config_error(reply);
    }
    if (!(w->done && w->r == r)) {
        if (w->running)
            return SMTPD_CHECK_WAIT;
        if (!smtpd_wait_start(w, r, a))
            return SMTPD_CHECK_WAIT;
    }
    int st = r->kind->decide(w, a, cls, reply);
    if (st == SMTPD_CHECK_ACTION) {
        char *action = xstrdup(w->answer.data);
        smtpd_wait_reset(w);
        st = access_action(c, action, cls, warn, a, reply);
        free(action);
        return st;
    }
    smtpd_wait_reset(w);
    return st;
}

static int eval_one(smtpd_check *c, const restriction *r, int cls, int warn,
                    const smtpd_check_args *a, strbuf *reply)
{
    smtpd_checker *ck = c->ck;
    switch (r->op) {
    case RESTRICT_PERMIT: return SMTPD_CHECK_OK;
    case RESTRICT_REJECT:
        return reject_with(reply, ck->reject_code, "5.7.1", cls, a, "Access denied");
    case RESTRICT_DEFER:
        return reject_with(reply, ck->defer_code, "4.7.1", cls, a, "Try again later");
    case RESTRICT_PERMIT_MYNETWORKS: {
        int m = a->client_addr ? net_list_match(ck->mynetworks, a->client_addr) : 0;
        if (m < 0)
            return lookup_failure(reply, a->client_addr);
        return m == 1 ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
    }
    case RESTRICT_PERMIT_SASL_AUTHENTICATED:
        return a->sasl_username ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
    case RESTRICT_CHECK_SASL_ACCESS: return check_sasl_access(c, r, warn, a, reply);
    case RESTRICT_CHECK_CCERT_ACCESS: {
        if (a->ccert_fingerprint == NULL)
            return SMTPD_CHECK_DUNNO;
        const char *key = a->ccert_fingerprint;
        return access_lookup(c, r, &key, 1, SMTPD_CLASS_CLIENT, warn, a, reply);
    }
    case RESTRICT_PERMIT_TLS_CLIENTCERTS: return check_relay_clientcerts(ck, a, reply);
    case RESTRICT_PERMIT_TLS_ALL_CLIENTCERTS:
        return a->ccert_fingerprint && a->ccert_verified ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
    case RESTRICT_REJECT_SENDER_LOGIN_MISMATCH:
    case RESTRICT_REJECT_AUTH_SENDER_LOGIN_MISMATCH:
    case RESTRICT_REJECT_KNOWN_SENDER_LOGIN_MISMATCH:
    case RESTRICT_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH:
        return check_login_mismatch(ck, a, r->op, reply);
    case RESTRICT_REJECT_UNAUTH_DESTINATION:
        return check_unauth_destination(ck, a, ck->relay_code, reply, 0);
    case RESTRICT_DEFER_UNAUTH_DESTINATION:
        return check_unauth_destination(ck, a, 454, reply, 0);
    case RESTRICT_PERMIT_AUTH_DESTINATION:
        return check_unauth_destination(ck, a, 0, reply, 1);
    case RESTRICT_REJECT_UNLISTED_RECIPIENT:
        return check_unlisted(ck, a, SMTPD_CLASS_RECIPIENT, reply);
    case RESTRICT_REJECT_UNLISTED_SENDER: return check_unlisted(ck, a, SMTPD_CLASS_SENDER, reply);
    case RESTRICT_REJECT_NON_FQDN_SENDER: return check_non_fqdn(ck, a, SMTPD_CLASS_SENDER, reply);
    case RESTRICT_REJECT_NON_FQDN_RECIPIENT:
        return check_non_fqdn(ck, a, SMTPD_CLASS_RECIPIENT, reply);
    case RESTRICT_REJECT_NON_FQDN_HELO:
        if (a->helo == NULL || a->helo[0] == '[' || mail_addr_domain_is_fqdn(a->helo))
            return SMTPD_CHECK_DUNNO;
        return reject_with(reply, ck->non_fqdn_code, "5.5.2", SMTPD_CLASS_HELO, a,
                           "need fully-qualified hostname");
    case RESTRICT_REJECT_INVALID_HELO:
        if (a->helo == NULL || smtpd_helo_is_valid(a->helo))
            return SMTPD_CHECK_DUNNO;
        return reject_with(reply, ck->invalid_helo_code, "5.5.2", SMTPD_CLASS_HELO, a,
                           "Invalid name");
    case RESTRICT_REJECT_UNAUTH_PIPELINING:
        if (!a->early_input)
            return SMTPD_CHECK_DUNNO;
        return reject_with(reply, 503, "5.5.0", cls, a, "Improper use of SMTP command pipelining");
    case RESTRICT_CHECK_CLIENT_ACCESS:
    case RESTRICT_CHECK_HELO_ACCESS:
    case RESTRICT_CHECK_SENDER_ACCESS:
    case RESTRICT_CHECK_RECIPIENT_ACCESS:
        return check_access(c, r, access_class(r->op), warn, a, reply);
    case RESTRICT_CLASS: return push_list(c, r->sub, NULL, cls, warn, reply);
    case RESTRICT_ASYNC: return eval_async(c, r, cls, warn, a, reply);
    }
    return config_error(reply);
}

/* ---- the cursor ---- */

static void pop_frame(smtpd_check *c)
{
    check_frame *f = &c->frames[--c->depth];
    restriction_list_free(f->owned);
    memset(f, 0, sizeof(*f));
}

static void check_end(smtpd_check *c)
{
    while (c->depth > 0)
        pop_frame(c);
    smtpd_wait_reset(&c->wait);
    c->entry = ENTRY_NONE;
    c->nstages = c->stage = 0;
}

static void log_warn_reject(const smtpd_check_args *a, const strbuf *reply)
{
    log_info("reject_warning: %s[%s]: %s", a->client_name ? a->client_name : "unknown",
             a->client_addr ? a->client_addr : "", reply->data);
}

/* A stage that is not a list: the implicit unlisted checks. */
static int run_implicit(smtpd_check *c, int stage, const smtpd_check_args *a, strbuf *reply)
{
    smtpd_checker *ck = c->ck;
    if (stage == STAGE_UNLISTED_SENDER && ck->reject_unlisted_sender)
        return check_unlisted(ck, a, SMTPD_CLASS_SENDER, reply);
    if (stage == STAGE_UNLISTED_RECIPIENT && ck->reject_unlisted_recipient)
        return check_unlisted(ck, a, SMTPD_CLASS_RECIPIENT, reply);
    if (stage == STAGE_VRFY)
        return check_unlisted(ck, a, SMTPD_CLASS_RECIPIENT, reply);
    return SMTPD_CHECK_DUNNO;
}

/* Walks the stages from where the cursor is; returns REJECT, WAIT, or DUNNO at the end. */
static smtpd_check_result run(smtpd_check *c, const smtpd_check_args *a, strbuf *reply)
{
    for (;;) {
        if (c->depth == 0) {
            if (c->stage >= c->nstages) {
                check_end(c);
                return SMTPD_CHECK_DUNNO;
            }
            int stage = c->stages[c->stage];
            if (stage >= LIST_COUNT) {
                int st = run_implicit(c, stage, a, reply);
                c->stage++;
                if (st == SMTPD_CHECK_REJECT) {
                    check_end(c);
                    return SMTPD_CHECK_REJECT;
                }
                continue;
            }
            push_list(c, c->ck->lists[stage], NULL, list_params[stage].cls, 0, reply);
        }
        check_frame *f = &c->frames[c->depth - 1];
        if (f->i >= f->list->n) {
            pop_frame(c);
            if (c->depth == 0)
                c->stage++;
            continue;
        }
        const restriction *r = &f->list->items[f->i];
        int warn = f->warn || r->warn_if_reject;
        int st = eval_one(c, r, f->cls, warn, a, reply);
        if (st == SMTPD_CHECK_WAIT)
            return SMTPD_CHECK_WAIT;
        f->i++; /* f stays valid: frames live in a fixed array */
        if (st == CHECK_PUSHED)
            continue;
        if (st == SMTPD_CHECK_REJECT && warn) {
            log_warn_reject(a, reply);
            st = SMTPD_CHECK_DUNNO;
        }
        if (st == SMTPD_CHECK_OK) { /* permit: this stage is done */
            while (c->depth > 0)
                pop_frame(c);
            c->stage++;
        } else if (st == SMTPD_CHECK_REJECT) {
            check_end(c);
            return SMTPD_CHECK_REJECT;
        }
    }
}

smtpd_check *smtpd_check_new(smtpd_checker *ck, void (*wake)(void *ctx), void *ctx)
{
    if (ck == NULL)
        return NULL;
    smtpd_check *c = xcalloc(1, sizeof(*c));
    c->ck = ck;
    smtpd_wait_init(&c->wait, ck->env, wake, ctx);
    return c;
}

void smtpd_check_free(smtpd_check *c)
{
    if (c == NULL)
        return;
    check_end(c);
    smtpd_wait_free(&c->wait);
    free(c);
}

int smtpd_check_waiting(const smtpd_check *c)
{
    return c && c->wait.running;
}

static void add_stage(smtpd_check *c, int stage)
{
    if (c->nstages < sizeof(c->stages) / sizeof(c->stages[0]))
        c->stages[c->nstages++] = stage;
}

/* Starts the check named entry unless it is the one under way (then it goes on). */
static smtpd_check_result enter(smtpd_check *c, int entry, const smtpd_check_args *a,
                                strbuf *reply)
{
    if (c->entry == entry)
        return run(c, a, reply);
    check_end(c);
    c->entry = entry;
    int early = !c->ck->delay_reject;
    switch (entry) {
    case ENTRY_HELO:
        add_stage(c, LIST_CLIENT);
        add_stage(c, LIST_HELO);
        break;
    case ENTRY_MAIL:
    case ENTRY_RCPT:
        if ((entry == ENTRY_MAIL) == early) {
            add_stage(c, LIST_CLIENT);
            add_stage(c, LIST_HELO);
            add_stage(c, LIST_SENDER);
            add_stage(c, STAGE_UNLISTED_SENDER);
        }
        if (entry == ENTRY_RCPT) {
            add_stage(c, LIST_RELAY);
            add_stage(c, LIST_RECIPIENT);
            add_stage(c, STAGE_UNLISTED_RECIPIENT);
        }
        break;
    case ENTRY_DATA: add_stage(c, LIST_DATA); break;
    case ENTRY_VRFY: add_stage(c, STAGE_VRFY); break;
    }
    return run(c, a, reply);
}

smtpd_check_result smtpd_check_helo(smtpd_check *c, const smtpd_check_args *a, strbuf *reply)
{
    return enter(c, ENTRY_HELO, a, reply);
}

smtpd_check_result smtpd_check_sender(smtpd_check *c, const smtpd_check_args *a, strbuf *reply)
{
    return enter(c, ENTRY_MAIL, a, reply);
}

smtpd_check_result smtpd_check_rcpt(smtpd_check *c, const smtpd_check_args *a, strbuf *reply)
{
    return enter(c, ENTRY_RCPT, a, reply);
}

smtpd_check_result smtpd_check_data(smtpd_check *c, const smtpd_check_args *a, strbuf *reply)
{
    return enter(c, ENTRY_DATA, a, reply);
}

smtpd_check_result smtpd_check_vrfy(smtpd_check *c, const smtpd_check_args *a, strbuf *reply)
{
    return enter(c, ENTRY_VRFY, a, reply);
}

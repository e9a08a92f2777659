/*
 * smtpd_restrict.c: compiling restriction lists once per configuration load (see
 * smtpd_restrict.h).
 */
#include "smtpd/smtpd_restrict.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd_async.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Restrictions evaluated in line (smtpd_check.c). */
static const struct {
    const char *name;
    restriction_op op;
    int nargs;
} sync_names[] = {
    {"permit", RESTRICT_PERMIT, 0},
    {"reject", RESTRICT_REJECT, 0},
    {"defer", RESTRICT_DEFER, 0},
    {"permit_mynetworks", RESTRICT_PERMIT_MYNETWORKS, 0},
    {"permit_sasl_authenticated", RESTRICT_PERMIT_SASL_AUTHENTICATED, 0},
    {"reject_unauth_destination", RESTRICT_REJECT_UNAUTH_DESTINATION, 0},
    {"defer_unauth_destination", RESTRICT_DEFER_UNAUTH_DESTINATION, 0},
    {"permit_auth_destination", RESTRICT_PERMIT_AUTH_DESTINATION, 0},
    {"reject_unlisted_recipient", RESTRICT_REJECT_UNLISTED_RECIPIENT, 0},
    {"check_recipient_maps", RESTRICT_REJECT_UNLISTED_RECIPIENT, 0},
    {"reject_unlisted_sender", RESTRICT_REJECT_UNLISTED_SENDER, 0},
    {"reject_non_fqdn_sender", RESTRICT_REJECT_NON_FQDN_SENDER, 0},
    {"reject_non_fqdn_recipient", RESTRICT_REJECT_NON_FQDN_RECIPIENT, 0},
    {"reject_non_fqdn_helo_hostname", RESTRICT_REJECT_NON_FQDN_HELO, 0},
    {"reject_non_fqdn_hostname", RESTRICT_REJECT_NON_FQDN_HELO, 0},
    {"reject_invalid_helo_hostname", RESTRICT_REJECT_INVALID_HELO, 0},
    {"reject_invalid_hostname", RESTRICT_REJECT_INVALID_HELO, 0},
    {"reject_unauth_pipelining", RESTRICT_REJECT_UNAUTH_PIPELINING, 0},
    {"check_client_access", RESTRICT_CHECK_CLIENT_ACCESS, 1},
    {"check_helo_access", RESTRICT_CHECK_HELO_ACCESS, 1},
    {"check_sender_access", RESTRICT_CHECK_SENDER_ACCESS, 1},
    {"check_recipient_access", RESTRICT_CHECK_RECIPIENT_ACCESS, 1},
    {"check_sasl_access", RESTRICT_CHECK_SASL_ACCESS, 1},
    {"check_ccert_access", RESTRICT_CHECK_CCERT_ACCESS, 1},
    {"permit_tls_clientcerts", RESTRICT_PERMIT_TLS_CLIENTCERTS, 0},
    {"permit_tls_all_clientcerts", RESTRICT_PERMIT_TLS_ALL_CLIENTCERTS, 0},
    {"reject_sender_login_mismatch", RESTRICT_REJECT_SENDER_LOGIN_MISMATCH, 0},
    {"reject_authenticated_sender_login_mismatch", RESTRICT_REJECT_AUTH_SENDER_LOGIN_MISMATCH, 0},
    {"reject_known_sender_login_mismatch", RESTRICT_REJECT_KNOWN_SENDER_LOGIN_MISMATCH, 0},
    {"reject_unauthenticated_sender_login_mismatch", RESTRICT_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH,
     0},
};

/* Postfix restrictions Postern does not do (yet): refused at load, never skipped. */
static const char *const unimplemented_names[] = {
    "check_client_a_access",
    "check_client_mx_access",
    "check_client_ns_access",
    "check_etrn_access",
    "check_helo_a_access",
    "check_helo_mx_access",
    "check_helo_ns_access",
    "check_recipient_a_access",
    "check_recipient_mx_access",
    "check_recipient_ns_access",
    "check_relay_domains",
    "check_reverse_client_hostname_a_access",
    "check_reverse_client_hostname_access",
    "check_reverse_client_hostname_mx_access",
    "check_reverse_client_hostname_ns_access",
    "check_sender_a_access",
    "check_sender_mx_access",
    "check_sender_ns_access",
    "defer_if_permit",
    "defer_if_reject",
    "permit_dnswl_client",
    "permit_inet_interfaces",
    "permit_mx_backup",
    "permit_naked_ip_address",
    "permit_rhswl_client",
    "reject_maps_rbl",
    "reject_multi_recipient_bounce",
    "reject_plaintext_session",
    "reject_unknown_forward_client_hostname",
    "reject_unverified_recipient",
    "reject_unverified_sender",
    "sleep",
};

int restrict_set_init(restrict_set *set, config *cfg, const char *class_names_value,
                      void *async_env, strbuf *err)
{
    memset(set, 0, sizeof(*set));
    set->cfg = cfg;
    set->tables = strmap_new();
    set->classes = strmap_new();
    set->class_names = strmap_new();
    set->async_env = async_env;
    const char *p = class_names_value;
    while (*p) {
        p += strspn(p, " \t\r\n,");
        size_t n = strcspn(p, " \t\r\n,");
        if (n == 0)
            break;
        char *name = xstrndup(p, n);
        if (restriction_name_known(name)) {
            strbuf_printf(err, "smtpd_restriction_classes: \"%s\" is a restriction name", name);
            free(name);
            return -1;
        }
        strmap_put(set->class_names, name, NULL);
        free(name);
        p += n;
    }
    return 0;
}

static void free_table(void *v)
{
    restrict_table *t = v;
    if (t->m)
        map_close(t->m);
    free(t->spec);
    free(t->open_error);
    free(t);
}

static void free_class(void *v)
{
    restriction_list_free(v);
}

void restrict_set_free(restrict_set *set)
{
    if (set->classes)
        strmap_free(set->classes, free_class);
    if (set->tables)
        strmap_free(set->tables, free_table);
    if (set->class_names)
        strmap_free(set->class_names, NULL);
    memset(set, 0, sizeof(*set));
}

int restriction_name_known(const char *name)
{
    for (size_t i = 0; i < sizeof(sync_names) / sizeof(sync_names[0]); i++)
        if (strcasecmp(name, sync_names[i].name) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(unimplemented_names) / sizeof(unimplemented_names[0]); i++)
        if (strcasecmp(name, unimplemented_names[i]) == 0)
            return 1;
    for (size_t k = 0; smtpd_async_kinds[k]; k++)
        for (const smtpd_async_name *an = smtpd_async_kinds[k]->names; an->name; an++)
            if (strcasecmp(name, an->name) == 0)
                return 1;
    return strcasecmp(name, "warn_if_reject") == 0;
}

/* ---- tables ---- */

static restrict_table *table_open(restrict_set *set, const char *spec)
{
    restrict_table *t = strmap_get(set->tables, spec);
    if (t)
        return t;
    t = xcalloc(1, sizeof(*t));
    t->spec = xstrdup(spec);
    strbuf err;
    strbuf_init(&err, 0);
    t->m = map_open(spec, &err);
    if (t->m == NULL) {
        /* As Postfix: the restriction stays, its lookups fail temporarily (451 4.3.0). */
        t->open_error = strbuf_detach(&err);
        log_warning("%s: table open failed: %s", spec, t->open_error);
    }
    strbuf_free(&err);
    t->checked_ms = event_now_ms();
    strmap_put(set->tables, spec, t);
    return t;
}

map *restrict_table_get(restrict_table *t, long long now_ms)
{
    if (now_ms - t->checked_ms < 1000)
        return t->m;
    t->checked_ms = now_ms;
    if (t->m && !map_changed(t->m))
        return t->m;
    strbuf err;
    strbuf_init(&err, 0);
    map *fresh = map_open(t->spec, &err);
    if (fresh) {
        if (t->m)
            map_close(t->m);
        t->m = fresh;
        free(t->open_error);
        t->open_error = NULL;
        log_info("%s: table changed; reopened", t->spec);
    } else if (t->m == NULL) {
        free(t->open_error);
        t->open_error = strbuf_detach(&err);
    } else {
        log_warning("%s: table changed but cannot be reopened: %s; keeping the old one",
                    t->spec, err.data);
    }
    strbuf_free(&err);
    return t->m;
}

/* ---- words ---- */

typedef struct word_vec {
    char **w;
    size_t n, cap;
} word_vec;

static void words_free(word_vec *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->w[i]);
    free(v->w);
}

static int collect_word(const char *entry, void *ctx)
{
    word_vec *v = ctx;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->w = xrealloc(v->w, v->cap * sizeof(*v->w));
    }
    v->w[v->n++] = xstrdup(entry);
    return 0;
}

/* ---- compiling ---- */

static void list_push(restriction_list *l, size_t *cap, const restriction *r)
{
    if (l->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        l->items = xrealloc(l->items, *cap * sizeof(*l->items));
    }
    l->items[l->n++] = *r;
}

static restriction_list *compile_depth(restrict_set *set, const char *param, const char *value,
                                       int depth, strbuf *err);

static int find_async(const char *w, restriction *r, int *nargs)
{
    for (size_t k = 0; smtpd_async_kinds[k]; k++)
        for (const smtpd_async_name *an = smtpd_async_kinds[k]->names; an->name; an++)
            if (strcasecmp(w, an->name) == 0) {
                r->op = RESTRICT_ASYNC;
                r->name = an->name;
                r->kind = smtpd_async_kinds[k];
                r->async_op = an->op;
                *nargs = an->nargs;
                return 1;
            }
    return 0;
}

static int find_sync(const char *w, restriction *r, int *nargs)
{
    for (size_t i = 0; i < sizeof(sync_names) / sizeof(sync_names[0]); i++)
        if (strcasecmp(w, sync_names[i].name) == 0) {
            r->op = sync_names[i].op;
            r->name = sync_names[i].name;
            *nargs = sync_names[i].nargs;
            return 1;
        }
    return 0;
}

static int is_unimplemented(const char *w)
{
    for (size_t i = 0; i < sizeof(unimplemented_names) / sizeof(unimplemented_names[0]); i++)
        if (strcasecmp(w, unimplemented_names[i]) == 0)
            return 1;
    return 0;
}

/* A smtpd_restriction_classes name: its own parameter, compiled once and shared. */
static int bind_class(restrict_set *set, const char *w, restriction *r, int depth, strbuf *err)
{
    if (depth >= RESTRICT_MAX_DEPTH) {
        strbuf_printf(err, "restriction class \"%s\" nests deeper than %d levels", w,
                      RESTRICT_MAX_DEPTH);
        return -1;
    }
    restriction_list *sub = strmap_get(set->classes, w);
    if (sub == NULL) {
        const char *raw = config_get_raw(set->cfg, w);
        if (raw == NULL) {
            strbuf_printf(err, "restriction class \"%s\" needs a definition", w);
            return -1;
        }
        strbuf value;
        strbuf_init(&value, 0);
        strbuf why;
        strbuf_init(&why, 0);
        if (config_expand_strict(set->cfg, raw, &value, &why) < 0) {
            strbuf_printf(err, "restriction class \"%s\": %s", w, why.data);
            sub = NULL;
        } else {
            sub = compile_depth(set, w, value.data, depth + 1, err);
        }
        strbuf_free(&value);
        strbuf_free(&why);
        if (sub == NULL)
            return -1;
        strmap_put(set->classes, w, sub);
    }
    r->op = RESTRICT_CLASS;
    r->arg = xstrdup(w);
    r->name = r->arg;
    r->sub = sub;
    return 0;
}

/* One restriction starting at words[*i]; *i is left on its last word. */
static int compile_one(restrict_set *set, word_vec *v, size_t *i, int depth, restriction *r,
                       strbuf *err)
{
    const char *w = v->w[*i];
    int nargs = 0;
    if (find_sync(w, r, &nargs) || find_async(w, r, &nargs)) {
        if (nargs > 0) {
            if (*i + 1 >= v->n) {
                strbuf_printf(err, "restriction \"%s\" needs an argument", r->name);
                return -1;
            }
            *i += 1;
            r->arg = xstrdup(v->w[*i]);
        }
        if ((r->op >= RESTRICT_CHECK_CLIENT_ACCESS && r->op <= RESTRICT_CHECK_RECIPIENT_ACCESS) ||
            r->op == RESTRICT_CHECK_SASL_ACCESS || r->op == RESTRICT_CHECK_CCERT_ACCESS) {
            /* A table that cannot open now fails its lookups (451) until it can; a spec no
             * table type matches never will: a configuration error. */
            strbuf why;
            strbuf_init(&why, 0);
            int bad = map_spec_check(r->arg, &why) < 0;
            if (bad)
                strbuf_printf(err, "restriction \"%s\": %s", r->name, why.data);
            strbuf_free(&why);
            if (bad)
                return -1;
            r->table = table_open(set, r->arg);
        }
        if (r->op == RESTRICT_ASYNC) {
            r->async_data = r->kind->compile(r->async_op, r->arg ? r->arg : "", set->async_env,
                                             err);
            if (r->async_data == NULL) {
                if (err->len == 0)
                    strbuf_printf(err, "restriction \"%s\": bad argument", r->name);
                return -1;
            }
        }
        return 0;
    }
    if (strmap_has(set->class_names, w))
        return bind_class(set, w, r, depth, err);
    if (is_unimplemented(w)) {
        strbuf_printf(err, "restriction \"%s\" is not implemented by Postern; refusing to run "
                           "without it", w);
        return -1;
    }
    strbuf_printf(err, "unknown restriction \"%s\"", w);
    return -1;
}

static restriction_list *compile_depth(restrict_set *set, const char *param, const char *value,
                                       int depth, strbuf *err)
{
    word_vec v = {0};
    strbuf serr;
    strbuf_init(&serr, 0);
    if (map_split_list(value, collect_word, &v, &serr) < 0) {
        strbuf_printf(err, "%s", serr.data);
        strbuf_free(&serr);
        words_free(&v);
        return NULL;
    }
    strbuf_free(&serr);
    restriction_list *list = xcalloc(1, sizeof(*list));
    size_t cap = 0;
    int warn = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (strcasecmp(v.w[i], "warn_if_reject") == 0) {
            warn = 1;
            continue;
        }
        restriction r = {0};
        if (compile_one(set, &v, &i, depth, &r, err) < 0) {
            if (r.async_data && r.kind)
                r.kind->release(r.async_data);
            free(r.arg);
            restriction_list_free(list);
            words_free(&v);
            (void)param;
            return NULL;
        }
        r.warn_if_reject = warn;
        warn = 0;
        list_push(list, &cap, &r);
    }
    words_free(&v);
    return list;
}

restriction_list *restriction_list_compile(restrict_set *set, const char *param,
                                           const char *value, strbuf *err)
{
    return compile_depth(set, param, value, 0, err);
}

void restriction_list_free(restriction_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++) {
        restriction *r = &list->items[i];
        if (r->op == RESTRICT_ASYNC && r->async_data)
            r->kind->release(r->async_data);
        free(r->arg);
    }
    free(list->items);
    free(list);
}

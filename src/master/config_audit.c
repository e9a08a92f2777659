/*
 * config_audit.c: the fail-closed check of main.cf and master.cf (see config_audit.h).
 */
#include "master/config_audit.h"
#include "lib/log.h"
#include "lib/param_class.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "master/program_check.h"
#include "smtpd/smtpd_check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Parameters whose value starts with a transport name (transport:nexthop). */
static const char *const transport_params[] = {
    "content_filter",  "default_transport", "local_transport",    "virtual_transport",
    "relay_transport", "mailbox_transport", "fallback_transport", NULL,
};

/* Transports the queue manager handles itself, whatever master.cf says. */
static const char *const internal_transports[] = {"error", "retry", "discard", NULL};

typedef struct auditor {
    config *cfg;
    const master_cf *mcf;
    config_audit *out;
    int warn_only;    /* postern_unimplemented_action = warn */
    strmap *warned;   /* inert names already warned about */
    strmap *named_by; /* transport name -> parameter that names it (static text) */
} auditor;

static int in_list(const char *const *list, const char *word)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], word) == 0)
            return 1;
    return 0;
}

/* Appends "fmt..." or, with what, "fmt...: what; then" to the audit; refused items count as
 * refusals. */
static void push_item(auditor *a, int refused, const char *what, const char *then, const char *fmt,
                      va_list ap)
{
    strbuf text;
    strbuf_init(&text, 0);
    strbuf_vprintf(&text, fmt, ap);
    if (what)
        strbuf_printf(&text, ": %s; %s", what, then);
    config_audit *out = a->out;
    out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
    out->items[out->count].refused = refused;
    out->items[out->count].text = strbuf_detach(&text);
    out->refusals += refused != 0;
    out->count++;
}

/* Adds "WHERE: WHAT; consequence". refuse says whether Postern must not run without it. */
static void add_item(auditor *a, int refuse, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_item(auditor *a, int refuse, const char *what, const char *fmt, ...)
{
    const char *then = !refuse        ? "no effect on mail flow"
                       : a->warn_only ? "running without it (postern_unimplemented_action = warn)"
                                      : "refusing to run without it";
    va_list ap;
    va_start(ap, fmt);
    push_item(a, refuse && !a->warn_only, what, then, fmt, ap);
    va_end(ap);
}

/* Adds a warning: Postern runs, doing what Postfix would do in the same case. */
static void add_warning(auditor *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_warning(auditor *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_item(a, 0, NULL, NULL, fmt, ap);
    va_end(ap);
}

/* Adds a configuration error: refused whatever postern_unimplemented_action says. */
static void add_error(auditor *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_error(auditor *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_item(a, 1, NULL, NULL, fmt, ap);
    va_end(ap);
}

/* The verdict for name = raw; a value that only reaches Postfix's default through $names
 * (raw "$x", x = default) is judged by its expansion too, and the milder verdict wins. */
static param_verdict setting_verdict(auditor *a, const char *name, const char *raw)
{
    param_verdict v = param_class_judge(name, raw);
    if (v != PARAM_VERDICT_REFUSE || strchr(raw, '$') == NULL)
        return v;
    strbuf value, err;
    strbuf_init(&value, 0);
    strbuf_init(&err, 0);
    if (config_expand(a->cfg, raw, &value, &err) == 0) {
        param_verdict e = param_class_judge(name, value.data);
        if (e < v)
            v = e;
    }
    strbuf_free(&value);
    strbuf_free(&err);
    return v;
}

typedef struct map_scan {
    const char *missing; /* first table type Postern lacks (points into a static list) */
    int tables_only;     /* the parameter holds tables: a "type:" no one knows is an error */
    strbuf unknown;      /* the first such type */
} map_scan;

/* Parameters whose every "type:name" entry is a lookup table (other settings hold colons for
 * other reasons: nexthops, IPv6 addresses, policy service sockets). */
static int holds_tables(const char *name)
{
    static const char *const lists[] = {"alias_database",          "mydestination",
                                        "relay_domains",           "virtual_alias_domains",
                                        "virtual_mailbox_domains", NULL};
    size_t n = strlen(name);
    return in_list(lists, name) || (n > 5 && strcmp(name + n - 5, "_maps") == 0) ||
           (n > 7 && strcmp(name + n - 7, "_checks") == 0);
}

static int scan_map_entry(const char *entry, void *ctx)
{
    map_scan *scan = ctx;
    size_t len;
    const char *type = map_spec_type(entry, &len);
    if (type == NULL || map_type_supported_n(type, len))
        return 0;
    const char *postfix_type = map_type_postfix_name(type, len);
    if (postfix_type) {
        scan->missing = postfix_type; /* Postfix has it, Postern does not */
        return 1;
    }
    if (scan->tables_only) {
        strbuf_append(&scan->unknown, type, len);
        return 1;
    }
    return 0;
}

/* Checks the tables named in a setting's (expanded) value. */
static void audit_tables(auditor *a, const char *where, int line, const char *name, const char *raw)
{
    strbuf value, err;
    strbuf_init(&value, 0);
    strbuf_init(&err, 0);
    map_scan scan = {NULL, holds_tables(name), {0}};
    strbuf_init(&scan.unknown, 0);
    if (config_expand(a->cfg, raw, &value, &err) == 0)
        map_split_list(value.data, scan_map_entry, &scan, &err);
    if (scan.unknown.len > 0)
        add_error(a, "%s, line %d: %s = %s: unknown lookup table type \"%s\"", where, line, name,
                  raw, scan.unknown.data);
    strbuf_free(&scan.unknown);
    if (scan.missing) {
        strbuf what;
        strbuf_init(&what, 0);
        strbuf_printf(&what, "lookup table type \"%s\" is not implemented by Postern",
                      scan.missing);
        add_item(a, 1, what.data, "%s, line %d: %s = %s", where, line, name, raw);
        strbuf_free(&what);
    }
    strbuf_free(&value);
    strbuf_free(&err);
}

/* "smtp_tls_session_cache_database = btree:...": a cache Postern keeps in its own way, not a
 * table that decides anything about mail, so its type does not matter. */
static int is_cache_database(const char *name)
{
    static const char suffix[] = "_cache_database";
    size_t n = strlen(name);
    return n > sizeof(suffix) - 1 && strcmp(name + n - (sizeof(suffix) - 1), suffix) == 0;
}

/* "<transport>_destination_concurrency_limit" and its kin: the queue manager needs a whole
 * number (0 = no limit; the initial concurrency at least 1), as Postfix's qmgr does. */
static void audit_transport_limit(auditor *a, const char *where, int line, const char *name,
                                  const char *raw)
{
    static const struct {
        const char *suffix;
        long min;
    } limits[] = {{"_destination_concurrency_limit", 0},
                  {"_destination_recipient_limit", 0},
                  {"_initial_destination_concurrency", 1},
                  {"initial_destination_concurrency", 1}};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        size_t s = strlen(limits[i].suffix);
        if (n < s || strcmp(name + n - s, limits[i].suffix) != 0)
            continue;
        strbuf value, err;
        strbuf_init(&value, 0);
        strbuf_init(&err, 0);
        char *end = NULL;
        long v = -1;
        if (config_expand(a->cfg, raw, &value, &err) == 0 && value.data[0] != '\0')
            v = strtol(value.data, &end, 10);
        if (end == NULL || end == value.data || *end != '\0' || v < limits[i].min)
            add_error(a, "%s, line %d: %s = %s: want a whole number of at least %ld", where, line,
                      name, raw, limits[i].min);
        strbuf_free(&value);
        strbuf_free(&err);
        return;
    }
}

/* Values of implemented parameters that Postern does not do: Postfix's allow_percent_hack = yes
 * (its default) rewrites user%domain@local to user@domain; Postern's default is no, and asking
 * for yes is refused rather than quietly not done. */
static const struct {
    const char *name, *value;
} unimplemented_values[] = {{"allow_percent_hack", "yes"}};

static void audit_value(auditor *a, const char *where, int line, const char *name,
                        const char *raw)
{
    for (size_t i = 0; i < sizeof(unimplemented_values) / sizeof(unimplemented_values[0]); i++)
        if (strcmp(name, unimplemented_values[i].name) == 0 &&
            param_class_same_value(raw, unimplemented_values[i].value))
            add_item(a, 1, "this value is not implemented by Postern", "%s, line %d: %s = %s",
                     where, line, name, raw);
}

/* One setting, from main.cf or a master.cf -o. */
static void audit_setting(auditor *a, const char *where, int line, const char *name,
                          const char *raw)
{
    param_verdict v = setting_verdict(a, name, raw);
    if (v == PARAM_VERDICT_REFUSE) {
        add_item(a, 1, "not implemented by Postern", "%s, line %d: %s = %s", where, line, name,
                 raw);
    } else if (v == PARAM_VERDICT_INERT) {
        if (!strmap_has(a->warned, name))
            add_item(a, 0, "not implemented by Postern", "%s, line %d: %s = %s", where, line, name,
                     raw);
        strmap_put(a->warned, name, a);
    } else if (!is_cache_database(name)) {
        audit_tables(a, where, line, name, raw);
        audit_transport_limit(a, where, line, name, raw);
        audit_value(a, where, line, name, raw);
    }
}

static void audit_main_cf(auditor *a)
{
    const char **names = config_set_names(a->cfg);
    for (size_t i = 0; names[i]; i++)
        audit_setting(a, config_main_cf(a->cfg), config_line(a->cfg, names[i]), names[i],
                      config_get_raw(a->cfg, names[i]));
    free(names);
}

/* Records the transport at the start of value as named by param. */
static void note_transport(auditor *a, const char *param, const char *value)
{
    value += strspn(value, " \t");
    size_t n = strcspn(value, ": \t");
    if (n == 0)
        return;
    char *name = xstrndup(value, n);
    if (!strmap_has(a->named_by, name))
        strmap_put(a->named_by, name, (void *)param);
    free(name);
}

static void collect_transports(auditor *a)
{
    for (size_t i = 0; transport_params[i]; i++)
        note_transport(a, transport_params[i], config_get(a->cfg, transport_params[i]));
    for (size_t i = 0; a->mcf && i < a->mcf->count; i++) {
        const master_cf_entry *e = &a->mcf->entries[i];
        for (size_t k = 0; k < e->noverrides; k++)
            for (size_t t = 0; transport_params[t]; t++)
                if (strcmp(e->overrides[k].name, transport_params[t]) == 0)
                    note_transport(a, transport_params[t], e->overrides[k].value);
    }
}

/* Whether master.cf defines a unix service called name (a transport). */
static int has_transport_service(const master_cf *mcf, const char *name, size_t len)
{
    for (size_t i = 0; i < mcf->count; i++) {
        const master_cf_entry *e = &mcf->entries[i];
        if (e->type == MASTER_TYPE_UNIX && strlen(e->name) == len &&
            strncmp(e->name, name, len) == 0)
            return 1;
    }
    return 0;
}

/* "virtual_transport = lmpt:unix:private/dovecot-lmtp": a transport master.cf does not define
 * would leave that mail deferred for good (Postfix only logs it once mail comes): refused.
 * Defaults are not judged (relay_transport = relay matters only with relay_domains). */
static void audit_transport_named(auditor *a, const char *where, int line, const char *param,
                                  const char *value)
{
    if (setting_verdict(a, param, value) != PARAM_VERDICT_OK)
        return; /* a setting Postern does not implement was judged as such */
    strbuf expanded, err;
    strbuf_init(&expanded, 0);
    strbuf_init(&err, 0);
    if (config_expand(a->cfg, value, &expanded, &err) == 0) {
        const char *v = expanded.data + strspn(expanded.data, " \t");
        size_t n = strcspn(v, ": \t");
        char *name = xstrndup(v, n);
        if (n > 0 && !in_list(internal_transports, name) && !has_transport_service(a->mcf, v, n)) {
            add_error(a, "%s, line %d: %s = %s: master.cf defines no transport \"%s\"", where, line,
                      param, value, name);
        }
        free(name);
    }
    strbuf_free(&expanded);
    strbuf_free(&err);
}

static void audit_transports(auditor *a)
{
    for (size_t i = 0; transport_params[i]; i++) {
        const char *raw = config_get_raw(a->cfg, transport_params[i]);
        if (config_line(a->cfg, transport_params[i]) > 0 && raw && raw[0] != '\0')
            audit_transport_named(a, config_main_cf(a->cfg),
                                  config_line(a->cfg, transport_params[i]), transport_params[i],
                                  raw);
    }
    for (size_t i = 0; i < a->mcf->count; i++) {
        const master_cf_entry *e = &a->mcf->entries[i];
        for (size_t k = 0; k < e->noverrides; k++)
            if (in_list(transport_params, e->overrides[k].name) && e->overrides[k].value[0])
                audit_transport_named(a, a->mcf->path, e->line, e->overrides[k].name,
                                      e->overrides[k].value);
    }
}

/* A master.cf service whose program Postern does not run. */
static void audit_skipped_service(auditor *a, const master_cf_entry *e)
{
    const char *param = e->type == MASTER_TYPE_UNIX ? strmap_get(a->named_by, e->name) : NULL;
    int refuse = 1;
    strbuf what;
    strbuf_init(&what, 0);
    strbuf_printf(&what, "program %s is not implemented by Postern", e->program);
    if (e->type == MASTER_TYPE_INET)
        strbuf_append_str(&what, ", and the service listens on the network");
    else if (strcmp(e->program, "oqmgr") == 0)
        strbuf_append_str(&what, ", and it would be the queue manager");
    else if (param && !in_list(internal_transports, e->name))
        strbuf_printf(&what, ", and %s names this transport", param);
    else
        refuse = 0;
    add_item(a, refuse, what.data, "%s, line %d: service %s", a->mcf->path, e->line, e->name);
    strbuf_free(&what);
}

/* The smtpd restriction lists as main.cf alone makes them (services without -o). */
static void audit_restrictions(auditor *a)
{
    strbuf err;
    strbuf_init(&err, 0);
    if (smtpd_checker_validate(a->cfg, &err) < 0)
        add_error(a, "%s", err.data);
    strbuf_free(&err);
}

/* The programs' own start-up checks (program_check.h) on cfg; where is "MAIN.CF: " or
 * "MASTER.CF, line N: service NAME: ". */
static void audit_program_settings(auditor *a, config *cfg, const char *program, const char *where)
{
    strbuf err, warn;
    strbuf_init(&err, 0);
    strbuf_init(&warn, 0);
    if (program_check_run(cfg, program, &err, &warn) < 0)
        add_error(a, "%s%s", where, err.data);
    else if (warn.len > 0)
        add_warning(a, "%s%s", where, warn.data);
    strbuf_free(&err);
    strbuf_free(&warn);
}

/* The programs' settings as main.cf alone makes them (services without -o). */
static void audit_main_cf_programs(auditor *a)
{
    strbuf where;
    strbuf_init(&where, 0);
    strbuf_printf(&where, "%s: ", config_main_cf(a->cfg));
    audit_program_settings(a, a->cfg, NULL, where.data);
    strbuf_free(&where);
}

/* A service with -o overrides: its settings checked, and an smtpd's restriction lists compiled,
 * as that program will see them, on a copy of the configuration with the overrides applied. */
static void audit_service_settings(auditor *a, const master_cf_entry *e)
{
    if (e->noverrides == 0 && strcmp(e->program, "lmtp") != 0)
        return; /* main.cf's settings were checked for every program but lmtp */
    config *cfg = config_copy(a->cfg);
    for (size_t k = 0; k < e->noverrides; k++)
        config_override(cfg, e->overrides[k].name, e->overrides[k].value);
    strbuf where;
    strbuf_init(&where, 0);
    strbuf_printf(&where, "%s, line %d: service %s: ", a->mcf->path, e->line, e->name);
    audit_program_settings(a, cfg, e->program, where.data);
    strbuf err;
    strbuf_init(&err, 0);
    if (strcmp(e->program, "smtpd") == 0 && smtpd_checker_validate(cfg, &err) < 0)
        add_error(a, "%s%s", where.data, err.data);
    strbuf_free(&err);
    strbuf_free(&where);
    config_free(cfg);
}

/* "-o smtpd_client_restrictions=$mua_client_restrictions" (Postfix's stock submission and
 * smtps entries) with mua_client_restrictions undefined: an empty list, as Postfix takes it,
 * said once per name. */
static void audit_stock_optional(auditor *a, const master_cf_entry *e)
{
    for (size_t k = 0; k < e->noverrides; k++) {
        for (const char *p = strchr(e->overrides[k].value, '$'); p; p = strchr(p + 1, '$')) {
            const char *name = p + 1 + (p[1] == '{' || p[1] == '(');
            size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
            char *word = xstrndup(name, n);
            if (config_stock_optional(word) && config_get_raw(a->cfg, word) == NULL &&
                !strmap_has(a->warned, word)) {
                add_warning(a,
                            "%s, line %d: %s = %s: undefined parameter %s: an empty list, as in "
                            "Postfix (define it in main.cf)",
                            a->mcf->path, e->line, e->overrides[k].name, e->overrides[k].value,
                            word);
                strmap_put(a->warned, word, a);
            }
            free(word);
        }
    }
}

/* "-o smtpd_timeout=abc": the type check config_load() does for main.cf, done for a -o. */
static void audit_override_type(auditor *a, const master_cf_entry *e, const master_cf_override *o)
{
    strbuf err;
    strbuf_init(&err, 0);
    if (config_check_value(a->cfg, o->name, o->value, &err) < 0)
        add_error(a, "%s, line %d: service %s: %s", a->mcf->path, e->line, e->name, err.data);
    strbuf_free(&err);
}

static void audit_master_cf(auditor *a)
{
    collect_transports(a);
    for (size_t i = 0; i < a->mcf->count; i++) {
        const master_cf_entry *e = &a->mcf->entries[i];
        if (e->skipped) {
            audit_skipped_service(a, e);
            continue;
        }
        for (size_t k = 0; k < e->noverrides; k++) {
            audit_setting(a, a->mcf->path, e->line, e->overrides[k].name, e->overrides[k].value);
            audit_override_type(a, e, &e->overrides[k]);
        }
        audit_service_settings(a, e);
        audit_stock_optional(a, e);
    }
}

static void audit_action(auditor *a)
{
    const char *action = config_get(a->cfg, "postern_unimplemented_action");
    if (strcmp(action, "warn") == 0) {
        a->warn_only = 1;
    } else if (strcmp(action, "refuse") != 0) {
        add_item(a, 1, "want refuse or warn", "%s, line %d: postern_unimplemented_action = %s",
                 config_main_cf(a->cfg), config_line(a->cfg, "postern_unimplemented_action"),
                 action);
    }
}

void config_audit_run(config *cfg, const master_cf *mcf, config_audit *out)
{
    memset(out, 0, sizeof(*out));
    auditor a = {.cfg = cfg, .mcf = mcf, .out = out};
    a.warned = strmap_new();
    a.named_by = strmap_new();
    audit_action(&a);
    audit_main_cf(&a);
    if (mcf) {
        audit_restrictions(&a);
        audit_main_cf_programs(&a);
        audit_transports(&a);
        audit_master_cf(&a);
    }
    strmap_free(a.warned, NULL);
    strmap_free(a.named_by, NULL);
}

void config_audit_free(config_audit *audit)
{
    for (size_t i = 0; i < audit->count; i++)
        free(audit->items[i].text);
    free(audit->items);
    memset(audit, 0, sizeof(*audit));
}

void config_audit_log(const config_audit *audit)
{
    for (size_t i = 0; i < audit->count; i++) {
        if (audit->items[i].refused)
            log_error("%s", audit->items[i].text);
        else
            log_warning("%s", audit->items[i].text);
    }
}

const char *config_audit_first_refusal(const config_audit *audit)
{
    for (size_t i = 0; i < audit->count; i++)
        if (audit->items[i].refused)
            return audit->items[i].text;
    return NULL;
}

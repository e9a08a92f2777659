/*
 * config.c: main.cf parsing and lazy $parameter expansion (see config.h).
 */
#include "lib/config.h"
#include "lib/config_params.h"
#include "lib/log.h"
#include "lib/str_trim.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPAND_MAX_DEPTH 50
#define CONFIG_VALUE_LIMIT (1024u * 1024)

struct entry {
    char *value;
    int line;
};

struct config {
    char *dir;
    char *main_cf;
    strmap *entries;   /* main.cf: name -> struct entry */
    strmap *overrides; /* -o: name -> char* */
    strmap *computed;  /* computed defaults: name -> char* */
    strmap *cache;     /* expanded values: name -> char* */
    strmap *active;    /* names being expanded (loop detection) */
    int strict;        /* config_expand_strict under way: an undefined name is an error */
    unsigned long version; /* new at creation and at every override: cached typed settings re-read */
};

static config *current_config;

/* Versions are unique in the process, not per object: typed settings cached for (object,
 * version) can never match a new configuration that happens to reuse a freed one's address
 * (postfix check makes and frees copies with a service's -o overrides). */
static _Atomic unsigned long last_version;

static unsigned long next_version(void)
{
    return ++last_version;
}

static void free_entry(void *p)
{
    struct entry *e = p;
    free(e->value);
    free(e);
}

const char *config_choose_dir(const char *explicit_dir)
{
    if (explicit_dir && *explicit_dir)
        return explicit_dir;
    const char *env = getenv("MAIL_CONFIG");
    if (env && *env)
        return env;
    return CONFIG_DEFAULT_DIR;
}

config *config_defaults(const char *dir)
{
    config *cfg = xcalloc(1, sizeof(*cfg));
    cfg->version = next_version();
    cfg->dir = xstrdup(config_choose_dir(dir));
    strbuf main_cf;
    strbuf_init(&main_cf, 0);
    strbuf_printf(&main_cf, "%s/main.cf", cfg->dir);
    cfg->main_cf = strbuf_detach(&main_cf);
    cfg->entries = strmap_new();
    cfg->overrides = strmap_new();
    cfg->computed = strmap_new();
    cfg->cache = strmap_new();
    cfg->active = strmap_new();
    return cfg;
}

void config_free(config *cfg)
{
    if (cfg == NULL)
        return;
    if (current_config == cfg)
        current_config = NULL;
    strmap_free(cfg->entries, free_entry);
    strmap_free(cfg->overrides, free);
    strmap_free(cfg->computed, free);
    strmap_free(cfg->cache, free);
    strmap_free(cfg->active, NULL);
    free(cfg->dir);
    free(cfg->main_cf);
    free(cfg);
}

static int valid_param_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* Stores one logical line "name = value" that started at line lineno. */
static int parse_logical_line(config *cfg, char *text, int lineno, strbuf *err)
{
    char *eq = strchr(text, '=');
    if (eq == NULL) {
        strbuf_printf(err, "%s, line %d: missing '=' after attribute name: \"%s\"", cfg->main_cf,
                      lineno, str_trim(text));
        return -1;
    }
    *eq = '\0';
    char *name = str_trim(text);
    char *value = str_trim(eq + 1);
    if (!valid_param_name(name, strlen(name))) {
        strbuf_printf(err, "%s, line %d: bad parameter name: \"%s\"", cfg->main_cf, lineno, name);
        return -1;
    }
    struct entry *e = xmalloc(sizeof(*e));
    e->value = xstrdup(value);
    e->line = lineno;
    struct entry *old = strmap_put(cfg->entries, name, e);
    if (old)
        free_entry(old);
    return 0;
}

/* Splits the file into logical lines: a line starting with white space continues the previous
 * one; blank lines and lines whose first non-blank character is '#' are comments. */
static int parse_main_cf(config *cfg, char *buf, strbuf *err)
{
    strbuf logical;
    strbuf_init(&logical, CONFIG_VALUE_LIMIT);
    int start_line = 0, lineno = 0, rc = 0;
    char *save = NULL;
    for (char *line = buf; line && rc == 0; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (p != line) { /* continuation */
            if (start_line == 0) {
                strbuf_printf(err, "%s, line %d: logical line must not start with white space",
                              cfg->main_cf, lineno);
                rc = -1;
            } else if (strbuf_append_char(&logical, ' ') < 0 ||
                       strbuf_append_str(&logical, p) < 0) {
                strbuf_printf(err, "%s, line %d: value too long", cfg->main_cf, lineno);
                rc = -1;
            }
            continue;
        }
        if (start_line)
            rc = parse_logical_line(cfg, logical.data, start_line, err);
        strbuf_reset(&logical);
        if (rc == 0 && strbuf_append_str(&logical, line) < 0) {
            strbuf_printf(err, "%s, line %d: line too long", cfg->main_cf, lineno);
            rc = -1;
        }
        start_line = lineno;
    }
    if (rc == 0 && start_line)
        rc = parse_logical_line(cfg, logical.data, start_line, err);
    strbuf_free(&logical);
    return rc;
}

char *config_read_file(const char *path, size_t limit, strbuf *err)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        strbuf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    strbuf sb;
    strbuf_init(&sb, limit);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        rc = strbuf_append(&sb, chunk, n);
    int failed = ferror(fp);
    fclose(fp);
    if (rc < 0 || failed) {
        strbuf_printf(err, "%s: %s", path, rc < 0 ? "file too large" : "read error");
        strbuf_free(&sb);
        return NULL;
    }
    if (memchr(sb.data, '\0', sb.len) != NULL) {
        strbuf_printf(err, "%s: file contains a NUL byte", path);
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb) /* caller frees */;
}

static int validate_types(config *cfg, strbuf *err);
static config *config_parse_into(config *cfg, char *text, strbuf *err);

config *config_load(const char *dir, strbuf *err)
{
    config *cfg = config_defaults(dir);
    return config_parse_into(cfg, config_read_file(cfg->main_cf, CONFIG_MAX_FILE_SIZE, err), err);
}

/* Parses text (NUL-terminated, modified in place, then freed; NULL when it could not be read)
 * as main.cf content and validates it. Returns cfg, or NULL (cfg freed) with err set. */
static config *config_parse_into(config *cfg, char *text, strbuf *err)
{
    int rc = text ? parse_main_cf(cfg, text, err) : -1;
    if (rc == 0)
        rc = validate_types(cfg, err);
    free(text);
    if (rc < 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

config *config_load_text(const char *dir, const char *text, size_t len, strbuf *err)
{
    if (len > CONFIG_MAX_FILE_SIZE || memchr(text, '\0', len) != NULL) {
        strbuf_printf(err, "main.cf text: %s", len > CONFIG_MAX_FILE_SIZE ? "too large" : "NUL byte");
        return NULL;
    }
    return config_parse_into(config_defaults(dir), xstrndup(text, len), err);
}

void config_set_current(config *cfg)
{
    current_config = cfg;
}

config *config_current(void)
{
    return current_config;
}

const char *config_directory(const config *cfg)
{
    return cfg->dir;
}

const char *config_main_cf(const config *cfg)
{
    return cfg->main_cf;
}

void config_override(config *cfg, const char *name, const char *value)
{
    free(strmap_put(cfg->overrides, name, xstrdup(value)));
    strmap_free(cfg->cache, free);
    cfg->cache = strmap_new();
    cfg->version = next_version();
}

unsigned long config_version(const config *cfg)
{
    return cfg ? cfg->version : 0;
}

const char *config_get_default(config *cfg, const char *name)
{
    const param_def *p = param_lookup(name);
    if (p == NULL)
        return NULL;
    if (p->def)
        return p->def;
    char *v = strmap_get(cfg->computed, name);
    if (v == NULL) {
        strbuf buf;
        strbuf_init(&buf, 0);
        p->compute(cfg, &buf);
        v = strbuf_detach(&buf);
        strmap_put(cfg->computed, name, v);
    }
    return v;
}

const char *config_get_raw(config *cfg, const char *name)
{
    const char *v = strmap_get(cfg->overrides, name);
    if (v)
        return v;
    struct entry *e = strmap_get(cfg->entries, name);
    if (e)
        return e->value;
    return config_get_default(cfg, name);
}

int config_is_set(const config *cfg, const char *name)
{
    return strmap_has(cfg->overrides, name) || strmap_has(cfg->entries, name);
}

int config_line(const config *cfg, const char *name)
{
    if (strmap_has(cfg->overrides, name))
        return 0;
    struct entry *e = strmap_get(cfg->entries, name);
    return e ? e->line : 0;
}

config *config_copy(const config *cfg)
{
    config *c = config_defaults(cfg->dir);
    const char **names = strmap_sorted_keys(cfg->entries);
    for (size_t i = 0; names[i]; i++) {
        const struct entry *e = strmap_get(cfg->entries, names[i]);
        struct entry *copy = xmalloc(sizeof(*copy));
        copy->value = xstrdup(e->value);
        copy->line = e->line;
        strmap_put(c->entries, names[i], copy);
    }
    free(names);
    names = strmap_sorted_keys(cfg->overrides);
    for (size_t i = 0; names[i]; i++)
        strmap_put(c->overrides, names[i], xstrdup(strmap_get(cfg->overrides, names[i])));
    free(names);
    free(c->main_cf);
    c->main_cf = xstrdup(cfg->main_cf);
    return c;
}

const char **config_set_names(const config *cfg)
{
    return strmap_sorted_keys(cfg->entries);
}

static int expand_text(config *cfg, const char *text, strbuf *out, int depth, strbuf *err);

/* Names Postfix's stock master.cf refers to (submission and smtps: "-o
 * smtpd_client_restrictions=$mua_client_restrictions", ...) without main.cf defining them:
 * Postfix takes them as empty, and so does a strict expansion (postfix check warns). */
static const char *const stock_optional_names[] = {
    "mua_client_restrictions", "mua_helo_restrictions", "mua_sender_restrictions", NULL};

int config_stock_optional(const char *name)
{
    for (size_t i = 0; stock_optional_names[i]; i++)
        if (strcmp(stock_optional_names[i], name) == 0)
            return 1;
    return 0;
}

/* Expands one parameter by name into out, detecting loops. */
static int expand_name(config *cfg, const char *name, strbuf *out, int depth, strbuf *err)
{
    const char *cached = cfg->strict ? NULL : strmap_get(cfg->cache, name);
    if (cached)
        return strbuf_append_str(out, cached) < 0 ? -1 : 0;
    if (strmap_has(cfg->active, name) || depth > EXPAND_MAX_DEPTH) {
        if (err->len == 0)
            strbuf_printf(err, "parameter %s: expansion loop", name);
        return -1;
    }
    const char *raw = config_get_raw(cfg, name);
    if (raw == NULL && cfg->strict && !config_stock_optional(name)) {
        if (err->len == 0)
            strbuf_printf(err, "undefined parameter %s", name);
        return -1;
    }
    if (raw == NULL)
        return 0; /* undefined: expands to nothing, as in Postfix */
    const param_def *p = param_lookup(name);
    strbuf value;
    strbuf_init(&value, CONFIG_VALUE_LIMIT);
    int rc;
    if (p && p->type == PARAM_RAW) {
        rc = strbuf_append_str(&value, raw);
    } else {
        strmap_put(cfg->active, name, cfg);
        rc = expand_text(cfg, raw, &value, depth + 1, err);
        strmap_remove(cfg->active, name);
    }
    if (rc == 0) {
        rc = strbuf_append(out, value.data, value.len);
        free(strmap_put(cfg->cache, name, xstrdup(value.data)));
    }
    strbuf_free(&value);
    return rc < 0 ? -1 : 0;
}

/* Finds the end of a ${...} or $(...) reference starting after the opening bracket, honouring
 * nested brackets. Returns the index of the closing bracket, or -1. */
static long find_close(const char *s, char open, char close)
{
    int level = 1;
    for (long i = 0; s[i]; i++) {
        if (s[i] == open)
            level++;
        else if (s[i] == close && --level == 0)
            return i;
    }
    return -1;
}

/* Handles the inside of ${...}: name, name?text or name:text. */
static int expand_braced(config *cfg, const char *inner, size_t len, strbuf *out, int depth,
                         strbuf *err)
{
    size_t n = 0;
    while (n < len && (isalnum((unsigned char)inner[n]) || inner[n] == '_'))
        n++;
    char *name = xstrndup(inner, n);
    int rc = 0;
    if (n == 0 || (n < len && inner[n] != '?' && inner[n] != ':')) {
        strbuf_printf(err, "bad parameter reference: \"${%.*s}\"", (int)len, inner);
        rc = -1;
    } else if (n == len) {
        rc = expand_name(cfg, name, out, depth, err);
    } else {
        strbuf val;
        strbuf_init(&val, CONFIG_VALUE_LIMIT);
        int strict = cfg->strict; /* ${name?text}: an undefined name is a test, not a mistake */
        cfg->strict = 0;
        rc = expand_name(cfg, name, &val, depth, err);
        cfg->strict = strict;
        int nonempty = val.len > 0;
        strbuf_free(&val);
        const char *alt = inner + n + 1;
        size_t altlen = len - n - 1;
        if (altlen >= 2 && alt[0] == '{' && alt[altlen - 1] == '}') {
            alt++;
            altlen -= 2;
        }
        if (rc == 0 && (inner[n] == '?') == nonempty) {
            char *text = xstrndup(alt, altlen);
            rc = expand_text(cfg, text, out, depth + 1, err);
            free(text);
        }
    }
    free(name);
    return rc;
}

static int expand_text(config *cfg, const char *text, strbuf *out, int depth, strbuf *err)
{
    if (depth > EXPAND_MAX_DEPTH) {
        strbuf_printf(err, "expansion nested too deeply");
        return -1;
    }
    for (const char *p = text; *p;) {
        if (*p != '$') {
            const char *d = strchr(p, '$');
            size_t n = d ? (size_t)(d - p) : strlen(p);
            if (strbuf_append(out, p, n) < 0)
                return -1;
            p += n;
            continue;
        }
        p++;
        if (*p == '$') {
            if (strbuf_append_char(out, '$') < 0)
                return -1;
            p++;
        } else if (*p == '{' || *p == '(') {
            char open = *p, close = open == '{' ? '}' : ')';
            long end = find_close(p + 1, open, close);
            if (end < 0) {
                strbuf_printf(err, "missing '%c' in \"%s\"", close, text);
                return -1;
            }
            if (expand_braced(cfg, p + 1, (size_t)end, out, depth, err) < 0)
                return -1;
            p += end + 2;
        } else {
            size_t n = 0;
            while (isalnum((unsigned char)p[n]) || p[n] == '_')
                n++;
            if (n == 0) { /* a lone '$' stays as it is */
                if (strbuf_append_char(out, '$') < 0)
                    return -1;
                continue;
            }
            char *name = xstrndup(p, n);
            int rc = expand_name(cfg, name, out, depth, err);
            free(name);
            if (rc < 0)
                return -1;
            p += n;
        }
    }
    return 0;
}

int config_expand(config *cfg, const char *text, strbuf *out, strbuf *err)
{
    return expand_text(cfg, text, out, 0, err);
}

int config_expand_strict(config *cfg, const char *text, strbuf *out, strbuf *err)
{
    cfg->strict = 1;
    int rc = expand_text(cfg, text, out, 0, err);
    cfg->strict = 0;
    if (rc < 0) {
        strmap_free(cfg->active, NULL);
        cfg->active = strmap_new();
    }
    return rc;
}

const char *config_get(config *cfg, const char *name)
{
    const char *cached = strmap_get(cfg->cache, name);
    if (cached)
        return cached;
    strbuf out, err;
    strbuf_init(&out, CONFIG_VALUE_LIMIT);
    strbuf_init(&err, 0);
    if (expand_name(cfg, name, &out, 0, &err) < 0) {
        log_warning("%s: %s", cfg->main_cf, err.data);
        strmap_free(cfg->active, NULL);
        cfg->active = strmap_new();
    }
    strbuf_free(&out);
    strbuf_free(&err);
    cached = strmap_get(cfg->cache, name);
    if (cached == NULL) {
        free(strmap_put(cfg->cache, name, xstrdup("")));
        cached = strmap_get(cfg->cache, name);
    }
    return cached;
}

long config_parse_time(const char *value, char default_unit)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (end == value || errno || n < 0)
        return -1;
    char unit = *end ? *end : default_unit;
    if (*end && end[1] != '\0')
        return -1;
    long mult;
    switch (unit) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 7 * 86400; break;
    default: return -1;
    }
    if (n > __LONG_MAX__ / mult)
        return -1;
    return n * mult;
}

int config_parse_bool(const char *value)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0)
        return 1;
    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0)
        return 0;
    return -1;
}

static int parse_number(const char *value, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (end == value || *end || errno)
        return -1;
    *out = n;
    return 0;
}

/* Checks one value against its parameter's type; returns 0 or -1. */
static int check_type(const param_def *p, const char *value)
{
    long long n;
    switch (p->type) {
    case PARAM_INT:
    case PARAM_SIZE: return parse_number(value, &n);
    case PARAM_BOOL: return config_parse_bool(value) < 0 ? -1 : 0;
    case PARAM_TIME: return config_parse_time(value, p->time_unit) < 0 ? -1 : 0;
    default: return 0;
    }
}

static const char *type_word(param_type t)
{
    switch (t) {
    case PARAM_INT: return "integer";
    case PARAM_SIZE: return "byte count";
    case PARAM_BOOL: return "yes or no";
    case PARAM_TIME: return "time";
    default: return "text";
    }
}

/* Expands every main.cf entry once: reports loops and malformed typed values with file and line. */
static int validate_types(config *cfg, strbuf *err)
{
    const char **names = config_set_names(cfg);
    int rc = 0;
    for (size_t i = 0; names[i] && rc == 0; i++) {
        strbuf out, why;
        strbuf_init(&out, CONFIG_VALUE_LIMIT);
        strbuf_init(&why, 0);
        strmap_free(cfg->active, NULL);
        cfg->active = strmap_new();
        if (expand_name(cfg, names[i], &out, 0, &why) < 0) {
            strbuf_printf(err, "%s, line %d: %s", cfg->main_cf, config_line(cfg, names[i]),
                          why.len ? why.data : "value too long");
            rc = -1;
        } else {
            const param_def *p = param_lookup(names[i]);
            if (p && check_type(p, out.data) < 0) {
                strbuf_printf(err, "%s, line %d: bad %s value for parameter %s: \"%s\"",
                              cfg->main_cf, config_line(cfg, names[i]), type_word(p->type),
                              names[i], out.data);
                rc = -1;
            }
        }
        strbuf_free(&out);
        strbuf_free(&why);
    }
    free(names);
    return rc;
}

int config_check_value(config *cfg, const char *name, const char *raw, strbuf *err)
{
    const param_def *p = param_lookup(name);
    if (p == NULL || p->type == PARAM_RAW)
        return 0;
    strbuf out, why;
    strbuf_init(&out, CONFIG_VALUE_LIMIT);
    strbuf_init(&why, 0);
    int rc = config_expand(cfg, raw, &out, &why);
    if (rc < 0)
        strbuf_printf(err, "parameter %s: %s", name, why.len ? why.data : "value too long");
    else if ((rc = check_type(p, out.data)) < 0)
        strbuf_printf(err, "bad %s value for parameter %s: \"%s\"", type_word(p->type), name,
                      out.data);
    strbuf_free(&out);
    strbuf_free(&why);
    return rc;
}

static const char *typed_value(config *cfg, const char *name, const param_def **pp)
{
    *pp = param_lookup(name);
    return config_get(cfg, name);
}

long config_get_int(config *cfg, const char *name)
{
    return (long)config_get_size(cfg, name);
}

long long config_get_size(config *cfg, const char *name)
{
    const param_def *p;
    const char *v = typed_value(cfg, name, &p);
    long long n;
    if (parse_number(v, &n) == 0)
        return n;
    if (p && p->def && parse_number(p->def, &n) == 0) {
        log_warning("%s: bad numerical value for %s: \"%s\"; using %s", cfg->main_cf, name, v,
                    p->def);
        return n;
    }
    return 0;
}

long config_get_time(config *cfg, const char *name)
{
    const param_def *p;
    const char *v = typed_value(cfg, name, &p);
    char unit = p && p->type == PARAM_TIME ? p->time_unit : 's';
    long t = config_parse_time(v, unit);
    if (t >= 0)
        return t;
    if (p && p->def) {
        log_warning("%s: bad time value for %s: \"%s\"; using %s", cfg->main_cf, name, v, p->def);
        return config_parse_time(p->def, unit);
    }
    return 0;
}

int config_get_bool(config *cfg, const char *name)
{
    const param_def *p;
    const char *v = typed_value(cfg, name, &p);
    int b = config_parse_bool(v);
    if (b >= 0)
        return b;
    return p && p->def ? config_parse_bool(p->def) == 1 : 0;
}

const char *cfg_str(const char *name)
{
    return config_get(current_config, name);
}

long cfg_int(const char *name)
{
    return config_get_int(current_config, name);
}

long cfg_time(const char *name)
{
    return config_get_time(current_config, name);
}

long long cfg_size(const char *name)
{
    return config_get_size(current_config, name);
}

int cfg_bool(const char *name)
{
    return config_get_bool(current_config, name);
}

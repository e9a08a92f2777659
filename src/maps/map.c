/*
 * map.c: the table type registry, map_open/map_lookup, lists of tables, and the helpers every
 * file-based type shares (list splitting, logical-line reading). See map.h.
 */
#include "maps/map.h"
#include "lib/log.h"
#include "lib/str_trim.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct map_type {
    const char *name;
    const map_ops *ops;
    int fold_case;           /* lowercase the key before lookup */
    const char *file_suffix; /* NULL: no file; else the file is name + suffix */
} map_type;

static const map_type map_types[] = {
    {"inline", &map_inline_ops, 1, NULL},   {"static", &map_static_ops, 0, NULL},
    {"texthash", &map_texthash_ops, 1, ""}, {"hash", &map_hash_ops, 1, ".lmdb"},
    {"lmdb", &map_lmdb_ops, 1, ".lmdb"},    {"cidr", &map_cidr_ops, 0, ""},
    {"regexp", &map_regexp_ops, 0, ""},     {"pcre", &map_pcre_ops, 0, ""},
    {"unix", &map_unix_ops, 1, NULL},
};

struct map {
    const map_ops *ops;
    void *handle;
    char *spec;
    int fold_case;
    char *file; /* NULL when the type has no file */
    struct stat file_stat;
};

static const map_type *find_type(const char *type, size_t len)
{
    for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
        if (strlen(map_types[i].name) == len && strncmp(map_types[i].name, type, len) == 0)
            return &map_types[i];
    return NULL;
}

int map_type_supported(const char *type)
{
    return find_type(type, strlen(type)) != NULL;
}

int map_type_supported_n(const char *type, size_t len)
{
    return find_type(type, len) != NULL;
}

/* Every lookup table type Postfix 3.7 knows; a "type:" prefix outside this list is no table. */
static const char *const postfix_map_types[] = {
    "btree",     "cdb",    "cidr",   "dbm",      "environ",  "fail",     "hash",    "inline",
    "internal",  "ldap",   "lmdb",   "memcache", "mongodb",  "mysql",    "netinfo", "nis",
    "nisplus",   "pcre",   "pgsql",  "pipemap",  "proxy",    "randmap",  "regexp",  "sdbm",
    "socketmap", "sqlite", "static", "tcp",      "texthash", "unionmap", "unix",    NULL,
};

const char *map_type_postfix_name(const char *type, size_t len)
{
    for (size_t i = 0; postfix_map_types[i]; i++)
        if (strlen(postfix_map_types[i]) == len && strncmp(postfix_map_types[i], type, len) == 0)
            return postfix_map_types[i];
    return NULL;
}

void map_lowercase(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

const char *map_spec_type(const char *spec, size_t *len)
{
    const char *type = spec;
    while (strncmp(type, "proxy:", 6) == 0)
        type += 6;
    const char *colon = strchr(type, ':');
    if (colon == NULL || colon == type)
        return NULL;
    *len = (size_t)(colon - type);
    return type;
}

/* The type of spec ("type:name", after any "proxy:"), or NULL with the reason in err. */
static const map_type *spec_type(const char *spec, const char **name_out, strbuf *err)
{
    size_t len;
    const char *tname = map_spec_type(spec, &len);
    if (tname == NULL) {
        strbuf_printf(err, "open dictionary: expecting \"type:name\" form instead of \"%s\"", spec);
        return NULL;
    }
    const map_type *type = find_type(tname, len);
    if (type == NULL)
        strbuf_printf(err, "unsupported dictionary type: %.*s", (int)len, tname);
    *name_out = tname + len + 1;
    return type;
}

int map_spec_check(const char *spec, strbuf *err)
{
    size_t len;
    const char *tname = map_spec_type(spec, &len);
    if (tname && map_type_postfix_name(tname, len))
        return 0; /* a Postfix type: postfix check judges it (config_audit.c) */
    const char *name;
    return spec_type(spec, &name, err) ? 0 : -1;
}

map *map_open(const char *spec, strbuf *err)
{
    const char *name;
    const map_type *type = spec_type(spec, &name, err);
    if (type == NULL)
        return NULL;
    void *handle = type->ops->open(name, err);
    if (handle == NULL)
        return NULL;
    map *m = xcalloc(1, sizeof(*m));
    m->ops = type->ops;
    m->handle = handle;
    m->spec = xstrdup(spec);
    m->fold_case = type->fold_case;
    if (type->file_suffix) {
        strbuf path;
        strbuf_init(&path, 0);
        strbuf_printf(&path, "%s%s", name, type->file_suffix);
        m->file = strbuf_detach(&path);
        if (stat(m->file, &m->file_stat) != 0)
            memset(&m->file_stat, 0, sizeof(m->file_stat));
    }
    return m;
}

int map_lookup(map *m, const char *key, strbuf *result)
{
    strbuf_reset(result);
    size_t len = strlen(key);
    if (len > MAP_KEY_MAX)
        return 0;
    if (!m->fold_case)
        return m->ops->lookup(m->handle, key, result);
    char *folded = xstrndup(key, len);
    map_lowercase(folded);
    int status = m->ops->lookup(m->handle, folded, result);
    free(folded);
    return status;
}

const char *map_spec(const map *m)
{
    return m->spec;
}

int map_changed(const map *m)
{
    if (m->file == NULL)
        return 0;
    struct stat now;
    if (stat(m->file, &now) != 0)
        return 1;
    return now.st_ino != m->file_stat.st_ino || now.st_dev != m->file_stat.st_dev ||
           now.st_mtime != m->file_stat.st_mtime || now.st_size != m->file_stat.st_size;
}

void map_close(map *m)
{
    if (m == NULL)
        return;
    m->ops->close(m->handle);
    free(m->spec);
    free(m->file);
    free(m);
}

/* A stand-in for a table that could not be opened: every lookup fails temporarily. */
static void *fail_open(const char *name, strbuf *err)
{
    (void)err;
    return xstrdup(name);
}

static int fail_lookup(void *handle, const char *key, strbuf *result)
{
    (void)key;
    strbuf_reset(result);
    strbuf_append_str(result, (const char *)handle);
    return -1;
}

static void fail_close(void *handle)
{
    free(handle);
}

static const map_ops map_fail_ops = {"fail", fail_open, fail_lookup, fail_close};

static map *map_open_failed(const char *spec, const char *message)
{
    map *m = xcalloc(1, sizeof(*m));
    m->ops = &map_fail_ops;
    m->handle = xstrdup(message);
    m->spec = xstrdup(spec);
    return m;
}

/* Lists of tables. */

struct map_list {
    map **maps;
    size_t count;
    int lenient;
    strbuf *err;
};

int map_split_list(const char *value, int (*fn)(const char *entry, void *ctx), void *ctx,
                   strbuf *err)
{
    const char *p = value;
    for (;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return 0;
        const char *start = p;
        int depth = 0;
        for (; *p; p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && --depth < 0)
                break;
            else if (depth == 0 && (*p == ',' || isspace((unsigned char)*p)))
                break;
        }
        if (depth != 0) {
            strbuf_printf(err, "%s '}' in \"%.200s\"", depth > 0 ? "missing" : "unexpected", start);
            return -1;
        }
        char *entry = xstrndup(start, (size_t)(p - start));
        int status = fn(entry, ctx);
        free(entry);
        if (status != 0)
            return status;
    }
}

static int map_list_add(const char *entry, void *ctx)
{
    map_list *ml = ctx;
    strbuf open_err;
    strbuf_init(&open_err, 4096);
    map *m = map_open(entry, &open_err);
    if (m == NULL && ml->lenient) {
        if (ml->err->len)
            strbuf_append_str(ml->err, "; ");
        strbuf_append_str(ml->err, open_err.data);
        m = map_open_failed(entry, open_err.data);
    }
    if (m == NULL) {
        strbuf_append_str(ml->err, open_err.data);
        strbuf_free(&open_err);
        return -1;
    }
    strbuf_free(&open_err);
    ml->maps = xrealloc(ml->maps, (ml->count + 1) * sizeof(*ml->maps));
    ml->maps[ml->count++] = m;
    return 0;
}

static map_list *map_list_open_mode(const char *value, int lenient, strbuf *err)
{
    map_list *ml = xcalloc(1, sizeof(*ml));
    ml->lenient = lenient;
    ml->err = err;
    if (map_split_list(value, map_list_add, ml, err) != 0) {
        map_list_close(ml);
        return NULL;
    }
    ml->err = NULL;
    return ml;
}

map_list *map_list_open(const char *value, strbuf *err)
{
    return map_list_open_mode(value, 0, err);
}

map_list *map_list_open_lenient(const char *value, strbuf *err)
{
    return map_list_open_mode(value, 1, err);
}

int map_list_lookup(map_list *ml, const char *key, strbuf *result)
{
    strbuf_reset(result);
    for (size_t i = 0; i < ml->count; i++) {
        int status = map_lookup(ml->maps[i], key, result);
        if (status != 0)
            return status;
    }
    return 0;
}

int map_list_empty(const map_list *ml)
{
    return ml == NULL || ml->count == 0;
}

int map_list_changed(const map_list *ml)
{
    for (size_t i = 0; ml && i < ml->count; i++)
        if (map_changed(ml->maps[i]))
            return 1;
    return 0;
}

void map_list_close(map_list *ml)
{
    if (ml == NULL)
        return;
    for (size_t i = 0; i < ml->count; i++)
        map_close(ml->maps[i]);
    free(ml->maps);
    free(ml);
}

/* Source files: logical lines. */

FILE *map_open_regular(const char *path, struct stat *st, strbuf *err)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        strbuf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(fp), st) != 0 || !S_ISREG(st->st_mode)) {
        strbuf_printf(err, "open %s: not a regular file", path);
        fclose(fp);
        return NULL;
    }
    return fp;
}

int map_source_open(map_source *src, const char *path, size_t max_size, strbuf *err)
{
    struct stat st;
    FILE *fp = map_open_regular(path, &st, err);
    if (fp == NULL)
        return -1;
    if ((unsigned long long)st.st_size > max_size) {
        strbuf_printf(err, "open %s: file is larger than %zu bytes", path, max_size);
        fclose(fp);
        return -1;
    }
    map_source_init(src, fp, path);
    src->owns_fp = 1;
    return 0;
}

void map_source_init(map_source *src, FILE *fp, const char *name)
{
    memset(src, 0, sizeof(*src));
    src->fp = fp;
    src->name = xstrdup(name);
    strbuf_init(&src->line, MAP_LINE_MAX);
    strbuf_init(&src->peek, MAP_LINE_MAX);
}

void map_source_close(map_source *src)
{
    if (src->owns_fp && src->fp)
        fclose(src->fp);
    src->fp = NULL;
    free(src->name);
    src->name = NULL;
    strbuf_free(&src->line);
    strbuf_free(&src->peek);
}

/* Reads one physical line into src->peek without its newline: 1, 0 at EOF, -1 error. */
static int read_physical_line(map_source *src, strbuf *err)
{
    strbuf_reset(&src->peek);
    int c, got = 0;
    while ((c = getc(src->fp)) != EOF) {
        got = 1;
        if (c == '\n')
            break;
        if (c == '\0') {
            strbuf_printf(err, "%s, line %d: NUL character in input", src->name,
                          src->phys_lineno + 1);
            return -1;
        }
        if (strbuf_append_char(&src->peek, (char)c) < 0) {
            strbuf_printf(err, "%s, line %d: line is longer than %u bytes", src->name,
                          src->phys_lineno + 1, MAP_LINE_MAX);
            return -1;
        }
    }
    if (ferror(src->fp)) {
        strbuf_printf(err, "read %s: %s", src->name, strerror(errno));
        return -1;
    }
    if (!got)
        return 0;
    src->phys_lineno++;
    if (src->peek.len && src->peek.data[src->peek.len - 1] == '\r')
        strbuf_truncate(&src->peek, src->peek.len - 1);
    return 1;
}

/* Blank or comment line. */
static int line_is_ignorable(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0' || *s == '#';
}

/* Loads the next non-ignorable physical line into peek: 1, 0 at EOF, -1 error. */
static int fill_peek(map_source *src, strbuf *err)
{
    if (src->have_peek)
        return 1;
    int status;
    while ((status = read_physical_line(src, err)) == 1) {
        if (!line_is_ignorable(src->peek.data)) {
            src->have_peek = 1;
            return 1;
        }
    }
    return status;
}

int map_source_next(map_source *src, strbuf *err)
{
    int status;
    for (;;) {
        if ((status = fill_peek(src, err)) <= 0)
            return status;
        if (!isspace((unsigned char)src->peek.data[0]))
            break;
        log_warning("%s, line %d: logical line must not start with white space", src->name,
                    src->phys_lineno);
        src->have_peek = 0;
    }
    strbuf_reset(&src->line);
    strbuf_append(&src->line, src->peek.data, src->peek.len);
    src->lineno = src->phys_lineno;
    src->have_peek = 0;
    while ((status = fill_peek(src, err)) == 1 && isspace((unsigned char)src->peek.data[0])) {
        if (strbuf_append(&src->line, src->peek.data, src->peek.len) < 0) {
            strbuf_printf(err, "%s, line %d: logical line is longer than %u bytes", src->name,
                          src->lineno, MAP_LINE_MAX);
            return -1;
        }
        src->have_peek = 0;
    }
    return status < 0 ? -1 : 1;
}

int map_strmap_lookup(void *handle, const char *key, strbuf *result)
{
    const char *value = strmap_get(handle, key);
    if (value == NULL)
        return 0;
    return strbuf_append_str(result, value) < 0 ? -1 : 1;
}

void map_strmap_close(void *handle)
{
    strmap_free(handle, free);
}

int map_split_key_value(char *line, char **key, char **value)
{
    char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    *key = p;
    while (*p && !isspace((unsigned char)*p))
        p++;
    if (*p)
        *p++ = '\0';
    p = str_trim(p);
    *value = p;
    return **key && *p ? 0 : -1;
}

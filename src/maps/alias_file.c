/* alias_file.c: reading aliases(5) source files (see alias_file.h). */
#include "maps/alias_file.h"
#include "lib/log.h"
#include "maps/map.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Parses the name up to the ':' separator; returns a pointer after the ':' or NULL. */
static const char *parse_name(const char *p, strbuf *name, strbuf *err)
{
    int quoted = 0;
    for (; *p; p++) {
        if (quoted) {
            if (*p == '"') {
                quoted = 0;
                continue;
            }
            if (*p == '\\' && p[1])
                p++;
        } else if (*p == '"') {
            quoted = 1;
            continue;
        } else if (*p == ':') {
            return p + 1;
        } else if (isspace((unsigned char)*p)) {
            /* Unquoted white space: allowed only before the ':'. */
            const char *q = p;
            while (isspace((unsigned char)*q))
                q++;
            if (*q == ':')
                return q + 1;
            strbuf_append_str(err, "white space in alias name (quote the name)");
            return NULL;
        }
        if (strbuf_append_char(name, *p) < 0 || name->len > ALIAS_NAME_MAX) {
            strbuf_printf(err, "alias name is longer than %d bytes", ALIAS_NAME_MAX);
            return NULL;
        }
    }
    strbuf_append_str(err,
                      quoted ? "unbalanced '\"' in alias name" : "missing ':' after alias name");
    return NULL;
}

int alias_parse_line(const char *line, strbuf *name, strbuf *value, strbuf *err)
{
    strbuf_reset(name);
    strbuf_reset(value);
    while (isspace((unsigned char)*line))
        line++;
    const char *rest = parse_name(line, name, err);
    if (rest == NULL)
        return -1;
    if (name->len == 0) {
        strbuf_append_str(err, "empty alias name");
        return -1;
    }
    if (strlen(name->data) != name->len) {
        strbuf_append_str(err, "NUL in alias name");
        return -1;
    }
    map_lowercase(name->data);
    while (isspace((unsigned char)*rest))
        rest++;
    size_t n = strlen(rest);
    while (n > 0 && isspace((unsigned char)rest[n - 1]))
        n--;
    if (n == 0) {
        strbuf_printf(err, "no value for alias \"%s\"", name->data);
        return -1;
    }
    if (n > MAP_VALUE_MAX || strbuf_append(value, rest, n) < 0) {
        strbuf_printf(err, "value of alias \"%s\" is too long", name->data);
        return -1;
    }
    return 0;
}

int alias_file_parse(FILE *fp, const char *name, const alias_file_callbacks *cb, void *ctx,
                     strbuf *err)
{
    map_source src;
    map_source_init(&src, fp, name);
    strbuf key, value, why, msg;
    strbuf_init(&key, 0);
    strbuf_init(&value, 0);
    strbuf_init(&why, 4096);
    strbuf_init(&msg, 8192);
    int status;
    while ((status = map_source_next(&src, err)) == 1) {
        strbuf_reset(&why);
        if (alias_parse_line(src.line.data, &key, &value, &why) < 0) {
            strbuf_reset(&msg);
            strbuf_printf(&msg, "%s, line %d: %s: skipping this entry", name, src.lineno, why.data);
            if (cb->warning)
                cb->warning(msg.data, ctx);
            else
                log_warning("%s", msg.data);
            continue;
        }
        int rc = cb->entry(key.data, value.data, src.lineno, ctx);
        if (rc != 0) {
            status = rc;
            break;
        }
    }
    strbuf_free(&key);
    strbuf_free(&value);
    strbuf_free(&why);
    strbuf_free(&msg);
    map_source_close(&src);
    return status;
}

typedef struct alias_build {
    map_lmdb_builder *builder;
    const char *source;
    strbuf *err;
} alias_build;

static int build_entry(const char *name, const char *value, int lineno, void *ctx)
{
    alias_build *ab = ctx;
    strbuf why;
    strbuf_init(&why, 4096);
    int rc = map_lmdb_builder_put(ab->builder, name, value, MAP_DUP_WARN, &why);
    if (rc == 1 && why.len)
        log_warning("%s, line %d: %s", ab->source, lineno, why.data);
    if (rc < 0)
        strbuf_append_str(ab->err, why.data);
    strbuf_free(&why);
    return rc < 0 ? -1 : 0;
}

int alias_file_build(const char *source, const char *db_path, strbuf *err)
{
    struct stat st;
    FILE *fp = map_open_regular(source, &st, err);
    if (fp == NULL)
        return -1;
    alias_build ab = {map_lmdb_builder_open(db_path, 0, err), source, err};
    if (ab.builder == NULL) {
        fclose(fp);
        return -1;
    }
    alias_file_callbacks cb = {build_entry, NULL};
    int status = alias_file_parse(fp, source, &cb, &ab, err);
    fclose(fp);
    if (status != 0) {
        map_lmdb_builder_abort(ab.builder);
        return -1;
    }
    return map_lmdb_builder_commit(ab.builder, (unsigned)(st.st_mode & 0644) | 0600,
                                   (long)st.st_uid, (long)st.st_gid, err);
}

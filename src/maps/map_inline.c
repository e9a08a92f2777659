/*
 * map_inline.c: inline:{ key=value, { key = value with spaces, commas } } (Postfix 3.0 syntax).
 *
 * The table is the text between the outer braces, split like any list parameter; an element in
 * its own braces may hold white space and commas, and white space around its '=' is ignored.
 * Keys are lowercased; the first of duplicate keys wins. An element without '=', with an empty
 * key or with an empty value is an error that names the element.
 */
#include "lib/str_trim.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct inline_parse {
    strmap *table;
    strbuf *err;
} inline_parse;

static int inline_add(const char *entry, void *ctx)
{
    inline_parse *ip = ctx;
    const char *start = entry, *end = entry + strlen(entry);
    if (*start == '{') {
        if (end - start < 2 || end[-1] != '}') {
            strbuf_printf(ip->err, "inline: missing '}' in \"%s\"", entry);
            return -1;
        }
        start++;
        end--;
    }
    const char *eq = memchr(start, '=', (size_t)(end - start));
    if (eq == NULL) {
        strbuf_printf(ip->err, "inline: missing '=' after key in \"%s\"", entry);
        return -1;
    }
    char *key = str_trim_copy(start, eq);
    char *value = str_trim_copy(eq + 1, end);
    if (*key == '\0' || *value == '\0') {
        strbuf_printf(ip->err, "inline: empty %s in \"%s\"", *key ? "value" : "key", entry);
        free(key);
        free(value);
        return -1;
    }
    map_lowercase(key);
    if (strmap_has(ip->table, key))
        free(value);
    else
        strmap_put(ip->table, key, value);
    free(key);
    return 0;
}

static void *inline_open(const char *name, strbuf *err)
{
    size_t len = strlen(name);
    if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
        strbuf_printf(err, "inline:%s: the table must be enclosed in { }", name);
        return NULL;
    }
    char *body = xstrndup(name + 1, len - 2);
    inline_parse ip = {strmap_new(), err};
    int status = map_split_list(body, inline_add, &ip, err);
    free(body);
    if (status != 0) {
        strmap_free(ip.table, free);
        return NULL;
    }
    return ip.table;
}

const map_ops map_inline_ops = {"inline", inline_open, map_strmap_lookup, map_strmap_close};

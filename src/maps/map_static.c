/*
 * map_static.c: static:value and static:{ value with spaces }, a table that returns the same
 * value for every key (Postfix's static: type).
 */
#include "lib/str_trim.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void *static_open(const char *name, strbuf *err)
{
    size_t len = strlen(name);
    if (len > MAP_VALUE_MAX) {
        strbuf_printf(err, "static: value is longer than %u bytes", MAP_VALUE_MAX);
        return NULL;
    }
    if (name[0] == '{') {
        if (len < 2 || name[len - 1] != '}') {
            strbuf_printf(err, "static:%s: missing '}'", name);
            return NULL;
        }
        return str_trim_copy(name + 1, name + len - 1);
    }
    return xstrdup(name);
}

static int static_lookup(void *handle, const char *key, strbuf *result)
{
    (void)key;
    if (strbuf_append_str(result, (const char *)handle) < 0)
        return -1;
    return 1;
}

static void static_close(void *handle)
{
    free(handle);
}

const map_ops map_static_ops = {"static", static_open, static_lookup, static_close};

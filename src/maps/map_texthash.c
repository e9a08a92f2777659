/*
 * map_texthash.c: texthash:/path, a postmap source file read into memory when the table is
 * opened (Postfix's texthash: type). Lines are "key whitespace value" with comments and
 * continuation lines as in map_source; keys are lowercased; a line without a value is skipped
 * with a warning; of duplicate keys the first wins, with a warning.
 */
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <stdlib.h>
#include <string.h>

static void *texthash_open(const char *name, strbuf *err)
{
    map_source src;
    if (map_source_open(&src, name, MAP_FILE_MAX, err) < 0)
        return NULL;
    strmap *table = strmap_new();
    int status;
    while ((status = map_source_next(&src, err)) == 1) {
        char *key, *value;
        if (map_split_key_value(src.line.data, &key, &value) < 0) {
            log_warning("%s, line %d: expected format: key whitespace value", name, src.lineno);
            continue;
        }
        if (strlen(value) > MAP_VALUE_MAX) {
            log_warning("%s, line %d: value is longer than %u bytes", name, src.lineno,
                        MAP_VALUE_MAX);
            continue;
        }
        map_lowercase(key);
        if (strmap_has(table, key)) {
            log_warning("%s, line %d: duplicate entry: \"%s\"", name, src.lineno, key);
            continue;
        }
        strmap_put(table, key, xstrdup(value));
    }
    map_source_close(&src);
    if (status < 0) {
        strmap_free(table, free);
        return NULL;
    }
    return table;
}

const map_ops map_texthash_ops = {"texthash", texthash_open, map_strmap_lookup, map_strmap_close};

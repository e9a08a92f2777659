/*
 * map.h: Postfix lookup tables behind one interface.
 *
 * A table is named "type:name" as in main.cf: inline:{ key=value, ... }, static:value,
 * texthash:/path, hash:/path (LMDB, built by postmap), cidr:/path, regexp:/path, pcre:/path,
 * unix:passwd.byname. One file per type, map_<type>.c, each providing a map_ops.
 * Keys are matched case-insensitively (lowercased) unless the type says otherwise, as Postfix does.
 */
#ifndef POSTERN_MAP_H
#define POSTERN_MAP_H

#include "lib/strbuf.h"

typedef struct map map;

typedef struct map_ops {
    const char *type;
    /* Opens name (the part after "type:"); on error returns NULL with a message in err. */
    void *(*open)(const char *name, strbuf *err);
    /* 1 found (value in result), 0 not found, -1 temporary failure (message in result). */
    int (*lookup)(void *handle, const char *key, strbuf *result);
    void (*close)(void *handle);
} map_ops;

/* Opens "type:name". */
map *map_open(const char *spec, strbuf *err);
int map_lookup(map *m, const char *key, strbuf *result);
const char *map_spec(const map *m);
void map_close(map *m);

/* A parameter's list of tables ("hash:/etc/aliases, texthash:/x"), searched in order. */
typedef struct map_list map_list;
map_list *map_list_open(const char *value, strbuf *err);
int map_list_lookup(map_list *ml, const char *key, strbuf *result);
int map_list_empty(const map_list *ml);
void map_list_close(map_list *ml);

#endif

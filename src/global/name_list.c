/* name_list.c: access-control name lists (see name_list.h). */
#include "global/name_list.h"
#include "lib/log.h"
#include "maps/map.h"

#include <string.h>
#include <strings.h>

typedef struct name_match {
    const char *name;
    int mode;
    int result; /* 1 allowed, 0 denied, -1 undecided */
} name_match;

static int entry_hits(const char *entry, const name_match *m)
{
    if (m->mode == NAME_LIST_EXACT)
        return strcmp(entry, m->name) == 0;
    if (strchr(entry, ':') == NULL)
        return strcasecmp(entry, m->name) == 0;
    strbuf err, value;
    strbuf_init(&err, 0);
    strbuf_init(&value, 0);
    map *table = map_open(entry, &err);
    int hit = table != NULL && map_lookup(table, m->name, &value) == 1;
    if (table == NULL)
        log_warning("%s", err.len ? err.data : "cannot open table");
    else
        map_close(table);
    strbuf_free(&err);
    strbuf_free(&value);
    return hit;
}

static int match_entry(const char *entry, void *ctx)
{
    name_match *m = ctx;
    int negate = 0;
    while (*entry == '!') {
        negate = !negate;
        entry++;
    }
    if (!entry_hits(entry, m))
        return 0;
    m->result = !negate;
    return 1;
}

int name_list_allows(const char *list, const char *name, int mode)
{
    name_match m = {name, mode, -1};
    strbuf err;
    strbuf_init(&err, 0);
    map_split_list(list, match_entry, &m, &err);
    strbuf_free(&err);
    return m.result == 1;
}

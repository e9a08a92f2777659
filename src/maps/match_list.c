/*
 * match_list.c: domain lists and network lists (see match_list.h).
 */
#include "maps/match_list.h"
#include "lib/inet_addr.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <stdlib.h>
#include <string.h>

#define MATCH_NAME_MAX 1024 /* longer domain names never match */

typedef enum { ENTRY_NAME, ENTRY_TABLE, ENTRY_NET } entry_kind;

typedef struct match_entry {
    entry_kind kind;
    int negate;
    char *name;    /* ENTRY_NAME, lowercased */
    map *table;    /* ENTRY_TABLE */
    inet_cidr net; /* ENTRY_NET */
} match_entry;

struct match_list {
    int is_net;
    int parent_matches_subdomains;
    match_entry *entries;
    size_t count;
};

typedef struct parse_ctx {
    match_list *ml;
    int negate; /* applied to every entry (a negated file) */
    int depth;  /* file nesting */
    strbuf *err;
} parse_ctx;

static int add_entries(match_list *ml, const char *value, int negate, int depth, strbuf *err);

static match_entry *new_entry(match_list *ml, entry_kind kind, int negate)
{
    ml->entries = xrealloc(ml->entries, (ml->count + 1) * sizeof(*ml->entries));
    match_entry *e = &ml->entries[ml->count++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->negate = negate;
    return e;
}

/* Reads patterns from a file: every logical line may hold several, as in main.cf. */
static int add_file(parse_ctx *pc, const char *path, int negate)
{
    if (pc->depth >= MATCH_LIST_FILE_DEPTH) {
        strbuf_printf(pc->err, "%s: pattern files nested deeper than %d", path,
                      MATCH_LIST_FILE_DEPTH);
        return -1;
    }
    map_source src;
    if (map_source_open(&src, path, MAP_FILE_MAX, pc->err) < 0)
        return -1;
    int status;
    while ((status = map_source_next(&src, pc->err)) == 1) {
        if (add_entries(pc->ml, src.line.data, negate, pc->depth + 1, pc->err) < 0) {
            strbuf_printf(pc->err, " (file %s, line %d)", path, src.lineno);
            status = -1;
            break;
        }
    }
    map_source_close(&src);
    return status < 0 ? -1 : 0;
}

/* "type:name" whose type we know (an IPv6 address has colons too). */
static int looks_like_table(const char *entry)
{
    const char *colon = strchr(entry, ':');
    if (colon == NULL || colon == entry)
        return 0;
    char type[32];
    size_t n = (size_t)(colon - entry);
    if (n >= sizeof(type))
        return 0;
    memcpy(type, entry, n);
    type[n] = '\0';
    return strcmp(type, "proxy") == 0 || map_type_supported(type);
}

static int add_table(parse_ctx *pc, const char *entry, int negate)
{
    map *m = map_open(entry, pc->err);
    if (m == NULL)
        return -1;
    new_entry(pc->ml, ENTRY_TABLE, negate)->table = m;
    return 0;
}

static int add_one(const char *entry, void *ctx)
{
    parse_ctx *pc = ctx;
    int negate = pc->negate;
    const char *p = entry;
    while (*p == '!') {
        negate = !negate;
        p++;
    }
    if (*p == '\0') {
        strbuf_printf(pc->err, "no pattern after '!' in \"%s\"", entry);
        return -1;
    }
    if (*p == '/')
        return add_file(pc, p, negate);
    if (pc->ml->is_net) {
        inet_cidr net;
        if (*p != '[' && looks_like_table(p) && inet_cidr_parse(p, &net, NULL) < 0)
            return add_table(pc, p, negate);
        strbuf msg;
        strbuf_init(&msg, 1024);
        int status = inet_cidr_parse(p, &net, &msg);
        if (status < 0)
            strbuf_printf(pc->err, "network list: %s", msg.data);
        else
            new_entry(pc->ml, ENTRY_NET, negate)->net = net;
        strbuf_free(&msg);
        return status;
    }
    if (strchr(p, ':') != NULL)
        return add_table(pc, p, negate);
    char *name = xstrdup(p);
    map_lowercase(name);
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        name[n - 1] = '\0';
    new_entry(pc->ml, ENTRY_NAME, negate)->name = name;
    return 0;
}

static int add_entries(match_list *ml, const char *value, int negate, int depth, strbuf *err)
{
    parse_ctx pc = {ml, negate, depth, err};
    return map_split_list(value, add_one, &pc, err) != 0 ? -1 : 0;
}

static match_list *list_open(const char *value, int is_net, int parent, strbuf *err)
{
    match_list *ml = xcalloc(1, sizeof(*ml));
    ml->is_net = is_net;
    ml->parent_matches_subdomains = parent;
    if (add_entries(ml, value, 0, 0, err) < 0) {
        match_list_close(ml);
        return NULL;
    }
    return ml;
}

match_list *domain_list_open(const char *value, strbuf *err)
{
    return list_open(value, 0, 0, err);
}

match_list *domain_list_open_flags(const char *value, int flags, strbuf *err)
{
    return list_open(value, 0, (flags & DOMAIN_LIST_PARENT_MATCHES_SUBDOMAINS) != 0, err);
}

match_list *net_list_open(const char *value, strbuf *err)
{
    return list_open(value, 1, 0, err);
}

void match_list_close(match_list *ml)
{
    if (ml == NULL)
        return;
    for (size_t i = 0; i < ml->count; i++) {
        free(ml->entries[i].name);
        map_close(ml->entries[i].table);
    }
    free(ml->entries);
    free(ml);
}

/* 1 when domain ends with "." + parent (parent given without its dot). */
static int is_subdomain_of(const char *domain, const char *parent)
{
    size_t dl = strlen(domain), pl = strlen(parent);
    return dl > pl + 1 && domain[dl - pl - 1] == '.' && strcmp(domain + dl - pl, parent) == 0;
}

static int name_matches(const match_list *ml, const char *pattern, const char *domain)
{
    if (pattern[0] == '.')
        return pattern[1] != '\0' && is_subdomain_of(domain, pattern + 1);
    if (strcmp(pattern, domain) == 0)
        return 1;
    return ml->parent_matches_subdomains && is_subdomain_of(domain, pattern);
}

/* Looks up domain, then its parents ("b.c" or ".b.c" for "a.b.c"): 1, 0 or -1. */
static int table_matches_domain(const match_list *ml, map *table, const char *domain)
{
    strbuf value, key;
    strbuf_init(&value, 0);
    strbuf_init(&key, 0);
    int status = map_lookup(table, domain, &value);
    for (const char *dot = strchr(domain, '.'); status == 0 && dot && dot[1];
         dot = strchr(dot + 1, '.')) {
        strbuf_reset(&key);
        strbuf_append_str(&key, ml->parent_matches_subdomains ? dot + 1 : dot);
        status = map_lookup(table, key.data, &value);
    }
    strbuf_free(&value);
    strbuf_free(&key);
    return status;
}

int domain_list_match(match_list *ml, const char *domain)
{
    size_t n = strlen(domain);
    if (ml == NULL || n == 0 || n > MATCH_NAME_MAX)
        return 0;
    char *name = xstrdup(domain);
    map_lowercase(name);
    if (n > 1 && name[n - 1] == '.')
        name[n - 1] = '\0';
    int result = 0;
    for (size_t i = 0; i < ml->count; i++) {
        const match_entry *e = &ml->entries[i];
        int hit = 0;
        if (e->kind == ENTRY_NAME) {
            hit = name_matches(ml, e->name, name);
        } else if (e->kind == ENTRY_TABLE) {
            hit = table_matches_domain(ml, e->table, name);
            if (hit < 0) {
                result = -1;
                break;
            }
        }
        if (hit) {
            result = !e->negate;
            break;
        }
    }
    free(name);
    return result;
}

/* Looks the address up in canonical form, then (IPv4-mapped) as plain IPv4. */
static int table_matches_addr(map *table, const inet_address *addr)
{
    char text[INET_ADDR_TEXT_MAX];
    strbuf value;
    strbuf_init(&value, 0);
    inet_addr_format(addr, text, sizeof(text));
    int status = map_lookup(table, text, &value);
    inet_address v4;
    if (status == 0 && inet_addr_is_v4_mapped(addr, &v4)) {
        inet_addr_format(&v4, text, sizeof(text));
        status = map_lookup(table, text, &value);
    }
    strbuf_free(&value);
    return status;
}

int net_list_match(match_list *ml, const char *addr_text)
{
    inet_address addr;
    if (ml == NULL || inet_addr_parse(addr_text, &addr) < 0)
        return 0;
    for (size_t i = 0; i < ml->count; i++) {
        const match_entry *e = &ml->entries[i];
        int hit = 0;
        if (e->kind == ENTRY_NET) {
            hit = inet_cidr_match(&e->net, &addr);
        } else if (e->kind == ENTRY_TABLE) {
            hit = table_matches_addr(e->table, &addr);
            if (hit < 0)
                return -1;
        }
        if (hit)
            return !e->negate;
    }
    return 0;
}

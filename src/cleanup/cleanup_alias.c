/*
 * cleanup_alias.c: virtual_alias_maps expansion of envelope recipients (see cleanup_alias.h).
 *
 * The expansion is a depth-first walk: each address is looked up once; a value that lists the
 * address itself makes it a leaf ("deliver as is"), every other address in the value is walked
 * in turn. Two sets bound the work: the addresses on the current chain (seeing one again is a
 * loop, which Postfix would run into its nesting limit with) and the addresses already finished
 * (seeing one again is a duplicate and adds nothing). Results keep the table's order.
 *
 * The opened tables and the resolver (for "is this domain local?") are cached for the current
 * configuration: cleanup runs once per message in long-lived processes (smtpd, pickup), and
 * opening an LMDB or regexp table per recipient would dominate the cost. The cache is dropped
 * when the configuration object, virtual_alias_maps or mydestination changes, or a table file
 * is replaced (map_list_changed).
 */
#include "cleanup/cleanup_alias.h"
#include "cleanup/cleanup.h"
#include "global/mail_params.h"
#include "global/resolve.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/word_list.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALIAS_DEFAULT_LIMIT 1000
/* Lookups per expansion, a bound on work for tables that invent new addresses (regexp). */
#define ALIAS_LOOKUPS_PER_RESULT 10

/* The tables of one configuration. */
typedef struct alias_cache {
    const config *cfg;
    char *maps_value;    /* virtual_alias_maps when opened */
    char *mydestination; /* the resolver's local domains when opened */
    map_list *maps;
    resolver *res;
} alias_cache;

static alias_cache cache;

/* One expansion in progress. */
typedef struct expansion {
    cleanup_alias_list *out;
    strmap *finished; /* lowercased addresses already expanded or delivered as is */
    strmap *chain;    /* lowercased addresses on the current chain */
    const char *top;  /* the address being expanded, for messages */
    long expansion_limit;
    long recursion_limit;
    long lookups;
    const char *delimiters; /* recipient_delimiter */
    int propagate;          /* propagate_unmatched_extensions has "virtual" */
    strbuf *why;
} expansion;

void cleanup_alias_reset(void)
{
    if (cache.maps)
        map_list_close(cache.maps);
    if (cache.res)
        resolver_close(cache.res);
    free(cache.maps_value);
    free(cache.mydestination);
    memset(&cache, 0, sizeof(cache));
}

/* Makes the cache match the current configuration. 0, or -1 with why set. */
static int cache_ready(strbuf *why)
{
    const config *cfg = config_current();
    const char *maps = mail_params_current()->virtual_alias_maps;
    const char *mydestination = mail_params_current()->mydestination;
    if (cache.maps && cache.cfg == cfg && strcmp(cache.maps_value, maps) == 0 &&
        strcmp(cache.mydestination, mydestination) == 0 && !map_list_changed(cache.maps))
        return 0;
    cleanup_alias_reset();
    strbuf err;
    strbuf_init(&err, 4096);
    map_list *ml = map_list_open(maps, &err);
    resolver *res = ml ? resolver_open(&err) : NULL;
    if (res == NULL) {
        strbuf_printf(why, "%s: %s", ml ? "address resolver" : "virtual_alias_maps", err.data);
        if (ml)
            map_list_close(ml);
        strbuf_free(&err);
        return -1;
    }
    strbuf_free(&err);
    cache.cfg = cfg;
    cache.maps_value = xstrdup(maps);
    cache.mydestination = xstrdup(mydestination);
    cache.maps = ml;
    cache.res = res;
    return 0;
}

static long limit_param(const char *name)
{
    long v = cfg_int(name);
    return v > 0 ? v : ALIAS_DEFAULT_LIMIT;
}

/* Does the list parameter's value name word (comma or white space separated)? */
static int list_has(const char *list, const char *word)
{
    return word_list_has(list, word, WORD_LIST_FOLD_CASE);
}

static char *lowercase_copy(const char *s)
{
    char *copy = xstrdup(s);
    for (char *p = copy; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return copy;
}

static void list_add(cleanup_alias_list *list, const char *addr)
{
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 4;
        list->addrs = xrealloc(list->addrs, list->cap * sizeof(*list->addrs));
    }
    list->addrs[list->count++] = xstrdup(addr);
}

void cleanup_alias_list_free(cleanup_alias_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->addrs[i]);
    free(list->addrs);
    memset(list, 0, sizeof(*list));
}

/* ---- one lookup ---- */

/* The parts of an address a lookup needs. */
typedef struct address_parts {
    strbuf local;  /* local part as given (with its extension) */
    strbuf bare;   /* local part without the extension */
    strbuf ext;    /* the extension with its delimiter ("+foo"), or "" */
    strbuf domain; /* "" when the address has none */
} address_parts;

static void parts_init(address_parts *p, const char *addr, const char *delimiters)
{
    strbuf_init(&p->local, 0);
    strbuf_init(&p->bare, 0);
    strbuf_init(&p->ext, 0);
    strbuf_init(&p->domain, 0);
    const char *at = strrchr(addr, '@');
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    strbuf_append(&p->local, addr, local_len);
    strbuf_append_str(&p->domain, at ? at + 1 : "");
    /* As Postfix: split at the first delimiter, but a local part starting with one has none. */
    size_t cut = delimiters[0] ? strcspn(p->local.data, delimiters) : local_len;
    if (cut == 0 || cut >= local_len)
        cut = local_len;
    strbuf_append(&p->bare, p->local.data, cut);
    strbuf_append_str(&p->ext, p->local.data + cut);
}

static void parts_free(address_parts *p)
{
    strbuf_free(&p->local);
    strbuf_free(&p->bare);
    strbuf_free(&p->ext);
    strbuf_free(&p->domain);
}

/* map_list_lookup with the key built by the caller. 1, 0 or -1 (why set). */
static int try_key(expansion *x, const char *key, strbuf *value)
{
    strbuf_reset(value);
    int found = map_list_lookup(cache.maps, key, value);
    if (found < 0)
        strbuf_printf(x->why, "virtual_alias_maps map lookup problem for %s: %s", key, value->data);
    return found;
}

/* 1 local, 0 not, -1 resolver failure (why set). */
static int domain_is_local(expansion *x, const char *addr)
{
    resolved res;
    strbuf err;
    strbuf_init(&err, 4096);
    int rc = resolve_address(cache.res, addr, &res, &err);
    if (rc < 0)
        strbuf_printf(x->why, "address resolver failure for %s: %s", addr, err.data);
    strbuf_free(&err);
    return rc < 0 ? -1 : res.cls == ADDR_CLASS_LOCAL;
}

/* The virtual(5) lookup sequence. 1 found (value set; *unmatched_ext = 1 when the matching key
 * did not hold the extension), 0 not found, -1 table failure. */
static int alias_lookup(expansion *x, const char *addr, const address_parts *p, strbuf *value,
                        int *unmatched_ext)
{
    int has_ext = p->ext.len > 0;
    int found = try_key(x, addr, value);
    *unmatched_ext = 0;
    strbuf key;
    strbuf_init(&key, 0);
    if (found == 0 && has_ext && p->domain.len) {
        strbuf_printf(&key, "%s@%s", p->bare.data, p->domain.data);
        found = try_key(x, key.data, value);
        *unmatched_ext = 1;
    }
    if (found == 0) {
        int local = p->domain.len == 0 ? 1 : domain_is_local(x, addr);
        if (local < 0) {
            found = -1;
        } else if (local) {
            if (p->domain.len) {
                found = try_key(x, p->local.data, value);
                *unmatched_ext = 0;
            }
            if (found == 0 && has_ext) {
                found = try_key(x, p->bare.data, value);
                *unmatched_ext = 1;
            }
        }
    }
    if (found == 0 && p->domain.len) {
        strbuf_reset(&key);
        strbuf_printf(&key, "@%s", p->domain.data);
        found = try_key(x, key.data, value);
        *unmatched_ext = has_ext;
    }
    strbuf_free(&key);
    return found;
}

/* ---- the value ---- */

/* Splits an address list at commas and white space outside double quotes; "<addr>" loses its
 * brackets. Calls fn for each non-empty address; a non-zero return stops the walk. */
static int each_value_address(const char *value, int (*fn)(const char *addr, void *ctx), void *ctx)
{
    strbuf item;
    strbuf_init(&item, 0);
    int rc = 0;
    const char *p = value;
    while (rc == 0 && *p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        strbuf_reset(&item);
        int quoted = 0;
        for (; *p && (quoted || (*p != ',' && !isspace((unsigned char)*p))); p++) {
            if (*p == '"')
                quoted = !quoted;
            else if (*p == '\\' && quoted && p[1])
                strbuf_append_char(&item, *p++);
            strbuf_append_char(&item, *p);
        }
        const char *addr = item.data;
        size_t len = item.len;
        if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
            item.data[len - 1] = '\0';
            addr++;
        }
        if (*addr)
            rc = fn(addr, ctx);
    }
    strbuf_free(&item);
    return rc;
}

/* Context for turning one value into result addresses. */
typedef struct value_walk {
    expansion *x;
    const address_parts *parts;
    const char *lhs; /* the address that was looked up */
    int add_ext;     /* copy parts->ext into each result */
    int self;        /* the value lists lhs itself */
    int depth;
    cleanup_alias_status status;
    int pass; /* 1: find self; 2: expand the others */
} value_walk;

/* A value address as Postfix's mail_addr_map makes it: "@domain" takes the looked-up local
 * part (without extension), a bare name gets @$myorigin, the unmatched extension goes in
 * front of the '@'. -1 (why set) when the result is too long. */
static int result_address(value_walk *w, const char *item, strbuf *out)
{
    strbuf_reset(out);
    if (item[0] == '@')
        strbuf_append_str(out, w->parts->bare.data);
    strbuf_append_str(out, item);
    if (strrchr(out->data, '@') == NULL && mail_params_current()->append_at_myorigin)
        strbuf_printf(out, "@%s", mail_params_current()->myorigin);
    if (w->add_ext) {
        char *at = strrchr(out->data, '@');
        if (at == NULL) {
            strbuf_append_str(out, w->parts->ext.data);
        } else {
            char *domain = xstrdup(at);
            strbuf_truncate(out, (size_t)(at - out->data));
            strbuf_append_str(out, w->parts->ext.data);
            strbuf_append_str(out, domain);
            free(domain);
        }
    }
    if (out->len > CLEANUP_ALIAS_ADDRESS_MAX) {
        strbuf_printf(w->x->why, "unreasonable virtual_alias_maps result %.300s...", out->data);
        return -1;
    }
    return 0;
}

static cleanup_alias_status expand_address(expansion *x, const char *addr, int depth);

static int value_item(const char *item, void *ctx)
{
    value_walk *w = ctx;
    strbuf addr;
    strbuf_init(&addr, 0);
    int stop = 0;
    if (result_address(w, item, &addr) < 0) {
        w->status = CLEANUP_ALIAS_LIMIT;
        stop = 1;
    } else if (strcasecmp(addr.data, w->lhs) == 0) {
        w->self = 1;
    } else if (w->pass == 2) {
        w->status = expand_address(w->x, addr.data, w->depth + 1);
        stop = w->status != CLEANUP_ALIAS_OK;
    }
    strbuf_free(&addr);
    return stop;
}

/* ---- the walk ---- */

/* Adds a final recipient (once). */
static cleanup_alias_status deliver_as_is(expansion *x, const char *addr, const char *key)
{
    if (strmap_has(x->finished, key))
        return CLEANUP_ALIAS_OK;
    strmap_put(x->finished, key, NULL);
    list_add(x->out, addr);
    if ((long)x->out->count > x->expansion_limit) {
        strbuf_printf(x->why, "unreasonable virtual_alias_maps map expansion size for %s", x->top);
        return CLEANUP_ALIAS_LIMIT;
    }
    return CLEANUP_ALIAS_OK;
}

/* Looks addr up and walks its value. */
static cleanup_alias_status expand_found(expansion *x, const char *addr, const char *key,
                                         const address_parts *parts, const char *value,
                                         int unmatched_ext, int depth)
{
    value_walk w = {.x = x,
                    .parts = parts,
                    .lhs = addr,
                    .depth = depth,
                    .pass = 1,
                    .add_ext = unmatched_ext && x->propagate && parts->ext.len > 0,
                    .status = CLEANUP_ALIAS_OK};
    if (each_value_address(value, value_item, &w) != 0)
        return w.status;
    if (w.self) {
        cleanup_alias_status st = deliver_as_is(x, addr, key);
        if (st != CLEANUP_ALIAS_OK)
            return st;
    }
    strmap_put(x->chain, key, NULL);
    w.pass = 2;
    each_value_address(value, value_item, &w);
    strmap_remove(x->chain, key);
    strmap_put(x->finished, key, NULL);
    return w.status;
}

static int count_item(const char *item, void *ctx)
{
    (void)item;
    (*(int *)ctx)++;
    return 0;
}

static cleanup_alias_status expand_address(expansion *x, const char *addr, int depth)
{
    char *key = lowercase_copy(addr);
    cleanup_alias_status st = CLEANUP_ALIAS_OK;
    if (strmap_has(x->finished, key)) {
        free(key);
        return CLEANUP_ALIAS_OK;
    }
    if (strmap_has(x->chain, key)) {
        strbuf_printf(x->why, "virtual_alias_maps loop for %s (via %s)", x->top, addr);
        free(key);
        return CLEANUP_ALIAS_LIMIT;
    }
    if (depth > x->recursion_limit) {
        strbuf_printf(x->why, "unreasonable virtual_alias_maps map nesting for %s", x->top);
        free(key);
        return CLEANUP_ALIAS_LIMIT;
    }
    if (++x->lookups > x->expansion_limit * ALIAS_LOOKUPS_PER_RESULT) {
        strbuf_printf(x->why, "unreasonable virtual_alias_maps map expansion size for %s", x->top);
        free(key);
        return CLEANUP_ALIAS_LIMIT;
    }
    address_parts parts;
    parts_init(&parts, addr, x->delimiters);
    strbuf value;
    strbuf_init(&value, MAP_VALUE_MAX + 1);
    int unmatched_ext = 0;
    int found = alias_lookup(x, addr, &parts, &value, &unmatched_ext);
    if (found < 0) {
        st = CLEANUP_ALIAS_TEMPFAIL;
    } else if (found == 0) {
        st = deliver_as_is(x, addr, key);
    } else {
        int items = 0;
        each_value_address(value.data, count_item, &items);
        if (items == 0) {
            /* As Postfix: a value without an address is a table problem, not "no one". */
            strbuf_printf(x->why,
                          "virtual_alias_maps lookup of %s returns non-address result "
                          "\"%.300s\"",
                          addr, value.data);
            st = CLEANUP_ALIAS_TEMPFAIL;
        } else {
            st = expand_found(x, addr, key, &parts, value.data, unmatched_ext, depth);
        }
    }
    strbuf_free(&value);
    parts_free(&parts);
    free(key);
    return st;
}

cleanup_alias_status cleanup_alias_expand(const char *address, cleanup_alias_list *out, strbuf *why)
{
    memset(out, 0, sizeof(*out));
    if (address[0] == '\0' || mail_params_current()->virtual_alias_maps[0] == '\0') {
        list_add(out, address);
        return CLEANUP_ALIAS_OK;
    }
    if (cache_ready(why) < 0)
        return CLEANUP_ALIAS_TEMPFAIL;
    expansion x = {
        .out = out,
        .finished = strmap_new(),
        .chain = strmap_new(),
        .top = address,
        .expansion_limit = limit_param("virtual_alias_expansion_limit"),
        .recursion_limit = limit_param("virtual_alias_recursion_limit"),
        .delimiters = mail_params_current()->recipient_delimiter,
        .propagate = list_has(mail_params_current()->propagate_unmatched_extensions, "virtual"),
        .why = why,
    };
    cleanup_alias_status st = expand_address(&x, address, 0);
    strmap_free(x.finished, NULL);
    strmap_free(x.chain, NULL);
    if (st != CLEANUP_ALIAS_OK)
        cleanup_alias_list_free(out);
    return st;
}

int cleanup_alias_write_recipient(queue_writer *qw, const char *rcpt, const char *orig, int notify,
                                  const char *dsn_orcpt, int *status)
{
    cleanup_alias_list list;
    strbuf why;
    strbuf_init(&why, 0);
    cleanup_alias_status st = cleanup_alias_expand(rcpt, &list, &why);
    int rc = 0;
    if (st != CLEANUP_ALIAS_OK) {
        /* Postfix keeps the unexpanded recipient and refuses the message ("try again"). */
        log_warning("%s: %s -- message not accepted, try again later", queue_writer_id(qw),
                    why.data);
        *status |= CLEANUP_STAT_DEFER;
        rc = queue_writer_recipient(qw, rcpt, orig, notify, dsn_orcpt);
    }
    for (size_t i = 0; i < list.count && rc == 0; i++)
        rc = queue_writer_recipient(qw, list.addrs[i], orig, notify, dsn_orcpt);
    cleanup_alias_list_free(&list);
    strbuf_free(&why);
    return rc;
}

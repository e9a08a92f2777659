/*
 * resolve.c: address classes and transport resolution (see resolve.h).
 *
 * The resolver keeps every domain list and lookup table it needs, opened on first use and kept
 * for the life of the resolver (a reload makes a new one). A table that fails to open is a
 * temporary failure for the caller and is tried again on the next call.
 *
 * Resolution order, as Postfix's trivial-rewrite:
 *   1. a bare address gets "@$myorigin" (append_at_myorigin = yes), the domain is lowercased and
 *      trailing dots are removed;
 *   2. the class: mydestination or an [address] literal of this host's interfaces
 *      -> local; virtual_alias_domains -> virtual alias; virtual_mailbox_domains -> virtual
 *      mailbox; relay_domains -> relay; otherwise default;
 *   3. the class's transport parameter, "transport[:nexthop]"; without a nexthop, local uses
 *      $myhostname, virtual the domain, relay and default $relayhost when set, else the domain;
 *      the virtual alias class resolves to the "error" transport (an address there that no
 *      virtual alias rewrote is unknown);
 *   4. transport_maps, searched for the full address, the address without its
 *      recipient_delimiter extension, the domain, each parent ".domain", then "*"; an empty
 *      transport or nexthop in the result keeps what step 3 chose.
 */
#include "global/resolve.h"
#include "global/mail_addr.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/local_addrs.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "maps/match_list.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* A lazily opened domain list or table list, remembered with the parameter that names it. */
typedef struct lazy_list {
    const char *param;
    int is_domain_list;
    match_list *domains;
    map_list *maps;
} lazy_list;

enum {
    LIST_MYDESTINATION,
    LIST_VIRTUAL_ALIAS_DOMAINS,
    LIST_VIRTUAL_MAILBOX_DOMAINS,
    LIST_RELAY_DOMAINS,
    LIST_TRANSPORT_MAPS,
    LIST_LOCAL_RECIPIENT_MAPS,
    LIST_VIRTUAL_MAILBOX_MAPS,
    LIST_VIRTUAL_ALIAS_MAPS,
    LIST_COUNT
};

struct resolver {
    lazy_list lists[LIST_COUNT];
    local_addrs local; /* this host's interface addresses */
};

static const struct {
    const char *param;
    int is_domain_list;
} list_defs[LIST_COUNT] = {
    [LIST_MYDESTINATION] = {"mydestination", 1},
    [LIST_VIRTUAL_ALIAS_DOMAINS] = {"virtual_alias_domains", 1},
    [LIST_VIRTUAL_MAILBOX_DOMAINS] = {"virtual_mailbox_domains", 1},
    [LIST_RELAY_DOMAINS] = {"relay_domains", 1},
    [LIST_TRANSPORT_MAPS] = {"transport_maps", 0},
    [LIST_LOCAL_RECIPIENT_MAPS] = {"local_recipient_maps", 0},
    [LIST_VIRTUAL_MAILBOX_MAPS] = {"virtual_mailbox_maps", 0},
    [LIST_VIRTUAL_ALIAS_MAPS] = {"virtual_alias_maps", 0},
};

const char *addr_class_name(addr_class c)
{
    switch (c) {
    case ADDR_CLASS_LOCAL:
        return "local";
    case ADDR_CLASS_VIRTUAL_ALIAS:
        return "virtual alias";
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        return "virtual mailbox";
    case ADDR_CLASS_RELAY:
        return "relay";
    case ADDR_CLASS_DEFAULT:
        return "default";
    }
    return "unknown";
}

resolver *resolver_open(strbuf *err)
{
    (void)err;
    resolver *r = xcalloc(1, sizeof(*r));
    for (int i = 0; i < LIST_COUNT; i++) {
        r->lists[i].param = list_defs[i].param;
        r->lists[i].is_domain_list = list_defs[i].is_domain_list;
    }
    local_addrs_collect(&r->local);
    return r;
}

void resolver_close(resolver *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < LIST_COUNT; i++) {
        if (r->lists[i].domains)
            match_list_close(r->lists[i].domains);
        if (r->lists[i].maps)
            map_list_close(r->lists[i].maps);
    }
    local_addrs_free(&r->local);
    free(r);
}

/* Opens list i when needed. 0 ok, -1 with a message in err. */
static int lazy_open(resolver *r, int i, strbuf *err)
{
    lazy_list *l = &r->lists[i];
    if (l->domains || l->maps)
        return 0;
    const char *value = cfg_str(l->param);
    strbuf why;
    strbuf_init(&why, 4096);
    if (l->is_domain_list)
        l->domains = domain_list_open(value, &why);
    else
        l->maps = map_list_open(value, &why);
    int ok = l->domains || l->maps;
    if (!ok && err) {
        strbuf_reset(err);
        strbuf_printf(err, "%s: %s", l->param, why.data);
    }
    strbuf_free(&why);
    return ok ? 0 : -1;
}

/* 1 match, 0 none, -1 temporary failure. */
static int domain_in(resolver *r, int i, const char *domain, strbuf *err)
{
    if (lazy_open(r, i, err) < 0)
        return -1;
    int m = domain_list_match(r->lists[i].domains, domain);
    if (m < 0 && err) {
        strbuf_reset(err);
        strbuf_printf(err, "%s: table lookup failed for %s", r->lists[i].param, domain);
    }
    return m;
}

/* 1 found (value in result), 0 not found, -1 temporary failure. An empty list finds nothing. */
static int table_lookup(resolver *r, int i, const char *key, strbuf *result, strbuf *err)
{
    if (lazy_open(r, i, err) < 0)
        return -1;
    if (map_list_empty(r->lists[i].maps))
        return 0;
    int found = map_list_lookup(r->lists[i].maps, key, result);
    if (found < 0 && err) {
        strbuf_reset(err);
        strbuf_printf(err, "%s: lookup of %s failed: %s", r->lists[i].param, key, result->data);
    }
    return found;
}

/* Non-zero when "[addr]" or "[IPv6:addr]" names one of this host's interfaces. */
static int is_own_literal(const resolver *r, const char *domain)
{
    size_t len = strlen(domain);
    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
        return 0;
    char text[INET6_ADDRSTRLEN + 8];
    const char *inner = domain + 1;
    size_t inner_len = len - 2;
    if (inner_len > 5 && strncasecmp(inner, "ipv6:", 5) == 0) {
        inner += 5;
        inner_len -= 5;
    }
    if (inner_len >= sizeof(text))
        return 0;
    memcpy(text, inner, inner_len);
    text[inner_len] = '\0';
    unsigned char bin[16];
    char canon[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, text, bin) == 1)
        inet_ntop(AF_INET, bin, canon, sizeof(canon));
    else if (inet_pton(AF_INET6, text, bin) == 1)
        inet_ntop(AF_INET6, bin, canon, sizeof(canon));
    else
        return 0;
    return local_addrs_has(&r->local, canon);
}

/* Fills out->address: bare addresses get @$myorigin, the domain is lowercased, trailing dots go.
 * -1 when it does not fit. */
static int canonical_address(const char *address, resolved *out, strbuf *err)
{
    char local[sizeof(out->address)], domain[sizeof(out->address)];
    if (mail_addr_split(address, local, sizeof(local), domain, sizeof(domain)) < 0) {
        strbuf_printf(err, "address too long");
        return -1;
    }
    size_t dlen = strlen(domain);
    while (dlen > 0 && domain[dlen - 1] == '.')
        domain[--dlen] = '\0';
    int has_at = strrchr(address, '@') != NULL;
    if (!has_at && mail_params_current()->append_at_myorigin) {
        if (fixed_copy(domain, sizeof(domain), mail_params_current()->myorigin) < 0) {
            strbuf_printf(err, "myorigin is longer than %zu bytes", sizeof(domain) - 1);
            return -1;
        }
        dlen = strlen(domain);
    }
    for (size_t i = 0; i < dlen; i++)
        domain[i] = (char)tolower((unsigned char)domain[i]);
    if ((dlen ? fixed_printf(out->address, sizeof(out->address), "%s@%s", local, domain)
              : fixed_copy(out->address, sizeof(out->address), local)) < 0) {
        strbuf_printf(err, "address too long");
        return -1;
    }
    return 0;
}

/* Domain part of a canonical address ("" when none). */
static const char *address_domain(const char *address)
{
    const char *at = strrchr(address, '@');
    return at ? at + 1 : "";
}

/* Copies text[0..len) into a field of size bytes; -1 with a message naming what when it does not
 * fit (the mail is deferred with that reason, never sent on with a cut transport or nexthop). */
static int set_field(char *field, size_t size, const char *text, size_t len, const char *what,
                     const char *source, strbuf *err)
{
    if (len >= size) {
        strbuf_printf(err, "%s: %s \"%.40s...\" is longer than %zu bytes", source, what, text,
                      size - 1);
        return -1;
    }
    memcpy(field, text, len);
    field[len] = '\0';
    return 0;
}

/* Splits "transport:nexthop" (from source: a parameter or transport_maps) into out; an empty
 * part leaves out's field unchanged. -1 with a message when a part is too long. */
static int apply_transport_value(const char *value, resolved *out, const char *source, strbuf *err)
{
    while (isspace((unsigned char)*value))
        value++;
    const char *colon = strchr(value, ':');
    size_t tlen = colon ? (size_t)(colon - value) : strlen(value);
    while (tlen > 0 && isspace((unsigned char)value[tlen - 1]))
        tlen--;
    if (tlen > 0 && set_field(out->transport, sizeof(out->transport), value, tlen, "transport name",
                              source, err) < 0)
        return -1;
    if (colon == NULL || colon[1] == '\0')
        return 0;
    const char *hop = colon + 1;
    size_t hlen = strlen(hop);
    while (hlen > 0 && isspace((unsigned char)hop[hlen - 1]))
        hlen--;
    if (hlen > 0 &&
        set_field(out->nexthop, sizeof(out->nexthop), hop, hlen, "nexthop", source, err) < 0)
        return -1;
    return 0;
}

/* The parameter whose transport:nexthop the class takes (NULL: virtual alias, which is an
 * error transport of its own). */
static const char *class_param(addr_class cls)
{
    switch (cls) {
    case ADDR_CLASS_LOCAL:
        return "local_transport";
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        return "virtual_transport";
    case ADDR_CLASS_RELAY:
        return "relay_transport";
    case ADDR_CLASS_DEFAULT:
        return "default_transport";
    case ADDR_CLASS_VIRTUAL_ALIAS:
        break;
    }
    return NULL;
}

/* Step 3: the transport and nexthop that the class gives. -1 with a message when the
 * configuration gives a transport or nexthop too long for the fields. */
static int class_transport(resolved *out, const char *domain, strbuf *err)
{
    static const char alias_error[] = "5.1.1 User unknown in virtual alias table";
    _Static_assert(sizeof(alias_error) <= sizeof(out->nexthop), "virtual alias error text fits");
    const char *param = class_param(out->cls), *hop = domain, *hop_source = "domain";
    if (param == NULL) {
        memcpy(out->transport, "error", sizeof("error"));
        memcpy(out->nexthop, alias_error, sizeof(alias_error));
        return 0;
    }
    if (out->cls == ADDR_CLASS_LOCAL) {
        hop = mail_params_current()->myhostname;
        hop_source = "myhostname";
    } else if (out->cls != ADDR_CLASS_VIRTUAL_MAILBOX &&
               mail_params_current()->relayhost[0] != '\0') {
        hop = mail_params_current()->relayhost;
        hop_source = "relayhost";
    }
    const char *transport = out->cls == ADDR_CLASS_LOCAL ? "local" : "smtp";
    memcpy(out->transport, transport, strlen(transport) + 1);
    if (set_field(out->nexthop, sizeof(out->nexthop), hop, strlen(hop), "nexthop", hop_source,
                  err) < 0)
        return -1;
    return apply_transport_value(cfg_str(param), out, param, err);
}

/* Step 4: transport_maps. 0 ok (out changed or not), -1 temporary failure. */
static int apply_transport_maps(resolver *r, resolved *out, strbuf *err)
{
    if (mail_params_current()->transport_maps[0] == '\0')
        return 0;
    strbuf value;
    strbuf_init(&value, 4096);
    const char *domain = address_domain(out->address);
    strbuf key;
    strbuf_init(&key, 4096);
    int found = table_lookup(r, LIST_TRANSPORT_MAPS, out->address, &value, err);
    /* user+ext@domain -> user@domain */
    const char *delims = mail_params_current()->recipient_delimiter;
    if (found == 0 && delims[0] != '\0' && domain[0] != '\0') {
        char local[sizeof(out->address)], dom[sizeof(out->address)];
        if (mail_addr_split(out->address, local, sizeof(local), dom, sizeof(dom)) == 0) {
            size_t before = strlen(local);
            mail_addr_strip_extension(local, delims, NULL, 0);
            if (strlen(local) != before) {
                strbuf_reset(&key);
                strbuf_printf(&key, "%s@%s", local, dom);
                found = table_lookup(r, LIST_TRANSPORT_MAPS, key.data, &value, err);
            }
        }
    }
    /* domain, then the .parent.domain forms */
    for (const char *d = domain; found == 0 && d && *d; d = strchr(d + 1, '.')) {
        strbuf_reset(&key);
        if (d == domain)
            strbuf_append_str(&key, d);
        else if (d[1] != '\0')
            strbuf_append_str(&key, d);
        else
            break;
        found = table_lookup(r, LIST_TRANSPORT_MAPS, key.data, &value, err);
    }
    strbuf_free(&key);
    if (found == 0)
        found = table_lookup(r, LIST_TRANSPORT_MAPS, "*", &value, err);
    if (found > 0 && apply_transport_value(value.data, out, "transport_maps", err) < 0)
        found = -1;
    strbuf_free(&value);
    return found < 0 ? -1 : 0;
}

static int is_local_domain(resolver *r, const char *domain, strbuf *err)
{
    /* As Postfix: only mydestination and [address] literals of this host are local; "localhost"
     * is local only when mydestination says so (the default lists it). */
    if (domain[0] == '\0' || is_own_literal(r, domain))
        return 1;
    return domain_in(r, LIST_MYDESTINATION, domain, err);
}

int resolve_address(resolver *r, const char *address, resolved *out, strbuf *err)
{
    memset(out, 0, sizeof(*out));
    strbuf_reset(err);
    if (canonical_address(address, out, err) < 0)
        return -1;
    const char *domain = address_domain(out->address);
    int m = is_local_domain(r, domain, err);
    if (m < 0)
        return -1;
    if (m) {
        out->cls = ADDR_CLASS_LOCAL;
    } else if ((m = domain_in(r, LIST_VIRTUAL_ALIAS_DOMAINS, domain, err)) != 0) {
        if (m < 0)
            return -1;
        out->cls = ADDR_CLASS_VIRTUAL_ALIAS;
    } else if ((m = domain_in(r, LIST_VIRTUAL_MAILBOX_DOMAINS, domain, err)) != 0) {
        if (m < 0)
            return -1;
        out->cls = ADDR_CLASS_VIRTUAL_MAILBOX;
    } else if ((m = domain_in(r, LIST_RELAY_DOMAINS, domain, err)) != 0) {
        if (m < 0)
            return -1;
        out->cls = ADDR_CLASS_RELAY;
    } else {
        out->cls = ADDR_CLASS_DEFAULT;
    }
    if (class_transport(out, domain, err) < 0)
        return -1;
    if (out->cls == ADDR_CLASS_VIRTUAL_ALIAS)
        return 0;
    return apply_transport_maps(r, out, err);
}

/* Searches list i for the full address, the address without extension, the bare local part
 * (local class only) and "@domain". Returns 1, 0 or -1. */
static int address_known_in(resolver *r, int i, const char *address, int try_local_part,
                            strbuf *err)
{
    char local[sizeof(((resolved *)0)->address)], domain[sizeof(local)], bare[sizeof(local)];
    if (mail_addr_split(address, local, sizeof(local), domain, sizeof(domain)) < 0)
        return 0; /* cannot happen: address is a resolved one, which fits these arrays */
    memcpy(bare, local, sizeof(bare));
    const char *delims = mail_params_current()->recipient_delimiter;
    if (delims[0] != '\0')
        mail_addr_strip_extension(bare, delims, NULL, 0);
    int has_ext = strcmp(bare, local) != 0;

    strbuf value;
    strbuf_init(&value, 4096);
    strbuf key;
    strbuf_init(&key, 4096);
    int found = table_lookup(r, i, address, &value, err);
    if (found == 0 && has_ext && domain[0]) {
        strbuf_printf(&key, "%s@%s", bare, domain);
        found = table_lookup(r, i, key.data, &value, err);
    }
    if (found == 0 && try_local_part) {
        found = table_lookup(r, i, local, &value, err);
        if (found == 0 && has_ext)
            found = table_lookup(r, i, bare, &value, err);
    }
    if (found == 0 && domain[0]) {
        strbuf_reset(&key);
        strbuf_printf(&key, "@%s", domain);
        found = table_lookup(r, i, key.data, &value, err);
    }
    strbuf_free(&key);
    strbuf_free(&value);
    return found;
}

/* MAILER-DAEMON and postmaster are always deliverable locally. */
static int is_special_local_name(const char *address)
{
    char local[1024], domain[1024];
    if (mail_addr_split(address, local, sizeof(local), domain, sizeof(domain)) < 0)
        return 0;
    return strcasecmp(local, "postmaster") == 0 || strcasecmp(local, "mailer-daemon") == 0;
}

int resolve_recipient_known(resolver *r, const resolved *res, strbuf *err)
{
    strbuf_reset(err);
    if (res->cls == ADDR_CLASS_RELAY || res->cls == ADDR_CLASS_DEFAULT)
        return 1;
    /* A virtual alias rewrites the address before delivery, whatever its class. */
    int found = address_known_in(r, LIST_VIRTUAL_ALIAS_MAPS, res->address, 0, err);
    if (found != 0)
        return found;
    switch (res->cls) {
    case ADDR_CLASS_LOCAL:
        if (is_special_local_name(res->address))
            return 1;
        if (lazy_open(r, LIST_LOCAL_RECIPIENT_MAPS, err) < 0)
            return -1;
        if (map_list_empty(r->lists[LIST_LOCAL_RECIPIENT_MAPS].maps))
            return 1;
        return address_known_in(r, LIST_LOCAL_RECIPIENT_MAPS, res->address, 1, err);
    case ADDR_CLASS_VIRTUAL_MAILBOX:
        if (lazy_open(r, LIST_VIRTUAL_MAILBOX_MAPS, err) < 0)
            return -1;
        if (map_list_empty(r->lists[LIST_VIRTUAL_MAILBOX_MAPS].maps))
            return 1;
        return address_known_in(r, LIST_VIRTUAL_MAILBOX_MAPS, res->address, 0, err);
    default:
        return 0;
    }
}

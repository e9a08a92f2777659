/*
 * resolve.h: address classes and transport resolution, as Postfix's trivial-rewrite does.
 *
 * An address's domain decides its class: local (mydestination, or [address] of this host),
 * virtual alias (virtual_alias_domains), virtual mailbox (virtual_mailbox_domains), relay
 * (relay_domains) or default (anything else). The class gives the transport: local_transport,
 * virtual_transport, relay_transport, default_transport (relayhost as nexthop when set);
 * transport_maps overrides it. "transport:nexthop" values split at the first ':'.
 *
 * The SMTP server uses the class for reject_unauth_destination and recipient validation; the
 * queue manager uses the transport to pick a delivery agent. Tables are opened once per
 * configuration and cached in a resolver object.
 */
#ifndef POSTERN_RESOLVE_H
#define POSTERN_RESOLVE_H

#include "lib/strbuf.h"

typedef enum {
    ADDR_CLASS_LOCAL,
    ADDR_CLASS_VIRTUAL_ALIAS,
    ADDR_CLASS_VIRTUAL_MAILBOX,
    ADDR_CLASS_RELAY,
    ADDR_CLASS_DEFAULT,
} addr_class;

typedef struct resolved {
    addr_class cls;
    char transport[64];  /* "local", "virtual", "smtp", ... */
    char nexthop[512];   /* "mx.example.com", "[127.0.0.1]:2526", the domain, ... */
    char address[1024];  /* the recipient, domain lowercased, "@$myorigin" appended when bare */
} resolved;

typedef struct resolver resolver;

/* Opens the tables named by the current configuration. NULL with a message on error. */
resolver *resolver_open(strbuf *err);
void resolver_close(resolver *r);
/* 0 ok, -1 temporary failure (table lookup failed; message in err). */
int resolve_address(resolver *r, const char *address, resolved *out, strbuf *err);
/* Is the recipient known? local: local_recipient_maps (user, with recipient_delimiter extension
 * removed) ; virtual mailbox: virtual_mailbox_maps (user@domain, then @domain); virtual alias:
 * virtual_alias_maps; relay/default: always known. 1 known, 0 unknown, -1 temporary failure.
 * An empty local_recipient_maps means every local user is known (as Postfix). */
int resolve_recipient_known(resolver *r, const resolved *res, strbuf *err);
const char *addr_class_name(addr_class c);

#endif

/*
 * match_list.h: Postfix's domain lists and network lists.
 *
 * A domain list (mydestination, relay_domains, virtual_mailbox_domains, ...) holds domain names,
 * "/file/name" (one pattern per line) and "type:table" lookups, separated by comma or white space.
 * A name matches itself and, like Postfix's parent_domain_matches_subdomains for relay_domains, a
 * ".domain" pattern matches subdomains. A "!" prefix negates. Matching is case-insensitive.
 *
 * A network list (mynetworks, ...) holds IPv4 and IPv6 addresses and CIDR blocks
 * ("10.0.0.0/8", "[::1]/128", "::1/128"), "/file/name" and "type:table" lookups (the client address
 * is the key).
 */
#ifndef POSTERN_MATCH_LIST_H
#define POSTERN_MATCH_LIST_H

#include "lib/strbuf.h"

typedef struct match_list match_list;

match_list *domain_list_open(const char *value, strbuf *err);
/* 1 match, 0 no match, -1 a table lookup failed temporarily. */
int domain_list_match(match_list *ml, const char *domain);

match_list *net_list_open(const char *value, strbuf *err);
/* addr is a numeric IPv4 or IPv6 address as text. */
int net_list_match(match_list *ml, const char *addr);

void match_list_close(match_list *ml);

#endif

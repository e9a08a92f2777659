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
 * is the key, in canonical text form; an IPv4-mapped address is also looked up as plain IPv4).
 * See lib/inet_addr.h for how IPv4 and IPv4-mapped IPv6 addresses match each other.
 *
 * In both kinds, the first entry that matches decides: a negated entry that matches ends the
 * search with "no match". A "!" before "/file/name" negates every pattern in the file. Files
 * may name other files, up to MATCH_LIST_FILE_DEPTH deep. A malformed entry, a table that
 * cannot be opened or an unreadable file makes the *_open() call fail with a message that names
 * the entry.
 */
#define MATCH_LIST_FILE_DEPTH 4
#ifndef POSTERN_MATCH_LIST_H
#define POSTERN_MATCH_LIST_H

#include "lib/strbuf.h"

typedef struct match_list match_list;

match_list *domain_list_open(const char *value, strbuf *err);
/* With DOMAIN_LIST_PARENT_MATCHES_SUBDOMAINS (Postfix's parent_domain_matches_subdomains, on by
 * default for relay_domains, mynetworks, ...) "example.com" also matches its subdomains, and
 * tables are searched for each parent "example.com" instead of ".example.com". */
#define DOMAIN_LIST_PARENT_MATCHES_SUBDOMAINS 1
match_list *domain_list_open_flags(const char *value, int flags, strbuf *err);
/* 1 match, 0 no match, -1 a table lookup failed temporarily. */
int domain_list_match(match_list *ml, const char *domain);

match_list *net_list_open(const char *value, strbuf *err);
/* addr is a numeric IPv4 or IPv6 address as text. */
int net_list_match(match_list *ml, const char *addr);

void match_list_close(match_list *ml);

#endif

/*
 * dns.h: asynchronous DNS lookups (c-ares) driven by an event loop.
 *
 *   dns_resolver *r = dns_resolver_new(loop, servers, err);  servers "" = /etc/resolv.conf,
 *                                                            else "addr[:port][,addr...]"
 *   dns_query *q = dns_lookup(r, "example.com", DNS_TYPE_MX, done, ctx);
 *       done(ctx, status, answer, why) runs once on the loop thread; it may run before
 *       dns_lookup returns (a name c-ares refuses at once), which then returns NULL.
 *       answer is valid during the call.
 *   dns_cancel(q);   done will not run for q (c-ares cannot drop one query; its answer is
 *                    thrown away when it comes)
 *
 * Types: A, AAAA (text: the address), PTR, MX (text: the name; pref), TXT (text: the strings
 * joined), TLSA (usage, selector, mtype, data). Records come from the answer section,
 * of the type asked for (CNAMEs are followed by the server; their records are skipped). A
 * reply that cannot be parsed is DNS_INVALID, never a partial answer. Names are queried as
 * given (no search list; a trailing dot is allowed).
 *
 * Each query is bounded by DNS_TIMEOUT_MS per try and DNS_TRIES tries in all (c-ares doubles
 * the per-try timeout on each round), so a resolver that never answers gives DNS_TEMPFAIL
 * within about 6 seconds.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include "lib/event.h"
#include "lib/strbuf.h"

#include <stddef.h>

#define DNS_TIMEOUT_MS 2000
#define DNS_TRIES 2
#define DNS_NAME_MAX 255

typedef enum {
    DNS_TYPE_A = 1,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_TLSA = 52,
} dns_type;

typedef enum {
    DNS_OK,       /* at least one record of the type */
    DNS_NOTFOUND, /* NXDOMAIN, or no record of that type (NODATA) */
    DNS_TEMPFAIL, /* timeout, SERVFAIL, refused, no server */
    DNS_INVALID,  /* a malformed reply or name */
} dns_status;

typedef struct dns_rr {
    dns_type type;
    unsigned ttl;
    unsigned pref;   /* MX */
    char *text;      /* A/AAAA address, PTR/MX name, TXT strings */
    unsigned char usage, selector, mtype; /* TLSA */
    unsigned char *data; /* TLSA association data */
    size_t len;
} dns_rr;

typedef struct dns_answer {
    dns_rr *rr;
    size_t n;
} dns_answer;

typedef struct dns_resolver dns_resolver;
typedef struct dns_query dns_query;
typedef void (*dns_done_fn)(void *ctx, dns_status status, const dns_answer *answer,
                            const char *why);

dns_resolver *dns_resolver_new(event_loop *loop, const char *servers, strbuf *err);
void dns_resolver_free(dns_resolver *r);
/* Whether servers (as for dns_resolver_new) is a server list c-ares accepts: 0, or -1 with the
 * reason in err. For postfix check, before any resolver is made. */
int dns_servers_check(const char *servers, strbuf *err);
dns_query *dns_lookup(dns_resolver *r, const char *name, dns_type type, dns_done_fn fn,
                      void *ctx);
void dns_cancel(dns_query *q);

/* Parses a DNS reply: records of type into out (free with dns_answer_free). DNS_OK,
 * DNS_NOTFOUND (none of that type) or DNS_INVALID. */
dns_status dns_parse_reply(const unsigned char *buf, size_t len, dns_type type, dns_answer *out);
void dns_answer_free(dns_answer *a);
/* "1.2.0.192.in-addr.arpa" / nibbles ".ip6.arpa" for an address; -1 if not an address. With
 * suffix (a DNSBL domain) instead of the arpa zone. */
int dns_reverse_name(const char *addr, const char *suffix, char *out, size_t outlen);

#endif

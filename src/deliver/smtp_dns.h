/*
 * smtp_dns.h: the DNS lookups of the SMTP client: MX records and host addresses.
 *
 * Queries go through the system resolver (res_nquery, /etc/resolv.conf), or, when
 * smtp_dns_resolver_address is set ("addr" or "addr:port", IPv4), to that server only; names
 * are looked up as given (no search list). Answers are parsed here with explicit bounds: at most
 * SMTP_MX_MAX MX records and SMTP_ADDR_MAX addresses per name; CNAMEs in an answer are followed
 * implicitly (records of the asked type are taken whatever their owner name).
 *
 * smtp_mx_sort() orders MX records by preference and shuffles records of equal preference, as
 * RFC 5321 asks. Lookups return SMTP_DNS_* and put a Postfix-style reason in why ("Host or
 * domain name not found. Name service error for name=x type=MX: Host not found").
 */
#ifndef POSTERN_SMTP_DNS_H
#define POSTERN_SMTP_DNS_H

#include "deliver/smtp_nexthop.h"
#include "lib/inet_addr.h"
#include "lib/strbuf.h"

#include <netinet/in.h>
#include <stddef.h>

#define SMTP_MX_MAX 64
#define SMTP_ADDR_MAX 32

#define SMTP_DNS_OK 0
#define SMTP_DNS_NOTFOUND 1 /* the name does not exist */
#define SMTP_DNS_NODATA 2   /* the name exists, no record of this type */
#define SMTP_DNS_RETRY 3    /* temporary failure */
#define SMTP_DNS_FAIL 4     /* permanent failure other than the above, or a malformed answer */

typedef struct smtp_mx {
    int pref;
    char host[SMTP_HOST_MAX]; /* "" for a null MX (RFC 7505) */
} smtp_mx;

/* With smtp_dns_support_level = dnssec, queries ask for DNSSEC and *secure reports the
 * resolver's AD bit (the answer was validated); otherwise *secure is 0. */
int smtp_dns_dnssec_enabled(void);

/* MX records of domain, unsorted. */
int smtp_dns_mx(const char *domain, smtp_mx *out, size_t max, size_t *n, int *secure,
                strbuf *why);
/* A and/or AAAA records of host (IPv4 first), per want_v4/want_v6. *secure when every answer
 * that gave addresses was validated. */
int smtp_dns_host(const char *host, int want_v4, int want_v6, inet_address *out, size_t max,
                  size_t *n, int *secure, strbuf *why);

/* TLSA records (RFC 6698) of name ("_25._tcp.mx.example.com"); records whose data is longer
 * than SMTP_TLSA_DATA_MAX are skipped. SMTP_DNS_NODATA when there are none. */
#define SMTP_TLSA_MAX 16
#define SMTP_TLSA_DATA_MAX 1024
typedef struct smtp_tlsa {
    unsigned char usage, selector, mtype;
    unsigned char data[SMTP_TLSA_DATA_MAX];
    size_t len;
} smtp_tlsa;
int smtp_dns_tlsa(const char *name, smtp_tlsa *out, size_t max, size_t *n, int *secure,
                  strbuf *why);
int smtp_dns_parse_tlsa(const unsigned char *msg, size_t len, smtp_tlsa *out, size_t max);

/* Parsing, exposed for tests: the answer records of type qtype (15 = MX, 1 = A, 28 = AAAA) in a
 * DNS response. Returns the number stored (at most max), or -1 when the message is malformed. */
int smtp_dns_parse_mx(const unsigned char *msg, size_t len, smtp_mx *out, size_t max);
int smtp_dns_parse_addr(const unsigned char *msg, size_t len, int qtype, inet_address *out,
                        size_t max);

/* Sorts by preference; equal preferences in random order from *seed (rand_r). */
void smtp_mx_sort(smtp_mx *mx, size_t n, unsigned *seed);

/* Which address families inet_protocols allows. */
void smtp_dns_families(int *want_v4, int *want_v6);
/* smtp_dns_resolver_address ("addr" or "addr:port", IPv4) as a socket address: 0, or -1 with
 * "parameter smtp_dns_resolver_address: ..." in err. */
int smtp_dns_resolver_parse(const char *spec, struct sockaddr_in *out, strbuf *err);

#endif

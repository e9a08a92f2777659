/*
 * inet_addr.h: numeric IPv4/IPv6 addresses and CIDR blocks.
 *
 * inet_addr_parse() accepts a dotted-quad IPv4 address (exactly four decimal parts, each 0-255,
 * no leading zeros) or an IPv6 address in any RFC 4291 text form, optionally inside [brackets].
 * inet_cidr_parse() accepts "addr", "addr/len", "[v6]", "[v6]/len" and "v6/len"; the length must
 * be within 0-32 (IPv4) or 0-128 (IPv6) and the address must have no bits set past the length
 * ("10.1.0.0/8" is an error, as in Postfix), so a typo cannot silently widen a block.
 *
 * Matching follows what a mail server sees: an IPv4 block also matches the IPv4-mapped IPv6 form
 * (::ffff:10.1.2.3) of an address inside it, and an IPv6 block inside ::ffff:0:0/96 (for example
 * Postfix's default [::ffff:127.0.0.0]/104) also matches the plain IPv4 address it maps.
 * Other IPv6 blocks, even ::/0, never match an IPv4 address.
 */
#ifndef POSTERN_INET_ADDR_H
#define POSTERN_INET_ADDR_H

#include "lib/strbuf.h"

#include <stddef.h>

#define INET_ADDR_TEXT_MAX 64 /* longest accepted text form, brackets included */

typedef struct inet_address {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char bytes[16]; /* network order; IPv4 uses the first 4 */
} inet_address;

typedef struct inet_cidr {
    inet_address net;
    int prefix_len; /* 0..32 or 0..128 */
} inet_cidr;

/* 0 on success, -1 when text is not a numeric address. */
int inet_addr_parse(const char *text, inet_address *out);
/* Writes the canonical text form (inet_ntop); buf needs INET_ADDR_TEXT_MAX bytes. */
void inet_addr_format(const inet_address *addr, char *buf, size_t len);
/* Address length in bits: 32 or 128. */
int inet_addr_bits(const inet_address *addr);
/* 1 when addr is IPv6 ::ffff:a.b.c.d; then *v4 (may be NULL) receives a.b.c.d. */
int inet_addr_is_v4_mapped(const inet_address *addr, inet_address *v4);
/* Same family and bytes. */
int inet_addr_equal(const inet_address *a, const inet_address *b);

/* 0 on success; -1 with a message naming text in err (err may be NULL). */
int inet_cidr_parse(const char *text, inet_cidr *out, strbuf *err);
/* 1 when addr lies inside block (see the mapping rules above), else 0. */
int inet_cidr_match(const inet_cidr *block, const inet_address *addr);

#endif

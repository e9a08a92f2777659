/*
 * smtp_dane.h: DANE for SMTP (RFC 7672): which servers get DANE authentication, and with which
 * TLSA records.
 *
 * Needs smtp_dns_support_level = dnssec: the DNS answers then carry the resolver's AD bit,
 * which Postern trusts as Postfix does (the resolver must validate and be reached over a
 * trusted path, normally a local one). For one server under level dane or dane-only,
 * smtp_dane_prepare() decides:
 *   - the server's address records are not validated, or TLSA records are absent or not
 *     validated: dane falls back to may; dane-only fails; the same when the MX records that
 *     named the server are not validated, unless smtp_tls_dane_insecure_mx_policy = dane
 *     (empty, the default, means Postfix's default: dane at level dane, may otherwise);
 *   - the TLSA lookup fails (SERVFAIL, timeout, bad answer): the server is not used (4.7.5);
 *   - validated TLSA records, none usable: encrypt (dane) or a failure (dane-only);
 *   - usable records: TLS is required and the server must match one of them.
 * Usable means DANE-TA(2) or DANE-EE(3), selector 0 (certificate) or 1 (public key), matching
 * type 0 (full), 1 (SHA2-256) or 2 (SHA2-512); PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP
 * (RFC 7672 section 3.1.3). The TLSA base domain is the server's host name (the MX host, or the
 * bracketed host); CNAMEs are not followed for it. Matching is done by OpenSSL's DANE code:
 * DANE-EE ignores names and dates, DANE-TA checks the chain up to the matched trust anchor
 * and the name against the TLSA base domain or the nexthop domain.
 */
#ifndef POSTERN_SMTP_DANE_H
#define POSTERN_SMTP_DANE_H

#include "deliver/smtp_connect.h"
#include "deliver/smtp_dns.h"
#include "lib/strbuf.h"

#include <openssl/ssl.h>

typedef struct smtp_dane {
    smtp_tlsa records[SMTP_TLSA_MAX];
    size_t n; /* usable records */
} smtp_dane;

/* level is SMTP_TLS_DANE or SMTP_TLS_DANE_ONLY. Sets *effective to SMTP_TLS_MAY,
 * SMTP_TLS_ENCRYPT, or SMTP_TLS_DANE_ONLY (DANE authentication with the records in out).
 * 0, or -1 with dsn and why when the server must not be used. */
int smtp_dane_prepare(int level, const smtp_candidate *c, smtp_dane *out, int *effective,
                      char *dsn, size_t dsnlen, strbuf *why);
/* Sets up DANE on ssl for base domain host (and nexthop as a second name). 0 or -1. */
int smtp_dane_apply(SSL *ssl, const smtp_dane *d, const char *host, const char *nexthop);
/* 1 when the handshake matched a TLSA record. */
int smtp_dane_matched(SSL *ssl);
/* 1 when the record is usable for SMTP. */
int smtp_dane_usable(const smtp_tlsa *t);

#endif

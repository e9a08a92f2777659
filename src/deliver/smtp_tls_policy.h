/*
 * smtp_tls_policy.h: the TLS policy of one delivery: security level and its attributes.
 *
 * Levels, weakest first, as Postfix's smtp_tls_security_level:
 *   none         plaintext only
 *   may          STARTTLS when offered; plaintext when it is not, or when the handshake fails
 *   encrypt      TLS required, no authentication of the server
 *   fingerprint  TLS required, the server certificate's (or public key's) fingerprint must be
 *                in the match list
 *   verify       TLS required, trusted chain and a name from the match list (MX names from DNS
 *                are trusted as they come)
 *   secure       the same, with nexthop-based names by default (no trust in DNS)
 *   dane         DANE (RFC 7672) when DNSSEC-validated TLSA records exist, else may
 *   dane-only    DANE required
 *
 * A policy table entry (smtp_tls_policy_maps) is "LEVEL [name=value ...]" with the attributes
 *   match=       verify/secure: names separated by ':' ("hostname", "nexthop", "dot-nexthop",
 *                "example.com", ".example.com"); fingerprint: fingerprints separated by '|'
 *   protocols=   protocol list with ':' separators ("!SSLv2:!SSLv3", ">=TLSv1.2")
 *   ciphers=     cipher grade (high, medium, low, export, null)
 *   exclude=     ciphers to exclude, ':' separated
 *   connection_reuse=yes|no
 *   servername=  SNI name, or "hostname" for the server's name
 * smtp_tls_policy_parse() reads one entry: an unknown level or attribute, an attribute given
 * twice or one that does not fit its bound is an error (the delivery is deferred, never sent with
 * a weaker policy than the table asks for).
 *
 * smtp_tls_policy_defaults() fills a policy from main.cf (PREFIX_tls_security_level, or the
 * legacy PREFIX_use_tls/PREFIX_enforce_tls/PREFIX_tls_enforce_peername, ...); table attributes
 * override those fields they name.
 */
#ifndef POSTERN_SMTP_TLS_POLICY_H
#define POSTERN_SMTP_TLS_POLICY_H

#include "lib/strbuf.h"

enum {
    SMTP_TLS_NONE,
    SMTP_TLS_MAY,
    SMTP_TLS_ENCRYPT,
    SMTP_TLS_FINGERPRINT,
    SMTP_TLS_VERIFY,
    SMTP_TLS_SECURE,
    SMTP_TLS_DANE,
    SMTP_TLS_DANE_ONLY,
};

#define SMTP_TLS_ATTR_MAX 1024 /* longest attribute value */

typedef struct smtp_tls_policy {
    int level;
    char match[SMTP_TLS_ATTR_MAX];     /* "" = the level's main.cf default */
    char protocols[SMTP_TLS_ATTR_MAX]; /* Postfix protocol list */
    char ciphers[64];                  /* grade */
    char exclude[SMTP_TLS_ATTR_MAX];
    char servername[256]; /* "" = no SNI */
    int connection_reuse; /* yes/no */
} smtp_tls_policy;

/* SMTP_TLS_* for a level name, or -1. */
int smtp_tls_level_parse(const char *name);
const char *smtp_tls_level_name(int level);
/* Level at or above encrypt (dane only when TLSA records make it so: the caller decides). */
int smtp_tls_level_mandatory(int level);

/* Fills p from main.cf; prefix is "smtp" or "lmtp". 0, or -1 with err (bad level). */
int smtp_tls_policy_defaults(const char *prefix, smtp_tls_policy *p, strbuf *err);
/* Applies one table entry on top of p. 0, or -1 with err. */
int smtp_tls_policy_parse(const char *entry, smtp_tls_policy *p, strbuf *err);

#endif

/*
 * smtp_tls.h: client TLS for the smtp and lmtp delivery agents (STARTTLS, RFC 3207).
 *
 * One engine per agent process, made at start from PREFIX_tls_* ("smtp" or "lmtp"): the OpenSSL
 * context with the trust anchors (PREFIX_tls_CAfile, PREFIX_tls_CApath, the system default
 * store when both are empty; PREFIX_tls_trust_anchor_file, when set, replaces them for verify
 * and secure, with anchors that need not be self-signed), the optional client certificate, the
 * policy table, and a cache of TLS sessions. Settings that cannot be honoured (an unknown level, protocol or cipher grade, an
 * unreadable CA file) stop the agent at start: mail stays queued rather than leaving with less
 * protection than asked for.
 *
 * smtp_tls_policy_for() gives the policy of one destination: main.cf's, overridden by the entry
 * of PREFIX_tls_policy_maps for the destination ("example.com", "[host]", "[host]:port", then the
 * parent domains ".example.com" of a domain); a lookup failure or a malformed entry is an error
 * (the delivery is deferred).
 *
 * smtp_tls_start() runs after EHLO: at level none it does nothing; when the server offers no
 * STARTTLS a mandatory level fails with 4.7.4 "TLS is required, but was not offered by host X";
 * otherwise it sends STARTTLS, discards anything the server sent after the 220 in plaintext, does
 * the handshake (PREFIX_starttls_timeout), judges the server (below), logs the result when
 * PREFIX_tls_loglevel >= 1, and sends EHLO again inside TLS. A handshake failure at level may asks
 * the caller to retry the same server in plaintext (SMTP_TLS_RETRY_PLAIN), as Postfix does; at a
 * mandatory level it fails with 4.7.5 "Cannot start TLS: handshake failure".
 *
 * The server is "Anonymous" without a certificate, "Untrusted" when its chain does not verify
 * against the trust anchors, "Trusted" when it does, and "Verified" when it also matches the
 * level's rule: fingerprint (certificate or public-key digest in the match list), verify and
 * secure (a trusted chain whose name matches "hostname", "nexthop", "dot-nexthop" or a literal
 * name; secure's default never trusts names from DNS), dane (smtp_dane.h). A level that requires a
 * match and does not get one fails with 4.7.5 "Server certificate not verified".
 *
 * Session reuse: when PREFIX_tls_session_cache_database is set, sessions (TLS 1.3 tickets or
 * TLS 1.2 session ids) are kept in this process's memory, keyed by server address, port, level
 * and SNI name, for PREFIX_tls_session_cache_timeout, and offered on the next connection to the
 * same server. The parameter's value names no file: Postern has no tlsmgr, each agent process
 * keeps its own cache (at most SMTP_TLS_SESSIONS_MAX sessions, the oldest dropped first).
 */
#ifndef POSTERN_SMTP_TLS_H
#define POSTERN_SMTP_TLS_H

#include "deliver/smtp_connect.h"
#include "deliver/smtp_session.h"
#include "deliver/smtp_tls_policy.h"

#include <openssl/x509.h>

#define SMTP_TLS_RETRY_PLAIN 1
#define SMTP_TLS_SESSIONS_MAX 64

typedef struct smtp_tls_engine smtp_tls_engine;

/* NULL with err when main.cf asks for something that cannot be done. */
smtp_tls_engine *smtp_tls_engine_create(const char *prefix, int lmtp, strbuf *err);
void smtp_tls_engine_free(smtp_tls_engine *e);

/* 0 with the policy, or -1 with err. */
int smtp_tls_policy_for(smtp_tls_engine *e, const smtp_dest *d, smtp_tls_policy *p, strbuf *err);

/* 0 (TLS up, or plaintext allowed), SMTP_TLS_RETRY_PLAIN, or -1 with dsn and why (the session is
 * closed). nexthop is the destination's domain or host (for "nexthop" names). */
int smtp_tls_start(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                   const char *nexthop, const smtp_candidate *c, char *dsn, size_t dsnlen,
                   strbuf *why);

/* PREFIX_tls_wrappermode: TLS right after connecting, before the greeting (the submissions
 * port 465). At least encrypt whatever the level says; no plaintext fallback. Same results as
 * smtp_tls_start; smtp_tls_start() then does nothing. */
int smtp_tls_wrap(smtp_tls_engine *e, smtp_session *s, const smtp_tls_policy *p,
                  const char *nexthop, const smtp_candidate *c, char *dsn, size_t dsnlen,
                  strbuf *why);

/* Helpers exposed for tests. */
/* 1 when cert matches one of the names in list (separated by ',', ':' or white space; special
 * names hostname, nexthop, dot-nexthop), else 0. */
int smtp_tls_match_names(X509 *cert, const char *list, const char *hostname, const char *nexthop);

#endif

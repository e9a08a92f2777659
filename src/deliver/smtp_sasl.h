/*
 * smtp_sasl.h: SMTP AUTH (RFC 4954) from the smtp/lmtp client to a server that asks for it,
 * typically a relayhost. Mechanisms PLAIN and LOGIN, built in (smtp_sasl_type = cyrus, Postfix's
 * default, names this client).
 *
 * When PREFIX_sasl_auth_enable is on, credentials come from PREFIX_sasl_password_maps, value
 * "username:password", looked up with these keys, first hit wins:
 *   the sender address, then "@domain" of the sender   (only with
 *                                                        PREFIX_sender_dependent_authentication)
 *   the nexthop ("[relay.example]:587", "example.com"; the default port only in a second
 *   lookup, "[relay.example]" then "[relay.example]:25")
 *   the server's host name (the MX host or the bracketed host)
 * No entry: no AUTH, as in Postfix. A server that announces no AUTH gets none either.
 *
 * The mechanism is the first of PLAIN, LOGIN that the server announces, that
 * PREFIX_sasl_mechanism_filter lets through (empty = all; else the first entry that matches
 * decides: "login" lets through, "!login" stops, "static:rest" matches all; no match stops), and
 * that the security options allow:
 * PREFIX_sasl_security_options in plaintext, PREFIX_sasl_tls_security_options inside TLS,
 * PREFIX_sasl_tls_verified_security_options inside TLS with an authenticated server. Both
 * mechanisms are plaintext mechanisms, so "noplaintext" (in Postfix's default) rules them out.
 * None left: the server is given up with 4.7.0 "SASL authentication failed; cannot authenticate
 * to server X: no mechanism available". A rejection gives "SASL authentication failed; server X
 * said: ..." with the server's code, made 4xx when PREFIX_sasl_auth_soft_bounce is on.
 * Credentials are never logged.
 */
#ifndef POSTERN_SMTP_SASL_H
#define POSTERN_SMTP_SASL_H

#include "deliver/smtp_connect.h"
#include "deliver/smtp_session.h"

typedef struct smtp_sasl smtp_sasl;

/* NULL with err when the settings cannot be honoured. */
smtp_sasl *smtp_sasl_create(const char *prefix, strbuf *err);
void smtp_sasl_free(smtp_sasl *a);
/* Non-zero when authenticated sessions must not be reused for another sender. */
int smtp_sasl_per_sender(const smtp_sasl *a);

/* Authenticates s when configured and possible. 0 (authenticated, or nothing to do), or -1 with
 * dsn and why (the session is closed). nexthop_key is the destination as written. */
int smtp_sasl_authenticate(smtp_sasl *a, smtp_session *s, const char *sender,
                           const char *nexthop_key, const smtp_candidate *c, char *dsn,
                           size_t dsnlen, strbuf *why);

/* Helpers exposed for tests. Flags of a security options list (-1 on an unknown word). */
#define SMTP_SASL_NOPLAINTEXT 0x01
#define SMTP_SASL_NOANONYMOUS 0x02
#define SMTP_SASL_NODICTIONARY 0x04
#define SMTP_SASL_NOACTIVE 0x08
#define SMTP_SASL_MUTUAL_AUTH 0x10
int smtp_sasl_parse_options(const char *list);
/* The mechanism to use ("PLAIN", "LOGIN") or NULL. */
const char *smtp_sasl_choose(const char *server_mechs, const char *filter, int options);

#endif

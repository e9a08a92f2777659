/*
 * tls_proto.h: Postfix's TLS protocol and cipher settings turned into OpenSSL terms, shared by
 * the server (smtpd) and the client (smtp/lmtp) side.
 *
 * tls_protocols_parse() reads a *_tls_protocols / *_tls_mandatory_protocols value in any of
 * Postfix's forms: a list of names to allow ("TLSv1.2, TLSv1.3"), names to exclude
 * ("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"), or bounds (">=TLSv1.2", "<=TLSv1.3"); separators are
 * blanks, commas and colons. SSLv2 and SSLv3 are known names (OpenSSL 3 never speaks them).
 * The result is the lowest and highest version to enable, and OpenSSL's SSL_OP_NO_* bits for
 * versions excluded in between.
 *
 * tls_cipherlist() builds the OpenSSL cipher string for a Postfix grade (high, medium, low,
 * export, null: the values of tls_*_cipherlist) with each name of an exclusion list appended
 * as ":!NAME", as Postfix does. It applies to TLS 1.2 and below; TLS 1.3 suites are OpenSSL's.
 */
#ifndef POSTERN_TLS_PROTO_H
#define POSTERN_TLS_PROTO_H

#include "lib/strbuf.h"

typedef struct tls_protocols {
    int min_version; /* TLS1_VERSION ... TLS1_3_VERSION */
    int max_version;
    long no_options; /* SSL_OP_NO_TLSv1_1 etc. for holes between min and max */
} tls_protocols;

/* 0, or -1 with a message in err (unknown name, nothing left enabled). */
int tls_protocols_parse(const char *spec, tls_protocols *out, strbuf *err);

/* Grade is looked up with lookup(name) ("tls_high_cipherlist" ...), so callers pass the
 * configuration accessor. 0, or -1 with a message in err (unknown grade). */
int tls_cipherlist(const char *grade, const char *exclude, const char *(*lookup)(const char *),
                   strbuf *out, strbuf *err);

/* "TLSv1.2" -> TLS1_2_VERSION; 0 when unknown. */
int tls_version_from_name(const char *name);

#endif

/*
 * tls_fprint.h: certificate and public-key fingerprints, and matching them against a list.
 *
 * A fingerprint is the digest (smtp_tls_fingerprint_digest, smtpd_tls_fingerprint_digest:
 * md5, sha1, sha256, sha512, ...) of the DER certificate, or of the DER SubjectPublicKeyInfo for
 * the public-key form, written as upper-case hex pairs joined by ':' ("3D:95:34:..."), as Postfix
 * logs and expects them.
 *
 * tls_fprint_match() looks for a fingerprint in a list in main.cf or policy-table syntax:
 * entries separated by white space, commas or '|' (the policy table's "match=a|b"). Comparison
 * ignores case and the ':' separators, so "3d9534..." matches "3D:95:34:..."; an entry must have
 * the full length (a prefix never matches).
 */
#ifndef POSTERN_TLS_FPRINT_H
#define POSTERN_TLS_FPRINT_H

#include "lib/strbuf.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TLS_FPRINT_MAX (EVP_MAX_MD_SIZE * 3 + 1)

/* The digest called name, or NULL. */
const EVP_MD *tls_fprint_digest(const char *name);
/* Colon-separated upper-case hex of n bytes into out; "" when out is too small (3n bytes). */
void tls_fprint_format(const unsigned char *d, size_t n, char *out, size_t outlen);
/* Fingerprint of the certificate (pkey = 0) or of its public key (pkey = 1). 0 or -1. */
int tls_fprint_cert(X509 *cert, const EVP_MD *md, int pkey, char *out, size_t outlen);
/* 1 when fp is in list, else 0. */
int tls_fprint_match(const char *list, const char *fp);

#endif

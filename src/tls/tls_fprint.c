/* tls_fprint.c: fingerprints and fingerprint lists (see tls_fprint.h). */
#include "tls/tls_fprint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const EVP_MD *tls_fprint_digest(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return NULL;
    return EVP_get_digestbyname(name);
}

void tls_fprint_format(const unsigned char *d, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (n == 0 || outlen < n * 3) /* two digits and a ':' or the NUL per byte */
        return;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            out[o++] = ':';
        out[o++] = hex[d[i] >> 4];
        out[o++] = hex[d[i] & 15];
    }
    out[o] = '\0';
}

int tls_fprint_cert(X509 *cert, const EVP_MD *md, int pkey, char *out, size_t outlen)
{
    unsigned char *der = NULL;
    int len = pkey ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : i2d_X509(cert, &der);
    if (len <= 0)
        return -1;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int ok = EVP_Digest(der, (size_t)len, d, &dlen, md, NULL);
    OPENSSL_free(der);
    if (!ok || (size_t)dlen * 3 > outlen)
        return -1;
    tls_fprint_format(d, dlen, out, outlen);
    return 0;
}

/* Hex digits of s[0..len) without ':' into out, upper-cased. -1 on another character or when
 * out is too small. */
static int normalize(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':')
            continue;
        if (!isxdigit(c) || o + 1 >= outlen)
            return -1;
        out[o++] = (char)toupper(c);
    }
    out[o] = '\0';
    return 0;
}

int tls_fprint_match(const char *list, const char *fp)
{
    char want[TLS_FPRINT_MAX], have[TLS_FPRINT_MAX];
    if (normalize(fp, strlen(fp), want, sizeof(want)) < 0 || want[0] == '\0')
        return 0;
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, ", |\t\r\n");
        size_t len = strcspn(p, ", |\t\r\n");
        if (len == 0)
            break;
        if (normalize(p, len, have, sizeof(have)) == 0 && strcmp(have, want) == 0)
            return 1;
        p += len;
    }
    return 0;
}

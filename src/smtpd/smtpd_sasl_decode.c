/*
 * smtpd_sasl_decode.c: AUTH arguments, base64 and PLAIN messages (see smtpd_sasl_decode.h).
 */
#include "smtpd/smtpd_sasl_decode.h"

#include <ctype.h>
#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long sasl_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
    if (inlen % 4 != 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < inlen; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == inlen && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[k] = b64_value(c)) < 0)
                return -1; /* data after padding, or not base64 */
        }
        unsigned triple = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 |
                          (unsigned)v[3];
        size_t bytes = (size_t)(3 - pad);
        if (n + bytes > outlen)
            return -1;
        unsigned char b[3] = {(unsigned char)(triple >> 16), (unsigned char)(triple >> 8),
                              (unsigned char)triple};
        /* Unused bits under the padding must be zero (canonical encoding). */
        if ((pad == 1 && b[2] != 0) || (pad == 2 && b[1] != 0))
            return -1;
        memcpy(out + n, b, bytes);
        n += bytes;
    }
    return (long)n;
}

long sasl_base64_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = (inlen + 2) / 3 * 4 + 1;
    if (need > outlen)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < inlen; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < inlen)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < inlen)
            v |= in[i + 2];
        out[n++] = tab[v >> 18 & 63];
        out[n++] = tab[v >> 12 & 63];
        out[n++] = i + 1 < inlen ? tab[v >> 6 & 63] : '=';
        out[n++] = i + 2 < inlen ? tab[v & 63] : '=';
    }
    out[n] = '\0';
    return (long)n;
}

int sasl_auth_args(const char *args, char *mech, size_t mechlen, const char **initial)
{
    const char *p = args;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    while (p[n] && p[n] != ' ' && p[n] != '\t')
        n++;
    if (n == 0 || n > SASL_MECH_MAX || n + 1 > mechlen)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return -1;
        mech[i] = (char)toupper(c);
    }
    mech[n] = '\0';
    p += n;
    while (*p == ' ' || *p == '\t')
        p++;
    *initial = NULL;
    if (*p) {
        const char *q = p;
        while (*q && *q != ' ' && *q != '\t')
            q++;
        const char *r = q;
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r)
            return -1; /* a third word */
        *initial = p;
    }
    return 0;
}

/* Copies one field; -1 when it does not fit. */
static int field(const unsigned char *from, size_t len, char *to, size_t tolen)
{
    if (len + 1 > tolen)
        return -1;
    memcpy(to, from, len);
    to[len] = '\0';
    return 0;
}

int sasl_plain_split(const unsigned char *msg, size_t len, sasl_plain *out)
{
    const unsigned char *nul1 = memchr(msg, '\0', len);
    if (nul1 == NULL)
        return -1;
    size_t rest = len - (size_t)(nul1 - msg) - 1;
    const unsigned char *nul2 = memchr(nul1 + 1, '\0', rest);
    if (nul2 == NULL)
        return -1;
    const unsigned char *pw = nul2 + 1;
    size_t pwlen = len - (size_t)(pw - msg);
    if (memchr(pw, '\0', pwlen) != NULL)
        return -1;
    size_t idlen = (size_t)(nul2 - nul1 - 1);
    if (idlen == 0 || pwlen == 0)
        return -1;
    if (field(msg, (size_t)(nul1 - msg), out->authzid, sizeof(out->authzid)) < 0 ||
        field(nul1 + 1, idlen, out->authcid, sizeof(out->authcid)) < 0 ||
        field(pw, pwlen, out->passwd, sizeof(out->passwd)) < 0)
        return -1;
    return 0;
}

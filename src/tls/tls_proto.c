/*
 * tls_proto.c: Postfix protocol and cipher-grade settings in OpenSSL terms (see tls_proto.h).
 */
#include "tls/tls_proto.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Versions in order; SSLv2/SSLv3 are accepted names that OpenSSL 3 never enables anyway. */
static const struct {
    const char *name;
    int version;
    long no_option;
} versions[] = {
    {"SSLv2", 0x0002, 0},
    {"SSLv3", SSL3_VERSION, 0},
    {"TLSv1", TLS1_VERSION, SSL_OP_NO_TLSv1},
    {"TLSv1.1", TLS1_1_VERSION, SSL_OP_NO_TLSv1_1},
    {"TLSv1.2", TLS1_2_VERSION, SSL_OP_NO_TLSv1_2},
    {"TLSv1.3", TLS1_3_VERSION, SSL_OP_NO_TLSv1_3},
};
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

static int version_index(const char *name, size_t len)
{
    for (size_t i = 0; i < NVERSIONS; i++)
        if (strlen(versions[i].name) == len && strncasecmp(versions[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int tls_version_from_name(const char *name)
{
    int i = version_index(name, strlen(name));
    return i < 0 ? 0 : versions[i].version;
}

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',' || c == ':' || c == '\n' || c == '\r';
}

int tls_protocols_parse(const char *spec, tls_protocols *out, strbuf *err)
{
    int include[NVERSIONS] = {0}, exclude[NVERSIONS] = {0};
    int any_include = 0, lo = 0, hi = (int)NVERSIONS - 1;
    for (const char *p = spec; *p;) {
        while (*p && is_sep(*p))
            p++;
        if (*p == '\0')
            break;
        const char *w = p;
        while (*p && !is_sep(*p))
            p++;
        size_t len = (size_t)(p - w);
        int neg = 0, ge = 0, le = 0;
        if (*w == '!') {
            neg = 1, w++, len--;
        } else if (len >= 2 && strncmp(w, ">=", 2) == 0) {
            ge = 1, w += 2, len -= 2;
        } else if (len >= 2 && strncmp(w, "<=", 2) == 0) {
            le = 1, w += 2, len -= 2;
        }
        int i = version_index(w, len);
        if (i < 0) {
            strbuf_printf(err, "unknown TLS protocol \"%.*s\"", (int)(len > 40 ? 40 : len), w);
            return -1;
        }
        if (neg)
            exclude[i] = 1;
        else if (ge)
            lo = i > lo ? i : lo;
        else if (le)
            hi = i < hi ? i : hi;
        else
            include[i] = any_include = 1;
    }
    int first = -1, last = -1;
    long holes = 0;
    for (int i = 0; i < (int)NVERSIONS; i++) {
        int on = i >= lo && i <= hi && !exclude[i] && (!any_include || include[i]) &&
                 versions[i].version >= TLS1_VERSION;
        if (on) {
            if (first < 0)
                first = i;
            last = i;
        }
    }
    if (first < 0) {
        strbuf_printf(err, "\"%s\" leaves no TLS protocol enabled", spec);
        return -1;
    }
    for (int i = first; i <= last; i++) {
        int on = i >= lo && i <= hi && !exclude[i] && (!any_include || include[i]);
        if (!on)
            holes |= versions[i].no_option;
    }
    out->min_version = versions[first].version;
    out->max_version = versions[last].version;
    out->no_options = holes;
    return 0;
}

int tls_cipherlist(const char *grade, const char *exclude, const char *(*lookup)(const char *),
                   strbuf *out, strbuf *err)
{
    static const char *const grades[][2] = {
        {"high", "tls_high_cipherlist"},     {"medium", "tls_medium_cipherlist"},
        {"low", "tls_low_cipherlist"},       {"export", "tls_export_cipherlist"},
        {"null", "tls_null_cipherlist"},
    };
    const char *param = NULL;
    for (size_t i = 0; i < sizeof(grades) / sizeof(grades[0]); i++)
        if (strcasecmp(grade, grades[i][0]) == 0)
            param = grades[i][1];
    if (param == NULL) {
        strbuf_printf(err, "invalid cipher grade \"%s\" (want high, medium, low, export or null)",
                      grade);
        return -1;
    }
    strbuf_reset(out);
    strbuf_append_str(out, lookup(param));
    for (const char *p = exclude; *p;) {
        while (*p && is_sep(*p))
            p++;
        const char *w = p;
        while (*p && !is_sep(*p))
            p++;
        if (p > w)
            strbuf_printf(out, ":!%.*s", (int)(p - w), w);
    }
    return 0;
}

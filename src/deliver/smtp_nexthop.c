/* smtp_nexthop.c: parsing the smtp/lmtp destination syntax (see smtp_nexthop.h). */
#include "deliver/smtp_nexthop.h"
#include "lib/fixed_str.h"
#include "lib/log.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Host names, domains and numeric addresses: letters, digits, '-', '.', '_' and, inside
 * brackets, ':' for IPv6. */
static int valid_host(const char *host, int bracketed)
{
    size_t len = strlen(host);
    if (len == 0 || len >= SMTP_HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || (bracketed && c == ':')))
            return 0;
    }
    return 1;
}

/* A numeric port 1-65535 or a TCP service name. 0 when unknown. */
static unsigned parse_port(const char *text)
{
    if (*text == '\0')
        return 0;
    if (isdigit((unsigned char)*text)) {
        char *end;
        unsigned long v = strtoul(text, &end, 10);
        return *end == '\0' && v > 0 && v <= 65535 ? (unsigned)v : 0;
    }
    if (strlen(text) > 32)
        return 0;
    struct servent *se = getservbyname(text, "tcp");
    return se ? (unsigned)ntohs((unsigned short)se->s_port) : 0;
}

/* Parses one destination (no separators inside). 0 or -1 with err. */
static int parse_one(const char *text, int lmtp, smtp_dest *d, strbuf *err)
{
    memset(d, 0, sizeof(*d));
    d->port = lmtp ? 24 : 25;
    if (lmtp && strncasecmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        if (*path == '\0' || strlen(path) >= 108 || fixed_copy(d->host, sizeof(d->host), path) < 0) {
            strbuf_printf(err, "bad LMTP socket path in destination \"%s\"", text);
            return -1;
        }
        d->is_unix = 1;
        return 0;
    }
    if (strncasecmp(text, "inet:", 5) == 0)
        text += 5;
    const char *port_text = NULL;
    char host[SMTP_HOST_MAX];
    int bracketed = text[0] == '[';
    if (bracketed) {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':') ||
            fixed_printf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1) < 0) {
            strbuf_printf(err, "malformed destination \"%s\"", text);
            return -1;
        }
        if (close[1] == ':')
            port_text = close + 2;
        if (strncasecmp(host, "ipv6:", 5) == 0)
            memmove(host, host + 5, strlen(host + 5) + 1);
    } else {
        const char *colon = strchr(text, ':');
        size_t hlen = colon ? (size_t)(colon - text) : strlen(text);
        if (fixed_printf(host, sizeof(host), "%.*s", (int)hlen, text) < 0) {
            strbuf_printf(err, "destination name too long: \"%s\"", text);
            return -1;
        }
        if (colon)
            port_text = colon + 1;
    }
    if (!valid_host(host, bracketed)) {
        strbuf_printf(err, "bad host or domain name in destination \"%s\"", text);
        return -1;
    }
    if (port_text) {
        d->port = parse_port(port_text);
        if (d->port == 0) {
            strbuf_printf(err, "bad port in destination \"%s\"", text);
            return -1;
        }
    }
    _Static_assert(sizeof(d->host) == sizeof(host), "a parsed host fits the destination");
    memcpy(d->host, host, strlen(host) + 1);
    d->mx_lookup = !bracketed && !lmtp;
    return 0;
}

int smtp_nexthop_parse(const char *nexthop, int lmtp, smtp_dest *out, size_t max, strbuf *err)
{
    size_t n = 0;
    const char *p = nexthop;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, ", \t");
        if (n == max) {
            strbuf_printf(err, "too many destinations in \"%.64s\"", nexthop);
            return -1;
        }
        char one[SMTP_HOST_MAX + 64];
        if (fixed_printf(one, sizeof(one), "%.*s", (int)len, p) < 0) {
            strbuf_printf(err, "destination too long in \"%s\"", nexthop);
            return -1;
        }
        if (parse_one(one, lmtp, &out[n], err) < 0)
            return -1;
        n++;
        p += len;
    }
    if (n == 0) {
        strbuf_printf(err, "empty destination");
        return -1;
    }
    return (int)n;
}

void smtp_dest_key(const smtp_dest *d, int lmtp, char buf[SMTP_DEST_KEY_MAX])
{
    const char *open = d->mx_lookup ? "" : "[", *close = d->mx_lookup ? "" : "]";
    int rc = d->port == (lmtp ? 24u : 25u)
                 ? fixed_printf(buf, SMTP_DEST_KEY_MAX, "%s%s%s", open, d->host, close)
                 : fixed_printf(buf, SMTP_DEST_KEY_MAX, "%s%s%s:%u", open, d->host, close, d->port);
    _Static_assert(sizeof(d->host) + sizeof("[]:65535") <= SMTP_DEST_KEY_MAX, "any key fits");
    if (rc < 0) /* not reached: see the assertion */
        log_warning("destination key for %s: too long", d->host);
}

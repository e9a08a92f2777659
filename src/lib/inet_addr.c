/* inet_addr.c: numeric IPv4/IPv6 addresses and CIDR blocks (see inet_addr.h). */
#include "lib/inet_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Strict dotted quad: four decimal parts 0-255, no leading zeros, nothing else. */
static int parse_ipv4(const char *s, unsigned char out[4])
{
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (*s != '.')
                return -1;
            s++;
        }
        if (!isdigit((unsigned char)*s))
            return -1;
        if (s[0] == '0' && isdigit((unsigned char)s[1]))
            return -1;
        unsigned value = 0;
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            if (++digits > 3)
                return -1;
            value = value * 10 + (unsigned)(*s - '0');
            s++;
        }
        if (value > 255)
            return -1;
        out[part] = (unsigned char)value;
    }
    return *s == '\0' ? 0 : -1;
}

/* Copies text without surrounding [brackets] into buf; -1 when too long or unbalanced. */
static int strip_brackets(const char *text, char *buf, size_t len)
{
    size_t n = strlen(text);
    if (n >= len)
        return -1;
    if (text[0] == '[') {
        if (n < 2 || text[n - 1] != ']')
            return -1;
        memcpy(buf, text + 1, n - 2);
        buf[n - 2] = '\0';
    } else {
        if (strchr(text, ']') != NULL)
            return -1;
        memcpy(buf, text, n + 1);
    }
    return 0;
}

int inet_addr_parse(const char *text, inet_address *out)
{
    char buf[INET_ADDR_TEXT_MAX];
    if (strip_brackets(text, buf, sizeof(buf)) < 0 || buf[0] == '\0')
        return -1;
    memset(out, 0, sizeof(*out));
    if (strchr(buf, ':') == NULL) {
        if (parse_ipv4(buf, out->bytes) < 0)
            return -1;
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->bytes) != 1)
        return -1;
    out->family = AF_INET6;
    return 0;
}

void inet_addr_format(const inet_address *addr, char *buf, size_t len)
{
    if (inet_ntop(addr->family, addr->bytes, buf, (socklen_t)len) == NULL && len > 0)
        buf[0] = '\0';
}

int inet_addr_bits(const inet_address *addr)
{
    return addr->family == AF_INET ? 32 : 128;
}

int inet_addr_is_v4_mapped(const inet_address *addr, inet_address *v4)
{
    if (addr->family != AF_INET6 || memcmp(addr->bytes, v4_mapped_prefix, 12) != 0)
        return 0;
    if (v4) {
        memset(v4, 0, sizeof(*v4));
        v4->family = AF_INET;
        memcpy(v4->bytes, addr->bytes + 12, 4);
    }
    return 1;
}

int inet_addr_equal(const inet_address *a, const inet_address *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, (size_t)inet_addr_bits(a) / 8) == 0;
}

/* 1 when the first bits of a and b agree. */
static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* 1 when some bit after the first bits is set. */
static int has_host_bits(const inet_address *addr, int bits)
{
    int total = inet_addr_bits(addr);
    for (int i = bits; i < total; i++)
        if (addr->bytes[i / 8] & (0x80 >> (i % 8)))
            return 1;
    return 0;
}

static int cidr_error(strbuf *err, const char *fmt, const char *text)
{
    if (err)
        strbuf_printf(err, fmt, text);
    return -1;
}

/* Parses the decimal prefix length; -1 when malformed or over max. */
static int parse_prefix_len(const char *s, int max)
{
    if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1] != '\0'))
        return -1;
    int value = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        value = value * 10 + (*s - '0');
        if (value > max)
            return -1;
    }
    return value;
}

int inet_cidr_parse(const char *text, inet_cidr *out, strbuf *err)
{
    char buf[INET_ADDR_TEXT_MAX];
    size_t n = strlen(text);
    if (n >= sizeof(buf))
        return cidr_error(err, "address or network too long: \"%.80s...\"", text);
    memcpy(buf, text, n + 1);
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    /* "[v6]/len" leaves "[v6]"; "v6/len" leaves "v6": inet_addr_parse takes both. */
    if (inet_addr_parse(buf, &out->net) < 0)
        return cidr_error(err, "bad address syntax in \"%s\"", text);
    int max = inet_addr_bits(&out->net);
    if (slash == NULL) {
        out->prefix_len = max;
        return 0;
    }
    out->prefix_len = parse_prefix_len(slash + 1, max);
    if (out->prefix_len < 0)
        return cidr_error(err, "bad network mask length in \"%s\"", text);
    if (has_host_bits(&out->net, out->prefix_len))
        return cidr_error(err, "non-null host address bits in \"%s\"", text);
    return 0;
}

int inet_cidr_match(const inet_cidr *block, const inet_address *addr)
{
    inet_address v4;
    if (block->net.family == addr->family)
        return prefix_equal(block->net.bytes, addr->bytes, block->prefix_len);
    if (block->net.family == AF_INET && inet_addr_is_v4_mapped(addr, &v4))
        return prefix_equal(block->net.bytes, v4.bytes, block->prefix_len);
    if (block->net.family == AF_INET6 && addr->family == AF_INET && block->prefix_len >= 96 &&
        inet_addr_is_v4_mapped(&block->net, NULL)) {
        unsigned char mapped[16];
        memcpy(mapped, v4_mapped_prefix, 12);
        memcpy(mapped + 12, addr->bytes, 4);
        return prefix_equal(block->net.bytes, mapped, block->prefix_len);
    }
    return 0;
}

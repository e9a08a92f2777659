/*
 * test_dns.c: the DNS reply parser (lib/dns.c) on hand-made replies: A, AAAA, MX, TXT, TLSA,
 * PTR with name compression, records of other types skipped, and malformed replies refused
 * whole; reverse names for addresses and DNSBL zones.
 */
#include "lib/dns.h"
#include "unit.h"

#include <string.h>

/* Header with qd=1, an=count; question "ex.test" type/class; answers follow. */
static size_t header(unsigned char *b, unsigned an)
{
    static const unsigned char h[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
                                      2, 'e', 'x', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
    memcpy(b, h, sizeof(h));
    b[7] = (unsigned char)an;
    return sizeof(h);
}

/* An answer whose owner is a pointer to the question name (offset 12). */
static size_t answer(unsigned char *b, unsigned type, const void *rdata, size_t rdlen)
{
    unsigned char *p = b;
    *p++ = 0xc0;
    *p++ = 12;
    *p++ = 0;
    *p++ = (unsigned char)type;
    *p++ = 0;
    *p++ = 1;
    *p++ = 0, *p++ = 0, *p++ = 0x0e, *p++ = 0x10; /* ttl 3600 */
    *p++ = (unsigned char)(rdlen >> 8);
    *p++ = (unsigned char)rdlen;
    memcpy(p, rdata, rdlen);
    return (size_t)(p - b) + rdlen;
}

TEST(records_of_each_type)
{
    unsigned char b[512];
    dns_answer a;
    size_t n = header(b, 3);
    n += answer(b + n, DNS_TYPE_A, "\x7f\x00\x00\x02", 4);
    n += answer(b + n, 5 /* CNAME: skipped */, "\xc0\x0c", 2);
    n += answer(b + n, DNS_TYPE_A, "\xc0\x00\x02\x01", 4);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_A, &a), DNS_OK);
    CHECK_INT(a.n, 2);
    if (a.n == 2) {
        CHECK_STR(a.rr[0].text, "127.0.0.2");
        CHECK_STR(a.rr[1].text, "192.0.2.1");
        CHECK_INT(a.rr[0].ttl, 3600);
    }
    dns_answer_free(&a);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_AAAA, &a), DNS_NOTFOUND);

    n = header(b, 2);
    n += answer(b + n, DNS_TYPE_MX, "\x00\x0a\x02mx\xc0\x0c", 7); /* 10 mx.ex.test */
    n += answer(b + n, DNS_TYPE_TXT, "\x05hello\x06 world", 13);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_MX, &a), DNS_OK);
    CHECK_INT(a.n, 1);
    if (a.n) {
        CHECK_INT(a.rr[0].pref, 10);
        CHECK_STR(a.rr[0].text, "mx.ex.test");
    }
    dns_answer_free(&a);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_TXT, &a), DNS_OK);
    if (a.n)
        CHECK_STR(a.rr[0].text, "hello world");
    dns_answer_free(&a);

    n = header(b, 2);
    n += answer(b + n, DNS_TYPE_TLSA, "\x03\x01\x01\xab\xcd", 5);
    n += answer(b + n, DNS_TYPE_AAAA, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_TLSA, &a), DNS_OK);
    if (a.n) {
        CHECK_INT(a.rr[0].usage, 3);
        CHECK_INT(a.rr[0].selector, 1);
        CHECK_INT(a.rr[0].mtype, 1);
        CHECK_INT(a.rr[0].len, 2);
        CHECK(memcmp(a.rr[0].data, "\xab\xcd", 2) == 0);
    }
    dns_answer_free(&a);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_AAAA, &a), DNS_OK);
    if (a.n)
        CHECK_STR(a.rr[0].text, "2001:db8::1");
    dns_answer_free(&a);

    n = header(b, 1);
    n += answer(b + n, DNS_TYPE_PTR, "\x04host\xc0\x0c", 7);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_PTR, &a), DNS_OK);
    if (a.n)
        CHECK_STR(a.rr[0].text, "host.ex.test");
    dns_answer_free(&a);
}

TEST(malformed_replies)
{
    unsigned char b[512];
    dns_answer a;
    size_t n = header(b, 2);
    n += answer(b + n, DNS_TYPE_A, "\x7f\x00\x00\x02", 4);
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_A, &a), DNS_INVALID); /* second answer missing */
    CHECK_INT(a.n, 0);
    n = header(b, 1);
    n += answer(b + n, DNS_TYPE_A, "\x7f\x00\x00", 3); /* short address */
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_A, &a), DNS_INVALID);
    CHECK_INT(dns_parse_reply(b, n - 2, DNS_TYPE_A, &a), DNS_INVALID); /* rdata cut */
    n = header(b, 1);
    n += answer(b + n, DNS_TYPE_TXT, "\x09short", 6); /* string longer than rdata */
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_TXT, &a), DNS_INVALID);
    n = header(b, 1);
    n += answer(b + n, DNS_TYPE_PTR, "\xc0\xff", 2); /* pointer out of the message */
    CHECK_INT(dns_parse_reply(b, n, DNS_TYPE_PTR, &a), DNS_INVALID);
    CHECK_INT(dns_parse_reply(b, 5, DNS_TYPE_A, &a), DNS_INVALID);
}

TEST(reverse_names)
{
    char out[128];
    CHECK_INT(dns_reverse_name("192.0.2.1", NULL, out, sizeof(out)), 0);
    CHECK_STR(out, "1.2.0.192.in-addr.arpa");
    CHECK_INT(dns_reverse_name("127.0.0.2", "zen.test", out, sizeof(out)), 0);
    CHECK_STR(out, "2.0.0.127.zen.test");
    CHECK_INT(dns_reverse_name("2001:db8::1", NULL, out, sizeof(out)), 0);
    CHECK_STR(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK_INT(dns_reverse_name("not-an-address", NULL, out, sizeof(out)), -1);
    CHECK_INT(dns_reverse_name("2001:db8::1", NULL, out, 20), -1); /* refused, not cut */
}

int main(void)
{
    RUN(records_of_each_type);
    RUN(malformed_replies);
    RUN(reverse_names);
    UNIT_MAIN_END("test_dns");
}

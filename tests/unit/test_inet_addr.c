/* test_inet_addr.c: IPv4/IPv6 address and CIDR parsing and matching. */
#include "lib/inet_addr.h"
#include "unit.h"

#include <sys/socket.h>

static int parses(const char *text)
{
    inet_address a;
    return inet_addr_parse(text, &a) == 0;
}

/* Parses block and addr and returns inet_cidr_match; -1 when either does not parse. */
static int matches(const char *block, const char *addr)
{
    inet_cidr c;
    inet_address a;
    if (inet_cidr_parse(block, &c, NULL) < 0 || inet_addr_parse(addr, &a) < 0)
        return -1;
    return inet_cidr_match(&c, &a);
}

TEST(ipv4_parsing_is_strict)
{
    CHECK(parses("1.2.3.4"));
    CHECK(parses("0.0.0.0"));
    CHECK(parses("255.255.255.255"));
    CHECK(parses("[10.0.0.1]"));
    CHECK(!parses("999.1.1.1"));
    CHECK(!parses("256.1.1.1"));
    CHECK(!parses("1.2.3"));
    CHECK(!parses("1.2.3.4.5"));
    CHECK(!parses("01.2.3.4"));
    CHECK(!parses("1.2.3.4 "));
    CHECK(!parses("1..3.4"));
    CHECK(!parses(""));
    CHECK(!parses("[1.2.3.4"));
    CHECK(!parses("example.com"));
    CHECK(!parses("1.2.3.0004"));
}

TEST(ipv6_parsing)
{
    inet_address a;
    CHECK(inet_addr_parse("::1", &a) == 0);
    CHECK_INT(a.family, AF_INET6);
    CHECK_INT(a.bytes[15], 1);
    CHECK(parses("[::1]"));
    CHECK(parses("2001:db8::"));
    CHECK(parses("::ffff:1.2.3.4"));
    CHECK(parses("2001:DB8:0:0:0:0:0:1"));
    CHECK(!parses("2001:db8:::1"));
    CHECK(!parses("[::1"));
    CHECK(!parses("::1]"));
    CHECK(!parses("fe80::1%eth0"));
    CHECK(!parses("1:2:3:4:5:6:7:8:9"));
    char buf[INET_ADDR_TEXT_MAX];
    inet_addr_parse("2001:DB8:0:0:0:0:0:1", &a);
    inet_addr_format(&a, buf, sizeof(buf));
    CHECK_STR(buf, "2001:db8::1");
}

TEST(mapped_addresses)
{
    inet_address a, v4;
    inet_addr_parse("::ffff:10.1.2.3", &a);
    CHECK(inet_addr_is_v4_mapped(&a, &v4));
    CHECK_INT(v4.family, AF_INET);
    CHECK_INT(v4.bytes[0], 10);
    CHECK_INT(v4.bytes[3], 3);
    inet_addr_parse("::10.1.2.3", &a);
    CHECK(!inet_addr_is_v4_mapped(&a, NULL));
    inet_address b;
    inet_addr_parse("10.1.2.3", &b);
    CHECK(inet_addr_equal(&v4, &b));
    CHECK(!inet_addr_equal(&a, &b));
}

TEST(cidr_parsing_errors_name_the_entry)
{
    strbuf err;
    strbuf_init(&err, 0);
    inet_cidr c;
    CHECK(inet_cidr_parse("10.0.0.0/33", &c, &err) < 0);
    CHECK(strstr(err.data, "10.0.0.0/33") != NULL);
    strbuf_reset(&err);
    CHECK(inet_cidr_parse("999.1.1.1", &c, &err) < 0);
    CHECK(strstr(err.data, "999.1.1.1") != NULL);
    strbuf_reset(&err);
    CHECK(inet_cidr_parse("10.1.0.0/8", &c, &err) < 0);
    CHECK(strstr(err.data, "non-null host address bits") != NULL);
    CHECK(inet_cidr_parse("::1/129", &c, NULL) < 0);
    CHECK(inet_cidr_parse("10.0.0.0/", &c, NULL) < 0);
    CHECK(inet_cidr_parse("10.0.0.0/08", &c, NULL) < 0);
    CHECK(inet_cidr_parse("10.0.0.0/-1", &c, NULL) < 0);
    CHECK(inet_cidr_parse("10.0.0.0/8x", &c, NULL) < 0);
    CHECK(inet_cidr_parse("[10.0.0.0/8]", &c, NULL) < 0);
    CHECK(inet_cidr_parse("10.0.0.0/8", &c, NULL) == 0);
    CHECK_INT(c.prefix_len, 8);
    CHECK(inet_cidr_parse("[::1]/128", &c, NULL) == 0);
    CHECK_INT(c.prefix_len, 128);
    CHECK(inet_cidr_parse("::1/128", &c, NULL) == 0);
    CHECK(inet_cidr_parse("[2001:db8::]/32", &c, NULL) == 0);
    CHECK(inet_cidr_parse("1.2.3.4", &c, NULL) == 0);
    CHECK_INT(c.prefix_len, 32);
    CHECK(inet_cidr_parse("::1", &c, NULL) == 0);
    CHECK_INT(c.prefix_len, 128);
    strbuf_free(&err);
}

TEST(cidr_edges)
{
    CHECK_INT(matches("0.0.0.0/0", "1.2.3.4"), 1);
    CHECK_INT(matches("0.0.0.0/0", "255.255.255.255"), 1);
    CHECK_INT(matches("0.0.0.0/0", "2001:db8::1"), 0);
    CHECK_INT(matches("::/0", "2001:db8::1"), 1);
    CHECK_INT(matches("::/0", "1.2.3.4"), 0);
    CHECK_INT(matches("1.2.3.4/32", "1.2.3.4"), 1);
    CHECK_INT(matches("1.2.3.4/32", "1.2.3.5"), 0);
    CHECK_INT(matches("1.2.3.4", "1.2.3.4"), 1);
    CHECK_INT(matches("10.0.0.0/8", "10.255.255.255"), 1);
    CHECK_INT(matches("10.0.0.0/8", "11.0.0.0"), 0);
    CHECK_INT(matches("192.168.0.0/23", "192.168.1.200"), 1);
    CHECK_INT(matches("192.168.0.0/23", "192.168.2.0"), 0);
    CHECK_INT(matches("[::1]/128", "::1"), 1);
    CHECK_INT(matches("[::1]/128", "::2"), 0);
    CHECK_INT(matches("2001:db8::/32", "2001:db8:ffff::1"), 1);
    CHECK_INT(matches("2001:db8::/33", "2001:db8:8000::1"), 0);
    CHECK_INT(matches("2001:db8::/127", "2001:db8::1"), 1);
    CHECK_INT(matches("2001:db8::/128", "2001:db8::1"), 0);
}

TEST(cidr_mapped_matching)
{
    /* An IPv4 block matches the IPv4-mapped form of an address inside it. */
    CHECK_INT(matches("127.0.0.0/8", "::ffff:127.0.0.1"), 1);
    CHECK_INT(matches("127.0.0.0/8", "::ffff:128.0.0.1"), 0);
    /* Postfix's default mynetworks entry for mapped loopback matches plain IPv4 too. */
    CHECK_INT(matches("[::ffff:127.0.0.0]/104", "127.0.0.1"), 1);
    CHECK_INT(matches("[::ffff:127.0.0.0]/104", "::ffff:127.1.2.3"), 1);
    CHECK_INT(matches("[::ffff:127.0.0.0]/104", "10.0.0.1"), 0);
    /* A v6 block outside ::ffff:0:0/96 never matches IPv4. */
    CHECK_INT(matches("::/64", "0.0.0.1"), 0);
}

int main(void)
{
    RUN(ipv4_parsing_is_strict);
    RUN(ipv6_parsing);
    RUN(mapped_addresses);
    RUN(cidr_parsing_errors_name_the_entry);
    RUN(cidr_edges);
    RUN(cidr_mapped_matching);
    UNIT_MAIN_END("test_inet_addr");
}

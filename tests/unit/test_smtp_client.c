/* test_smtp_client.c: the SMTP client's parsers: nexthops, replies, EHLO keywords, content
 * encoding (dot-stuffing, CRLF, 8BITMIME downgrade), DNS answers and MX ordering. */
#include "deliver/smtp_body.h"
#include "deliver/smtp_dns.h"
#include "deliver/smtp_nexthop.h"
#include "deliver/smtp_reply.h"
#include "deliver/smtp_session.h"
#include "deliver/smtp_stream.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- nexthop ---- */

TEST(nexthop_forms)
{
    smtp_dest d[SMTP_DEST_MAX];
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(smtp_nexthop_parse("example.com", 0, d, SMTP_DEST_MAX, &err), 1);
    CHECK_STR(d[0].host, "example.com");
    CHECK_INT(d[0].port, 25);
    CHECK_INT(d[0].mx_lookup, 1);

    CHECK_INT(smtp_nexthop_parse("[mail.example.com]", 0, d, SMTP_DEST_MAX, &err), 1);
    CHECK_STR(d[0].host, "mail.example.com");
    CHECK_INT(d[0].mx_lookup, 0);

    CHECK_INT(smtp_nexthop_parse("[1.2.3.4]:2526", 0, d, SMTP_DEST_MAX, &err), 1);
    CHECK_STR(d[0].host, "1.2.3.4");
    CHECK_INT(d[0].port, 2526);
    CHECK_INT(d[0].mx_lookup, 0);

    CHECK_INT(smtp_nexthop_parse("mx.test:2526", 0, d, SMTP_DEST_MAX, &err), 1);
    CHECK_STR(d[0].host, "mx.test");
    CHECK_INT(d[0].port, 2526);
    CHECK_INT(d[0].mx_lookup, 1);

    CHECK_INT(smtp_nexthop_parse("[::1]:26", 0, d, SMTP_DEST_MAX, &err), 1);
    CHECK_STR(d[0].host, "::1");
    CHECK_INT(d[0].port, 26);
    CHECK_INT(smtp_nexthop_parse("[ipv6:2001:db8::1]", 0, d, SMTP_DEST_MAX, &err), 1);
    CHECK_STR(d[0].host, "2001:db8::1");

    CHECK_INT(smtp_nexthop_parse("a.test, [b.test]:26 c.test", 0, d, SMTP_DEST_MAX, &err), 3);
    CHECK_STR(d[1].host, "b.test");
    CHECK_INT(d[1].port, 26);
    CHECK_STR(d[2].host, "c.test");
    strbuf_free(&err);
}

TEST(nexthop_lmtp_forms)
{
    smtp_dest d[SMTP_DEST_MAX];
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(smtp_nexthop_parse("unix:/run/lmtp.sock", 1, d, SMTP_DEST_MAX, &err), 1);
    CHECK_INT(d[0].is_unix, 1);
    CHECK_STR(d[0].host, "/run/lmtp.sock");
    CHECK_INT(smtp_nexthop_parse("inet:localhost", 1, d, SMTP_DEST_MAX, &err), 1);
    CHECK_INT(d[0].port, 24);
    CHECK_INT(d[0].mx_lookup, 0);
    CHECK_INT(smtp_nexthop_parse("inet:[127.0.0.1]:2424", 1, d, SMTP_DEST_MAX, &err), 1);
    CHECK_INT(d[0].port, 2424);
    strbuf_free(&err);
}

TEST(nexthop_rejects_garbage)
{
    smtp_dest d[SMTP_DEST_MAX];
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(smtp_nexthop_parse("", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("[1.2.3.4", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("[1.2.3.4]x", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("host:0", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("host:70000", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("host:12x", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("ho/st", 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK_INT(smtp_nexthop_parse("unix:/x", 0, d, SMTP_DEST_MAX, &err), -1); /* smtp: no */
    CHECK_INT(smtp_nexthop_parse("a b c", 0, d, 2, &err), -1);
    char longname[400];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_INT(smtp_nexthop_parse(longname, 0, d, SMTP_DEST_MAX, &err), -1);
    CHECK(err.len > 0);
    strbuf_free(&err);
}

/* ---- replies ---- */

static int feed(smtp_reply *r, const char *line)
{
    return smtp_reply_add_line(r, line, strlen(line));
}

TEST(reply_single_and_multiline)
{
    smtp_reply r;
    smtp_reply_init(&r);
    CHECK_INT(feed(&r, "250 2.0.0 Ok: queued as ABC"), 1);
    CHECK_INT(r.code, 250);
    CHECK_STR(r.text.data, "250 2.0.0 Ok: queued as ABC");
    char dsn[DSN_MAX];
    smtp_reply_dsn(&r, dsn, sizeof(dsn));
    CHECK_STR(dsn, "2.0.0");

    smtp_reply_reset(&r);
    CHECK_INT(feed(&r, "550-5.7.1 first"), 0);
    CHECK_INT(feed(&r, "550-5.7.1 second"), 0);
    CHECK_INT(feed(&r, "550 5.7.1 third"), 1);
    CHECK_INT(r.code, 550);
    CHECK_STR(r.text.data, "550-5.7.1 first 550-5.7.1 second 550 5.7.1 third");
    smtp_reply_dsn(&r, dsn, sizeof(dsn));
    CHECK_STR(dsn, "5.7.1");

    smtp_reply_reset(&r); /* no enhanced code: X.0.0 */
    CHECK_INT(feed(&r, "451 try later"), 1);
    smtp_reply_dsn(&r, dsn, sizeof(dsn));
    CHECK_STR(dsn, "4.0.0");

    smtp_reply_reset(&r); /* the reply code's class wins over the enhanced code's */
    CHECK_INT(feed(&r, "550 4.1.1 odd"), 1);
    smtp_reply_dsn(&r, dsn, sizeof(dsn));
    CHECK_STR(dsn, "5.1.1");

    smtp_reply_reset(&r); /* a bare code is a complete reply */
    CHECK_INT(feed(&r, "354"), 1);
    CHECK_INT(r.code, 354);
    smtp_reply_free(&r);
}

TEST(reply_malformed)
{
    smtp_reply r;
    smtp_reply_init(&r);
    CHECK_INT(feed(&r, "hello there"), -1);
    CHECK_INT(r.code, 0);
    CHECK(r.complete);
    smtp_reply_reset(&r);
    CHECK_INT(feed(&r, "25"), -1);
    smtp_reply_reset(&r);
    CHECK_INT(feed(&r, "250x"), -1);
    smtp_reply_reset(&r);
    CHECK_INT(feed(&r, "650 nope"), -1);
    smtp_reply_reset(&r);
    CHECK_INT(feed(&r, "250-ok"), 0);
    CHECK_INT(feed(&r, "garbage"), -1);
    CHECK_INT(r.code, 0);
    char dsn[DSN_MAX];
    smtp_reply_dsn(&r, dsn, sizeof(dsn));
    CHECK_STR(dsn, "4.5.0");

    /* too many lines */
    smtp_reply_reset(&r);
    int rc = 0;
    for (int i = 0; i < SMTP_REPLY_LINES_MAX + 5 && rc == 0; i++)
        rc = feed(&r, "250-more");
    CHECK_INT(rc, -1);
    CHECK(r.nlines <= SMTP_REPLY_LINES_MAX + 1);

    /* the joined text stays bounded */
    smtp_reply_reset(&r);
    char line[SMTP_REPLY_LINE_MAX + 100];
    memcpy(line, "250-", 4);
    memset(line + 4, 'x', sizeof(line) - 5);
    line[sizeof(line) - 1] = '\0';
    for (int i = 0; i < 20; i++)
        CHECK_INT(feed(&r, line), 0);
    /* as Postfix: the first line_limit bytes of the first line, no more lines once the text
     * reached line_limit */
    CHECK_INT(r.text.len, SMTP_REPLY_LINE_MAX);
    CHECK(memcmp(r.text.data, line, SMTP_REPLY_LINE_MAX) == 0);
    CHECK_INT(feed(&r, "250 end"), 1);
    CHECK_INT(r.code, 250);

    /* short lines are joined whole until the text reaches the limit */
    smtp_reply_reset(&r);
    r.line_limit = 20;
    CHECK_INT(feed(&r, "250-0123456789"), 0);
    CHECK_INT(feed(&r, "250-abcdefghijklmnop"), 0);
    CHECK_INT(feed(&r, "250 dropped"), 1);
    CHECK_STR(r.text.data, "250-0123456789 250-abcdefghijklmnop");
    smtp_reply_free(&r);
}

/* A reply line longer than the limit is reported as such (it was cut without a word). */
TEST(stream_reports_long_reply_lines)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char big[3100];
    memset(big, 'x', sizeof(big));
    memcpy(big, "250-", 4);
    memcpy(big + 3000, "\r\n", 2); /* a 3000-byte line */
    size_t n = 3002;
    const char *rest = "250-exact\r\n250 ok\r\n";
    CHECK(write(sv[1], big, n) == (ssize_t)n);
    CHECK(write(sv[1], rest, strlen(rest)) == (ssize_t)strlen(rest));
    smtp_stream st;
    smtp_stream_init(&st, sv[0]);
    strbuf line;
    strbuf_init(&line, 0);
    CHECK_INT(smtp_stream_read_line(&st, &line, 2048, 5), 1);
    CHECK_INT(line.len, 2048);
    CHECK_INT(smtp_stream_read_line(&st, &line, 9, 5), 0); /* exactly max bytes, then CRLF */
    CHECK_STR(line.data, "250-exact");
    CHECK_INT(smtp_stream_read_line(&st, &line, 2048, 5), 0);
    CHECK_STR(line.data, "250 ok");

    /* a whole reply: the long line keeps line_limit bytes, the reply stays well-formed */
    CHECK(write(sv[1], big, n) == (ssize_t)n);
    CHECK(write(sv[1], rest, strlen(rest)) == (ssize_t)strlen(rest));
    st.line_limit = 100;
    smtp_reply r;
    smtp_reply_init(&r);
    CHECK_INT(smtp_stream_read_reply(&st, &r, 5), 0);
    CHECK_INT(r.code, 250);
    CHECK_INT(r.text.len, 100);
    strbuf_free(&line);
    smtp_reply_free(&r);
    smtp_stream_close(&st);
    close(sv[1]);
}

TEST(ehlo_keywords)
{
    smtp_reply r;
    smtp_reply_init(&r);
    feed(&r, "250-mx.example.com says hi");
    feed(&r, "250-pipelining");
    feed(&r, "250-SIZE 10240000");
    feed(&r, "250-8BITMIME");
    feed(&r, "250-AUTH PLAIN LOGIN");
    feed(&r, "250-ENHANCEDSTATUSCODES");
    feed(&r, "250-XSIZE 5");
    feed(&r, "250 DSN");
    long long size = -1;
    unsigned f = smtp_ehlo_parse(&r, &size);
    CHECK(f & SMTP_FEATURE_PIPELINING);
    CHECK(f & SMTP_FEATURE_SIZE);
    CHECK(f & SMTP_FEATURE_8BITMIME);
    CHECK(f & SMTP_FEATURE_DSN);
    CHECK(f & SMTP_FEATURE_AUTH);
    CHECK(f & SMTP_FEATURE_ENHANCEDSTATUSCODES);
    CHECK(!(f & SMTP_FEATURE_SMTPUTF8));
    CHECK(!(f & SMTP_FEATURE_STARTTLS));
    CHECK_INT(size, 10240000);

    smtp_reply_reset(&r); /* the greeting line is not a keyword; SIZE without number */
    feed(&r, "250-PIPELINING");
    feed(&r, "250 SIZE");
    f = smtp_ehlo_parse(&r, &size);
    CHECK(!(f & SMTP_FEATURE_PIPELINING));
    CHECK(f & SMTP_FEATURE_SIZE);
    CHECK_INT(size, 0);

    smtp_reply_reset(&r);
    feed(&r, "250 only.a.name");
    CHECK_INT(smtp_ehlo_parse(&r, &size), 0);
    smtp_reply_free(&r);
}

/* ---- content ---- */

static int to_strbuf(const char *data, size_t len, void *ctx)
{
    return strbuf_append(ctx, data, len) < 0;
}

/* Runs lines (NUL-separated pieces described by a list) through a writer. */
static void encode(const char *const *lines, size_t n, int downgrade, size_t limit, strbuf *out)
{
    smtp_body_writer w;
    smtp_body_init(&w, downgrade, limit, to_strbuf, out);
    for (size_t i = 0; i < n; i++)
        smtp_body_piece(&w, lines[i], strlen(lines[i]), 0);
    smtp_body_finish(&w);
    smtp_body_free(&w);
}

TEST(body_dot_stuffing_and_crlf)
{
    const char *lines[] = {"Subject: x", "", ".", "..two", "a.b", ". ", ""};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, 7, 0, 998, &out);
    CHECK_STR(out.data, "Subject: x\r\n\r\n..\r\n...two\r\na.b\r\n.. \r\n\r\n");
    strbuf_free(&out);
}

TEST(body_pieces_make_one_line)
{
    strbuf out;
    strbuf_init(&out, 0);
    smtp_body_writer w;
    smtp_body_init(&w, 0, 0, to_strbuf, &out);
    smtp_body_piece(&w, ".ab", 3, 1);
    smtp_body_piece(&w, ".cd", 3, 0); /* not at line start: no stuffing */
    smtp_body_piece(&w, "x", 1, 1);   /* content ends inside a line */
    smtp_body_finish(&w);
    smtp_body_free(&w);
    CHECK_STR(out.data, "..ab.cd\r\nx\r\n");
    strbuf_free(&out);
}

TEST(body_long_lines_are_broken)
{
    char line[25];
    memset(line, 'a', 24);
    line[24] = '\0';
    const char *lines[] = {line};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, 1, 0, 10, &out);
    CHECK_STR(out.data, "aaaaaaaaaa\r\n aaaaaaaaa\r\n aaaaa\r\n");
    strbuf_free(&out);
}

TEST(body_8bit_detection)
{
    CHECK(!smtp_body_has_8bit("plain text", 10));
    CHECK(smtp_body_has_8bit("caf\xc3\xa9", 5));
}

TEST(body_downgrade_single_part)
{
    const char *lines[] = {"Subject: x",
                           "MIME-Version: 1.0",
                           "Content-Type: text/plain; charset=utf-8",
                           "Content-Transfer-Encoding: 8bit",
                           "",
                           "caf\xc3\xa9 = ok ",
                           ".x"};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, 7, 1, 998, &out);
    CHECK_STR(out.data, "Subject: x\r\nMIME-Version: 1.0\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                        "caf=C3=A9 =3D ok=20\r\n..x\r\n");
    strbuf_free(&out);
}

TEST(body_downgrade_soft_breaks)
{
    char line[200];
    memset(line, 0xe9, 100);
    line[100] = '\0';
    const char *lines[] = {"Content-Transfer-Encoding: 8bit", "", line};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, 3, 1, 998, &out);
    /* every output line is at most 76 characters */
    const char *p = out.data;
    int ok = 1;
    while (*p) {
        const char *e = strstr(p, "\r\n");
        if (e == NULL || e - p > 76)
            ok = 0;
        if (e == NULL)
            break;
        p = e + 2;
    }
    CHECK(ok);
    CHECK(strstr(out.data, "=E9=\r\n") != NULL);
    CHECK(!smtp_body_has_8bit(out.data, out.len));
    strbuf_free(&out);
}

/* A header name followed by white space before its colon is still recognised (a 31-byte copy
 * of the line hid it, so the body was converted under an "8bit" header). */
TEST(body_downgrade_spaced_header_name)
{
    const char *lines[] = {"MIME-Version: 1.0",
                           "Content-Transfer-Encoding        : 8bit",
                           "",
                           "caf\xc3\xa9"};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, 4, 1, 998, &out);
    CHECK_STR(out.data, "MIME-Version: 1.0\r\n"
                        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                        "caf=C3=A9\r\n");
    strbuf_free(&out);
}

TEST(body_downgrade_multipart)
{
    const char *lines[] = {"MIME-Version: 1.0",
                           "Content-Type: multipart/mixed;",
                           " boundary=\"BB\"",
                           "",
                           "preamble",
                           "--BB",
                           "Content-Type: text/plain",
                           "Content-Transfer-Encoding: 8bit",
                           "",
                           "\xe9t\xe9",
                           "--BB",
                           "Content-Type: text/plain",
                           "",
                           "seven bit \xe9",
                           "--BB--",
                           "epilogue"};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, sizeof(lines) / sizeof(lines[0]), 1, 998, &out);
    CHECK_STR(out.data,
              "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"BB\"\r\n"
              "\r\npreamble\r\n--BB\r\nContent-Type: text/plain\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9\r\n"
              "--BB\r\nContent-Type: text/plain\r\n\r\nseven bit \xe9\r\n"
              "--BB--\r\nepilogue\r\n");
    strbuf_free(&out);
}

TEST(body_no_mime_is_sent_as_is)
{
    const char *lines[] = {"Subject: x", "", "caf\xc3\xa9"};
    strbuf out;
    strbuf_init(&out, 0);
    encode(lines, 3, 1, 998, &out);
    CHECK_STR(out.data, "Subject: x\r\n\r\ncaf\xc3\xa9\r\n");
    strbuf_free(&out);
}

/* ---- envelope helpers ---- */

TEST(xtext_and_quoting)
{
    strbuf out;
    strbuf_init(&out, 0);
    smtp_xtext_encode("a+b=c d", &out);
    CHECK_STR(out.data, "a+2Bb+3Dc+20d");
    strbuf_reset(&out);
    CHECK_INT(smtp_quote_address("user@example.com", &out), 0);
    CHECK_STR(out.data, "user@example.com");
    strbuf_reset(&out);
    CHECK_INT(smtp_quote_address("john doe@example.com", &out), 0);
    CHECK_STR(out.data, "\"john doe\"@example.com");
    strbuf_reset(&out);
    CHECK_INT(smtp_quote_address("a..b@example.com", &out), 0);
    CHECK_STR(out.data, "\"a..b\"@example.com");
    strbuf_reset(&out);
    CHECK_INT(smtp_quote_address("", &out), 0);
    CHECK_STR(out.data, "");
    strbuf_reset(&out);
    CHECK_INT(smtp_quote_address("a\r\nRSET@x", &out), -1);
    strbuf_free(&out);
}

/* ---- DNS ---- */

/* Builds a response with one question and the given answer records. */
static size_t build_response(unsigned char *buf, int qtype, const unsigned char *answers,
                             size_t alen, int ancount)
{
    static const unsigned char header[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(buf, header, 12);
    buf[7] = (unsigned char)ancount;
    static const unsigned char qname[] = {2, 'm', 'x', 4, 't', 'e', 's', 't', 0};
    size_t n = 12;
    memcpy(buf + n, qname, sizeof(qname));
    n += sizeof(qname);
    buf[n++] = 0;
    buf[n++] = (unsigned char)qtype;
    buf[n++] = 0;
    buf[n++] = 1;
    memcpy(buf + n, answers, alen);
    return n + alen;
}

TEST(dns_parse_mx_and_addresses)
{
    /* owner: pointer to the question name (offset 12); MX 10 mx1.<ptr>, MX 20 mx2.<ptr> */
    const unsigned char answers[] = {
        0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 8, 0, 10, 3, 'm', 'x', '1', 0xc0, 12,
        0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 8, 0, 20, 3, 'm', 'x', '2', 0xc0, 12,
    };
    unsigned char msg[512];
    size_t len = build_response(msg, 15, answers, sizeof(answers), 2);
    smtp_mx mx[4];
    CHECK_INT(smtp_dns_parse_mx(msg, len, mx, 4), 2);
    CHECK_INT(mx[0].pref, 10);
    CHECK_STR(mx[0].host, "mx1.mx.test");
    CHECK_STR(mx[1].host, "mx2.mx.test");
    CHECK_INT(smtp_dns_parse_mx(msg, len, mx, 1), 1);      /* bounded by max */
    CHECK_INT(smtp_dns_parse_mx(msg, len - 3, mx, 4), -1); /* truncated */

    const unsigned char a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2};
    len = build_response(msg, 1, a, sizeof(a), 1);
    inet_address addr[2];
    CHECK_INT(smtp_dns_parse_addr(msg, len, 1, addr, 2), 1);
    CHECK_INT(addr[0].family, AF_INET);
    CHECK_INT(addr[0].bytes[3], 2);
    CHECK_INT(smtp_dns_parse_addr(msg, len, 28, addr, 2), 0); /* no AAAA in it */

    const unsigned char bad_a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 127, 0, 0};
    len = build_response(msg, 1, bad_a, sizeof(bad_a), 1);
    CHECK_INT(smtp_dns_parse_addr(msg, len, 1, addr, 2), -1);
    CHECK_INT(smtp_dns_parse_mx(msg, 5, mx, 4), -1);
}

TEST(mx_sort_by_preference_random_ties)
{
    int saw_first[2] = {0, 0};
    for (unsigned seed0 = 1; seed0 < 200; seed0++) {
        smtp_mx mx[5] = {{30, "c"}, {10, "a1"}, {20, "b"}, {10, "a2"}, {5, "z"}};
        unsigned seed = seed0;
        smtp_mx_sort(mx, 5, &seed);
        CHECK_STR(mx[0].host, "z");
        CHECK_INT(mx[1].pref, 10);
        CHECK_INT(mx[2].pref, 10);
        CHECK_STR(mx[3].host, "b");
        CHECK_STR(mx[4].host, "c");
        saw_first[strcmp(mx[1].host, "a1") == 0 ? 0 : 1] = 1;
    }
    CHECK(saw_first[0] && saw_first[1]); /* equal preferences come in both orders */
}

int main(void)
{
    RUN(nexthop_forms);
    RUN(nexthop_lmtp_forms);
    RUN(nexthop_rejects_garbage);
    RUN(reply_single_and_multiline);
    RUN(stream_reports_long_reply_lines);
    RUN(reply_malformed);
    RUN(ehlo_keywords);
    RUN(body_dot_stuffing_and_crlf);
    RUN(body_pieces_make_one_line);
    RUN(body_long_lines_are_broken);
    RUN(body_8bit_detection);
    RUN(body_downgrade_single_part);
    RUN(body_downgrade_soft_breaks);
    RUN(body_downgrade_spaced_header_name);
    RUN(body_downgrade_multipart);
    RUN(body_no_mime_is_sent_as_is);
    RUN(xtext_and_quoting);
    RUN(dns_parse_mx_and_addresses);
    RUN(mx_sort_by_preference_random_ties);
    UNIT_MAIN_END("test_smtp_client");
}

/* test_smtpd_parse.c: SMTP command lines, paths, ESMTP parameters, xtext, Received: format. */
#include "smtpd/smtpd_proto_parse.h"
#include "smtpd/smtpd_received.h"
#include "unit.h"

#include <stdlib.h>

TEST(line_splitting)
{
    smtpd_line l;
    const char *in = "EHLO a\r\nMAIL FROM:<x>\nDATA";
    CHECK_INT(smtpd_line_next(in, strlen(in), 2048, &l), SMTPD_LINE_OK);
    CHECK_INT(l.len, 6);
    CHECK(memcmp(l.text, "EHLO a", 6) == 0);
    CHECK_INT(l.consumed, 8);
    CHECK_INT(l.bare_lf, 0);
    in += l.consumed;
    CHECK_INT(smtpd_line_next(in, strlen(in), 2048, &l), SMTPD_LINE_OK);
    CHECK_INT(l.len, 13);
    CHECK_INT(l.bare_lf, 1);
    in += l.consumed;
    CHECK_INT(smtpd_line_next(in, strlen(in), 2048, &l), SMTPD_LINE_NEED_MORE);
    CHECK_INT(l.consumed, 0);
}

TEST(line_with_nul_and_bare_cr)
{
    smtpd_line l;
    const char in[] = "NO\0OP\r\n";
    CHECK_INT(smtpd_line_next(in, sizeof(in) - 1, 2048, &l), SMTPD_LINE_OK);
    CHECK_INT(l.has_nul, 1);
    CHECK_INT(l.len, 5);
    const char in2[] = "HELO a\rb\r\n";
    CHECK_INT(smtpd_line_next(in2, sizeof(in2) - 1, 2048, &l), SMTPD_LINE_OK);
    CHECK_INT(l.len, 8); /* the bare CR stays in the line */
    CHECK_INT(l.has_nul, 0);
}

TEST(overlong_lines)
{
    smtpd_line l;
    char *big = malloc(10010);
    memset(big, 'A', 10000);
    memcpy(big + 10000, "\r\nNOOP\r\n", 8);
    /* Complete line over the limit: consumed through its LF, never executed. */
    CHECK_INT(smtpd_line_next(big, 10008, 2048, &l), SMTPD_LINE_TOO_LONG);
    CHECK_INT(l.consumed, 10002);
    CHECK_INT(smtpd_line_next(big, 10000, 2048, &l), SMTPD_LINE_TOO_LONG_PARTIAL);
    CHECK_INT(l.consumed, 10000);
    /* Limit exactly: 2048 bytes + CRLF is fine, 2049 is not. */
    memcpy(big + 2048, "\r\n", 2);
    CHECK_INT(smtpd_line_next(big, 2050, 2048, &l), SMTPD_LINE_OK);
    CHECK_INT(l.len, 2048);
    memcpy(big + 2049, "\r\n", 2);
    big[2048] = 'A';
    CHECK_INT(smtpd_line_next(big, 2051, 2048, &l), SMTPD_LINE_TOO_LONG);
    CHECK_INT(l.consumed, 2051);
    /* Short buffer without a terminator waits for more. */
    CHECK_INT(smtpd_line_next(big, 2049, 2048, &l), SMTPD_LINE_NEED_MORE);
    CHECK_INT(smtpd_line_next(big, 2050, 2048, &l), SMTPD_LINE_TOO_LONG_PARTIAL);
    size_t used;
    CHECK_INT(smtpd_line_skip("xyz\r\nNOOP", 9, &used), 1);
    CHECK_INT(used, 5);
    CHECK_INT(smtpd_line_skip("xyz", 3, &used), 0);
    CHECK_INT(used, 3);
    free(big);
}

TEST(command_lookup)
{
    const char *args;
    CHECK_INT(smtpd_command_lookup("ehlo client.example", &args), SMTPD_CMD_EHLO);
    CHECK_STR(args, "client.example");
    CHECK_INT(smtpd_command_lookup("MAIL FROM:<a@b>", &args), SMTPD_CMD_MAIL);
    CHECK_STR(args, "FROM:<a@b>");
    CHECK_INT(smtpd_command_lookup("  quit", &args), SMTPD_CMD_QUIT);
    CHECK_STR(args, "");
    CHECK_INT(smtpd_command_lookup("MAILX FROM:<a>", &args), SMTPD_CMD_UNKNOWN);
    CHECK_INT(smtpd_command_lookup("HELP", &args), SMTPD_CMD_UNKNOWN);
    CHECK_INT(smtpd_command_lookup("", &args), SMTPD_CMD_UNKNOWN);
    CHECK_STR(smtpd_command_name(SMTPD_CMD_RCPT), "rcpt");
    char verb[16];
    smtpd_command_verb("rcpt to:<x>", verb, sizeof(verb));
    CHECK_STR(verb, "RCPT");
    smtpd_command_verb("averyveryverylongverb", verb, 5);
    CHECK_STR(verb, "AVER");
}

TEST(forbidden_commands)
{
    CHECK(smtpd_command_is_forbidden("Subject: hello"));
    CHECK(smtpd_command_is_forbidden("From: a@b"));
    CHECK(smtpd_command_is_forbidden("GET / HTTP/1.0"));
    CHECK(smtpd_command_is_forbidden("post /x"));
    CHECK(smtpd_command_is_forbidden("CONNECT host:25"));
    CHECK(!smtpd_command_is_forbidden("MAIL FROM:<a@b>"));
    CHECK(!smtpd_command_is_forbidden("RCPT TO:<a@b>"));
    CHECK(!smtpd_command_is_forbidden("GETX"));
    CHECK(!smtpd_command_is_forbidden(""));
}

TEST(paths_valid)
{
    char a[SMTPD_ADDR_MAX + 1];
    const char *params;
    CHECK_INT(smtpd_parse_path("FROM:<user@example.com>", "FROM:", 0, 1, a, sizeof(a), &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "user@example.com");
    CHECK_STR(params, "");
    CHECK_INT(smtpd_parse_path("from: <u@x.y> SIZE=10 BODY=8BITMIME", "FROM:", 0, 1, a,
                               sizeof(a), &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "u@x.y");
    CHECK_STR(params, "SIZE=10 BODY=8BITMIME");
    CHECK_INT(smtpd_parse_path("FROM:<>", "FROM:", 0, 1, a, sizeof(a), &params), SMTPD_PATH_OK);
    CHECK_STR(a, "");
    CHECK_INT(smtpd_parse_path("TO:<@a.example,@b.example:x@y.example>", "TO:", 0, 0, a,
                               sizeof(a), &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "x@y.example");
    CHECK_INT(smtpd_parse_path("TO:<\"john doe\"@example.com>", "TO:", 0, 0, a, sizeof(a),
                               &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "john doe@example.com");
    CHECK_INT(smtpd_parse_path("TO:<\"a\\\"b>c\"@example.com>", "TO:", 0, 0, a, sizeof(a),
                               &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "a\"b>c@example.com");
    CHECK_INT(smtpd_parse_path("TO:<postmaster>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "postmaster");
    CHECK_INT(smtpd_parse_path("TO:<u@[192.0.2.1]>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "u@[192.0.2.1]");
    /* Without brackets, unless strict_rfc821_envelopes. */
    CHECK_INT(smtpd_parse_path("TO:u@x.y NOTIFY=NEVER", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_OK);
    CHECK_STR(a, "u@x.y");
    CHECK_STR(params, "NOTIFY=NEVER");
    CHECK_INT(smtpd_parse_path("TO:u@x.y", "TO:", 1, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
}

TEST(paths_invalid)
{
    char a[SMTPD_ADDR_MAX + 1];
    const char *params;
    CHECK_INT(smtpd_parse_path("TO:<>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("FROM <a@b>", "FROM:", 0, 1, a, sizeof(a), &params),
              SMTPD_PATH_BAD_SYNTAX);
    CHECK_INT(smtpd_parse_path("FROM:", "FROM:", 0, 1, a, sizeof(a), &params),
              SMTPD_PATH_BAD_SYNTAX);
    CHECK_INT(smtpd_parse_path("TO:<a@b", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<a b@c>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<a@b c>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<a@b>x", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<@x.y>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<a@>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<\"unterminated@x>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<a\x01@b>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<\xc3\xa9@b>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    CHECK_INT(smtpd_parse_path("TO:<a@[1.2]3]>", "TO:", 0, 0, a, sizeof(a), &params),
              SMTPD_PATH_BAD_ADDRESS);
    /* Longer than the address limit. */
    char big[1200];
    memcpy(big, "TO:<", 4);
    memset(big + 4, 'a', 1100);
    strcpy(big + 1104, "@x.y>");
    CHECK_INT(smtpd_parse_path(big, "TO:", 0, 0, a, sizeof(a), &params), SMTPD_PATH_BAD_ADDRESS);
    /* A small output buffer is respected. */
    char small[8];
    CHECK_INT(smtpd_parse_path("TO:<abcdef@x.y>", "TO:", 0, 0, small, sizeof(small), &params),
              SMTPD_PATH_BAD_ADDRESS);
}

TEST(mail_params)
{
    smtpd_mail_params mp;
    strbuf r;
    strbuf_init(&r, 0);
    CHECK_INT(smtpd_parse_mail_params("SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1", &mp, &r),
              0);
    CHECK_INT(mp.size, 1000);
    CHECK_INT(mp.body_8bit, 1);
    CHECK_INT(mp.ret, SMTPD_DSN_RET_HDRS);
    CHECK_STR(mp.envid, "QQ+1");
    CHECK_INT(smtpd_parse_mail_params("", &mp, &r), 0);
    CHECK_INT(mp.size, -1);
    CHECK_INT(smtpd_parse_mail_params("size=12x", &mp, &r), -1);
    CHECK_STR(r.data, "501 5.5.4 Bad message size syntax");
    CHECK_INT(smtpd_parse_mail_params("SIZE=", &mp, &r), -1);
    CHECK_INT(smtpd_parse_mail_params("SIZE=99999999999999999999999", &mp, &r), -1);
    CHECK_STR(r.data, "552 5.3.4 Message size exceeds file system imposed limit");
    CHECK_INT(smtpd_parse_mail_params("BODY=BINARYMIME", &mp, &r), -1);
    CHECK_STR(r.data, "555 5.5.4 Unsupported option: BODY=BINARYMIME");
    CHECK_INT(smtpd_parse_mail_params("SMTPUTF8", &mp, &r), -1);
    CHECK_STR(r.data, "555 5.5.4 Unsupported option: SMTPUTF8");
    CHECK_INT(smtpd_parse_mail_params("RET=ALL", &mp, &r), -1);
    CHECK_STR(r.data, "501 5.5.4 Bad RET parameter syntax");
    CHECK_INT(smtpd_parse_mail_params("RET=FULL RET=FULL", &mp, &r), -1);
    CHECK_INT(smtpd_parse_mail_params("ENVID=a+zz", &mp, &r), -1);
    CHECK_STR(r.data, "501 5.5.4 Bad ENVID parameter syntax");
    strbuf_free(&r);
}

TEST(rcpt_params)
{
    smtpd_rcpt_params rp;
    strbuf r;
    strbuf_init(&r, 0);
    CHECK_INT(smtpd_parse_rcpt_params("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@example.com",
                                      &rp, &r),
              0);
    CHECK_INT(rp.notify, SMTPD_DSN_NOTIFY_SUCCESS | SMTPD_DSN_NOTIFY_FAILURE);
    CHECK_STR(rp.orcpt, "rfc822;a+b@example.com");
    CHECK_INT(smtpd_parse_rcpt_params("NOTIFY=NEVER", &rp, &r), 0);
    CHECK_INT(rp.notify, SMTPD_DSN_NOTIFY_NEVER);
    CHECK_INT(smtpd_parse_rcpt_params("NOTIFY=NEVER,DELAY", &rp, &r), -1);
    CHECK_STR(r.data, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
    CHECK_INT(smtpd_parse_rcpt_params("NOTIFY=", &rp, &r), -1);
    CHECK_INT(smtpd_parse_rcpt_params("NOTIFY=SUCCESS,", &rp, &r), -1);
    CHECK_INT(smtpd_parse_rcpt_params("ORCPT=rfc822", &rp, &r), -1);
    CHECK_STR(r.data, "501 5.5.4 Error: Bad ORCPT parameter syntax");
    CHECK_INT(smtpd_parse_rcpt_params("ORCPT=;x", &rp, &r), -1);
    CHECK_INT(smtpd_parse_rcpt_params("FOO=BAR", &rp, &r), -1);
    CHECK_STR(r.data, "555 5.5.4 Unsupported option: FOO=BAR");
    strbuf_free(&r);
}

TEST(xtext)
{
    char out[32];
    CHECK_INT(smtpd_xtext_decode("abc", 3, out, sizeof(out)), 3);
    CHECK_STR(out, "abc");
    CHECK_INT(smtpd_xtext_decode("a+2Bb+3D", 8, out, sizeof(out)), 4);
    CHECK_STR(out, "a+b=");
    CHECK_INT(smtpd_xtext_decode("a+2", 3, out, sizeof(out)), -1);
    CHECK_INT(smtpd_xtext_decode("a+", 2, out, sizeof(out)), -1);
    CHECK_INT(smtpd_xtext_decode("a=b", 3, out, sizeof(out)), -1);
    CHECK_INT(smtpd_xtext_decode("a b", 3, out, sizeof(out)), -1);
    CHECK_INT(smtpd_xtext_decode("+00", 3, out, sizeof(out)), -1);
    CHECK_INT(smtpd_xtext_decode("+0D", 3, out, sizeof(out)), -1);
    CHECK_INT(smtpd_xtext_decode("abcd", 4, out, 4), -1);
    CHECK_INT(smtpd_xtext_decode("abc", 3, out, 4), 3);
}

TEST(quote_address)
{
    char out[64];
    CHECK_INT(smtpd_quote_address("user@x.y", out, sizeof(out)), 0);
    CHECK_STR(out, "user@x.y");
    smtpd_quote_address("john doe@x.y", out, sizeof(out));
    CHECK_STR(out, "\"john doe\"@x.y");
    smtpd_quote_address("a\"b@x.y", out, sizeof(out));
    CHECK_STR(out, "\"a\\\"b\"@x.y");
    smtpd_quote_address("a..b@x", out, sizeof(out));
    CHECK_STR(out, "\"a..b\"@x");
    smtpd_quote_address("", out, sizeof(out));
    CHECK_STR(out, "");
    CHECK_INT(smtpd_quote_address("abcdefgh@x.y", out, 5), -1);
    CHECK_STR(out, ""); /* refused, not cut */
}

/* The longest address the parser accepts, all of it escaped, fits SMTPD_QUOTED_MAX whole (the
 * reply and log buffers were 2 * SMTPD_ADDR_MAX + 1 bytes and cut its end). */
TEST(quote_address_worst_case_fits)
{
    char addr[SMTPD_ADDR_MAX + 1];
    memset(addr, '"', SMTPD_ADDR_MAX);
    addr[SMTPD_ADDR_MAX] = '\0';
    static char out[SMTPD_QUOTED_MAX];
    CHECK_INT(smtpd_quote_address(addr, out, sizeof(out)), 0);
    CHECK_INT((long)strlen(out), 2 * SMTPD_ADDR_MAX + 2);
    CHECK(out[0] == '"' && out[2 * SMTPD_ADDR_MAX + 1] == '"');
    CHECK_INT(smtpd_quote_address(addr, out, sizeof(out) - 1), -1);
    CHECK_STR(out, "");
}

TEST(command_state_names_are_whole)
{
    CHECK_STR(smtpd_command_state(SMTPD_CMD_STARTTLS), "STARTTLS");
    CHECK_STR(smtpd_command_state(SMTPD_CMD_EHLO), "EHLO");
    CHECK_STR(smtpd_command_state(SMTPD_CMD_UNKNOWN), "UNKNOWN");
}

TEST(helo_validity)
{
    CHECK(smtpd_helo_is_valid("mail.example.com"));
    CHECK(smtpd_helo_is_valid("localhost"));
    CHECK(smtpd_helo_is_valid("[192.0.2.1]"));
    CHECK(smtpd_helo_is_valid("[IPv6:2001:db8::1]"));
    CHECK(!smtpd_helo_is_valid("[192.0.2.300]"));
    CHECK(!smtpd_helo_is_valid("bad..name"));
    CHECK(!smtpd_helo_is_valid("bad name"));
    CHECK(!smtpd_helo_is_valid("a\rb"));
    CHECK(!smtpd_helo_is_valid(""));
}

TEST(received_header)
{
    strbuf out;
    strbuf_init(&out, 0);
    setenv("TZ", "UTC", 1);
    tzset();
    smtpd_received_info ri = {
        .helo = "client.example",
        .client_name = "localhost",
        .client_addr = "127.0.0.1",
        .myhostname = "mx.example.test",
        .mail_name = "Postern",
        .protocol = "ESMTP",
        .queue_id = "4ABCDEF123",
        .rcpt = "user@example.test",
        .when = 1785000000,
    };
    smtpd_received_format(&ri, &out);
    CHECK_STR(out.data, "Received: from client.example (localhost [127.0.0.1])\n"
                        "\tby mx.example.test (Postern) with ESMTP id 4ABCDEF123\n"
                        "\tfor <user@example.test>; Sat, 25 Jul 2026 17:20:00 +0000 (UTC)\n");
    strbuf_reset(&out);
    ri.helo = NULL;
    ri.rcpt = NULL;
    ri.client_name = "unknown";
    ri.client_addr = "2001:db8::1";
    ri.protocol = "SMTP";
    smtpd_received_format(&ri, &out);
    CHECK_STR(out.data, "Received: from unknown (unknown [IPv6:2001:db8::1])\n"
                        "\tby mx.example.test (Postern) with SMTP id 4ABCDEF123;\n"
                        "\tSat, 25 Jul 2026 17:20:00 +0000 (UTC)\n");
    strbuf_reset(&out);
    ri.helo = "evil\r\nX-Injected: yes";
    smtpd_received_format(&ri, &out);
    CHECK(strstr(out.data, "evil??X-Injected:") != NULL);
    CHECK(strstr(out.data, "\r") == NULL);
    strbuf_free(&out);
}

int main(void)
{
    RUN(line_splitting);
    RUN(line_with_nul_and_bare_cr);
    RUN(overlong_lines);
    RUN(command_lookup);
    RUN(forbidden_commands);
    RUN(paths_valid);
    RUN(paths_invalid);
    RUN(mail_params);
    RUN(rcpt_params);
    RUN(xtext);
    RUN(quote_address);
    RUN(quote_address_worst_case_fits);
    RUN(command_state_names_are_whole);
    RUN(helo_validity);
    RUN(received_header);
    UNIT_MAIN_END("test_smtpd_parse");
}

/* test_smtpd_sasl.c: AUTH argument and base64/PLAIN decoding, Dovecot protocol parsing, TLS
 * protocol-list parsing. */
#include "smtpd/dovecot_auth_proto.h"
#include "smtpd/smtpd_sasl_decode.h"
#include "tls/tls_proto.h"
#include "unit.h"

#include <openssl/ssl.h>
#include <string.h>

TEST(auth_args)
{
    char mech[SASL_MECH_MAX + 1];
    const char *initial;
    CHECK_INT(sasl_auth_args("plain", mech, sizeof(mech), &initial), 0);
    CHECK_STR(mech, "PLAIN");
    CHECK(initial == NULL);
    CHECK_INT(sasl_auth_args("LOGIN dXNlcg==", mech, sizeof(mech), &initial), 0);
    CHECK_STR(initial, "dXNlcg==");
    CHECK_INT(sasl_auth_args("", mech, sizeof(mech), &initial), -1);
    CHECK_INT(sasl_auth_args("PLAIN a b", mech, sizeof(mech), &initial), -1);
    CHECK_INT(sasl_auth_args("PL@IN", mech, sizeof(mech), &initial), -1);
    CHECK_INT(sasl_auth_args("ABCDEFGHIJKLMNOPQRSTUVWXYZ", mech, sizeof(mech), &initial), -1);
}

TEST(base64)
{
    unsigned char out[64];
    CHECK_INT(sasl_base64_decode("AGFsaWNlAHNlY3JldA==", 20, out, sizeof(out)), 13);
    CHECK(memcmp(out, "\0alice\0secret", 13) == 0);
    CHECK_INT(sasl_base64_decode("AGFsaWNlAHNlY3JldA=", 19, out, sizeof(out)), -1);
    CHECK_INT(sasl_base64_decode("AGF sWNl", 8, out, sizeof(out)), -1);
    CHECK_INT(sasl_base64_decode("QQ==QQ==", 8, out, sizeof(out)), -1); /* data after pad */
    CHECK_INT(sasl_base64_decode("QR==", 4, out, sizeof(out)), -1);     /* not canonical */
    CHECK_INT(sasl_base64_decode("AAAAAAAA", 8, out, 5), -1);          /* does not fit */
    char enc[32];
    CHECK_INT(sasl_base64_encode((const unsigned char *)"ab", 2, enc, sizeof(enc)), 4);
    CHECK_STR(enc, "YWI=");
    CHECK_INT(sasl_base64_encode((const unsigned char *)"abc", 3, enc, 4), -1);
}

TEST(plain_split)
{
    sasl_plain p;
    CHECK_INT(sasl_plain_split((const unsigned char *)"\0alice\0secret", 13, &p), 0);
    CHECK_STR(p.authzid, "");
    CHECK_STR(p.authcid, "alice");
    CHECK_STR(p.passwd, "secret");
    CHECK_INT(sasl_plain_split((const unsigned char *)"z\0alice\0secret", 14, &p), 0);
    CHECK_STR(p.authzid, "z");
    CHECK_INT(sasl_plain_split((const unsigned char *)"\0alice", 6, &p), -1);
    CHECK_INT(sasl_plain_split((const unsigned char *)"\0\0secret", 8, &p), -1);
    CHECK_INT(sasl_plain_split((const unsigned char *)"\0a\0b\0c", 6, &p), -1);
    CHECK_INT(sasl_plain_split((const unsigned char *)"\0alice\0", 7, &p), -1);
}

TEST(dovecot_lines)
{
    char line[] = "FAIL\t7\tuser=bob\treason=bad\001tpass\001n\001\061\ttemp";
    dovecot_line l;
    CHECK_INT(dovecot_line_parse(line, &l), 0);
    CHECK_INT((int)l.nfields, 5);
    long id;
    CHECK_INT(dovecot_reply_kind(&l, &id), DOVECOT_REPLY_FAIL);
    CHECK_INT((int)id, 7);
    CHECK_STR(dovecot_line_param(&l, 2, "user"), "bob");
    CHECK_STR(dovecot_line_param(&l, 2, "reason"), "bad\tpass\n\001");
    CHECK_STR(dovecot_line_param(&l, 2, "temp"), "");
    CHECK(dovecot_line_param(&l, 2, "nope") == NULL);
    char bad[] = "OK\t1\tuser=a\001x";
    CHECK_INT(dovecot_line_parse(bad, &l), -1);
    char done[] = "DONE";
    CHECK_INT(dovecot_line_parse(done, &l), 0);
    CHECK_INT(dovecot_reply_kind(&l, &id), DOVECOT_REPLY_NONE);
    strbuf e;
    strbuf_init(&e, 0);
    dovecot_escape("a\tb\nc\001", &e);
    CHECK_STR(e.data, "a\001tb\001nc\0011");
    strbuf_free(&e);
}

TEST(tls_protocol_lists)
{
    tls_protocols tp;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(tls_protocols_parse("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", &tp, &err), 0);
    CHECK_INT(tp.min_version, TLS1_2_VERSION);
    CHECK_INT(tp.max_version, TLS1_3_VERSION);
    CHECK_INT(tls_protocols_parse(">=TLSv1.2", &tp, &err), 0);
    CHECK_INT(tp.min_version, TLS1_2_VERSION);
    CHECK_INT(tls_protocols_parse("TLSv1.3", &tp, &err), 0);
    CHECK_INT(tp.min_version, TLS1_3_VERSION);
    CHECK_INT(tls_protocols_parse("SSLv3, TLSv1", &tp, &err), 0); /* the seed's old form */
    CHECK_INT(tp.max_version, TLS1_VERSION);
    CHECK_INT(tls_protocols_parse("TLSv1, TLSv1.2", &tp, &err), 0);
    CHECK((tp.no_options & SSL_OP_NO_TLSv1_1) != 0);
    CHECK_INT(tls_protocols_parse("TLSv9", &tp, &err), -1);
    CHECK_INT(tls_protocols_parse("!TLSv1, !TLSv1.1, !TLSv1.2, !TLSv1.3", &tp, &err), -1);
    strbuf_free(&err);
}

int main(void)
{
    RUN(auth_args);
    RUN(base64);
    RUN(plain_split);
    RUN(dovecot_lines);
    RUN(tls_protocol_lists);
    UNIT_MAIN_END("test_smtpd_sasl");
}

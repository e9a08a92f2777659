/* test_smtp_tls.c: client TLS pieces: policy-table entries, security levels, names,
 * fingerprints and the fingerprint matcher; the SASL client's option and mechanism choice. */
#include "deliver/smtp_dane.h"
#include "deliver/smtp_sasl.h"
#include "deliver/smtp_tls.h"
#include "deliver/smtp_tls_policy.h"
#include "lib/config.h"
#include "tls/tls_fprint.h"
#include "unit.h"

#include <openssl/x509v3.h>
#include <stdlib.h>

static void use_config(const char *text)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load_text("/nonexistent", text, strlen(text), &err);
    CHECK(cfg != NULL);
    config *old = config_current();
    config_set_current(cfg);
    if (old)
        config_free(old);
    strbuf_free(&err);
}

static smtp_tls_policy defaults(void)
{
    smtp_tls_policy p;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(smtp_tls_policy_defaults("smtp", &p, &err), 0);
    strbuf_free(&err);
    return p;
}

TEST(policy_levels_and_attributes)
{
    use_config("");
    strbuf err;
    strbuf_init(&err, 0);
    smtp_tls_policy p = defaults();
    CHECK_INT(p.level, SMTP_TLS_NONE);
    CHECK_INT(smtp_tls_policy_parse("secure match=example.com:.example.com", &p, &err), 0);
    CHECK_INT(p.level, SMTP_TLS_SECURE);
    CHECK_STR(p.match, "example.com:.example.com");
    CHECK_INT(smtp_tls_policy_parse("  verify   protocols=!SSLv2:!SSLv3 ciphers=high "
                                    "exclude=3DES:RC4 servername=hostname connection_reuse=yes",
                                    &p, &err),
              0);
    CHECK_INT(p.level, SMTP_TLS_VERIFY);
    CHECK_STR(p.match, "");
    CHECK_STR(p.protocols, "!SSLv2:!SSLv3");
    CHECK_STR(p.ciphers, "high");
    CHECK_STR(p.exclude, "3DES:RC4");
    CHECK_STR(p.servername, "hostname");
    CHECK_INT(p.connection_reuse, 1);
    CHECK_INT(smtp_tls_policy_parse("fingerprint match=AA:BB|cc:dd", &p, &err), 0);
    CHECK_INT(p.level, SMTP_TLS_FINGERPRINT);
    CHECK_STR(p.match, "AA:BB|cc:dd");
    CHECK_INT(smtp_tls_policy_parse("DANE-ONLY", &p, &err), 0);
    CHECK_INT(p.level, SMTP_TLS_DANE_ONLY);
    strbuf_free(&err);
}

TEST(policy_errors)
{
    use_config("");
    strbuf err;
    strbuf_init(&err, 0);
    smtp_tls_policy p = defaults();
    CHECK_INT(smtp_tls_policy_parse("", &p, &err), -1);
    CHECK_INT(smtp_tls_policy_parse("strong", &p, &err), -1);
    CHECK(strstr(err.data, "unknown security level \"strong\"") != NULL);
    CHECK_INT(smtp_tls_policy_parse("secure matchx=a", &p, &err), -1);
    CHECK(strstr(err.data, "matchx=a") != NULL);
    CHECK_INT(smtp_tls_policy_parse("secure match", &p, &err), -1);
    CHECK_INT(smtp_tls_policy_parse("secure match=a match=b", &p, &err), -1);
    CHECK(strstr(err.data, "given twice") != NULL);
    CHECK_INT(smtp_tls_policy_parse("may connection_reuse=maybe", &p, &err), -1);
    char *longv = malloc(3000);
    strcpy(longv, "secure match=");
    memset(longv + 13, 'a', 2000);
    longv[2013] = '\0';
    CHECK_INT(smtp_tls_policy_parse(longv, &p, &err), -1);
    CHECK(strstr(err.data, "too long") != NULL);
    free(longv);
    strbuf_free(&err);
}

TEST(policy_legacy_switches)
{
    use_config("smtp_use_tls = yes\n");
    CHECK_INT(defaults().level, SMTP_TLS_MAY);
    use_config("smtp_enforce_tls = yes\n");
    CHECK_INT(defaults().level, SMTP_TLS_VERIFY);
    use_config("smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n");
    CHECK_INT(defaults().level, SMTP_TLS_ENCRYPT);
    use_config("smtp_use_tls = yes\nsmtp_tls_security_level = secure\n");
    CHECK_INT(defaults().level, SMTP_TLS_SECURE);
    use_config("smtp_tls_security_level = bogus\n");
    smtp_tls_policy p;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(smtp_tls_policy_defaults("smtp", &p, &err), -1);
    strbuf_free(&err);
    CHECK_INT(smtp_tls_level_mandatory(SMTP_TLS_MAY), 0);
    CHECK_INT(smtp_tls_level_mandatory(SMTP_TLS_DANE), 0);
    CHECK_INT(smtp_tls_level_mandatory(SMTP_TLS_ENCRYPT), 1);
    CHECK_INT(smtp_tls_level_mandatory(SMTP_TLS_DANE_ONLY), 1);
}

TEST(fingerprint_format_and_match)
{
    unsigned char d[4] = {0x3d, 0x95, 0x00, 0xff};
    char fp[TLS_FPRINT_MAX];
    tls_fprint_format(d, 4, fp, sizeof(fp));
    CHECK_STR(fp, "3D:95:00:FF");
    char small[6];
    tls_fprint_format(d, 4, small, sizeof(small));
    CHECK_STR(small, ""); /* never a cut fingerprint */
    CHECK_INT(tls_fprint_match("3D:95:00:FF", fp), 1);
    CHECK_INT(tls_fprint_match("3d9500ff", fp), 1);
    CHECK_INT(tls_fprint_match("AA:BB:CC:DD|3d:95:00:ff", fp), 1);
    CHECK_INT(tls_fprint_match("AA:BB:CC:DD, 3D:95:00:FF", fp), 1);
    CHECK_INT(tls_fprint_match("3D:95:00", fp), 0);       /* a prefix is no match */
    CHECK_INT(tls_fprint_match("3D:95:00:FF:00", fp), 0); /* nor a longer one */
    CHECK_INT(tls_fprint_match("3D:95:00:FG", fp), 0);
    CHECK_INT(tls_fprint_match("", fp), 0);
    CHECK_INT(tls_fprint_match(NULL, fp), 0);
    CHECK_INT(tls_fprint_match("3D:95:00:FF", ""), 0);
    CHECK(tls_fprint_digest("sha256") != NULL);
    CHECK(tls_fprint_digest("md5") != NULL);
    CHECK(tls_fprint_digest("nosuch") == NULL);
}

/* A self-signed certificate for the names, made in memory. */
static X509 *make_cert(const char *cn, const char *san)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    EVP_PKEY_free(key);
    return x;
}

TEST(name_matching)
{
    X509 *x = make_cert("mx.example.com", "DNS:mx.example.com, DNS:*.mail.example.net");
    CHECK_INT(smtp_tls_match_names(x, "hostname", "mx.example.com", "example.com"), 1);
    CHECK_INT(smtp_tls_match_names(x, "nexthop", "mx.example.com", "example.com"), 0);
    CHECK_INT(smtp_tls_match_names(x, "nexthop, dot-nexthop", "mx.evil.test", "example.com"), 1);
    CHECK_INT(smtp_tls_match_names(x, "nexthop:dot-nexthop", "a", "example.org"), 0);
    CHECK_INT(smtp_tls_match_names(x, ".example.com", "a", "b"), 1);
    CHECK_INT(smtp_tls_match_names(x, "example.com", "a", "b"), 0);
    CHECK_INT(smtp_tls_match_names(x, "x.mail.example.net", "a", "b"), 1);
    CHECK_INT(smtp_tls_match_names(x, "y.x.mail.example.net", "a", "b"), 0);
    CHECK_INT(smtp_tls_match_names(x, "", "mx.example.com", "b"), 0);
    X509_free(x);
}

TEST(sasl_options_and_mechanisms)
{
    CHECK_INT(smtp_sasl_parse_options("noplaintext, noanonymous"),
              SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
    CHECK_INT(smtp_sasl_parse_options(""), 0);
    CHECK_INT(smtp_sasl_parse_options("noanonymous nosuch"), -1);
    CHECK_STR(smtp_sasl_choose("LOGIN PLAIN", "", SMTP_SASL_NOANONYMOUS), "PLAIN");
    CHECK_STR(smtp_sasl_choose("login cram-md5", "", 0), "LOGIN");
    CHECK_STR(smtp_sasl_choose("LOGIN PLAIN", "login", 0), "LOGIN");
    CHECK(smtp_sasl_choose("LOGIN PLAIN", "cram-md5", 0) == NULL);
    CHECK(smtp_sasl_choose("CRAM-MD5 GSSAPI", "", 0) == NULL);
    CHECK(smtp_sasl_choose("PLAIN", "", SMTP_SASL_NOPLAINTEXT) == NULL);
    CHECK(smtp_sasl_choose("PLAIN", "", SMTP_SASL_MUTUAL_AUTH) == NULL);
    CHECK(smtp_sasl_choose("", "", 0) == NULL);
    /* Postfix's list form: negations, static:rest, first match wins. */
    CHECK_STR(smtp_sasl_choose("PLAIN LOGIN", "!plain, static:rest", 0), "LOGIN");
    CHECK_STR(smtp_sasl_choose("PLAIN LOGIN", "!gssapi, static:all", 0), "PLAIN");
    CHECK(smtp_sasl_choose("PLAIN LOGIN", "!plain, !login, static:rest", 0) == NULL);
    CHECK(smtp_sasl_choose("PLAIN LOGIN", "!gssapi", 0) == NULL);
    CHECK_STR(smtp_sasl_choose("PLAIN LOGIN", "login, !login", 0), "LOGIN");
}

TEST(tlsa_usability_and_parsing)
{
    smtp_tlsa t = {.usage = 3, .selector = 1, .mtype = 1, .len = 32};
    CHECK_INT(smtp_dane_usable(&t), 1);
    t.usage = 2;
    CHECK_INT(smtp_dane_usable(&t), 1);
    t.usage = 1; /* PKIX-EE: unusable for SMTP */
    CHECK_INT(smtp_dane_usable(&t), 0);
    t.usage = 3;
    t.len = 31; /* a SHA2-256 digest has 32 bytes */
    CHECK_INT(smtp_dane_usable(&t), 0);
    t.mtype = 2;
    t.len = 64;
    CHECK_INT(smtp_dane_usable(&t), 1);
    t.selector = 2;
    CHECK_INT(smtp_dane_usable(&t), 0);
    /* A DNS answer with one TLSA record "3 1 1 <32 bytes>" for a compressed owner name. */
    unsigned char msg[12 + 5 + 4 + 12 + 35] = {0x12, 0x34, 0x81, 0xa0, 0, 1, 0, 1, 0, 0, 0, 0,
                                               1,    'x',  0,    0,    52, 0, 1};
    size_t o = 12 + 3 + 4;
    unsigned char rr[] = {0xc0, 12, 0, 52, 0, 1, 0, 0, 1, 44, 0, 35, 3, 1, 1};
    memcpy(msg + o, rr, sizeof(rr));
    memset(msg + o + sizeof(rr), 0xab, 32);
    size_t len = o + sizeof(rr) + 32;
    smtp_tlsa out[2];
    CHECK_INT(smtp_dns_parse_tlsa(msg, len, out, 2), 1);
    CHECK_INT(out[0].usage, 3);
    CHECK_INT(out[0].mtype, 1);
    CHECK_INT(out[0].len, 32);
    CHECK_INT(out[0].data[31], 0xab);
    CHECK_INT(smtp_dns_parse_tlsa(msg, len - 1, out, 2), -1); /* cut short */
}

int main(void)
{
    RUN(policy_levels_and_attributes);
    RUN(policy_errors);
    RUN(policy_legacy_switches);
    RUN(fingerprint_format_and_match);
    RUN(name_matching);
    RUN(sasl_options_and_mechanisms);
    RUN(tlsa_usability_and_parsing);
    config_free(config_current());
    config_set_current(NULL);
    UNIT_MAIN_END("test_smtp_tls");
}

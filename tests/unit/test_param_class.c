/* test_param_class.c: the implemented/inert/required classification and its verdicts. */
#include "lib/config_params.h"
#include "lib/param_class.h"
#include "unit.h"

#include <string.h>

TEST(table_is_sorted_and_unique)
{
    size_t n;
    const param_class_entry *t = param_class_table(&n);
    CHECK(n > 800);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(t[i - 1].name, t[i].name) < 0);
}

/* config_params.c holds exactly the IMPLEMENTED names (PARAM lines or service rules). */
TEST(agrees_with_parameter_table)
{
    size_t n;
    const param_def *defs = param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (param_class_of(defs[i].name) != PARAM_CLASS_IMPLEMENTED) {
            fprintf(stderr, "  %s is in config_params.c but not IMPLEMENTED\n", defs[i].name);
            CHECK(0);
        }
    }
    const param_class_entry *t = param_class_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].cls == PARAM_CLASS_IMPLEMENTED && param_lookup(t[i].name) == NULL) {
            fprintf(stderr, "  %s is IMPLEMENTED but not in config_params.c\n", t[i].name);
            CHECK(0);
        }
    }
}

TEST(classes)
{
    CHECK_INT(param_class_of("myhostname"), PARAM_CLASS_IMPLEMENTED);
    CHECK_INT(param_class_of("biff"), PARAM_CLASS_INERT);
    CHECK_INT(param_class_of("content_filter"), PARAM_CLASS_REQUIRED);
    CHECK_INT(param_class_of("smtpd_sasl_auth_enable"), PARAM_CLASS_IMPLEMENTED);
    CHECK_INT(param_class_of("smtpd_sasl_mechanism_filter"), PARAM_CLASS_REQUIRED);
    CHECK_INT(param_class_of("postscreen_dnsbl_sites"), PARAM_CLASS_REQUIRED);
    CHECK_INT(param_class_of("relay_destination_concurrency_limit"), PARAM_CLASS_IMPLEMENTED);
    CHECK_INT(param_class_of("relay_destination_rate_delay"), PARAM_CLASS_REQUIRED);
    CHECK_INT(param_class_of("maildrop_delivery_slot_cost"), PARAM_CLASS_INERT);
    CHECK_INT(param_class_of("my_own_restrictions"), PARAM_CLASS_UNKNOWN);
    CHECK_INT(param_class_of("_recipient_limit"), PARAM_CLASS_UNKNOWN);
    CHECK_STR(param_class_postfix_default("smtpd_sasl_path"), "smtpd");
    CHECK_STR(param_class_postfix_default("relay_destination_rate_delay"), "0s");
    CHECK(param_class_postfix_default("smtp_dns_resolver_address") == NULL);
}

TEST(verdicts)
{
    CHECK_INT(param_class_judge("myhostname", "x"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("biff", "no"), PARAM_VERDICT_INERT);
    CHECK_INT(param_class_judge("content_filter", ""), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("content_filter", "amavis:[127.0.0.1]:10024"),
              PARAM_VERDICT_REFUSE);
    CHECK_INT(param_class_judge("smtpd_tls_req_ccert", "NO"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("smtpd_tls_req_ccert", "yes"), PARAM_VERDICT_REFUSE);
    /* Implemented by smtpd (issue 12): any value is fine. */
    CHECK_INT(param_class_judge("smtpd_tls_auth_only", "yes"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("smtpd_tls_security_level", "encrypt"), PARAM_VERDICT_OK);
    /* Implemented by the smtp/lmtp client (issue 12). */
    CHECK_INT(param_class_judge("lmtp_tls_security_level", "encrypt"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("smtp_tls_security_level", "verify"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("smtp_tls_wrappermode", "yes"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("smtp_tls_per_site", "hash:/etc/x"), PARAM_VERDICT_REFUSE);
    CHECK_INT(
        param_class_judge("message_drop_headers", "bcc content-length,resent-bcc, Return-Path"),
        PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("message_drop_headers", "content-length"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("message_reject_characters", "\\0"), PARAM_VERDICT_REFUSE);
    CHECK_INT(param_class_judge("smtpd_client_message_rate_limit", "0"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("smtpd_client_message_rate_limit", "10"), PARAM_VERDICT_REFUSE);
    CHECK_INT(param_class_judge("relay_destination_rate_delay", "0"), PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("relay_destination_rate_delay", "$default_destination_rate_delay"),
              PARAM_VERDICT_OK);
    CHECK_INT(
        param_class_judge("relay_destination_rate_delay", "${default_destination_rate_delay}"),
        PARAM_VERDICT_OK);
    CHECK_INT(param_class_judge("relay_destination_rate_delay", "1s"), PARAM_VERDICT_REFUSE);
    CHECK_INT(param_class_judge("unheard_of", "anything"), PARAM_VERDICT_OK);
}

TEST(same_value)
{
    CHECK(param_class_same_value("a, b", " a b "));
    CHECK(param_class_same_value("", " , "));
    CHECK(param_class_same_value("0s", "0"));
    CHECK(!param_class_same_value("10s", "10"));
    CHECK(!param_class_same_value("a", "a b"));
}

int main(void)
{
    RUN(table_is_sorted_and_unique);
    RUN(agrees_with_parameter_table);
    RUN(classes);
    RUN(verdicts);
    RUN(same_value);
    UNIT_MAIN_END("test_param_class");
}

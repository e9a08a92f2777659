/*
 * test_smtpd_restrict.c: restriction lists compiled once (smtpd_restrict.c): no word limit,
 * names refused at load, tables bound, classes resolved, and the checker's FILE/line errors.
 */
#include "lib/config.h"
#include "lib/log.h"
#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_restrict.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static config *cfg;

static restriction_list *compile(restrict_set *set, const char *value, strbuf *err)
{
    strbuf_reset(err);
    return restriction_list_compile(set, "smtpd_recipient_restrictions", value, err);
}

TEST(long_list_keeps_every_word)
{
    strbuf v, err;
    strbuf_init(&v, 0);
    strbuf_init(&err, 0);
    for (int i = 0; i < 299; i++)
        strbuf_append_str(&v, i % 2 ? "permit_mynetworks, " : "reject_non_fqdn_sender ");
    strbuf_append_str(&v, "reject_unauth_destination");
    restrict_set set;
    CHECK_INT(restrict_set_init(&set, cfg, "", NULL, &err), 0);
    restriction_list *l = compile(&set, v.data, &err);
    CHECK(l != NULL);
    if (l) {
        CHECK_INT(l->n, 300);
        CHECK_INT(l->items[299].op, RESTRICT_REJECT_UNAUTH_DESTINATION);
        CHECK_STR(l->items[299].name, "reject_unauth_destination");
    }
    restriction_list_free(l);
    restrict_set_free(&set);
    strbuf_free(&v);
    strbuf_free(&err);
}

TEST(names_are_refused_at_compile_time)
{
    strbuf err;
    strbuf_init(&err, 0);
    restrict_set set;
    restrict_set_init(&set, cfg, "", NULL, &err);
    CHECK(compile(&set, "permit_mynetworks no_such_thing", &err) == NULL);
    CHECK_STR(err.data, "unknown restriction \"no_such_thing\"");
    CHECK(compile(&set, "reject_unverified_recipient", &err) == NULL);
    CHECK_STR(err.data, "restriction \"reject_unverified_recipient\" is not implemented by "
                        "Postern; refusing to run without it");
    CHECK(compile(&set, "permit, check_client_access", &err) == NULL);
    CHECK_STR(err.data, "restriction \"check_client_access\" needs an argument");
    CHECK(compile(&set, "check_client_access inline:{ a=b", &err) == NULL);
    CHECK(strstr(err.data, "missing '}'") != NULL);
    restrict_set_free(&set);
    strbuf_free(&err);
}

TEST(tables_are_opened_once_and_shared)
{
    strbuf err;
    strbuf_init(&err, 0);
    restrict_set set;
    restrict_set_init(&set, cfg, "", NULL, &err);
    restriction_list *l = compile(&set,
                                  "warn_if_reject check_sender_access inline:{ a=REJECT }, "
                                  "check_recipient_access inline:{ a=REJECT }, DEFER",
                                  &err);
    CHECK(l != NULL);
    if (l) {
        CHECK_INT(l->n, 3);
        CHECK(l->items[0].warn_if_reject);
        CHECK(!l->items[1].warn_if_reject);
        CHECK(l->items[0].table == l->items[1].table);
        CHECK(l->items[0].table->m != NULL);
        CHECK(restrict_table_get(l->items[0].table, 0) != NULL);
        CHECK_INT(l->items[2].op, RESTRICT_DEFER); /* names are case-insensitive */
    }
    restriction_list_free(l);
    restrict_set_free(&set);
    strbuf_free(&err);
}

TEST(restriction_classes)
{
    strbuf err;
    strbuf_init(&err, 0);
    config_override(cfg, "strict", "reject_non_fqdn_sender, permit");
    config_override(cfg, "loop1", "loop2");
    config_override(cfg, "loop2", "loop1");
    restrict_set set;
    CHECK_INT(restrict_set_init(&set, cfg, "strict, loop1 loop2", NULL, &err), 0);
    restriction_list *l = compile(&set, "strict, strict", &err);
    CHECK(l != NULL);
    if (l) {
        CHECK_INT(l->items[0].op, RESTRICT_CLASS);
        CHECK(l->items[0].sub == l->items[1].sub);
        CHECK_INT(l->items[0].sub->n, 2);
    }
    restriction_list_free(l);
    CHECK(compile(&set, "loop1", &err) == NULL);
    CHECK(strstr(err.data, "nests deeper than") != NULL);
    restrict_set_free(&set);
    restrict_set tmp;
    strbuf_reset(&err);
    CHECK_INT(restrict_set_init(&tmp, cfg, "permit", NULL, &err), -1);
    restrict_set_free(&tmp);
    strbuf_free(&err);
}

TEST(validate_names_file_and_line)
{
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(smtpd_checker_validate(cfg, &err), 0);
    config_override(cfg, "smtpd_relay_restrictions", "");
    config_override(cfg, "smtpd_recipient_restrictions", "");
    strbuf_reset(&err);
    CHECK_INT(smtpd_checker_validate(cfg, &err), -1);
    CHECK(strstr(err.data, "both empty") != NULL);
    config_override(cfg, "smtpd_recipient_restrictions", "permit_mynetworks, bogus");
    strbuf_reset(&err);
    CHECK_INT(smtpd_checker_validate(cfg, &err), -1);
    CHECK_STR(err.data, "smtpd_recipient_restrictions: unknown restriction \"bogus\"");
    config_override(cfg, "smtpd_recipient_restrictions", "permit_mynetworks, reject");
    /* A list naming a parameter nobody defined would lose its restrictions: refused. */
    config_override(cfg, "smtpd_client_restrictions", "$nobody_defined_this");
    strbuf_reset(&err);
    CHECK_INT(smtpd_checker_validate(cfg, &err), -1);
    CHECK_STR(err.data, "smtpd_client_restrictions: undefined parameter nobody_defined_this");
    config_override(cfg, "smtpd_client_restrictions", "${nobody_defined_this:permit}");
    strbuf_reset(&err);
    CHECK_INT(smtpd_checker_validate(cfg, &err), 0);
    config_override(cfg, "smtpd_restriction_classes", "undefined_class");
    config_override(cfg, "smtpd_client_restrictions", "undefined_class");
    strbuf_reset(&err);
    CHECK_INT(smtpd_checker_validate(cfg, &err), -1);
    CHECK_STR(err.data, "smtpd_client_restrictions: restriction class \"undefined_class\" "
                        "needs a definition");
    config_override(cfg, "smtpd_restriction_classes", "");
    config_override(cfg, "smtpd_client_restrictions", "");
    strbuf_free(&err);
}

TEST(validate_reports_main_cf_line)
{
    static const char text[] = "myhostname = mx.example\n"
                               "# comment\n"
                               "smtpd_helo_restrictions = permit,\n"
                               "    reject_unverified_sender\n";
    strbuf err;
    strbuf_init(&err, 0);
    config *c2 = config_load_text("/etc/x", text, sizeof(text) - 1, &err);
    CHECK(c2 != NULL);
    config_set_current(c2);
    strbuf_reset(&err);
    CHECK_INT(smtpd_checker_validate(c2, &err), -1);
    CHECK_STR(err.data, "/etc/x/main.cf, line 3: smtpd_helo_restrictions: restriction "
                        "\"reject_unverified_sender\" is not implemented by Postern; refusing to "
                        "run without it");
    config_set_current(cfg);
    config_free(c2);
    strbuf_free(&err);
}

int main(void)
{
    cfg = config_defaults("/nonexistent");
    config_set_current(cfg);
    log_init("test");
    log_set_stderr(0);
    RUN(long_list_keeps_every_word);
    RUN(names_are_refused_at_compile_time);
    RUN(tables_are_opened_once_and_shared);
    RUN(restriction_classes);
    RUN(validate_names_file_and_line);
    RUN(validate_reports_main_cf_line);
    config_set_current(NULL);
    config_free(cfg);
    UNIT_MAIN_END("test_smtpd_restrict");
}

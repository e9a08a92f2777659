/* test_config.c: main.cf parsing, $parameter expansion and typed values. */
#include "lib/config.h"
#include "lib/config_params.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static config *load_text(const char *text, strbuf *err)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    strbuf_reset(err);
    return config_load(tmpdir, err);
}

TEST(table_is_sorted)
{
    size_t n;
    const param_def *t = param_table(&n);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(t[i - 1].name, t[i].name) < 0);
    CHECK(param_lookup("queue_run_delay") != NULL);
    CHECK(param_lookup("no_such_parameter") == NULL);
}

TEST(defaults_match_postfix)
{
    config *cfg = config_defaults(tmpdir);
    CHECK_STR(config_get_default(cfg, "queue_run_delay"), "300s");
    CHECK_STR(config_get_default(cfg, "maximal_backoff_time"), "4000s");
    CHECK_STR(config_get_default(cfg, "maximal_queue_lifetime"), "5d");
    CHECK_STR(config_get_default(cfg, "message_size_limit"), "10240000");
    CHECK_STR(config_get_default(cfg, "smtpd_banner"), "$myhostname ESMTP $mail_name");
    CHECK_INT(config_get_time(cfg, "maximal_queue_lifetime"), 5 * 86400);
    CHECK_INT(config_get_int(cfg, "smtpd_recipient_limit"), 1000);
    CHECK_STR(config_get(cfg, "config_directory"), tmpdir);
    config_free(cfg);
}

TEST(parse_comments_and_continuations)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = load_text("# comment\n\nmyhostname = mx.example.com\n"
                            "mynetworks = 10.0.0.0/8\n    192.168.0.0/16\n  # inside comment\n"
                            "  172.16.0.0/12\nmail_name=Test#notcomment\n",
                            &err);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_STR(config_get(cfg, "mynetworks"), "10.0.0.0/8 192.168.0.0/16 172.16.0.0/12");
        CHECK_STR(config_get(cfg, "mail_name"), "Test#notcomment");
        CHECK_INT(config_line(cfg, "mynetworks"), 4);
        CHECK(config_is_set(cfg, "myhostname"));
        CHECK(!config_is_set(cfg, "mydomain"));
    }
    config_free(cfg);
    strbuf_free(&err);
}

TEST(expansion_forms)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = load_text("myhostname = mx.example.com\n"
                            "a = ${myhostname}|$(mail_name)|$$x\n"
                            "b = ${relayhost?yes}${relayhost:no}\n"
                            "c = ${myhostname?{set}}\n"
                            "d = $undefined_thing.\n",
                            &err);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_STR(config_get(cfg, "mydomain"), "example.com");
        CHECK_STR(config_get(cfg, "myorigin"), "mx.example.com");
        CHECK_STR(config_get(cfg, "a"), "mx.example.com|Postern|$x");
        CHECK_STR(config_get(cfg, "b"), "no");
        CHECK_STR(config_get(cfg, "c"), "set");
        CHECK_STR(config_get(cfg, "d"), ".");
        CHECK_STR(config_get(cfg, "smtpd_banner"), "mx.example.com ESMTP Postern");
        CHECK_STR(config_get(cfg, "mydestination"),
                  "mx.example.com, localhost.example.com, localhost");
        CHECK_STR(config_get_raw(cfg, "myorigin"), "$myhostname");
    }
    config_free(cfg);
    strbuf_free(&err);
}

TEST(override_wins_and_invalidates_cache)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = load_text("myhostname = one.example\n", &err);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_STR(config_get(cfg, "myorigin"), "one.example");
        config_override(cfg, "myhostname", "two.example");
        CHECK_STR(config_get(cfg, "myorigin"), "two.example");
    }
    config_free(cfg);
    strbuf_free(&err);
}

TEST(copy_strict_expansion_and_override_lines)
{
    strbuf err, out;
    strbuf_init(&err, 0);
    strbuf_init(&out, 0);
    config *cfg = load_text("myhostname = one.example\nlist = $undefined_x, permit\n", &err);
    CHECK(cfg != NULL);
    if (cfg) {
        config *copy = config_copy(cfg);
        config_override(copy, "myhostname", "two.example");
        CHECK_STR(config_get(cfg, "myhostname"), "one.example");
        CHECK_STR(config_get(copy, "myhostname"), "two.example");
        CHECK_INT(config_line(cfg, "myhostname"), 1);
        CHECK_INT(config_line(copy, "myhostname"), 0); /* the value is no longer line 1's */
        CHECK_INT(config_line(copy, "list"), 2);
        /* The cached lenient value does not hide the undefined name from a strict expansion. */
        CHECK_STR(config_get(cfg, "list"), ", permit");
        CHECK_INT(config_expand_strict(cfg, "$list", &out, &err), -1);
        CHECK_STR(err.data, "undefined parameter undefined_x");
        strbuf_reset(&out);
        strbuf_reset(&err);
        CHECK_INT(config_expand_strict(cfg, "${undefined_x?a}${undefined_x:b} $myhostname", &out,
                                       &err),
                  0);
        CHECK_STR(out.data, "b one.example");
        config_free(copy);
    }
    config_free(cfg);
    strbuf_free(&out);
    strbuf_free(&err);
}

TEST(errors_name_file_and_line)
{
    strbuf err;
    strbuf_init(&err, 0);
    CHECK(load_text("myhostname = a.b\nthis line has no equals\n", &err) == NULL);
    CHECK(strstr(err.data, "main.cf, line 2: missing '='") != NULL);
    CHECK(load_text("  leading = space\n", &err) == NULL);
    CHECK(strstr(err.data, "line 1") != NULL);
    CHECK(load_text("myhostname = x.y\nfoo = $bar\nbar = $foo\n", &err) == NULL);
    CHECK(strstr(err.data, "expansion loop") != NULL);
    CHECK(strstr(err.data, "line ") != NULL);
    CHECK(load_text("queue_run_delay = 5 minutes\n", &err) == NULL);
    CHECK(strstr(err.data, "line 1: bad time value for parameter queue_run_delay") != NULL);
    CHECK(load_text("soft_bounce = maybe\n", &err) == NULL);
    CHECK(load_text("message_size_limit = 10M\n", &err) == NULL);
    CHECK(load_text("x = ${unclosed\n", &err) == NULL);
    strbuf_free(&err);
}

TEST(time_and_bool_parsing)
{
    CHECK_INT(config_parse_time("300s", 's'), 300);
    CHECK_INT(config_parse_time("5d", 's'), 432000);
    CHECK_INT(config_parse_time("2", 'h'), 7200);
    CHECK_INT(config_parse_time("1w", 's'), 604800);
    CHECK_INT(config_parse_time("10x", 's'), -1);
    CHECK_INT(config_parse_time("", 's'), -1);
    CHECK_INT(config_parse_time("-5s", 's'), -1);
    CHECK_INT(config_parse_time("99999999999999999999s", 's'), -1);
    CHECK_INT(config_parse_bool("YES"), 1);
    CHECK_INT(config_parse_bool("no"), 0);
    CHECK_INT(config_parse_bool("maybe"), -1);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-unit-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 2;
    RUN(table_is_sorted);
    RUN(defaults_match_postfix);
    RUN(parse_comments_and_continuations);
    RUN(expansion_forms);
    RUN(override_wins_and_invalidates_cache);
    RUN(copy_strict_expansion_and_override_lines);
    RUN(errors_name_file_and_line);
    RUN(time_and_bool_parsing);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 2;
    UNIT_MAIN_END("test_config");
}

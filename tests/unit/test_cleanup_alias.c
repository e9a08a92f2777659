/* test_cleanup_alias.c: virtual_alias_maps expansion (chains, fan-out, self-mapping, catch-all,
 * extensions, local-part lookups, loops, limits, table failures) and the recipient records. */
#include "cleanup/cleanup.h"
#include "cleanup/cleanup_alias.h"
#include "lib/config.h"
#include "lib/log.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "unit.h"
#include "unit_queue.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static char qdir[300];
static config *cfg;

/* Sets a parameter for the next expansions (the module notices the change). */
static void set(const char *name, const char *value)
{
    config_override(cfg, name, value);
}

/* Expands addr; returns "status:addr1,addr2,..." (status 0 ok, 1 tempfail, 2 limit). */
static const char *expand(const char *addr)
{
    static char buf[8192];
    cleanup_alias_list list;
    strbuf why;
    strbuf_init(&why, 0);
    cleanup_alias_status st = cleanup_alias_expand(addr, &list, &why);
    size_t off = (size_t)snprintf(buf, sizeof(buf), "%d:", (int)st);
    for (size_t i = 0; i < list.count && off < sizeof(buf); i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? "," : "", list.addrs[i]);
    if (st != CLEANUP_ALIAS_OK && why.len == 0)
        snprintf(buf, sizeof(buf), "failure without a reason");
    cleanup_alias_list_free(&list);
    strbuf_free(&why);
    return buf;
}

/* The reason given for a failed expansion. */
static const char *why_of(const char *addr)
{
    static char buf[2048];
    cleanup_alias_list list;
    strbuf why;
    strbuf_init(&why, 0);
    cleanup_alias_expand(addr, &list, &why);
    snprintf(buf, sizeof(buf), "%s", why.data);
    cleanup_alias_list_free(&list);
    strbuf_free(&why);
    return buf;
}

TEST(no_table_leaves_the_address)
{
    set("virtual_alias_maps", "");
    CHECK_STR(expand("a@alias.test"), "0:a@alias.test");
}

TEST(chain_is_followed)
{
    set("virtual_alias_maps",
        "inline:{ a@alias.test=b@alias.test, b@alias.test=c@alias.test, c@alias.test=x@v.test }");
    CHECK_STR(expand("a@alias.test"), "0:x@v.test");
    CHECK_STR(expand("A@Alias.Test"), "0:x@v.test"); /* keys fold case */
    CHECK_STR(expand("nobody@alias.test"), "0:nobody@alias.test");
}

TEST(fan_out_keeps_order_and_collapses_duplicates)
{
    set("virtual_alias_maps", "inline:{ {list@alias.test = a@v.test, b@v.test c@v.test}, "
                              "{dup@alias.test = list@alias.test, b@v.test, <c@v.test>} }");
    CHECK_STR(expand("list@alias.test"), "0:a@v.test,b@v.test,c@v.test");
    CHECK_STR(expand("dup@alias.test"), "0:a@v.test,b@v.test,c@v.test");
}

TEST(self_mapping_delivers_as_is)
{
    set("virtual_alias_maps", "inline:{ {me@alias.test = me@alias.test, copy@v.test}, "
                              "{loopy@alias.test = x@v.test, LOOPY@alias.test} }");
    CHECK_STR(expand("me@alias.test"), "0:me@alias.test,copy@v.test");
    CHECK_STR(expand("loopy@alias.test"), "0:loopy@alias.test,x@v.test");
}

TEST(catch_all_and_domain_rewrite)
{
    set("virtual_alias_maps", "inline:{ @catch.test=other@v.test, known@catch.test=k@v.test, "
                              "@old.test=@new.test }");
    CHECK_STR(expand("anyone@catch.test"), "0:other@v.test");
    CHECK_STR(expand("known@catch.test"), "0:k@v.test");
    CHECK_STR(expand("joe@old.test"), "0:joe@new.test");
}

TEST(bare_result_is_qualified)
{
    set("virtual_alias_maps", "inline:{ a@alias.test=root }");
    set("myorigin", "origin.test");
    CHECK_STR(expand("a@alias.test"), "0:root@origin.test");
    set("myorigin", "$myhostname");
}

TEST(extensions)
{
    set("recipient_delimiter", "+");
    set("virtual_alias_maps", "inline:{ {a@alias.test = b@v.test, c@v.test}, "
                              "a+exact@alias.test=exact@v.test, @catch.test=other@v.test, "
                              "@old.test=@new.test }");
    CHECK_STR(expand("a+exact@alias.test"), "0:exact@v.test");
    CHECK_STR(expand("a+foo@alias.test"), "0:b+foo@v.test,c+foo@v.test");
    CHECK_STR(expand("x+foo@catch.test"), "0:other+foo@v.test");
    CHECK_STR(expand("joe+foo@old.test"), "0:joe+foo@new.test");
    CHECK_STR(expand("+foo@alias.test"), "0:+foo@alias.test"); /* a name, not an extension */
    set("propagate_unmatched_extensions", "canonical");
    CHECK_STR(expand("a+foo@alias.test"), "0:b@v.test,c@v.test");
    set("propagate_unmatched_extensions", "canonical, virtual");
    set("recipient_delimiter", "");
    CHECK_STR(expand("a+foo@alias.test"), "0:a+foo@alias.test");
}

TEST(local_part_only_for_local_domains)
{
    set("recipient_delimiter", "+");
    set("virtual_alias_maps", "inline:{ joe=j@v.test, @mx.example.test=catch@v.test }");
    CHECK_STR(expand("joe@mx.example.test"), "0:j@v.test");
    CHECK_STR(expand("joe+x@mx.example.test"), "0:j+x@v.test");
    CHECK_STR(expand("joe@remote.test"), "0:joe@remote.test");
    CHECK_STR(expand("ann@mx.example.test"), "0:catch@v.test");
    CHECK_STR(expand("joe@[127.0.0.1]"), "0:j@v.test");
    set("recipient_delimiter", "");
}

TEST(loop_is_an_error)
{
    set("virtual_alias_maps",
        "inline:{ a@alias.test=b@alias.test, b@alias.test=a@alias.test, "
        "{c@alias.test=ok@v.test, d@alias.test}, d@alias.test=c@alias.test }");
    CHECK_STR(expand("a@alias.test"), "2:");
    CHECK(strstr(why_of("a@alias.test"), "loop for a@alias.test") != NULL);
    CHECK_STR(expand("c@alias.test"), "2:");
}

TEST(recursion_limit)
{
    set("virtual_alias_maps", "inline:{ a@x.test=b@x.test, b@x.test=c@x.test, c@x.test=d@x.test,"
                              " d@x.test=e@x.test }");
    set("virtual_alias_recursion_limit", "3");
    CHECK_STR(expand("b@x.test"), "0:e@x.test");
    CHECK_STR(expand("a@x.test"), "2:");
    CHECK_STR(why_of("a@x.test"), "unreasonable virtual_alias_maps map nesting for a@x.test");
    set("virtual_alias_recursion_limit", "1000");
    CHECK_STR(expand("a@x.test"), "0:e@x.test");
}

TEST(expansion_limit)
{
    set("virtual_alias_maps", "inline:{ {l@x.test = 1@v.test 2@v.test 3@v.test}, "
                              "{m@x.test = l@x.test 4@v.test} }");
    set("virtual_alias_expansion_limit", "3");
    CHECK_STR(expand("l@x.test"), "0:1@v.test,2@v.test,3@v.test");
    CHECK_STR(expand("m@x.test"), "2:");
    CHECK_STR(why_of("m@x.test"),
              "unreasonable virtual_alias_maps map expansion size for m@x.test");
    set("virtual_alias_expansion_limit", "1000");
}

TEST(overlong_result_is_an_error)
{
    static char table[3000];
    char local[1100];
    memset(local, 'x', sizeof(local) - 1);
    local[sizeof(local) - 1] = '\0';
    snprintf(table, sizeof(table), "inline:{ a@x.test=%s@v.test }", local);
    set("virtual_alias_maps", table);
    CHECK_STR(expand("a@x.test"), "2:");
}

TEST(table_failure_is_temporary)
{
    char spec[400];
    snprintf(spec, sizeof(spec), "texthash:%s/no-such-table", tmpdir);
    set("virtual_alias_maps", spec);
    CHECK_STR(expand("a@x.test"), "1:");
    CHECK(strstr(why_of("a@x.test"), "virtual_alias_maps") != NULL);
}

TEST(table_file_is_reopened_when_replaced)
{
    char path[400], spec[420];
    snprintf(path, sizeof(path), "%s/virtual", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs("a@x.test one@v.test\n", fp);
    fclose(fp);
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    set("virtual_alias_maps", spec);
    CHECK_STR(expand("a@x.test"), "0:one@v.test");
    char tmp[420];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fp = fopen(tmp, "w");
    fputs("a@x.test two@v.test\n", fp);
    fclose(fp);
    rename(tmp, path);
    CHECK_STR(expand("a@x.test"), "0:two@v.test");
}

/* Recipient records written through the cleanup hook, read back from a queue file. */
static void write_and_read(const char *rcpt, queue_envelope *env, int *status)
{
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(qdir, "incoming", &err);
    CHECK(qw != NULL);
    if (qw == NULL) {
        strbuf_free(&err);
        return;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s", queue_writer_path(qw));
    CHECK_INT(queue_writer_sender(qw, "s@example.test"), 0);
    CHECK_INT(cleanup_alias_write_recipient(qw, rcpt, rcpt, DSN_NOTIFY_FAILURE, NULL, status), 0);
    CHECK_INT(queue_writer_content_start(qw), 0);
    CHECK_INT(queue_writer_line(qw, "Subject: x", 10), 0);
    CHECK_INT(queue_writer_commit(qw, &err), 0);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_INT(queue_envelope_read(fd, env, &err), 0);
    close(fd);
    unlink(path);
    strbuf_free(&err);
}

TEST(hook_writes_one_record_per_address_with_orig)
{
    set("virtual_alias_maps", "inline:{ {b@alias.test = user@v.test, other@v.test} }");
    queue_envelope env;
    memset(&env, 0, sizeof(env));
    int status = 0;
    write_and_read("b@alias.test", &env, &status);
    CHECK_INT(status, 0);
    CHECK_INT((long)env.nrcpt, 2);
    if (env.nrcpt == 2) {
        CHECK_STR(env.rcpts[0].address, "user@v.test");
        CHECK_STR(env.rcpts[0].orig, "b@alias.test");
        CHECK_STR(env.rcpts[1].address, "other@v.test");
        CHECK_STR(env.rcpts[1].orig, "b@alias.test");
        CHECK_INT(env.rcpts[1].notify, DSN_NOTIFY_FAILURE);
    }
    queue_envelope_free(&env);
}

TEST(hook_failure_keeps_the_recipient_and_refuses_the_message)
{
    set("virtual_alias_maps", "inline:{ a@alias.test=b@alias.test, b@alias.test=a@alias.test }");
    queue_envelope env;
    memset(&env, 0, sizeof(env));
    int status = 0;
    write_and_read("a@alias.test", &env, &status);
    CHECK_INT(status, CLEANUP_STAT_DEFER);
    CHECK_INT((long)env.nrcpt, 1);
    if (env.nrcpt == 1)
        CHECK_STR(env.rcpts[0].address, "a@alias.test");
    queue_envelope_free(&env);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-test-cleanup-alias-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    cfg = config_defaults(tmpdir);
    config_override(cfg, "myhostname", "mx.example.test");
    config_override(cfg, "mydomain", "example.test");
    config_override(cfg, "queue_directory", qdir);
    config_set_current(cfg);
    log_init("cleanup");
    log_set_stderr(0);
    if (unit_queue_dirs(qdir) < 0)
        return 1;
    RUN(no_table_leaves_the_address);
    RUN(chain_is_followed);
    RUN(fan_out_keeps_order_and_collapses_duplicates);
    RUN(self_mapping_delivers_as_is);
    RUN(catch_all_and_domain_rewrite);
    RUN(bare_result_is_qualified);
    RUN(extensions);
    RUN(local_part_only_for_local_domains);
    RUN(loop_is_an_error);
    RUN(recursion_limit);
    RUN(expansion_limit);
    RUN(overlong_result_is_an_error);
    RUN(table_failure_is_temporary);
    RUN(table_file_is_reopened_when_replaced);
    RUN(hook_writes_one_record_per_address_with_orig);
    RUN(hook_failure_keeps_the_recipient_and_refuses_the_message);
    cleanup_alias_reset();
    config_set_current(NULL);
    config_free(cfg);
    unit_remove_tree(tmpdir);
    UNIT_MAIN_END("test_cleanup_alias");
}

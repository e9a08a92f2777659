/* test_match_list.c: domain lists and network lists. */
#include "maps/map.h"
#include "maps/match_list.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static const char *write_file(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Opens a domain list, matches one name, closes: 1, 0, -1, or -2 when the list did not open. */
static int dmatch(const char *list, const char *domain)
{
    strbuf err;
    strbuf_init(&err, 0);
    match_list *ml = domain_list_open(list, &err);
    int r = ml ? domain_list_match(ml, domain) : -2;
    match_list_close(ml);
    strbuf_free(&err);
    return r;
}

static int dmatch_parent(const char *list, const char *domain)
{
    strbuf err;
    strbuf_init(&err, 0);
    match_list *ml = domain_list_open_flags(list, DOMAIN_LIST_PARENT_MATCHES_SUBDOMAINS, &err);
    int r = ml ? domain_list_match(ml, domain) : -2;
    match_list_close(ml);
    strbuf_free(&err);
    return r;
}

static int nmatch(const char *list, const char *addr)
{
    strbuf err;
    strbuf_init(&err, 0);
    match_list *ml = net_list_open(list, &err);
    int r = ml ? net_list_match(ml, addr) : -2;
    match_list_close(ml);
    strbuf_free(&err);
    return r;
}

/* The error text of a list that must fail to open. */
static const char *net_error(const char *list)
{
    static char msg[512];
    strbuf err;
    strbuf_init(&err, 0);
    match_list *ml = net_list_open(list, &err);
    snprintf(msg, sizeof(msg), "%s", ml ? "(opened)" : err.data);
    match_list_close(ml);
    strbuf_free(&err);
    return msg;
}

TEST(domain_names)
{
    CHECK_INT(dmatch("example.com", "example.com"), 1);
    CHECK_INT(dmatch("example.com", "EXAMPLE.Com"), 1);
    CHECK_INT(dmatch("Example.COM", "example.com"), 1);
    CHECK_INT(dmatch("example.com", "example.com."), 1);
    CHECK_INT(dmatch("example.com", "sub.example.com"), 0);
    CHECK_INT(dmatch("example.com", "badexample.com"), 0);
    CHECK_INT(dmatch("example.com", "example.co"), 0);
    CHECK_INT(dmatch("example.com", ""), 0);
    CHECK_INT(dmatch("", "example.com"), 0);
    CHECK_INT(dmatch("a.test, b.test c.test", "c.test"), 1);
}

TEST(domain_subdomain_rules)
{
    CHECK_INT(dmatch(".example.com", "sub.example.com"), 1);
    CHECK_INT(dmatch(".example.com", "a.b.example.com"), 1);
    CHECK_INT(dmatch(".example.com", "example.com"), 0);
    CHECK_INT(dmatch(".example.com", "badexample.com"), 0);
    CHECK_INT(dmatch("example.com .example.com", "example.com"), 1);
    /* Postfix's parent_domain_matches_subdomains style. */
    CHECK_INT(dmatch_parent("example.com", "sub.example.com"), 1);
    CHECK_INT(dmatch_parent("example.com", "example.com"), 1);
    CHECK_INT(dmatch_parent("example.com", "badexample.com"), 0);
}

TEST(domain_negation_first_match_decides)
{
    CHECK_INT(dmatch("!bad.example.com, .example.com", "bad.example.com"), 0);
    CHECK_INT(dmatch("!bad.example.com, .example.com", "good.example.com"), 1);
    CHECK_INT(dmatch(".example.com, !bad.example.com", "bad.example.com"), 1);
    CHECK_INT(dmatch("!!example.com", "example.com"), 1);
    CHECK_INT(dmatch("!", "x"), -2);
}

TEST(domain_tables)
{
    const char *list = "inline:{ example.com=OK, .sub.test=OK }";
    CHECK_INT(dmatch(list, "EXAMPLE.COM"), 1);
    CHECK_INT(dmatch(list, "x.example.com"), 0);
    CHECK_INT(dmatch(list, "a.sub.test"), 1);
    CHECK_INT(dmatch(list, "a.b.sub.test"), 1);
    CHECK_INT(dmatch(list, "sub.test"), 0);
    CHECK_INT(dmatch_parent(list, "x.example.com"), 1);
    CHECK_INT(dmatch("!inline:{ a.test=1 } .test", "a.test"), 0);
    CHECK_INT(dmatch("!inline:{ a.test=1 } .test", "b.test"), 1);
    CHECK_INT(dmatch("nosuchtype:/x", "a"), -2);
    CHECK_INT(dmatch("texthash:/no/such/file", "a"), -2);
    /* Any table type works: the domain is the lookup key. */
    strbuf err;
    strbuf_init(&err, 0);
    match_list *ml = domain_list_open("unix:passwd.byname", &err);
    CHECK(ml != NULL);
    if (ml) {
        CHECK_INT(domain_list_match(ml, "root"), 1);
        match_list_close(ml);
    }
    strbuf_free(&err);
}

TEST(domain_files)
{
    const char *path = write_file("domains", "# local domains\none.test two.test\n"
                                             "  .three.test\n!bad.four.test, .four.test\n");
    char list[512];
    snprintf(list, sizeof(list), "zero.test, %s", path);
    CHECK_INT(dmatch(list, "zero.test"), 1);
    CHECK_INT(dmatch(list, "two.test"), 1);
    CHECK_INT(dmatch(list, "x.three.test"), 1);
    CHECK_INT(dmatch(list, "bad.four.test"), 0);
    CHECK_INT(dmatch(list, "ok.four.test"), 1);
    CHECK_INT(dmatch(list, "five.test"), 0);
    snprintf(list, sizeof(list), "!%s, .test", path);
    CHECK_INT(dmatch(list, "one.test"), 0);
    CHECK_INT(dmatch(list, "five.test"), 1);
    CHECK_INT(dmatch("/no/such/file", "x"), -2);
    /* A file that names itself stops at the nesting limit instead of looping. */
    char self[512];
    snprintf(self, sizeof(self), "%s/self", tmpdir);
    write_file("self", self);
    CHECK_INT(dmatch(self, "x"), -2);
}

TEST(net_addresses)
{
    const char *list = "127.0.0.0/8, 10.1.2.3 [::1]/128 2001:db8::/32, [fe80::]/10";
    CHECK_INT(nmatch(list, "127.0.0.1"), 1);
    CHECK_INT(nmatch(list, "10.1.2.3"), 1);
    CHECK_INT(nmatch(list, "10.1.2.4"), 0);
    CHECK_INT(nmatch(list, "::1"), 1);
    CHECK_INT(nmatch(list, "[::1]"), 1);
    CHECK_INT(nmatch(list, "::2"), 0);
    CHECK_INT(nmatch(list, "2001:DB8::5"), 1);
    CHECK_INT(nmatch(list, "fe80::1234"), 1);
    CHECK_INT(nmatch(list, "::ffff:127.0.0.1"), 1);
    CHECK_INT(nmatch(list, "not-an-address"), 0);
    CHECK_INT(nmatch("0.0.0.0/0", "8.8.8.8"), 1);
    CHECK_INT(nmatch("0.0.0.0/0", "2001:db8::1"), 0);
    CHECK_INT(nmatch("::/0", "2001:db8::1"), 1);
    CHECK_INT(nmatch("::/0", "8.8.8.8"), 0);
    CHECK_INT(nmatch("[::ffff:127.0.0.0]/104", "127.0.0.1"), 1);
    CHECK_INT(nmatch("1.2.3.4/32", "1.2.3.4"), 1);
    CHECK_INT(nmatch("1.2.3.4/32", "1.2.3.5"), 0);
    CHECK_INT(nmatch("!10.0.0.1 10.0.0.0/8", "10.0.0.1"), 0);
    CHECK_INT(nmatch("!10.0.0.1 10.0.0.0/8", "10.0.0.2"), 1);
    CHECK_INT(nmatch("", "10.0.0.2"), 0);
}

TEST(net_malformed_entries)
{
    CHECK(strstr(net_error("10.0.0.0/33"), "10.0.0.0/33") != NULL);
    CHECK(strstr(net_error("127.0.0.0/8, 999.1.1.1"), "999.1.1.1") != NULL);
    CHECK(strstr(net_error("10.1.0.0/8"), "non-null host address bits") != NULL);
    CHECK(strstr(net_error("[::1/128"), "::1") != NULL);
    CHECK(strstr(net_error("example.com"), "example.com") != NULL);
    CHECK(strstr(net_error("::1/129"), "::1/129") != NULL);
    CHECK(strstr(net_error("cidr:/no/such/file"), "/no/such/file") != NULL);
}

TEST(net_tables_and_files)
{
    const char *path = write_file("nets.cidr", "192.168.0.0/16 OK\n::1 OK\n");
    char list[512];
    snprintf(list, sizeof(list), "cidr:%s", path);
    CHECK_INT(nmatch(list, "192.168.7.7"), 1);
    CHECK_INT(nmatch(list, "::1"), 1);
    CHECK_INT(nmatch(list, "192.169.0.1"), 0);
    CHECK_INT(nmatch("inline:{ 10.0.0.1=OK, 2001:db8::1=OK }", "10.0.0.1"), 1);
    CHECK_INT(nmatch("inline:{ 10.0.0.1=OK, 2001:db8::1=OK }", "2001:DB8:0::1"), 1);
    CHECK_INT(nmatch("inline:{ 10.0.0.1=OK }", "::ffff:10.0.0.1"), 1);
    CHECK_INT(nmatch("inline:{ 10.0.0.1=OK }", "10.0.0.2"), 0);
    path = write_file("nets", "# trusted\n10.0.0.0/8\n[2001:db8::]/32, !172.16.0.1\n"
                              "172.16.0.0/12\n");
    CHECK_INT(nmatch(path, "10.2.3.4"), 1);
    CHECK_INT(nmatch(path, "2001:db8::7"), 1);
    CHECK_INT(nmatch(path, "172.16.0.1"), 0);
    CHECK_INT(nmatch(path, "172.16.0.2"), 1);
    path = write_file("badnets", "10.0.0.0/8\n10.0.0.0/40\n");
    CHECK(strstr(net_error(path), "10.0.0.0/40") != NULL);
    CHECK(strstr(net_error(path), "line 2") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_match_list.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    RUN(domain_names);
    RUN(domain_subdomain_rules);
    RUN(domain_negation_first_match_decides);
    RUN(domain_tables);
    RUN(domain_files);
    RUN(net_addresses);
    RUN(net_malformed_entries);
    RUN(net_tables_and_files);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    UNIT_MAIN_END("test_match_list");
}

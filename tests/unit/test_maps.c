/* test_maps.c: every lookup table type, table lists, source-file reading and alias files. */
#include "maps/alias_file.h"
#include "maps/map.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* Writes text to tmpdir/name and returns the path (static buffer per call site is enough). */
static const char *write_file(const char *name, const char *text)
{
    static char path[8][400];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 400, "%s/%s", tmpdir, name);
    FILE *fp = fopen(p, "w");
    fputs(text, fp);
    fclose(fp);
    return p;
}

/* Opens spec, looks key up, closes; returns the status and copies the value into out. */
static int lookup_once(const char *spec, const char *key, char *out, size_t outlen)
{
    strbuf err, value;
    strbuf_init(&err, 0);
    strbuf_init(&value, 0);
    out[0] = '\0';
    map *m = map_open(spec, &err);
    int status = -2;
    if (m) {
        status = map_lookup(m, key, &value);
        snprintf(out, outlen, "%s", value.data);
        map_close(m);
    } else {
        snprintf(out, outlen, "%s", err.data);
    }
    strbuf_free(&err);
    strbuf_free(&value);
    return status;
}

/* Expects key to be found with want (want NULL: not found). */
#define EXPECT(spec, key, want)                                                                    \
    do {                                                                                           \
        char got_[512];                                                                            \
        int st_ = lookup_once(spec, key, got_, sizeof(got_));                                      \
        if ((want) == NULL) {                                                                      \
            CHECK_INT(st_, 0);                                                                     \
        } else {                                                                                   \
            CHECK_INT(st_, 1);                                                                     \
            CHECK_STR(got_, (want));                                                               \
        }                                                                                          \
    } while (0)

static const char *open_error(const char *spec)
{
    static char msg[512];
    strbuf err;
    strbuf_init(&err, 0);
    map *m = map_open(spec, &err);
    snprintf(msg, sizeof(msg), "%s", m ? "(opened)" : err.data);
    map_close(m);
    strbuf_free(&err);
    return msg;
}

TEST(inline_tables)
{
    const char *spec = "inline:{ Key=Value, other=x, { spaced key = value with, commas } }";
    EXPECT(spec, "key", "Value");
    EXPECT(spec, "KEY", "Value");
    EXPECT(spec, "spaced key", "value with, commas");
    EXPECT(spec, "other", "x");
    EXPECT(spec, "missing", NULL);
    EXPECT("inline:{}", "a", NULL);
    EXPECT("inline:{a=1,a=2}", "a", "1");
    CHECK(strstr(open_error("inline:{ a=1, b }"), "missing '='") != NULL);
    CHECK(strstr(open_error("inline:{ a=1, b }"), "\"b\"") != NULL);
    CHECK(strstr(open_error("inline:{ =1 }"), "empty key") != NULL);
    CHECK(strstr(open_error("inline:{ a= }"), "empty value") != NULL);
    CHECK(strstr(open_error("inline:a=1"), "enclosed in { }") != NULL);
    CHECK(strstr(open_error("inline:{ {a=1 }"), "'}'") != NULL);
}

TEST(static_tables)
{
    EXPECT("static:OK", "anything", "OK");
    EXPECT("static:{ value with spaces }", "x", "value with spaces");
    EXPECT("static:1000", "", "1000");
    CHECK(strstr(open_error("static:{ open"), "missing '}'") != NULL);
}

TEST(unknown_and_malformed_specs)
{
    CHECK_STR(open_error("nosuch:/x"), "unsupported dictionary type: nosuch");
    CHECK(strstr(open_error("plainname"), "expecting \"type:name\"") != NULL);
    CHECK(strstr(open_error("texthash:/nonexistent/file"), "/nonexistent/file") != NULL);
    CHECK(strstr(open_error("hash:/nonexistent/db"), "/nonexistent/db.lmdb") != NULL);
    CHECK(strstr(open_error("unix:nosuch.byname"), "unix:nosuch.byname") != NULL);
    EXPECT("proxy:static:yes", "k", "yes");
    CHECK(map_type_supported("pcre"));
    CHECK(!map_type_supported("btree"));
}

TEST(source_reader_logical_lines)
{
    const char *path = write_file("src.txt", "# comment\n\nfirst line\n  continued here\n"
                                             "   # indented comment\n\tmore\n \n"
                                             "second\r\n  \nthird");
    map_source src;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK(map_source_open(&src, path, MAP_FILE_MAX, &err) == 0);
    CHECK_INT(map_source_next(&src, &err), 1);
    CHECK_STR(src.line.data, "first line  continued here\tmore");
    CHECK_INT(src.lineno, 3);
    CHECK_INT(map_source_next(&src, &err), 1);
    CHECK_STR(src.line.data, "second");
    CHECK_INT(src.lineno, 8);
    CHECK_INT(map_source_next(&src, &err), 1);
    CHECK_STR(src.line.data, "third");
    CHECK_INT(map_source_next(&src, &err), 0);
    map_source_close(&src);

    /* A leading continuation line is skipped; NUL bytes are an error naming the line. */
    path = write_file("nul.txt", "  orphan\nok 1\nbad\0line\n");
    FILE *fp = fopen(path, "w");
    fwrite("  orphan\nok 1\nbad\0line\n", 1, 23, fp);
    fclose(fp);
    CHECK(map_source_open(&src, path, MAP_FILE_MAX, &err) == 0);
    CHECK_INT(map_source_next(&src, &err), -1);
    CHECK(strstr(err.data, "line 3: NUL") != NULL);
    map_source_close(&src);

    /* Size limit and non-regular files. */
    strbuf_reset(&err);
    CHECK(map_source_open(&src, path, 4, &err) < 0);
    CHECK(strstr(err.data, "larger than") != NULL);
    strbuf_reset(&err);
    CHECK(map_source_open(&src, tmpdir, MAP_FILE_MAX, &err) < 0);
    CHECK(strstr(err.data, "not a regular file") != NULL);
    strbuf_free(&err);
}

TEST(split_key_value)
{
    char line[] = "  Key   the value  ";
    char *k, *v;
    CHECK(map_split_key_value(line, &k, &v) == 0);
    CHECK_STR(k, "Key");
    CHECK_STR(v, "the value");
    char lonely[] = "justakey  ";
    CHECK(map_split_key_value(lonely, &k, &v) < 0);
}

TEST(texthash_tables)
{
    const char *path = write_file("th", "User@Example.COM  mailbox/one\nsecond two\n"
                                        "  words\nsecond dup\nnovalue\n");
    char spec[512];
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    EXPECT(spec, "user@example.com", "mailbox/one");
    EXPECT(spec, "USER@EXAMPLE.COM", "mailbox/one");
    EXPECT(spec, "second", "two  words");
    EXPECT(spec, "novalue", NULL);
    EXPECT(spec, "third", NULL);
}

static int count_entry(const char *key, const char *value, void *ctx)
{
    (void)key;
    (void)value;
    (*(int *)ctx)++;
    return 0;
}

TEST(lmdb_build_and_lookup)
{
    char path[400], spec[400];
    snprintf(path, sizeof(path), "%s/db.lmdb", tmpdir);
    snprintf(spec, sizeof(spec), "hash:%s/db", tmpdir);
    strbuf err;
    strbuf_init(&err, 0);
    map_lmdb_builder *b = map_lmdb_builder_open(path, 0, &err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    CHECK_INT(map_lmdb_builder_put(b, "alpha", "one", MAP_DUP_WARN, &err), 0);
    CHECK_INT(map_lmdb_builder_put(b, "alpha", "two", MAP_DUP_WARN, &err), 1);
    CHECK(strstr(err.data, "duplicate entry") != NULL);
    strbuf_reset(&err);
    CHECK_INT(map_lmdb_builder_put(b, "beta", "x", MAP_DUP_WARN, &err), 0);
    CHECK_INT(map_lmdb_builder_put(b, "beta", "y", MAP_DUP_REPLACE, &err), 0);
    CHECK_INT(map_lmdb_builder_put(b, "", "y", MAP_DUP_WARN, &err), 1);
    char longkey[600];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    strbuf_reset(&err);
    CHECK_INT(map_lmdb_builder_put(b, longkey, "v", MAP_DUP_WARN, &err), 1);
    CHECK(strstr(err.data, "longer than") != NULL);
    /* Enough entries to cross several write batches. */
    char key[32], value[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        snprintf(value, sizeof(value), "value%d", i);
        CHECK_INT(map_lmdb_builder_put(b, key, value, MAP_DUP_WARN, &err), 0);
    }
    /* Nothing is visible before the commit. */
    CHECK(access(path, F_OK) != 0);
    CHECK_INT(map_lmdb_builder_commit(b, 0640, -1, -1, &err), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    EXPECT(spec, "alpha", "one");
    EXPECT(spec, "ALPHA", "one");
    EXPECT(spec, "beta", "y");
    EXPECT(spec, "key2999", "value2999");
    EXPECT(spec, "gamma", NULL);
    EXPECT(spec, longkey, NULL);
    int n = 0;
    CHECK_INT(map_lmdb_dump(path, count_entry, &n, &err), 0);
    CHECK_INT(n, 3002);

    /* Incremental update and delete keep the other entries. */
    b = map_lmdb_builder_open(path, 1, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK_INT(map_lmdb_builder_put(b, "gamma", "new", MAP_DUP_WARN, &err), 0);
        CHECK_INT(map_lmdb_builder_delete(b, "alpha", &err), 1);
        CHECK_INT(map_lmdb_builder_delete(b, "nonesuch", &err), 0);
        CHECK_INT(map_lmdb_builder_commit(b, 0644, -1, -1, &err), 0);
    }
    EXPECT(spec, "gamma", "new");
    EXPECT(spec, "alpha", NULL);
    EXPECT(spec, "key17", "value17");

    /* An aborted build leaves the table as it was and no temporary file behind. */
    b = map_lmdb_builder_open(path, 0, &err);
    if (b) {
        map_lmdb_builder_put(b, "alpha", "aborted", MAP_DUP_WARN, &err);
        map_lmdb_builder_abort(b);
    }
    EXPECT(spec, "gamma", "new");
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "test $(ls %s | grep -c 'db.lmdb.') = 0", tmpdir);
    CHECK(system(cmd) == 0);

    /* An empty table is valid. */
    snprintf(path, sizeof(path), "%s/empty.lmdb", tmpdir);
    b = map_lmdb_builder_open(path, 0, &err);
    CHECK(b != NULL && map_lmdb_builder_commit(b, 0644, -1, -1, &err) == 0);
    snprintf(spec, sizeof(spec), "lmdb:%s/empty", tmpdir);
    EXPECT(spec, "x", NULL);

    /* A file that is not LMDB is an open error naming the file. */
    write_file("junk.lmdb", "this is not a database\n");
    snprintf(spec, sizeof(spec), "hash:%s/junk", tmpdir);
    CHECK(strstr(open_error(spec), "junk.lmdb") != NULL);
    strbuf_free(&err);
}

TEST(lmdb_changed_detection)
{
    char path[400], spec[400];
    snprintf(path, sizeof(path), "%s/chg.lmdb", tmpdir);
    snprintf(spec, sizeof(spec), "hash:%s/chg", tmpdir);
    strbuf err;
    strbuf_init(&err, 0);
    map_lmdb_builder *b = map_lmdb_builder_open(path, 0, &err);
    map_lmdb_builder_put(b, "a", "1", MAP_DUP_WARN, &err);
    map_lmdb_builder_commit(b, 0644, -1, -1, &err);
    map *m = map_open(spec, &err);
    CHECK(m != NULL);
    if (m) {
        CHECK(!map_changed(m));
        b = map_lmdb_builder_open(path, 0, &err);
        map_lmdb_builder_put(b, "a", "2", MAP_DUP_WARN, &err);
        map_lmdb_builder_commit(b, 0644, -1, -1, &err);
        CHECK(map_changed(m));
        strbuf value;
        strbuf_init(&value, 0);
        /* The open handle still reads the old file. */
        CHECK_INT(map_lookup(m, "a", &value), 1);
        CHECK_STR(value.data, "1");
        strbuf_free(&value);
        map_close(m);
    }
    strbuf_free(&err);
}

TEST(cidr_tables)
{
    const char *path = write_file("cidr", "10.0.0.0/8          ten\n"
                                          "10.1.0.0/8          bad-host-bits\n"
                                          "999.1.1.1           bad-address\n"
                                          "192.168.1.1\n"
                                          "if 172.16.0.0/12\n"
                                          "!172.16.0.0/16      private-not-16\n"
                                          "172.16.0.0/16       private-16\n"
                                          "endif\n"
                                          "endif\n"
                                          "[2001:db8::]/32     doc6\n"
                                          "::1                 loop6\n"
                                          "0.0.0.0/0           any4\n");
    char spec[512];
    snprintf(spec, sizeof(spec), "cidr:%s", path);
    EXPECT(spec, "10.9.8.7", "ten");
    EXPECT(spec, "::ffff:10.9.8.7", "ten");
    EXPECT(spec, "172.17.0.1", "private-not-16");
    EXPECT(spec, "172.16.5.5", "private-16");
    EXPECT(spec, "2001:db8:1::5", "doc6");
    EXPECT(spec, "::1", "loop6");
    EXPECT(spec, "192.168.1.1", "any4");
    EXPECT(spec, "2001:db9::1", NULL);
    EXPECT(spec, "not-an-address", NULL);
    EXPECT(spec, "999.1.1.1", NULL);

    /* A missing endif is tolerated (warning): the block ends at end of file. */
    path = write_file("cidr2", "if 10.0.0.0/8\n10.1.0.0/16 inner\n");
    snprintf(spec, sizeof(spec), "cidr:%s", path);
    EXPECT(spec, "10.1.2.3", "inner");
    EXPECT(spec, "11.1.2.3", NULL);
}

TEST(regexp_tables)
{
    const char *path = write_file("re", "/^(.*)@(example\\.com)$/   user=$1 domain=${2} $(1)$$\n"
                                        "if /^x/\n"
                                        "/y$/                       x-and-y\n"
                                        "if !/z/\n"
                                        "/w/                        x-w-not-z\n"
                                        "endif\n"
                                        "endif\n"
                                        "/^CaseSensitive$/i          exact-case\n"
                                        "/^nocase$/                  any-case\n"
                                        "/^ab(c)?d$/                 opt[$1]\n"
                                        "/^bad$/                     $3\n"
                                        "/^bad2$/                    $x\n"
                                        "/unclosed(/                 x\n"
                                        "!/@/                        no-at-sign\n"
                                        "/^p/!/q/                    p-not-q\n"
                                        "#p/\n"
                                        "|^pipe|                     other-delimiter\n"
                                        "/^flag$/Z                   unknown-flag\n"
                                        "/^multi$/m                  multi-line\n");
    char spec[512];
    snprintf(spec, sizeof(spec), "regexp:%s", path);
    EXPECT(spec, "Joe@Example.com", "user=Joe domain=Example.com Joe$");
    EXPECT(spec, "xay", "x-and-y");
    EXPECT(spec, "xw@q", "x-w-not-z");
    EXPECT(spec, "xwz@q", NULL);
    EXPECT(spec, "CaseSensitive", "exact-case");
    EXPECT(spec, "casesensitive@", NULL);
    EXPECT(spec, "NOCASE", "any-case");
    EXPECT(spec, "abd", "opt[]");
    EXPECT(spec, "abcd", "opt[c]");
    EXPECT(spec, "plain", "no-at-sign");
    EXPECT(spec, "p@", "p-not-q");
    EXPECT(spec, "pq@", NULL);
    EXPECT(spec, "pipe@q", "other-delimiter");
    /* Malformed rules were skipped, not matched. */
    EXPECT(spec, "bad@", NULL);
    EXPECT(spec, "flag@", NULL);
    EXPECT(spec, "first\nmulti\nlast@", "multi-line");

    /* pcre: flags and the same syntax. */
    path = write_file("pcre", "/^a.b$/s        dotall\n"
                              "/^(?<n>\\d+)$/  num-$1\n"
                              "/^ x y $/x      extended\n"
                              "/^greedy(.+)/U  g-$1\n");
    snprintf(spec, sizeof(spec), "pcre:%s", path);
    EXPECT(spec, "a\nb", "dotall");
    EXPECT(spec, "123", "num-123");
    EXPECT(spec, "xy", "extended");
    EXPECT(spec, "greedyabc", "g-a");
    EXPECT(spec, "a\nc", NULL);
}

TEST(regexp_backtracking_is_bounded)
{
    const char *path = write_file("evil", "/^(a+)+$/ evil\n/./ fallback\n");
    char spec[512], key[64];
    snprintf(spec, sizeof(spec), "pcre:%s", path);
    memset(key, 'a', 40);
    key[40] = '!';
    key[41] = '\0';
    EXPECT(spec, key, "fallback");
}

TEST(unix_tables)
{
    char out[512];
    CHECK_INT(lookup_once("unix:passwd.byname", "root", out, sizeof(out)), 1);
    CHECK(strstr(out, ":0:0:") != NULL);
    CHECK_INT(lookup_once("unix:passwd.byname", "ROOT", out, sizeof(out)), 1);
    CHECK(strncmp(out, "root:", 5) == 0);
    EXPECT("unix:passwd.byname", "no-such-user-here", NULL);
    CHECK_INT(lookup_once("unix:group.byname", "root", out, sizeof(out)), 1);
    CHECK(strncmp(out, "root:", 5) == 0);
}

TEST(map_lists)
{
    strbuf err, value;
    strbuf_init(&err, 0);
    strbuf_init(&value, 0);
    map_list *ml = map_list_open("inline:{ a=1, { b = two words } },static:{ fall back }", &err);
    CHECK(ml != NULL);
    if (ml) {
        CHECK(!map_list_empty(ml));
        CHECK_INT(map_list_lookup(ml, "a", &value), 1);
        CHECK_STR(value.data, "1");
        CHECK_INT(map_list_lookup(ml, "B", &value), 1);
        CHECK_STR(value.data, "two words");
        CHECK_INT(map_list_lookup(ml, "zzz", &value), 1);
        CHECK_STR(value.data, "fall back");
        CHECK(!map_list_changed(ml));
        map_list_close(ml);
    }
    ml = map_list_open("  ", &err);
    CHECK(ml != NULL && map_list_empty(ml));
    if (ml)
        CHECK_INT(map_list_lookup(ml, "a", &value), 0);
    map_list_close(ml);

    strbuf_reset(&err);
    CHECK(map_list_open("inline:{a=1} texthash:/no/such/file", &err) == NULL);
    CHECK(strstr(err.data, "/no/such/file") != NULL);
    strbuf_reset(&err);
    CHECK(map_list_open("inline:{a=1", &err) == NULL);
    CHECK(strstr(err.data, "missing '}'") != NULL);

    /* Lenient: the broken table fails lookups temporarily, after earlier tables had a say. */
    strbuf_reset(&err);
    ml = map_list_open_lenient("inline:{a=1} hash:/no/such/db", &err);
    CHECK(ml != NULL);
    CHECK(strstr(err.data, "/no/such/db.lmdb") != NULL);
    if (ml) {
        CHECK_INT(map_list_lookup(ml, "a", &value), 1);
        CHECK_INT(map_list_lookup(ml, "b", &value), -1);
        CHECK(strstr(value.data, "/no/such/db.lmdb") != NULL);
        map_list_close(ml);
    }
    strbuf_free(&err);
    strbuf_free(&value);
}

TEST(alias_lines)
{
    strbuf name, value, err;
    strbuf_init(&name, 0);
    strbuf_init(&value, 0);
    strbuf_init(&err, 0);
    CHECK(alias_parse_line("Postmaster: root", &name, &value, &err) == 0);
    CHECK_STR(name.data, "postmaster");
    CHECK_STR(value.data, "root");
    CHECK(alias_parse_line("\"John Doe: Jr\" : john, \"|/bin/cmd arg\"  ", &name, &value, &err) ==
          0);
    CHECK_STR(name.data, "john doe: jr");
    CHECK_STR(value.data, "john, \"|/bin/cmd arg\"");
    CHECK(alias_parse_line("\"quo\\\"te\": x", &name, &value, &err) == 0);
    CHECK_STR(name.data, "quo\"te");
    CHECK(alias_parse_line("nocolon value", &name, &value, &err) < 0);
    CHECK(alias_parse_line("empty:", &name, &value, &err) < 0);
    CHECK(alias_parse_line(": value", &name, &value, &err) < 0);
    CHECK(alias_parse_line("\"open: value", &name, &value, &err) < 0);
    strbuf_reset(&err);
    char longname[700];
    memset(longname, 'n', 600);
    strcpy(longname + 600, ": x");
    CHECK(alias_parse_line(longname, &name, &value, &err) < 0);
    CHECK(strstr(err.data, "longer than") != NULL);
    strbuf_free(&name);
    strbuf_free(&value);
    strbuf_free(&err);
}

typedef struct alias_seen {
    int entries, warnings;
    char last_value[256];
} alias_seen;

static int alias_entry(const char *name, const char *value, int lineno, void *ctx)
{
    alias_seen *seen = ctx;
    (void)lineno;
    seen->entries++;
    if (strcmp(name, "list") == 0)
        snprintf(seen->last_value, sizeof(seen->last_value), "%s", value);
    return 0;
}

static void alias_warning(const char *message, void *ctx)
{
    (void)message;
    ((alias_seen *)ctx)->warnings++;
}

TEST(alias_files)
{
    const char *path = write_file("aliases", "# aliases\npostmaster: root\n"
                                             "list: a,\n  b,\n\n\tc\nbroken line\n"
                                             "  # comment\nroot: admin@example.com\n");
    FILE *fp = fopen(path, "r");
    alias_seen seen = {0, 0, ""};
    alias_file_callbacks cb = {alias_entry, alias_warning};
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(alias_file_parse(fp, path, &cb, &seen, &err), 0);
    fclose(fp);
    CHECK_INT(seen.entries, 3);
    CHECK_INT(seen.warnings, 1);
    CHECK_STR(seen.last_value, "a,  b,\tc");

    char db[400], spec[400];
    snprintf(db, sizeof(db), "%s.lmdb", path);
    snprintf(spec, sizeof(spec), "hash:%s", path);
    CHECK_INT(alias_file_build(path, db, &err), 0);
    EXPECT(spec, "PostMaster", "root");
    EXPECT(spec, "root", "admin@example.com");
    EXPECT(spec, "broken", NULL);
    strbuf_reset(&err);
    CHECK(alias_file_build("/no/such/aliases", "/tmp/x.lmdb", &err) < 0);
    CHECK(strstr(err.data, "/no/such/aliases") != NULL);
    strbuf_free(&err);
}

static int collect(const char *entry, void *ctx)
{
    strbuf_append_str(ctx, entry);
    strbuf_append_char(ctx, '|');
    return 0;
}

TEST(list_splitting)
{
    /* Collects entries joined by '|'. */
    strbuf out, err;
    strbuf_init(&out, 0);
    strbuf_init(&err, 0);
    CHECK_INT(map_split_list(" a, b ,,c\td  inline:{ x=1, {y = 2 3} } e", collect, &out, &err), 0);
    CHECK_STR(out.data, "a|b|c|d|inline:{ x=1, {y = 2 3} }|e|");
    CHECK(map_split_list("a }", collect, &out, &err) < 0);
    strbuf_free(&out);
    strbuf_free(&err);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_maps.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    RUN(inline_tables);
    RUN(static_tables);
    RUN(unknown_and_malformed_specs);
    RUN(source_reader_logical_lines);
    RUN(split_key_value);
    RUN(texthash_tables);
    RUN(lmdb_build_and_lookup);
    RUN(lmdb_changed_detection);
    RUN(cidr_tables);
    RUN(regexp_tables);
    RUN(regexp_backtracking_is_bounded);
    RUN(unix_tables);
    RUN(map_lists);
    RUN(alias_lines);
    RUN(alias_files);
    RUN(list_splitting);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    UNIT_MAIN_END("test_maps");
}

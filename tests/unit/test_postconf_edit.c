/* test_postconf_edit.c: main.cf editing for postconf -e, -# and -X. */
#include "cmd/postconf_edit.h"
#include "lib/strbuf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* Runs one edit over text with the given arguments; returns the new text (caller frees). */
static char *edit(postconf_edit_mode mode, const char *text, const char **args, size_t nargs)
{
    postconf_edit_list list;
    postconf_edit_init(&list, mode);
    strbuf err, out;
    strbuf_init(&err, 0);
    strbuf_init(&out, 0);
    for (size_t i = 0; i < nargs; i++)
        CHECK(postconf_edit_add(&list, args[i], &err) >= 0);
    CHECK_INT(postconf_edit_text(&list, text, strlen(text), &out), 0);
    postconf_edit_free(&list);
    strbuf_free(&err);
    return strbuf_detach(&out);
}

static const char *sample = "# Global comment\n"
                            "myhostname = mx.example.com\n"
                            "\n"
                            "mydestination = $myhostname,\n"
                            "    localhost,\n"
                            "  # a comment inside the value\n"
                            "\tlocalhost.example.com\n"
                            "relayhost =\n"
                            "# trailing comment\n";

TEST(replace_existing_with_continuation_lines)
{
    const char *args[] = {"mydestination = a, b"};
    char *got = edit(POSTCONF_EDIT_SET, sample, args, 1);
    CHECK_STR(got, "# Global comment\n"
                   "myhostname = mx.example.com\n"
                   "\n"
                   "mydestination = a, b\n"
                   "  # a comment inside the value\n"
                   "relayhost =\n"
                   "# trailing comment\n");
    free(got);
}

TEST(append_sorted_when_missing)
{
    const char *args[] = {"zeta=1", "  alpha =  two words  ", "myhostname=new.example"};
    char *got = edit(POSTCONF_EDIT_SET, "# c\nmyhostname = old\n", args, 3);
    CHECK_STR(got, "# c\nmyhostname = new.example\nalpha = two words\nzeta = 1\n");
    free(got);
}

TEST(append_adds_missing_final_newline)
{
    const char *args[] = {"b=2"};
    char *got = edit(POSTCONF_EDIT_SET, "a = 1", args, 1);
    CHECK_STR(got, "a = 1\nb = 2\n");
    free(got);
    got = edit(POSTCONF_EDIT_SET, "", args, 1);
    CHECK_STR(got, "b = 2\n");
    free(got);
}

TEST(empty_value)
{
    const char *args[] = {"relayhost="};
    char *got = edit(POSTCONF_EDIT_SET, "relayhost = [smart]:587\n", args, 1);
    CHECK_STR(got, "relayhost = \n");
    free(got);
}

TEST(prefix_names_do_not_match)
{
    const char *args[] = {"relay=x"};
    char *got = edit(POSTCONF_EDIT_SET, "relayhost = a\nrelay_domains=b\nrelay=c\n", args, 1);
    CHECK_STR(got, "relayhost = a\nrelay_domains=b\nrelay = x\n");
    free(got);
}

TEST(every_duplicate_is_replaced)
{
    postconf_edit_list list;
    postconf_edit_init(&list, POSTCONF_EDIT_SET);
    strbuf err, out;
    strbuf_init(&err, 0);
    strbuf_init(&out, 0);
    CHECK_INT(postconf_edit_add(&list, "a=new", &err), 0);
    const char *text = "a = 1\nb = 2\na=3\n";
    CHECK_INT(postconf_edit_text(&list, text, strlen(text), &out), 0);
    CHECK_STR(out.data, "a = new\nb = 2\na = new\n");
    CHECK_INT(list.reqs[0].found, 2);
    postconf_edit_free(&list);
    strbuf_free(&err);
    strbuf_free(&out);
}

TEST(comment_out_logical_line)
{
    const char *args[] = {"mydestination", "relayhost", "not_there"};
    char *got = edit(POSTCONF_EDIT_COMMENT, sample, args, 3);
    CHECK_STR(got, "# Global comment\n"
                   "myhostname = mx.example.com\n"
                   "\n"
                   "#mydestination = $myhostname,\n"
                   "#    localhost,\n"
                   "  # a comment inside the value\n"
                   "#\tlocalhost.example.com\n"
                   "#relayhost =\n"
                   "# trailing comment\n");
    free(got);
}

TEST(remove_logical_line)
{
    const char *args[] = {"mydestination ", "myhostname"};
    char *got = edit(POSTCONF_EDIT_REMOVE, sample, args, 2);
    CHECK_STR(got, "# Global comment\n"
                   "\n"
                   "  # a comment inside the value\n"
                   "relayhost =\n"
                   "# trailing comment\n");
    free(got);
}

TEST(remove_line_the_parser_refuses)
{
    const char *args[] = {"oops"};
    char *got = edit(POSTCONF_EDIT_REMOVE, "a = 1\noops\nb = 2\n", args, 1);
    CHECK_STR(got, "a = 1\nb = 2\n");
    free(got);
}

TEST(untouched_text_is_byte_for_byte)
{
    const char *text = "#  odd   spacing\t\r\n   \n"
                       "a=1\r\n"
                       "b   =   x   y   \n"
                       "  continued\n";
    const char *args[] = {"c=3"};
    char *got = edit(POSTCONF_EDIT_SET, text, args, 1);
    strbuf want;
    strbuf_init(&want, 0);
    strbuf_printf(&want, "%sc = 3\n", text);
    CHECK_STR(got, want.data);
    strbuf_free(&want);
    free(got);
}

TEST(argument_checks)
{
    postconf_edit_list list;
    strbuf err;
    strbuf_init(&err, 0);
    postconf_edit_init(&list, POSTCONF_EDIT_SET);
    CHECK_INT(postconf_edit_add(&list, "novalue", &err), -1);
    CHECK_STR(err.data, "missing '=' after attribute name: \"novalue\"");
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "=value", &err), -1);
    CHECK(strstr(err.data, "missing attribute name") != NULL);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "a=b\nc=d", &err), -1);
    CHECK(strstr(err.data, "multi-line") != NULL);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "  #a=b", &err), -1);
    CHECK(strstr(err.data, "comment") != NULL);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "bad.name=1", &err), -1);
    CHECK(strstr(err.data, "bad parameter name") != NULL);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "a=1", &err), 0);
    CHECK_INT(postconf_edit_add(&list, "a = 2", &err), 1);
    CHECK_STR(err.data, "ignoring earlier request: 'a = 1'");
    CHECK_INT((long long)list.count, 1);
    CHECK_STR(list.reqs[0].value, "2");
    postconf_edit_free(&list);

    postconf_edit_init(&list, POSTCONF_EDIT_REMOVE);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "a=1", &err), -1);
    CHECK(strstr(err.data, "without value") != NULL);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_add(&list, "   ", &err), -1);
    CHECK(strstr(err.data, "non-blank") != NULL);
    /* A name Postern's parser refuses can still be removed: that repairs the file. */
    CHECK_INT(postconf_edit_add(&list, "smtp-amavis", &err), 0);
    postconf_edit_free(&list);
    strbuf_free(&err);
}

TEST(split_name_value)
{
    char text[] = "  name  =  a  b  ";
    char *name, *value;
    CHECK(postconf_split_name_value(text, &name, &value) == NULL);
    CHECK_STR(name, "name");
    CHECK_STR(value, "a  b");
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NULL;
    strbuf sb;
    strbuf_init(&sb, 0);
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        strbuf_append(&sb, buf, n);
    fclose(fp);
    return strbuf_detach(&sb);
}

TEST(edit_file_atomically_keeps_mode)
{
    char path[300], tmp[310];
    snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(path, "w");
    fputs("# keep me\nmyhostname = a\n  b\n", fp);
    fclose(fp);
    chmod(path, 0640);
    postconf_edit_list list;
    postconf_edit_init(&list, POSTCONF_EDIT_SET);
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(postconf_edit_add(&list, "myhostname=mx.example", &err), 0);
    CHECK_INT(postconf_edit_file(&list, path, &err), 0);
    char *got = read_all(path);
    CHECK_STR(got, "# keep me\nmyhostname = mx.example\n");
    free(got);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
    CHECK(access(tmp, F_OK) != 0); /* renamed into place */
    postconf_edit_free(&list);

    /* A missing main.cf is an error that leaves no temporary file behind. */
    unlink(path);
    postconf_edit_init(&list, POSTCONF_EDIT_REMOVE);
    CHECK_INT(postconf_edit_add(&list, "myhostname", &err), 0);
    strbuf_reset(&err);
    CHECK_INT(postconf_edit_file(&list, path, &err), -1);
    CHECK(strstr(err.data, "for reading") != NULL);
    CHECK(access(tmp, F_OK) != 0);
    postconf_edit_free(&list);
    strbuf_free(&err);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_postconf_edit.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    RUN(replace_existing_with_continuation_lines);
    RUN(append_sorted_when_missing);
    RUN(append_adds_missing_final_newline);
    RUN(empty_value);
    RUN(prefix_names_do_not_match);
    RUN(every_duplicate_is_replaced);
    RUN(comment_out_logical_line);
    RUN(remove_logical_line);
    RUN(remove_line_the_parser_refuses);
    RUN(untouched_text_is_byte_for_byte);
    RUN(argument_checks);
    RUN(split_name_value);
    RUN(edit_file_atomically_keeps_mode);
    rmdir(tmpdir);
    UNIT_MAIN_END("test_postconf_edit");
}

/* test_deliver.c: the delivery protocol, attr records, Maildir names, mbox quoting and
 * writing, and alias/.forward list parsing. */
#include "deliver/deliver_request.h"
#include "deliver/local_expand.h"
#include "deliver/mail_copy.h"
#include "deliver/maildir.h"
#include "deliver/mbox.h"
#include "lib/attr.h"
#include "lib/config.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

TEST(attr_roundtrip_escapes)
{
    strbuf out, err;
    strbuf_init(&out, 0);
    strbuf_init(&err, 0);
    attr_put(&out, "a", "plain");
    attr_put(&out, "b", "line1\nline2\\x\r\x01=");
    attr_put(&out, "a", "");
    attr_end(&out);
    CHECK_STR(out.data, "a=plain\nb=line1\\nline2\\\\x\\r\\x01=\na=\n\n");
    attr_record rec;
    attr_record_init(&rec);
    CHECK_INT(attr_parse(out.data, out.len - 1, &rec, &err), 0);
    CHECK_INT(rec.count, 3);
    CHECK_STR(attr_get(&rec, "b"), "line1\nline2\\x\r\x01=");
    CHECK_STR(attr_get(&rec, "a"), "plain");
    CHECK(attr_parse("Bad=x\n", 6, &rec, &err) < 0);
    CHECK(attr_parse("a=\\q\n", 5, &rec, &err) < 0);
    CHECK(attr_parse("a=\\x4\n", 6, &rec, &err) < 0);
    CHECK(attr_parse("novalue\n", 8, &rec, &err) < 0);
    attr_record_free(&rec);
    strbuf_free(&out);
    strbuf_free(&err);
}

TEST(attr_reader_splits_records)
{
    int sv[2];
    CHECK(pipe(sv) == 0);
    const char *data = "x=1\n\ny=2\nz=3\n\n";
    CHECK(write(sv[1], data, strlen(data)) == (ssize_t)strlen(data));
    close(sv[1]);
    attr_reader rd;
    attr_reader_init(&rd, sv[0], 1024);
    attr_record rec;
    attr_record_init(&rec);
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(attr_reader_next(&rd, &rec, &err), 1);
    CHECK_STR(attr_get(&rec, "x"), "1");
    CHECK_INT(attr_reader_next(&rd, &rec, &err), 1);
    CHECK_STR(attr_get(&rec, "z"), "3");
    CHECK_INT(attr_reader_next(&rd, &rec, &err), -1);
    CHECK(rd.eof);
    attr_record_free(&rec);
    attr_reader_free(&rd);
    strbuf_free(&err);
    close(sv[0]);
}

TEST(attr_reader_enforces_limit)
{
    int sv[2];
    CHECK(pipe(sv) == 0);
    char big[300];
    memset(big, 'a', sizeof(big));
    memcpy(big, "k=", 2);
    CHECK(write(sv[1], big, sizeof(big)) == (ssize_t)sizeof(big));
    close(sv[1]);
    attr_reader rd;
    attr_reader_init(&rd, sv[0], 100);
    attr_record rec;
    attr_record_init(&rec);
    strbuf err;
    strbuf_init(&err, 0);
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        rc = attr_reader_next(&rd, &rec, &err);
    CHECK_INT(rc, -1);
    CHECK(!rd.eof);
    attr_record_free(&rec);
    attr_reader_free(&rd);
    strbuf_free(&err);
    close(sv[0]);
}

TEST(request_and_reply_roundtrip)
{
    deliver_request req, got;
    deliver_request_init(&req);
    deliver_request_init(&got);
    deliver_request_set(&req.queue_name, "active");
    deliver_request_set(&req.queue_id, "9DF7520804A");
    deliver_request_set(&req.sender, "");
    deliver_request_set(&req.nexthop, "mx.example.test");
    req.arrival = 1700000000.25;
    req.active_time = 1700000001.5;
    req.request_time = 1700000002;
    req.message_size = 1234;
    deliver_request_add_rcpt(&req, "a@x.test", "A@X.test", "rfc822;a@x.test", 100, 6);
    deliver_request_add_rcpt(&req, "b\n@x.test", NULL, NULL, 200, 0);
    strbuf out, err;
    strbuf_init(&out, 0);
    strbuf_init(&err, 0);
    deliver_request_encode(&req, &out);
    attr_record rec;
    attr_record_init(&rec);
    CHECK_INT(attr_parse(out.data, out.len - 1, &rec, &err), 0);
    CHECK_INT(deliver_request_decode(&rec, &got, &err), 0);
    CHECK_STR(got.queue_id, "9DF7520804A");
    CHECK_STR(got.sender, "");
    CHECK_INT(got.nrcpt, 2);
    CHECK_STR(got.rcpts[0].orig, "A@X.test");
    CHECK_STR(got.rcpts[0].orcpt, "rfc822;a@x.test");
    CHECK_INT(got.rcpts[0].notify, 6);
    CHECK_INT(got.rcpts[1].offset, 200);
    CHECK_STR(got.rcpts[1].address, "b\n@x.test");
    CHECK_STR(got.rcpts[1].orig, "b\n@x.test");
    CHECK(got.arrival > 1700000000.2 && got.arrival < 1700000000.3);

    /* reply */
    deliver_set_result(&got.rcpts[0], "2.0.0", "delivered to %s", "maildir");
    deliver_set_result(&got.rcpts[1], "5.1.1", "unknown user: \"%s\"", "b");
    strbuf_reset(&out);
    deliver_reply_encode(&got, &out);
    CHECK_INT(attr_parse(out.data, out.len - 1, &rec, &err), 0);
    CHECK_INT(deliver_reply_decode(&rec, &req, &err), 0);
    CHECK_STR(req.rcpts[0].dsn, "2.0.0");
    CHECK_STR(req.rcpts[1].dsn, "5.1.1");
    CHECK_STR(req.rcpts[1].reason, "unknown user: \"b\"");

    /* hostile input: a path-like queue id and a count mismatch are refused */
    const char *traversal = "request=deliver\nqueue_name=active\nqueue_id=../x\n";
    CHECK_INT(attr_parse(traversal, strlen(traversal), &rec, &err), 0);
    CHECK(deliver_request_decode(&rec, &got, &err) < 0);
    const char *bad = "request=deliver\nqueue_name=active\nqueue_id=AB\nsender=\nnexthop=\n"
                      "arrival=1\nactive_time=1\nrequest_time=1\nmessage_size=1\nrcpt_count=2\n"
                      "rcpt=a\n";
    CHECK_INT(attr_parse(bad, strlen(bad), &rec, &err), 0);
    CHECK(deliver_request_decode(&rec, &got, &err) < 0);

    attr_record_free(&rec);
    deliver_request_free(&req);
    deliver_request_free(&got);
    strbuf_free(&out);
    strbuf_free(&err);
}

TEST(dsn_and_delay_format)
{
    CHECK_INT(dsn_class("2.0.0"), 2);
    CHECK_INT(dsn_class("4.3.0"), 4);
    CHECK_INT(dsn_class("5.1.10"), 5);
    CHECK_INT(dsn_class("3.0.0"), 0);
    CHECK_INT(dsn_class("5.1"), 0);
    CHECK_INT(dsn_class("5.1.1x"), 0);
    char b[32];
    deliver_format_delay(0.123, b, sizeof(b));
    CHECK_STR(b, "0.12");
    deliver_format_delay(0.001, b, sizeof(b));
    CHECK_STR(b, "0");
    deliver_format_delay(1.5, b, sizeof(b));
    CHECK_STR(b, "1.5");
    deliver_format_delay(3476.2, b, sizeof(b));
    CHECK_STR(b, "3476");
    deliver_format_delay(2.0, b, sizeof(b));
    CHECK_STR(b, "2");
    /* a delay no clock gives is shown as such, never as the first 31 digits of a number */
    deliver_format_delay(1e40, b, sizeof(b));
    CHECK_STR(b, "?");
    deliver_format_delay(123456789012.0, b, sizeof(b));
    CHECK_STR(b, "123456789012");
}

TEST(dsn_set_never_cuts)
{
    char dsn[DSN_MAX];
    dsn_set(dsn, sizeof(dsn), "5.1234.1234"); /* the longest well-formed status */
    CHECK_STR(dsn, "5.1234.1234");
    dsn_set(dsn, sizeof(dsn), "4.7.5");
    CHECK_STR(dsn, "4.7.5");
    dsn_set(dsn, sizeof(dsn), "5.12345.1"); /* malformed: not a cut "5.1234" */
    CHECK_STR(dsn, "4.3.0");
    dsn_set(dsn, 8, "5.1234.1234"); /* does not fit: the fallback, not "5.1234." */
    CHECK_STR(dsn, "4.3.0");
}

/* A time value is written whole however large it is (a 64-byte buffer cut it). */
TEST(request_time_values_are_not_cut)
{
    deliver_request req, got;
    deliver_request_init(&req);
    deliver_request_init(&got);
    deliver_request_set(&req.queue_name, "active");
    deliver_request_set(&req.queue_id, "9DF7520804A");
    req.arrival = 1e70;
    req.active_time = 1;
    req.request_time = 1;
    deliver_request_add_rcpt(&req, "a@x.test", NULL, NULL, 1, 0);
    strbuf out, err;
    strbuf_init(&out, 0);
    strbuf_init(&err, 0);
    deliver_request_encode(&req, &out);
    attr_record rec;
    attr_record_init(&rec);
    CHECK_INT(attr_parse(out.data, out.len - 1, &rec, &err), 0);
    CHECK_INT(deliver_request_decode(&rec, &got, &err), 0);
    CHECK(got.arrival == 1e70);
    attr_record_free(&rec);
    deliver_request_free(&req);
    deliver_request_free(&got);
    strbuf_free(&out);
    strbuf_free(&err);
}

TEST(maildir_unique_names)
{
    strbuf b;
    strbuf_init(&b, 0);
    maildir_unique_name(&b, 1700000000, 42, 1234, 7, "mx.example.test");
    CHECK_STR(b.data, "1700000000.M000042P1234Q7.mx.example.test");
    maildir_unique_name(&b, 1, 999999, 1, 1, "a/b:c");
    CHECK_STR(b.data, "1.M999999P1Q1.a\\057b\\072c");
    /* a long host name is kept whole (it was cut at 250 bytes) */
    char host[400];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    maildir_unique_name(&b, 1, 2, 3, 4, host);
    CHECK_INT(b.len, strlen("1.M000002P3Q4.") + sizeof(host) - 1);
    strbuf_free(&b);
}

TEST(mbox_quote_rule)
{
    CHECK(mail_copy_needs_quote("From me", 7));
    CHECK(mail_copy_needs_quote(">From me", 8));
    CHECK(mail_copy_needs_quote(">>From ", 7));
    CHECK(!mail_copy_needs_quote("From", 4));
    CHECK(!mail_copy_needs_quote(" From me", 8));
    CHECK(!mail_copy_needs_quote("Fromage", 7));
    CHECK(!mail_copy_needs_quote(">", 1));
}

TEST(lock_method_list)
{
    CHECK_INT(mbox_lock_methods("fcntl, dotlock"), MBOX_LOCK_FCNTL | MBOX_LOCK_DOTLOCK);
    CHECK_INT(mbox_lock_methods("flock"), MBOX_LOCK_FLOCK);
    CHECK_INT(mbox_lock_methods(""), 0);
}

TEST(expand_parse_items)
{
    local_item_list l;
    CHECK_INT(local_expand_parse("joe, \\joe, /var/mail/x, |\"/bin/cmd a\", "
                                 ":include:/etc/list, \"|cmd, with comma\", bob@example.com",
                                 &l),
              0);
    CHECK_INT(l.count, 7);
    if (l.count == 7) {
        CHECK_INT(l.items[0].type, LOCAL_ITEM_ADDRESS);
        CHECK_STR(l.items[0].text, "joe");
        CHECK_INT(l.items[1].type, LOCAL_ITEM_MAILBOX);
        CHECK_STR(l.items[1].text, "joe");
        CHECK_INT(l.items[2].type, LOCAL_ITEM_FILE);
        CHECK_STR(l.items[2].text, "/var/mail/x");
        CHECK_INT(l.items[3].type, LOCAL_ITEM_COMMAND);
        CHECK_STR(l.items[3].text, "\"/bin/cmd a\"");
        CHECK_INT(l.items[4].type, LOCAL_ITEM_INCLUDE);
        CHECK_STR(l.items[4].text, "/etc/list");
        CHECK_INT(l.items[5].type, LOCAL_ITEM_COMMAND);
        CHECK_STR(l.items[5].text, "cmd, with comma");
        CHECK_STR(l.items[6].text, "bob@example.com");
    }
    local_item_list_free(&l);
    CHECK_INT(local_expand_parse("# a comment, with commas\n  # indented comment\n"
                                 "alice\n\n/tmp/file/\n",
                                 &l),
              0);
    CHECK_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR(l.items[0].text, "alice");
        CHECK_INT(l.items[1].type, LOCAL_ITEM_FILE);
    }
    local_item_list_free(&l);
    CHECK(local_expand_parse("\"unterminated", &l) < 0);
    CHECK_INT(local_expand_parse("", &l), 0);
    CHECK_INT(l.count, 0);
    local_item_list_free(&l);
}

/* Writes a queue file with the given content lines; returns its id in id. */
static int make_queue_file(const char *lines[], char *id, size_t idlen)
{
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(tmpdir, "incoming", &err);
    if (qw == NULL) {
        fprintf(stderr, "queue_writer_create: %s\n", err.data);
        strbuf_free(&err);
        return -1;
    }
    snprintf(id, idlen, "%s", queue_writer_id(qw));
    queue_writer_sender(qw, "sender@example.com");
    queue_writer_recipient(qw, "joe@example.test", NULL, 0, NULL);
    queue_writer_content_start(qw);
    for (int i = 0; lines[i]; i++)
        queue_writer_line(qw, lines[i], strlen(lines[i]));
    int rc = queue_writer_commit(qw, &err);
    strbuf_free(&err);
    return rc;
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

TEST(mbox_and_maildir_write)
{
    const char *lines[] = {"Subject: test", "Delivered-To: other@example.test", "",
                           "From the start", ">From quoted", "body", NULL};
    char id[64];
    CHECK_INT(make_queue_file(lines, id, sizeof(id)), 0);
    deliver_request req;
    deliver_request_init(&req);
    deliver_request_set(&req.queue_name, "incoming");
    deliver_request_set(&req.queue_id, id);
    mail_source src;
    strbuf why;
    strbuf_init(&why, 0);
    CHECK_INT(mail_source_open(&src, &req, &why), 0);
    CHECK_INT(mail_copy_loop_check(&src, "joe@example.test", &why), 0);
    strbuf_reset(&why);
    CHECK_INT(mail_copy_loop_check(&src, "Other@Example.test", &why), 1);
    CHECK_STR(why.data, "mail forwarding loop for Other@Example.test");

    char path[512];
    snprintf(path, sizeof(path), "%s/mbox", tmpdir);
    char dsn[DSN_MAX] = "";
    strbuf_reset(&why);
    CHECK_INT(mbox_deliver(path, &src, "sender@example.com", "joe@example.test", 0,
                           MBOX_LOCK_FCNTL | MBOX_LOCK_DOTLOCK, dsn, &why),
              0);
    const char *text = read_file(path);
    CHECK(text != NULL && strncmp(text, "From sender@example.com  ", 25) == 0);
    const char *rest = text ? strchr(text, '\n') : NULL;
    CHECK_STR(rest ? rest + 1 : NULL,
              "Return-Path: <sender@example.com>\nDelivered-To: joe@example.test\n"
              "Subject: test\nDelivered-To: other@example.test\n\n>From the start\n"
              ">>From quoted\nbody\n\n");
    char lock[600];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    CHECK(access(lock, F_OK) != 0);

    /* mailbox_size_limit: the file is already larger than 10 bytes */
    strbuf_reset(&why);
    CHECK_INT(mbox_deliver(path, &src, "sender@example.com", NULL, 10, 0, dsn, &why), -1);
    CHECK_STR(dsn, "5.2.2");
    struct stat st1;
    CHECK(stat(path, &st1) == 0);
    strbuf_reset(&why);
    CHECK_INT(mbox_deliver(path, &src, "", NULL, st1.st_size + 20, 0, dsn, &why), -1);
    struct stat st2;
    CHECK(stat(path, &st2) == 0 && st2.st_size == st1.st_size); /* truncated back */

    snprintf(path, sizeof(path), "%s/Maildir/", tmpdir);
    strbuf_reset(&why);
    CHECK_INT(maildir_deliver(path, &src, "", "joe@example.test", 0, dsn, &why), 0);
    char newdir[600];
    snprintf(newdir, sizeof(newdir), "%snew", path);
    DIR *d = opendir(newdir);
    int files = 0;
    struct dirent *de;
    char found[1024] = "";
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') {
            files++;
            snprintf(found, sizeof(found), "%s/%s", newdir, de->d_name);
        }
    if (d)
        closedir(d);
    CHECK_INT(files, 1);
    text = files ? read_file(found) : NULL;
    CHECK_STR(text, "Return-Path: <>\nDelivered-To: joe@example.test\nSubject: test\n"
                    "Delivered-To: other@example.test\n\nFrom the start\n>From quoted\nbody\n");
    mail_source_close(&src);
    deliver_request_free(&req);
    strbuf_free(&why);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-unit-deliver-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 2;
    char cf[300];
    snprintf(cf, sizeof(cf), "%s/main.cf", tmpdir);
    FILE *fp = fopen(cf, "w");
    fprintf(fp, "queue_directory = %s\nmyhostname = mx.example.test\n", tmpdir);
    fclose(fp);
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(tmpdir, &err);
    config_set_current(cfg);
    queue_dirs_create(tmpdir, (uid_t)-1, (gid_t)-1, &err);
    strbuf_free(&err);

    RUN(attr_roundtrip_escapes);
    RUN(attr_reader_splits_records);
    RUN(attr_reader_enforces_limit);
    RUN(request_and_reply_roundtrip);
    RUN(dsn_and_delay_format);
    RUN(dsn_set_never_cuts);
    RUN(request_time_values_are_not_cut);
    RUN(maildir_unique_names);
    RUN(mbox_quote_rule);
    RUN(lock_method_list);
    RUN(expand_parse_items);
    RUN(mbox_and_maildir_write);

    config_set_current(NULL);
    config_free(cfg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    UNIT_MAIN_END("test_deliver");
}

/* test_queue_file.c: queue file round trips, done marking, corruption, ids, hashing, postcat. */
#include "cmd/postcat.h"
#include "lib/config.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "queue/queue_id.h"
#include "unit.h"
#include "unit_queue.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char qdir[300];
static config *cfg;

/* ---- helpers ---- */

typedef struct lines {
    strbuf text; /* lines joined with '\n' after each complete line */
    int pieces;  /* partial callbacks seen */
} lines;

static int collect_line(const char *data, size_t len, int partial, void *ctx)
{
    lines *l = ctx;
    strbuf_append(&l->text, data, len);
    if (partial)
        l->pieces++;
    else
        strbuf_append_char(&l->text, '\n');
    return 0;
}

static int write_bytes_fd(const char *data, size_t len)
{
    int fd = memfd_create("queue-test", 0);
    if (fd < 0)
        return -1;
    if (write(fd, data, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return fd;
}

static char *read_file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    return buf;
}

/* Writes a complete message; returns its path in path. */
static int write_sample(char *path, size_t pathlen, char *id, size_t idlen, strbuf *expect)
{
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(qdir, "incoming", &err);
    CHECK(qw != NULL);
    if (qw == NULL) {
        fprintf(stderr, "  create: %s\n", err.data);
        strbuf_free(&err);
        return -1;
    }
    snprintf(path, pathlen, "%s", queue_writer_path(qw));
    snprintf(id, idlen, "%s", queue_writer_id(qw));
    CHECK_INT(queue_writer_attr(qw, "rewrite_context", "remote"), 0);
    CHECK_INT(queue_writer_attr(qw, "log_client_name", "client.example"), 0);
    CHECK_INT(queue_writer_sender(qw, "sender@example.org"), 0);
    CHECK_INT(queue_writer_recipient(qw, "one@example.com", NULL, 0, NULL), 0);
    CHECK_INT(queue_writer_recipient(qw, "two@example.com", "Two@Example.COM",
                                     DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE,
                                     "rfc822;Two@Example.COM"),
              0);
    CHECK_INT(queue_writer_content_start(qw), 0);
    CHECK(queue_writer_attr(qw, "late", "x") < 0); /* envelope is closed */

    const char *short_lines[] = {"Subject: test", "X-8bit: caf\xc3\xa9 \xff\xfe", "", "body"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(queue_writer_line(qw, short_lines[i], strlen(short_lines[i])), 0);
        strbuf_append_str(expect, short_lines[i]);
        strbuf_append_char(expect, '\n');
    }
    char longline[10000];
    for (size_t i = 0; i < sizeof(longline); i++)
        longline[i] = (char)('a' + i % 26);
    longline[5000] = (char)0x80;
    CHECK_INT(queue_writer_line(qw, longline, sizeof(longline)), 0);
    strbuf_append(expect, longline, sizeof(longline));
    strbuf_append_char(expect, '\n');
    CHECK_INT(queue_writer_line(qw, longline, REC_DATA_LIMIT * 2), 0); /* exact multiple */
    strbuf_append(expect, longline, REC_DATA_LIMIT * 2);
    strbuf_append_char(expect, '\n');
    CHECK_INT(queue_writer_line(qw, "", 0), 0);
    strbuf_append_char(expect, '\n');
    CHECK_INT(queue_writer_content_size(qw), (long)expect->len);
    CHECK_INT(queue_writer_extracted_start(qw), 0);
    CHECK_INT(queue_writer_recipient(qw, "extracted@example.net", NULL, 0, NULL), 0);
    int rc = queue_writer_commit(qw, &err);
    CHECK_INT(rc, 0);
    if (rc)
        fprintf(stderr, "  commit: %s\n", err.data);
    strbuf_free(&err);
    return rc;
}

/* ---- tests ---- */

TEST(round_trip)
{
    char path[4096], id[QUEUE_ID_MAX];
    strbuf expect;
    strbuf_init(&expect, 0);
    if (write_sample(path, sizeof(path), id, sizeof(id), &expect) < 0) {
        strbuf_free(&expect);
        return;
    }
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0700);
    char want_suffix[32];
    snprintf(want_suffix, sizeof(want_suffix), "%llX", (unsigned long long)st.st_ino);
    CHECK_STR(id + 5, want_suffix);
    const char *base = strrchr(path, '/');
    CHECK_STR(base ? base + 1 : "", id);

    int fd = open(path, O_RDONLY);
    CHECK(queue_file_is_complete(fd));
    queue_envelope env;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    CHECK_STR(err.data, "");
    CHECK_STR(env.id, id);
    CHECK_STR(env.sender, "sender@example.org");
    CHECK_STR(queue_envelope_attr(&env, "rewrite_context"), "remote");
    CHECK_STR(queue_envelope_attr(&env, "log_client_name"), "client.example");
    CHECK(queue_envelope_attr(&env, "missing") == NULL);
    CHECK_INT(env.nrcpt, 3);
    CHECK_INT(env.rcpt_count, 3);
    CHECK_INT(env.message_size, (long)expect.len);
    CHECK(env.arrival.tv_sec > 1600000000);
    CHECK(env.create_time == env.arrival.tv_sec);
    if (env.nrcpt == 3) {
        CHECK_STR(env.rcpts[0].address, "one@example.com");
        CHECK_STR(env.rcpts[0].orig, "one@example.com");
        CHECK(env.rcpts[0].dsn_orcpt == NULL);
        CHECK_INT(env.rcpts[0].notify, 0);
        CHECK_STR(env.rcpts[1].address, "two@example.com");
        CHECK_STR(env.rcpts[1].orig, "Two@Example.COM");
        CHECK_STR(env.rcpts[1].dsn_orcpt, "rfc822;Two@Example.COM");
        CHECK_INT(env.rcpts[1].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE);
        CHECK_STR(env.rcpts[2].address, "extracted@example.net");
        for (int i = 0; i < 3; i++)
            CHECK(!env.rcpts[i].done);
    }
    lines got = {0};
    strbuf_init(&got.text, 0);
    CHECK_INT(queue_content_each(fd, &env, collect_line, &got), 0);
    CHECK_INT(got.text.len, expect.len);
    CHECK(got.text.len == expect.len && memcmp(got.text.data, expect.data, expect.len) == 0);
    CHECK_INT(got.pieces, 2 + 1); /* 10000 -> L L N; 8192 -> L N */
    strbuf_free(&got.text);
    queue_envelope_free(&env);
    close(fd);
    strbuf_free(&err);
    strbuf_free(&expect);
    unlink(path);
}

static int stop_after_first(const char *data, size_t len, int partial, void *ctx)
{
    (void)data;
    (void)len;
    (void)partial;
    (*(int *)ctx)++;
    return 7;
}

TEST(mark_done_and_callback_stop)
{
    char path[4096], id[QUEUE_ID_MAX];
    strbuf expect, err;
    strbuf_init(&expect, 0);
    strbuf_init(&err, 0);
    if (write_sample(path, sizeof(path), id, sizeof(id), &expect) < 0)
        goto out;
    int fd = open(path, O_RDWR);
    queue_envelope env;
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    if (env.nrcpt == 3) {
        CHECK_INT(queue_file_mark_done(fd, env.rcpts[1].offset), 0);
        CHECK_INT(queue_file_mark_done(fd, env.rcpts[2].offset), 0);
        CHECK_INT(queue_file_mark_done(fd, env.rcpts[2].offset), 0); /* idempotent */
        CHECK(queue_file_mark_done(fd, env.content_offset) < 0);     /* not a recipient */
    }
    int calls = 0;
    CHECK_INT(queue_content_each(fd, &env, stop_after_first, &calls), 7);
    CHECK_INT(calls, 1);
    queue_envelope_free(&env);
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    CHECK_INT(env.nrcpt, 3);
    if (env.nrcpt == 3) {
        CHECK(!env.rcpts[0].done);
        CHECK(env.rcpts[1].done);
        CHECK(env.rcpts[2].done);
        CHECK_STR(env.rcpts[1].address, "two@example.com");
    }
    queue_envelope_free(&env);
    /* postcat shows done recipients as Postfix does */
    char *buf = NULL;
    size_t buflen = 0;
    FILE *out = open_memstream(&buf, &buflen);
    CHECK_INT(postcat_format(fd, "incoming/X", POSTCAT_ENV, out), 0);
    fclose(out);
    CHECK(strstr(buf, "\nrecipient: one@example.com\n") != NULL);
    CHECK(strstr(buf, "\ndone_recipient: two@example.com\n") != NULL);
    CHECK(strstr(buf, "\ndone_recipient: extracted@example.net\n") != NULL);
    free(buf);
    close(fd);
    unlink(path);
out:
    strbuf_free(&expect);
    strbuf_free(&err);
}

static int envelope_rejects(const char *data, size_t len, const char *reason)
{
    int fd = write_bytes_fd(data, len);
    if (fd < 0)
        return 0;
    queue_envelope env;
    strbuf err;
    strbuf_init(&err, 0);
    int rc = queue_envelope_read(fd, &env, &err);
    int ok = rc < 0 && err.len > 0 && (reason == NULL || strstr(err.data, reason) != NULL);
    if (!ok)
        fprintf(stderr, "  rc=%d err=\"%s\" want \"%s\"\n", rc, err.data, reason ? reason : "*");
    if (rc == 0)
        queue_envelope_free(&env);
    strbuf_free(&err);
    close(fd);
    return ok;
}

TEST(truncated_and_corrupted_files_are_rejected)
{
    char path[4096], id[QUEUE_ID_MAX];
    strbuf expect;
    strbuf_init(&expect, 0);
    if (write_sample(path, sizeof(path), id, sizeof(id), &expect) < 0) {
        strbuf_free(&expect);
        return;
    }
    size_t len;
    char *bytes = read_file_bytes(path, &len);
    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;
    /* Every proper prefix fails. */
    int all_rejected = 1;
    for (size_t cut = 0; cut < len; cut += (cut < 200 || len - cut < 200) ? 1 : 97)
        if (!envelope_rejects(bytes, cut, NULL))
            all_rejected = 0;
    CHECK(all_rejected);
    CHECK(envelope_rejects(bytes, 0, "empty file"));
    CHECK(envelope_rejects(bytes, len - 1, "truncated"));

    char *copy = malloc(len + 16);
    /* data after the end record */
    memcpy(copy, bytes, len);
    memcpy(copy + len, "E\0", 2);
    CHECK(envelope_rejects(copy, len + 2, "after the end"));
    /* unknown record type in the envelope: the T record follows the 65-byte size record */
    memcpy(copy, bytes, len);
    CHECK(copy[65] == REC_TIME);
    copy[65] = 'Z';
    CHECK(envelope_rejects(copy, len, "unknown record type"));
    /* size record with garbage */
    memcpy(copy, bytes, len);
    copy[5] = 'x';
    CHECK(envelope_rejects(copy, len, "bad size record"));
    /* recipient count that does not match */
    memcpy(copy, bytes, len);
    CHECK(copy[2 + 46] == '3' && copy[2 + 45] == ' ');
    copy[2 + 45] = '9';
    CHECK(envelope_rejects(copy, len, "recipient count"));
    /* a record length beyond the envelope limit */
    const char huge[] = {'C', (char)0xff, (char)0xff, (char)0xff, 0x0f};
    CHECK(envelope_rejects(huge, sizeof(huge), "too long"));
    const char endless[] = {'C',        (char)0x80, (char)0x80, (char)0x80,
                            (char)0x80, (char)0x80, (char)0x80, 0x01};
    CHECK(envelope_rejects(endless, sizeof(endless), NULL));
    /* a file that does not start with a size record */
    CHECK(envelope_rejects("S\003abc", 5, "size record"));

    /* content that no longer matches the size record is refused by queue_content_each */
    memcpy(copy, bytes, len);
    int fd = write_bytes_fd(copy, len);
    queue_envelope env;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    env.message_size += 1;
    lines got = {0};
    strbuf_init(&got.text, 0);
    CHECK_INT(queue_content_each(fd, &env, collect_line, &got), -1);
    strbuf_free(&got.text);
    queue_envelope_free(&env);
    close(fd);
    strbuf_free(&err);
    free(copy);
    free(bytes);
    strbuf_free(&expect);
    unlink(path);
}

TEST(incomplete_file_is_not_complete)
{
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(qdir, "incoming", &err);
    CHECK(qw != NULL);
    if (qw == NULL)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s", queue_writer_path(qw));
    queue_writer_sender(qw, "a@b");
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(!queue_file_is_complete(fd));
    close(fd);
    queue_writer_abort(qw);
    CHECK(access(path, F_OK) != 0);
    strbuf_free(&err);
}

TEST(queue_id_format_and_validity)
{
    char buf[QUEUE_ID_MAX];
    CHECK_INT(queue_id_format(buf, sizeof(buf), 0x9DF75, 0x20804AULL), 0);
    CHECK_STR(buf, "9DF7520804A");
    CHECK_INT(queue_id_format(buf, sizeof(buf), 5, 0xabcULL), 0);
    CHECK_STR(buf, "00005ABC");
    CHECK(queue_id_format(buf, sizeof(buf), 1048576, 1) < 0);
    CHECK(queue_id_format(buf, 4, 5, 0xabcULL) < 0);
    CHECK(queue_id_valid("9DF7520804A"));
    CHECK(queue_id_valid("4Kh0Yb2vZzz1Ab")); /* long form */
    CHECK(!queue_id_valid(""));
    CHECK(!queue_id_valid("../etc"));
    CHECK(!queue_id_valid("a.b"));
    CHECK(!queue_id_valid("a/b"));
    CHECK(!queue_id_valid("0123456789012345678901234567890123456789"));
    /* Two files written back to back get different ids. */
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *a = queue_writer_create(qdir, "incoming", &err);
    queue_writer *b = queue_writer_create(qdir, "incoming", &err);
    CHECK(a && b);
    if (a && b)
        CHECK(strcmp(queue_writer_id(a), queue_writer_id(b)) != 0);
    queue_writer_abort(a);
    queue_writer_abort(b);
    strbuf_free(&err);
}

TEST(hashed_paths_and_moves)
{
    char path[4096], want[4096];
    CHECK_INT(queue_path(path, sizeof(path), qdir, "deferred", "9DF7520804A", 0), 0);
    snprintf(want, sizeof(want), "%s/deferred/9/9DF7520804A", qdir);
    CHECK_STR(path, want);
    CHECK_INT(queue_path(path, sizeof(path), qdir, "incoming", "9DF7520804A", 0), 0);
    snprintf(want, sizeof(want), "%s/incoming/9DF7520804A", qdir);
    CHECK_STR(path, want);
    CHECK(queue_path(path, 10, qdir, "incoming", "9DF7520804A", 0) < 0);
    CHECK(queue_path(path, sizeof(path), qdir, "incoming", "../x", 0) < 0);

    config_override(cfg, "hash_queue_depth", "2");
    config_override(cfg, "hash_queue_names", "deferred,hold");
    CHECK_INT(queue_path(path, sizeof(path), qdir, "hold", "9DF7520804A", 1), 0);
    snprintf(want, sizeof(want), "%s/hold/9/D/9DF7520804A", qdir);
    CHECK_STR(path, want);
    snprintf(want, sizeof(want), "%s/hold/9/D", qdir);
    struct stat st;
    CHECK_INT(stat(want, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    config_override(cfg, "hash_queue_depth", "1");
    config_override(cfg, "hash_queue_names", "deferred, defer");

    /* move a real file incoming -> deferred (hashed) -> active */
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(qdir, "incoming", &err);
    CHECK(qw != NULL);
    if (qw == NULL)
        return;
    char id[QUEUE_ID_MAX];
    snprintf(id, sizeof(id), "%s", queue_writer_id(qw));
    queue_writer_sender(qw, "");
    queue_writer_recipient(qw, "r@x", NULL, 0, NULL);
    CHECK_INT(queue_writer_commit(qw, &err), 0);
    CHECK_INT(queue_move(qdir, id, "incoming", "deferred", &err), 0);
    snprintf(want, sizeof(want), "%s/deferred/%c/%s", qdir, id[0], id);
    CHECK_INT(access(want, F_OK), 0);
    CHECK(queue_move(qdir, id, "incoming", "active", &err) < 0);
    CHECK(strstr(err.data, "rename") != NULL);
    CHECK_INT(queue_move(qdir, id, "deferred", "active", &err), 0);
    snprintf(want, sizeof(want), "%s/active/%s", qdir, id);
    CHECK_INT(access(want, F_OK), 0);
    unlink(want);
    strbuf_free(&err);
}

TEST(queue_dirs_exist_with_modes)
{
    char path[4096];
    struct stat st;
    for (size_t i = 0; queue_names[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", qdir, queue_names[i]);
        CHECK_INT(stat(path, &st), 0);
    }
    snprintf(path, sizeof(path), "%s/maildrop", qdir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0730);
    snprintf(path, sizeof(path), "%s/public", qdir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0710);
    snprintf(path, sizeof(path), "%s/active", qdir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0700);
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(queue_dirs_create(qdir, (uid_t)-1, (gid_t)-1, &err), 0); /* idempotent */
    strbuf_free(&err);
}

/* ---- postcat on a hand-built file with fixed times ---- */

static void put_record(strbuf *sb, int type, const char *data, size_t len)
{
    strbuf_append_char(sb, (char)type);
    size_t rest = len;
    do {
        unsigned char group = rest & 0x7f;
        rest >>= 7;
        strbuf_append_char(sb, (char)(rest ? group | 0x80 : group));
    } while (rest);
    strbuf_append(sb, data, len);
}

static void put_str(strbuf *sb, int type, const char *text)
{
    put_record(sb, type, text, strlen(text));
}

static int golden_fd(void)
{
    strbuf sb;
    strbuf_init(&sb, 0);
    char size[64];
    snprintf(size, sizeof(size), "%15ld %15ld %15ld %15ld", 3726L, 589L, 1L, 0L);
    put_str(&sb, REC_SIZE, size);
    put_str(&sb, REC_TIME, "1234782401 123456");
    put_str(&sb, REC_CREATE, "1234782401");
    put_str(&sb, REC_ATTR, "rewrite_context=local");
    put_str(&sb, REC_SENDER, "");
    put_str(&sb, REC_DSN_ORCPT, "rfc822;www-data@hydra.udag.de");
    put_str(&sb, REC_DSN_NOTIFY, "4");
    put_str(&sb, REC_ORCPT, "www-data@hydra.udag.de");
    put_str(&sb, REC_RCPT, "www-data@hydra.udag.de");
    put_str(&sb, REC_ORCPT, "done@example.org");
    put_str(&sb, REC_DONE, "done@example.org");
    put_str(&sb, REC_MESSAGE, "            999");
    put_str(&sb, REC_NORM, "Received: from localhost");
    put_str(&sb, REC_NORM, "\tby mx.example.org");
    put_str(&sb, REC_CONT, "Subject: long ");
    put_str(&sb, REC_NORM, "subject");
    put_str(&sb, REC_NORM, "");
    put_str(&sb, REC_NORM, "Body: not a header");
    put_str(&sb, REC_CONT, "tail without end");
    put_str(&sb, REC_XTRA, "");
    put_str(&sb, REC_ORCPT, "x@example.net");
    put_str(&sb, REC_RCPT, "x@example.net");
    put_str(&sb, REC_END, "");
    int fd = write_bytes_fd(sb.data, sb.len);
    strbuf_free(&sb);
    return fd;
}

static char *postcat_text(int flags)
{
    int fd = golden_fd();
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CHECK_INT(postcat_format(fd, "deferred/9/9DF7520804A", flags, out), 0);
    fclose(out);
    close(fd);
    return buf;
}

TEST(postcat_golden_output)
{
    char *all = postcat_text(0);
    CHECK_STR(all, "*** ENVELOPE RECORDS deferred/9/9DF7520804A ***\n"
                   /* the size record verbatim, fixed-width fields, as Postfix prints it */
                   "message_size:            3726             589               1               0\n"
                   "message_arrival_time: Mon Feb 16 11:06:41 2009\n"
                   "create_time: Mon Feb 16 11:06:41 2009\n"
                   "named_attribute: rewrite_context=local\n"
                   "sender: \n"
                   "named_attribute: dsn_orig_rcpt=rfc822;www-data@hydra.udag.de\n"
                   "named_attribute: notify_flags=4\n"
                   "original_recipient: www-data@hydra.udag.de\n"
                   "recipient: www-data@hydra.udag.de\n"
                   "original_recipient: done@example.org\n"
                   "done_recipient: done@example.org\n"
                   "*** MESSAGE CONTENTS deferred/9/9DF7520804A ***\n"
                   "Received: from localhost\n"
                   "\tby mx.example.org\n"
                   "Subject: long subject\n"
                   "\n"
                   "Body: not a header\n"
                   "tail without end\n"
                   "*** HEADER EXTRACTED deferred/9/9DF7520804A ***\n"
                   "original_recipient: x@example.net\n"
                   "recipient: x@example.net\n"
                   "*** MESSAGE FILE END deferred/9/9DF7520804A ***\n");
    free(all);
    char *headers = postcat_text(POSTCAT_HEADER);
    CHECK_STR(headers, "Received: from localhost\n\tby mx.example.org\nSubject: long subject\n");
    free(headers);
    char *body = postcat_text(POSTCAT_BODY);
    CHECK_STR(body, "\nBody: not a header\ntail without end\n");
    free(body);
    char *env = postcat_text(POSTCAT_ENV);
    static const char env_start[] = "*** ENVELOPE RECORDS deferred/9/9DF7520804A ***\n"
                                    "message_size:            3726";
    CHECK(strncmp(env, env_start, sizeof(env_start) - 1) == 0);
    CHECK(strstr(env, "Received:") == NULL);
    CHECK(strstr(env, "*** MESSAGE CONTENTS deferred/9/9DF7520804A ***\n*** HEADER EXTRACTED") !=
          NULL);
    CHECK(strstr(env, "*** MESSAGE FILE END") != NULL);
    free(env);
    char *offsets = postcat_text(POSTCAT_ENV | POSTCAT_OFFSET);
    CHECK(strstr(offsets, "        0 message_size:            3726             589               1"
                          "               0\n") != NULL);
    CHECK(strstr(offsets, "       65 message_arrival_time: ") != NULL);
    free(offsets);
}

TEST(postcat_rejects_non_queue_files)
{
    int fd = write_bytes_fd("From: x\n", 8);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CHECK_INT(postcat_format(fd, "f", 0, out), 1);
    fclose(out);
    CHECK_STR(buf, "");
    free(buf);
    close(fd);
    /* a malformed record after a good start is an error */
    fd = write_bytes_fd("S\003abcR\077", 6);
    out = open_memstream(&buf, &len);
    CHECK_INT(postcat_format(fd, "f", 0, out), -1);
    fclose(out);
    CHECK(strstr(buf, "sender: abc\n") != NULL);
    free(buf);
    close(fd);
}

/* The one parent-directory helper (queue files, queue moves, postsuper) refuses instead of
 * falling back to "." when the directory does not fit. */
TEST(parent_dir_refuses_instead_of_guessing)
{
    char out[8];
    CHECK_INT(queue_parent_dir("/a/b/c", out, sizeof(out)), 0);
    CHECK_STR(out, "/a/b");
    CHECK_INT(queue_parent_dir("name", out, sizeof(out)), 0);
    CHECK_STR(out, ".");
    CHECK_INT(queue_parent_dir("/name", out, sizeof(out)), 0);
    CHECK_STR(out, "/");
    CHECK_INT(queue_parent_dir("/abcdefgh/x", out, sizeof(out)), -1);
    CHECK_STR(out, "");
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-test-queue-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    cfg = config_defaults(tmpdir);
    config_override(cfg, "queue_directory", qdir);
    config_set_current(cfg);
    if (unit_queue_dirs(qdir) < 0)
        return 1;
    RUN(queue_dirs_exist_with_modes);
    RUN(round_trip);
    RUN(mark_done_and_callback_stop);
    RUN(truncated_and_corrupted_files_are_rejected);
    RUN(incomplete_file_is_not_complete);
    RUN(queue_id_format_and_validity);
    RUN(hashed_paths_and_moves);
    RUN(postcat_golden_output);
    RUN(postcat_rejects_non_queue_files);
    RUN(parent_dir_refuses_instead_of_guessing);
    config_set_current(NULL);
    config_free(cfg);
    unit_remove_tree(tmpdir);
    UNIT_MAIN_END("test_queue_file");
}

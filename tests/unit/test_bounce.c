/* test_bounce.c: delivery status notifications: who is told, and what the report looks like.
 *
 * Each test writes an "original" queue file with the queue writer into a temporary queue, calls
 * bounce_notify() on it and reads the notification back from incoming/. The first failure
 * notice is also written as a plain message file ($POSTERN_DSN_SAMPLE, else
 * build/check/dsn-sample.eml when that directory exists) for tests/e2e/dsn_check.py. */
#include "bounce/bounce.h"
#include "global/mail_date.h"
#include "lib/config.h"
#include "lib/log.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "unit.h"
#include "unit_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char qdir[300];
static char maillog[300];
static config *cfg;

typedef struct original {
    int fd;
    queue_envelope env;
} original;

typedef struct rcpt_spec {
    const char *address;
    int notify;
    const char *orcpt;
} rcpt_spec;

/* Writes an original message into active/ and opens it. */
static int original_write(original *o, const char *sender, const rcpt_spec *rcpts, size_t n,
                          const char *const *attrs, const char *const *lines)
{
    memset(o, 0, sizeof(*o));
    o->fd = -1;
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(qdir, "active", &err);
    if (qw == NULL) {
        fprintf(stderr, "  queue_writer_create: %s\n", err.data);
        strbuf_free(&err);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s", queue_writer_path(qw));
    for (size_t i = 0; attrs && attrs[i]; i += 2)
        queue_writer_attr(qw, attrs[i], attrs[i + 1]);
    queue_writer_sender(qw, sender);
    for (size_t i = 0; i < n; i++)
        queue_writer_recipient(qw, rcpts[i].address, rcpts[i].address, rcpts[i].notify,
                               rcpts[i].orcpt);
    queue_writer_content_start(qw);
    for (size_t i = 0; lines[i]; i++)
        queue_writer_line(qw, lines[i], strlen(lines[i]));
    int rc = queue_writer_commit(qw, &err);
    if (rc == 0) {
        o->fd = open(path, O_RDWR);
        rc = o->fd >= 0 ? queue_envelope_read(o->fd, &o->env, &err) : -1;
    }
    if (rc < 0)
        fprintf(stderr, "  original: %s\n", err.data ? err.data : "open failed");
    strbuf_free(&err);
    return rc;
}

static void original_free(original *o)
{
    queue_envelope_free(&o->env);
    if (o->fd >= 0)
        close(o->fd);
}

typedef struct notification {
    queue_envelope env;
    strbuf content;
    int ok;
} notification;

static int collect(const char *data, size_t len, int partial, void *ctx)
{
    strbuf *sb = ctx;
    strbuf_append(sb, data, len);
    if (!partial)
        strbuf_append_char(sb, '\n');
    return 0;
}

/* Reads incoming/ID and removes it. */
static void notification_read(notification *n, const char *id)
{
    memset(n, 0, sizeof(*n));
    strbuf_init(&n->content, 0);
    char path[4096];
    queue_path(path, sizeof(path), qdir, "incoming", id, 0);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK(queue_file_is_complete(fd));
    n->ok = queue_envelope_read(fd, &n->env, &err) == 0 &&
            queue_content_each(fd, &n->env, collect, &n->content) == 0;
    CHECK(n->ok);
    strbuf_free(&err);
    close(fd);
    unlink(path);
}

static void notification_free(notification *n)
{
    if (n->ok)
        queue_envelope_free(&n->env);
    strbuf_free(&n->content);
}

static size_t files_in(const char *queue)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", qdir, queue);
    DIR *d = opendir(path);
    size_t n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Ids of the files in incoming/, up to max. */
static size_t incoming_ids(char ids[][QUEUE_ID_MAX], size_t max)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/incoming", qdir);
    DIR *d = opendir(path);
    size_t n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;)
        if (e->d_name[0] != '.' && strlen(e->d_name) < QUEUE_ID_MAX) {
            memcpy(ids[n], e->d_name, strlen(e->d_name) + 1);
            n++;
        }
    closedir(d);
    return n;
}

static char *read_maillog(void)
{
    static char buf[1 << 20];
    buf[0] = '\0';
    FILE *fp = fopen(maillog, "r");
    if (fp) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
    }
    return buf;
}

static int has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            return 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return 0;
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, plen) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

static size_t longest_line(const char *text)
{
    size_t longest = 0;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > longest)
            longest = len;
        p = nl ? nl + 1 : NULL;
    }
    return longest;
}

/* The boundary from the Content-Type: continuation line. */
static void boundary_of(const char *text, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *b = strstr(text, "\tboundary=\"");
    if (b == NULL)
        return;
    b += strlen("\tboundary=\"");
    const char *end = strchr(b, '"');
    if (end && (size_t)(end - b) < len) {
        memcpy(buf, b, (size_t)(end - b));
        buf[end - b] = '\0';
    }
}

static void save_sample(const char *text)
{
    const char *path = getenv("POSTERN_DSN_SAMPLE");
    struct stat st;
    if (path == NULL || path[0] == '\0') {
        if (stat("build/check", &st) != 0 || !S_ISDIR(st.st_mode))
            return;
        path = "build/check/dsn-sample.eml";
    }
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return;
    fputs(text, fp);
    fclose(fp);
}

static const char *const plain_message[] = {"From: Sender <sender@example.org>",
                                            "To: bad@example.net",
                                            "Subject: hello there",
                                            "Message-ID: <m1@example.org>",
                                            "",
                                            "first body line",
                                            "second body line",
                                            NULL};

static const bounce_rcpt bad_rcpt = {
    "bad@example.net",
    "bad@example.net",
    NULL,
    "5.1.1",
    "failed",
    "smtp; 550 5.1.1 <bad@example.net>: Recipient address rejected: User unknown",
    "dns; mx.example.net",
    1700000000};

/* Runs bounce_notify and returns the number of new files in incoming/. */
static size_t notify(original *o, bounce_kind kind, const bounce_rcpt *rcpts, size_t n,
                     char *new_id, int *rc)
{
    size_t before = files_in("incoming");
    strbuf err;
    strbuf_init(&err, 0);
    *rc = bounce_notify(o->fd, &o->env, kind, rcpts, n, new_id, QUEUE_ID_MAX, &err);
    if (*rc != 0)
        fprintf(stderr, "  bounce_notify: %s\n", err.data ? err.data : "?");
    strbuf_free(&err);
    return files_in("incoming") - before;
}

TEST(failure_notice_goes_to_sender_with_null_sender_and_full_report)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, plain_message), 0);
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    CHECK_INT(rc, 0);
    CHECK(id[0] != '\0');
    notification n;
    notification_read(&n, id);
    CHECK_STR(n.env.sender, "");
    CHECK_INT(n.env.nrcpt, 1);
    if (n.env.nrcpt == 1)
        CHECK_STR(n.env.rcpts[0].address, "sender@example.org");
    const char *t = n.content.data ? n.content.data : "";
    save_sample(t);
    CHECK(
        has_line(t, "From: MAILER-DAEMON (Mail Delivery System) <MAILER-DAEMON@mx.example.test>"));
    CHECK(has_line(t, "Subject: Undelivered Mail Returned to Sender"));
    CHECK(has_line(t, "To: <sender@example.org>"));
    CHECK(has_line(t, "Auto-Submitted: auto-replied"));
    CHECK(has_line(t, "MIME-Version: 1.0"));
    CHECK(has_line(t, "Content-Type: multipart/report; report-type=delivery-status;"));
    CHECK_INT(count_lines_starting(t, "Message-ID: <"), 2); /* ours, and the original's */
    CHECK_INT(count_lines_starting(t, "Date: "), 1);
    char boundary[128], line[200];
    boundary_of(t, boundary, sizeof(boundary));
    CHECK(boundary[0] != '\0');
    CHECK(strlen(boundary) <= 70);
    snprintf(line, sizeof(line), "--%s", boundary);
    CHECK_INT(count_lines_starting(t, line), 4); /* three parts and the closing delimiter */
    snprintf(line, sizeof(line), "--%s--", boundary);
    CHECK(has_line(t, line));
    /* the three parts, in order */
    const char *text_part = strstr(t, "Content-Type: text/plain; charset=us-ascii\n");
    const char *dsn_part = strstr(t, "Content-Type: message/delivery-status\n");
    const char *orig_part = strstr(t, "Content-Type: message/rfc822\n");
    CHECK(text_part && dsn_part && orig_part && text_part < dsn_part && dsn_part < orig_part);
    CHECK(strstr(t, "<bad@example.net>: host mx.example.net said: 550 5.1.1") != NULL);
    CHECK(has_line(t, "Reporting-MTA: dns; mx.example.test"));
    snprintf(line, sizeof(line), "X-Postern-Queue-ID: %s", o.env.id);
    CHECK(has_line(t, line));
    CHECK(has_line(t, "X-Postern-Sender: rfc822; sender@example.org"));
    CHECK(has_line(t, "Arrival-Date: ") == 0); /* has a value */
    CHECK_INT(count_lines_starting(t, "Arrival-Date: "), 1);
    CHECK(has_line(t, "Final-Recipient: rfc822; bad@example.net"));
    CHECK(has_line(t, "Original-Recipient: rfc822; bad@example.net"));
    CHECK(has_line(t, "Action: failed"));
    CHECK(has_line(t, "Status: 5.1.1"));
    CHECK(has_line(t, "Remote-MTA: dns; mx.example.net"));
    CHECK(strstr(t, "\nDiagnostic-Code: smtp; 550 5.1.1 <bad@example.net>: Recipient address\n"
                    "    rejected: User unknown\n") != NULL);
    CHECK(has_line(t, "Last-Attempt-Date: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)"));
    CHECK_INT(count_lines_starting(t, "Will-Retry-Until:"), 0);
    CHECK_INT(count_lines_starting(t, "Original-Envelope-Id:"), 0);
    /* the original, whole, after a Return-Path: */
    CHECK(strstr(t, "Content-Transfer-Encoding: 8bit\n\nReturn-Path: <sender@example.org>\n"
                    "From: Sender <sender@example.org>\n") != NULL);
    CHECK(strstr(t, "\nsecond body line\n\n--") != NULL);
    CHECK(longest_line(t) <= 78);
    char want[200];
    snprintf(want, sizeof(want), "%s: sender non-delivery notification: %s", o.env.id, id);
    CHECK(strstr(read_maillog(), want) != NULL);
    notification_free(&n);
    original_free(&o);
}

TEST(notify_never_sends_nothing_and_mixed_notify_lists_only_the_wanted)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", DSN_NOTIFY_NEVER, NULL},
                               {"other@example.net", DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 2, NULL, plain_message), 0);
    char id[QUEUE_ID_MAX] = "x";
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 0);
    CHECK_INT(rc, 0);
    CHECK_STR(id, "");
    bounce_rcpt two[2] = {bad_rcpt, bad_rcpt};
    two[1].address = two[1].orig = "other@example.net";
    two[1].diagnostic = "mailbox full"; /* no type: reported as X-Postern */
    two[1].remote_mta = NULL;
    two[1].status = "5.2.2";
    CHECK_INT(notify(&o, BOUNCE_FAILURE, two, 2, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK_INT(count_lines_starting(t, "Final-Recipient:"), 1);
    CHECK(has_line(t, "Final-Recipient: rfc822; other@example.net"));
    CHECK(has_line(t, "Diagnostic-Code: X-Postern; mailbox full"));
    CHECK(has_line(t, "<other@example.net>: mailbox full"));
    CHECK(strstr(t, "bad@example.net>:") == NULL);
    notification_free(&n);
    original_free(&o);
}

TEST(ret_hdrs_returns_headers_only)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, "rfc822;Bad@Example.NET"}};
    const char *attrs[] = {"dsn_ret", "2", "envelope_id", "ENV-42", NULL};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, attrs, plain_message), 0);
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Content-Type: text/rfc822-headers"));
    CHECK(has_line(t, "Content-Description: Undelivered Message Headers"));
    CHECK_INT(count_lines_starting(t, "Content-Type: message/rfc822"), 0);
    CHECK(has_line(t, "Subject: hello there"));
    CHECK(strstr(t, "first body line") == NULL);
    CHECK(has_line(t, "Original-Envelope-Id: ENV-42"));
    CHECK(has_line(t, "Original-Recipient: rfc822;Bad@Example.NET"));
    notification_free(&n);
    original_free(&o);
}

TEST(message_over_bounce_size_limit_comes_back_as_headers)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *lines[] = {"Subject: big", "", big, big, "last line", NULL};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, lines), 0);
    config_override(cfg, "bounce_size_limit", "3000");
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Content-Type: text/rfc822-headers"));
    CHECK(has_line(t, "Subject: big"));
    CHECK(strstr(t, "xxxxxxxxxx") == NULL);
    notification_free(&n);
    /* under the limit: whole */
    config_override(cfg, "bounce_size_limit", "50000");
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    notification_read(&n, id);
    t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Content-Type: message/rfc822"));
    CHECK(has_line(t, big));
    CHECK(has_line(t, "last line"));
    notification_free(&n);
    original_free(&o);
}

TEST(notification_over_message_size_limit_falls_back_to_headers)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    char big[2000];
    memset(big, 'w', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *lines[] = {"Subject: too big to return", "", big, big, NULL};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, lines), 0);
    config_override(cfg, "bounce_size_limit", "0");
    config_override(cfg, "message_size_limit", "4000");
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    CHECK_INT(rc, 0);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Content-Type: text/rfc822-headers"));
    CHECK(has_line(t, "Subject: too big to return"));
    CHECK(strstr(t, "wwwwwwwwww") == NULL);
    notification_free(&n);
    config_override(cfg, "bounce_size_limit", "50000");
    config_override(cfg, "message_size_limit", "10240000");
    original_free(&o);
}

TEST(long_content_lines_are_returned_joined)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    static char huge[10000];
    memset(huge, 'y', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    const char *lines[] = {"Subject: long", "", huge, "after", NULL};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, lines), 0);
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    CHECK(has_line(n.content.data ? n.content.data : "", huge));
    notification_free(&n);
    original_free(&o);
}

TEST(null_sender_failure_is_a_double_bounce_to_postmaster_when_configured)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    CHECK_INT(original_write(&o, "", rcpts, 1, NULL, plain_message), 0);
    char id[QUEUE_ID_MAX] = "x";
    int rc;
    /* Postfix's default notify_classes (resource, software): discarded */
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 0);
    CHECK_INT(rc, 0);
    CHECK_STR(id, "");
    config_override(cfg, "notify_classes", "resource, software, 2bounce");
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    CHECK_INT(rc, 0);
    notification n;
    notification_read(&n, id);
    CHECK_STR(n.env.sender, "double-bounce@mx.example.test");
    if (n.env.nrcpt == 1)
        CHECK_STR(n.env.rcpts[0].address, "postmaster@mx.example.test");
    const char *t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Subject: Postmaster Copy: Undelivered Mail"));
    CHECK(has_line(t, "Auto-Submitted: auto-generated"));
    CHECK(has_line(t, "Final-Recipient: rfc822; bad@example.net"));
    CHECK_INT(count_lines_starting(t, "X-Postern-Sender:"), 0);
    char want[200];
    snprintf(want, sizeof(want), "%s: postmaster non-delivery notification: %s", o.env.id, id);
    CHECK(strstr(read_maillog(), want) != NULL);
    notification_free(&n);
    config_override(cfg, "notify_classes", "resource, software");
    original_free(&o);
}

TEST(failed_double_bounce_is_discarded)
{
    original o;
    const rcpt_spec rcpts[] = {{"postmaster@mx.example.test", 0, NULL}};
    CHECK_INT(original_write(&o, "double-bounce@mx.example.test", rcpts, 1, NULL, plain_message),
              0);
    config_override(cfg, "notify_classes", "bounce, 2bounce, delay");
    bounce_rcpt r = bad_rcpt;
    r.address = r.orig = "postmaster@mx.example.test";
    char id[QUEUE_ID_MAX] = "x";
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &r, 1, id, &rc), 0);
    CHECK_INT(rc, 0);
    CHECK_STR(id, "");
    char want[200];
    snprintf(want, sizeof(want), "%s: undeliverable postmaster notification discarded", o.env.id);
    CHECK(strstr(read_maillog(), want) != NULL);
    config_override(cfg, "notify_classes", "resource, software");
    original_free(&o);
}

TEST(notify_classes_bounce_sends_postmaster_a_copy_with_headers)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, plain_message), 0);
    config_override(cfg, "notify_classes", "bounce");
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 2);
    char ids[4][QUEUE_ID_MAX];
    size_t nids = incoming_ids(ids, 4);
    CHECK_INT(nids, 2);
    int saw_sender = 0, saw_postmaster = 0;
    for (size_t i = 0; i < nids; i++) {
        notification n;
        notification_read(&n, ids[i]);
        const char *t = n.content.data ? n.content.data : "";
        if (n.env.nrcpt == 1 && strcmp(n.env.rcpts[0].address, "sender@example.org") == 0) {
            saw_sender = strcmp(ids[i], id) == 0 && strcmp(n.env.sender, "") == 0;
        } else if (n.env.nrcpt == 1 &&
                   strcmp(n.env.rcpts[0].address, "postmaster@mx.example.test") == 0) {
            saw_postmaster = strcmp(n.env.sender, "double-bounce@mx.example.test") == 0 &&
                             has_line(t, "Content-Type: text/rfc822-headers") &&
                             strstr(t, "first body line") == NULL;
        }
        notification_free(&n);
    }
    CHECK(saw_sender);
    CHECK(saw_postmaster);
    config_override(cfg, "notify_classes", "resource, software");
    original_free(&o);
}

TEST(delay_notice_has_retry_until_and_headers_only)
{
    original o;
    const rcpt_spec rcpts[] = {{"slow@example.net", 0, NULL},
                               {"quiet@example.net", DSN_NOTIFY_FAILURE, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 2, NULL, plain_message), 0);
    bounce_rcpt r[2] = {
        {"slow@example.net", NULL, NULL, "4.4.1", "delayed",
         "X-Postfix; connect to mx.example.net[192.0.2.1]:25: Connection refused", NULL, 0},
        {"quiet@example.net", NULL, NULL, "4.4.1", "delayed", "X-Postfix; refused", NULL, 0}};
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_DELAY, r, 2, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Subject: Delayed Mail (still being retried)"));
    CHECK(has_line(t, "Action: delayed"));
    CHECK(has_line(t, "Status: 4.4.1"));
    CHECK_INT(count_lines_starting(t, "Final-Recipient:"), 1);
    CHECK_INT(count_lines_starting(t, "Will-Retry-Until: "), 1);
    CHECK(strstr(t, "Diagnostic-Code: X-Postfix; connect to mx.example.net[192.0.2.1]:25:") !=
          NULL);
    CHECK(has_line(t, "Content-Type: text/rfc822-headers"));
    CHECK(strstr(t, "first body line") == NULL);
    char want[200];
    snprintf(want, sizeof(want), "%s: sender delay notification: %s", o.env.id, id);
    CHECK(strstr(read_maillog(), want) != NULL);
    notification_free(&n);
    /* only NOTIFY=FAILURE: no delay notice */
    CHECK_INT(notify(&o, BOUNCE_DELAY, &r[1], 1, id, &rc), 0);
    CHECK_STR(id, "");
    original_free(&o);
}

TEST(success_notice_only_for_notify_success)
{
    original o;
    const rcpt_spec rcpts[] = {{"good@example.net", DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE, NULL},
                               {"plain@example.net", 0, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 2, NULL, plain_message), 0);
    bounce_rcpt r[2] = {
        {"good@example.net", NULL, NULL, "2.0.0", "delivered", "smtp; 250 2.0.0 Ok: queued",
         "dns; mx.example.net", 0},
        {"plain@example.net", NULL, NULL, "2.0.0", "delivered", "smtp; 250 ok", NULL, 0}};
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_SUCCESS, r, 2, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK(has_line(t, "Subject: Successful Mail Delivery Report"));
    CHECK(has_line(t, "Action: delivered"));
    CHECK(has_line(t, "Final-Recipient: rfc822; good@example.net"));
    CHECK_INT(count_lines_starting(t, "Final-Recipient:"), 1);
    CHECK(has_line(t, "Content-Description: Message Headers"));
    char want[200];
    snprintf(want, sizeof(want), "%s: sender delivery status notification: %s", o.env.id, id);
    CHECK(strstr(read_maillog(), want) != NULL);
    notification_free(&n);
    CHECK_INT(notify(&o, BOUNCE_SUCCESS, &r[1], 1, id, &rc), 0);
    original_free(&o);
}

TEST(hostile_diagnostics_are_masked_and_folded)
{
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, plain_message), 0);
    static char diag[5000];
    snprintf(diag, sizeof(diag), "smtp; 550 evil\r\nSubject: injected\x01\xff ");
    size_t len = strlen(diag);
    memset(diag + len, 'z', 3000); /* one word longer than any line */
    diag[len + 3000] = '\0';
    bounce_rcpt r = bad_rcpt;
    r.diagnostic = diag;
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &r, 1, id, &rc), 1);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    CHECK(!has_line(t, "Subject: injected"));
    CHECK(strstr(t, "evil??Subject: injected??") != NULL);
    CHECK(longest_line(t) <= 904);
    CHECK_INT(count_lines_starting(t, "Subject:"), 2); /* ours and the original's */
    notification_free(&n);
    original_free(&o);
}

/* X-$mail_name-Queue-ID and X-$mail_name-Sender use the whole name (a 64-byte copy cut it). */
TEST(long_mail_name_is_whole_in_field_names)
{
    char name[101];
    memset(name, 'N', 100);
    name[100] = '\0';
    config_override(cfg, "mail_name", name);
    original o;
    const rcpt_spec rcpts[] = {{"bad@example.net", 0, NULL}};
    CHECK_INT(original_write(&o, "sender@example.org", rcpts, 1, NULL, plain_message), 0);
    char id[QUEUE_ID_MAX];
    int rc;
    CHECK_INT(notify(&o, BOUNCE_FAILURE, &bad_rcpt, 1, id, &rc), 1);
    CHECK_INT(rc, 0);
    notification n;
    notification_read(&n, id);
    const char *t = n.content.data ? n.content.data : "";
    char want[300];
    snprintf(want, sizeof(want), "\nX-%s-Queue-ID: %s\n", name, o.env.id);
    CHECK(strstr(t, want) != NULL);
    snprintf(want, sizeof(want), "\nX-%s-Sender:", name);
    CHECK(strstr(t, want) != NULL);
    notification_free(&n);
    original_free(&o);
    config_override(cfg, "mail_name", "Postern");
}

TEST(helpers)
{
    CHECK(bounce_notify_class("resource, software,bounce", "bounce"));
    CHECK(bounce_notify_class("2bounce", "2bounce"));
    CHECK(!bounce_notify_class("2bounce", "bounce"));
    CHECK(!bounce_notify_class("", "bounce"));
    strbuf sb;
    strbuf_init(&sb, 0);
    bounce_append_safe(&sb, "a\tb\nc\x80");
    CHECK_STR(sb.data, "a b?c?");
    strbuf_reset(&sb);
    mail_date_append(&sb, 0);
    CHECK_STR(sb.data, "Thu,  1 Jan 1970 00:00:00 +0000 (UTC)");
    strbuf_free(&sb);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-test-bounce-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    snprintf(maillog, sizeof(maillog), "%s/maillog", tmpdir);
    cfg = config_defaults(tmpdir);
    config_override(cfg, "queue_directory", qdir);
    config_override(cfg, "myhostname", "mx.example.test");
    config_override(cfg, "maillog_file", maillog);
    config_set_current(cfg);
    log_init("bounce");
    log_set_stderr(0);
    log_configure();
    if (unit_queue_dirs(qdir) < 0)
        return 1;
    RUN(failure_notice_goes_to_sender_with_null_sender_and_full_report);
    RUN(notify_never_sends_nothing_and_mixed_notify_lists_only_the_wanted);
    RUN(ret_hdrs_returns_headers_only);
    RUN(message_over_bounce_size_limit_comes_back_as_headers);
    RUN(notification_over_message_size_limit_falls_back_to_headers);
    RUN(long_content_lines_are_returned_joined);
    RUN(null_sender_failure_is_a_double_bounce_to_postmaster_when_configured);
    RUN(failed_double_bounce_is_discarded);
    RUN(notify_classes_bounce_sends_postmaster_a_copy_with_headers);
    RUN(delay_notice_has_retry_until_and_headers_only);
    RUN(success_notice_only_for_notify_success);
    RUN(hostile_diagnostics_are_masked_and_folded);
    RUN(long_mail_name_is_whole_in_field_names);
    RUN(helpers);
    config_set_current(NULL);
    config_free(cfg);
    unit_remove_tree(tmpdir);
    UNIT_MAIN_END("test_bounce");
}

/* test_qmgr_policy.c: the queue manager's scheduling rules (qmgr_policy.c) and the in-place
 * delay-warning flag of the queue file (queue_file_set_flags). */
#include "lib/config.h"
#include "qmgr/qmgr.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "unit.h"
#include "unit_queue.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char tmpdir[256];
static char qdir[300];

TEST(backoff_is_the_age_clamped)
{
    time_t arrival = 1000000;
    /* Young message: the minimum. */
    CHECK_INT(qmgr_backoff_delay(arrival, arrival, 300, 4000), 300);
    CHECK_INT(qmgr_backoff_delay(arrival + 10, arrival, 300, 4000), 300);
    /* In between: the time since arrival, so the gap doubles from attempt to attempt. */
    CHECK_INT(qmgr_backoff_delay(arrival + 600, arrival, 300, 4000), 600);
    CHECK_INT(qmgr_backoff_delay(arrival + 1200, arrival, 300, 4000), 1200);
    CHECK_INT(qmgr_backoff_delay(arrival + 2400, arrival, 300, 4000), 2400);
    /* Old message: the maximum. */
    CHECK_INT(qmgr_backoff_delay(arrival + 4800, arrival, 300, 4000), 4000);
    CHECK_INT(qmgr_backoff_delay(arrival + 86400 * 5, arrival, 300, 4000), 4000);
    /* The test instance's values. */
    CHECK_INT(qmgr_backoff_delay(arrival + 0, arrival, 1, 4), 1);
    CHECK_INT(qmgr_backoff_delay(arrival + 2, arrival, 1, 4), 2);
    CHECK_INT(qmgr_backoff_delay(arrival + 3, arrival, 1, 4), 3);
    CHECK_INT(qmgr_backoff_delay(arrival + 9, arrival, 1, 4), 4);
}

TEST(backoff_odd_inputs)
{
    /* A clock that went backwards, or an unknown arrival: the minimum. */
    CHECK_INT(qmgr_backoff_delay(1000, 5000, 300, 4000), 300);
    CHECK_INT(qmgr_backoff_delay(1000, 0, 300, 4000), 300);
    /* max below min: min wins. */
    CHECK_INT(qmgr_backoff_delay(100000, 1000, 300, 100), 300);
    /* Zero minimum. */
    CHECK_INT(qmgr_backoff_delay(1000, 1000, 0, 10), 0);
}

TEST(retry_due_survives_clock_steps)
{
    time_t now = 1000000;
    /* Ordinary files: due once their time has come, not before. */
    CHECK(qmgr_retry_due(now, now, 4000, 10));
    CHECK(qmgr_retry_due(now, now - 5, 4000, 10));
    CHECK(!qmgr_retry_due(now, now + 1, 4000, 10));
    CHECK(!qmgr_retry_due(now, now + 4000, 4000, 10));
    CHECK(!qmgr_retry_due(now, now + 4010, 4000, 10)); /* the slack */
    /* Further ahead than any backoff: set while the clock was ahead, due now. */
    CHECK(qmgr_retry_due(now, now + 4011, 4000, 10));
    CHECK(qmgr_retry_due(now, now + 7200 + 300, 4000, 10));
    CHECK(qmgr_retry_due(now, now + 86400 * 365, 4000, 10));
    /* The torture instance: backoff 2-4 s, deferred while the clock was an hour ahead. */
    CHECK(qmgr_retry_due(now, now + 3600 + 2, 4, 10));
    CHECK(!qmgr_retry_due(now, now + 3, 4, 10));
    /* Odd settings: no negative window. */
    CHECK(qmgr_retry_due(now, now + 1, -5, -5));
}

TEST(age_clock_ignores_steps_forward)
{
    /* The queue manager started when the time of day was T and the monotonic clock 100. */
    time_t t = 1700000000;
    double base = (double)t - 100.0;
    /* No step: the time of day. */
    CHECK_INT(qmgr_age_clock(t + 50, 150.0, base), t + 50);
    /* Two days ahead after a step: ages go on as if there was none. */
    CHECK_INT(qmgr_age_clock(t + 50 + 2 * 86400, 150.0, base), t + 50);
    /* Back again: the time of day. */
    CHECK_INT(qmgr_age_clock(t + 60, 160.0, base), t + 60);
    /* A day behind: the earlier time of day (mail ages more slowly, bounces later). */
    CHECK_INT(qmgr_age_clock(t + 70 - 86400, 170.0, base), t + 70 - 86400);

    /* A message one hour old, lifetime one day, clock stepped two days forward: with the time
     * of day it would be returned; with the age clock it is not, nor is it warned about. */
    time_t arrival = t - 3600;
    time_t wall = t + 50 + 2 * 86400;
    CHECK(qmgr_lifetime_expired(wall, arrival, 86400));
    CHECK(!qmgr_lifetime_expired(qmgr_age_clock(wall, 150.0, base), arrival, 86400));
    CHECK(!qmgr_delay_warning_due(qmgr_age_clock(wall, 150.0, base), arrival, 4 * 3600, 0));
    /* Its backoff is the one for its true age, not for two days. */
    CHECK_INT(qmgr_backoff_delay(qmgr_age_clock(wall, 150.0, base), arrival, 300, 4000), 3650);
    /* A message really past its lifetime still expires. */
    CHECK(qmgr_lifetime_expired(qmgr_age_clock(t + 50, 150.0, base), t - 86400, 86400));
}

TEST(queue_lifetime)
{
    CHECK(!qmgr_lifetime_expired(1000, 1000, 2));
    CHECK(!qmgr_lifetime_expired(1001, 1000, 2));
    CHECK(qmgr_lifetime_expired(1002, 1000, 2));
    CHECK(qmgr_lifetime_expired(5000, 1000, 2));
    /* 0: one attempt only. */
    CHECK(qmgr_lifetime_expired(1000, 1000, 0));
    CHECK(!qmgr_lifetime_expired(1000 + 5 * 86400 - 1, 1000, 5 * 86400));
}

TEST(delay_warning_decision)
{
    CHECK(!qmgr_delay_warning_due(5000, 1000, 0, 0)); /* disabled */
    CHECK(!qmgr_delay_warning_due(1000, 1000, 3600, 0));
    CHECK(qmgr_delay_warning_due(4600, 1000, 3600, 0));
    CHECK(!qmgr_delay_warning_due(4600, 1000, 3600, QUEUE_FLAG_DELAY_WARNED)); /* once */
    CHECK(qmgr_delay_warning_due(1001, 1000, 1, 0));
}

TEST(concurrency_window)
{
    qmgr_window w;
    qmgr_window_init(&w, 5, 20);
    CHECK_INT(w.value, 5);
    for (int i = 0; i < 10; i++)
        qmgr_window_success(&w);
    CHECK_INT(w.value, 15);
    for (int i = 0; i < 10; i++)
        qmgr_window_success(&w);
    CHECK_INT(w.value, 20); /* never above the limit */
    qmgr_window_failure(&w);
    CHECK_INT(w.value, 5); /* back to the start */
    qmgr_window_success(&w);
    CHECK_INT(w.value, 6);

    /* An initial value above the limit is cut down; nothing goes below 1. */
    qmgr_window_init(&w, 5, 2);
    CHECK_INT(w.value, 2);
    qmgr_window_success(&w);
    CHECK_INT(w.value, 2);
    qmgr_window_init(&w, 0, 0);
    CHECK_INT(w.value, 1);
    qmgr_window_failure(&w);
    CHECK_INT(w.value, 1);
}

TEST(site_failure_detection)
{
    const char *refused[] = {"4.4.1", "4.4.1"};
    const char *refused_why[] = {"connect to 127.0.0.1[127.0.0.1]:9: Connection refused",
                                 "connect to 127.0.0.1[127.0.0.1]:9: Connection refused"};
    CHECK(qmgr_site_failure(refused, refused_why, 2));
    const char *greeting_why[] = {
        "lost connection with x[1.2.3.4] while receiving the initial server greeting"};
    const char *lost[] = {"4.4.2"};
    CHECK(qmgr_site_failure(lost, greeting_why, 1));
    /* A server that answered 4xx is alive. */
    const char *said_dsn[] = {"4.4.2"};
    const char *said[] = {"host x[1.2.3.4] said: 421 4.4.2 too busy (in reply to RCPT TO command)"};
    CHECK(!qmgr_site_failure(said_dsn, said, 1));
    const char *busy[] = {"4.2.0"};
    const char *busy_why[] = {"host x[1.2.3.4] said: 450 4.2.0 try later"};
    CHECK(!qmgr_site_failure(busy, busy_why, 1));
    /* One recipient got through: not dead. */
    const char *mixed[] = {"4.4.1", "2.0.0"};
    CHECK(!qmgr_site_failure(mixed, refused_why, 2));
    CHECK(!qmgr_site_failure(NULL, NULL, 0));
}

TEST(reason_to_dsn_fields)
{
    char *diag, *mta;
    qmgr_reason_to_dsn_fields("host mx.example.com[192.0.2.1] said: 550 5.1.1 <x@example.com>: "
                              "Recipient address rejected (in reply to RCPT TO command)",
                              &diag, &mta);
    CHECK_STR(diag, "smtp; 550 5.1.1 <x@example.com>: Recipient address rejected");
    CHECK_STR(mta, "dns; mx.example.com");
    free(diag);
    free(mta);

    qmgr_reason_to_dsn_fields("host 127.0.0.1[127.0.0.1] said: 554 no", &diag, &mta);
    CHECK_STR(diag, "smtp; 554 no");
    CHECK_STR(mta, "dns; 127.0.0.1");
    free(diag);
    free(mta);

    qmgr_reason_to_dsn_fields("unknown user: \"nobody@virtual.test\"", &diag, &mta);
    CHECK_STR(diag, "unknown user: \"nobody@virtual.test\"");
    CHECK(mta == NULL);
    free(diag);

    /* Text that looks like "type; ..." is not taken as a type. */
    qmgr_reason_to_dsn_fields("smtp; forged", &diag, &mta);
    CHECK_STR(diag, " smtp; forged");
    CHECK(mta == NULL);
    free(diag);

    qmgr_reason_to_dsn_fields(NULL, &diag, &mta);
    CHECK_STR(diag, "");
    free(diag);
}

TEST(reply_optional_dsn_attributes)
{
    deliver_request sent, got;
    deliver_request_init(&sent);
    deliver_request_init(&got);
    deliver_request_add_rcpt(&sent, "a@x.test", NULL, NULL, 10, 0);
    deliver_request_add_rcpt(&sent, "b@x.test", NULL, NULL, 20, 0);
    deliver_request_add_rcpt(&got, "a@x.test", NULL, NULL, 10, 0);
    deliver_request_add_rcpt(&got, "b@x.test", NULL, NULL, 20, 0);
    deliver_set_result(&sent.rcpts[0], "5.1.1", "host mx said: 550 no");
    deliver_set_result(&sent.rcpts[1], "2.0.0", "ok");
    sent.rcpts[0].diag = strdup("smtp; 550 no");
    sent.rcpts[0].mta = strdup("dns; mx.x.test");
    strbuf out, err;
    strbuf_init(&out, 0);
    strbuf_init(&err, 0);
    deliver_reply_encode(&sent, &out);
    attr_record rec;
    attr_record_init(&rec);
    CHECK_INT(attr_parse(out.data, out.len - 1, &rec, &err), 0);
    CHECK_INT(deliver_reply_decode(&rec, &got, &err), 0);
    CHECK_STR(got.rcpts[0].diag, "smtp; 550 no");
    CHECK_STR(got.rcpts[0].mta, "dns; mx.x.test");
    CHECK(got.rcpts[1].diag == NULL && got.rcpts[1].mta == NULL);

    /* An older agent's reply without them still decodes. */
    const char *old = "status=0\nrcpt_count=1\nrcpt_dsn=4.2.0\nrcpt_reason=busy\n";
    deliver_request one;
    deliver_request_init(&one);
    deliver_request_add_rcpt(&one, "a@x.test", NULL, NULL, 10, 0);
    CHECK_INT(attr_parse(old, strlen(old), &rec, &err), 0);
    CHECK_INT(deliver_reply_decode(&rec, &one, &err), 0);
    CHECK_STR(one.rcpts[0].dsn, "4.2.0");
    CHECK(one.rcpts[0].diag == NULL);
    /* rcpt_diag must follow the rcpt_dsn it belongs to. */
    const char *early = "status=0\nrcpt_count=1\nrcpt_diag=smtp; x\nrcpt_dsn=4.2.0\n";
    CHECK_INT(attr_parse(early, strlen(early), &rec, &err), 0);
    CHECK(deliver_reply_decode(&rec, &one, &err) < 0);

    attr_record_free(&rec);
    deliver_request_free(&one);
    deliver_request_free(&sent);
    deliver_request_free(&got);
    strbuf_free(&out);
    strbuf_free(&err);
}

/* A minimal committed queue file; returns an O_RDWR fd or -1. */
static int sample_file(char *path, size_t len)
{
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_create(qdir, "incoming", &err);
    CHECK(qw != NULL);
    if (qw == NULL) {
        strbuf_free(&err);
        return -1;
    }
    snprintf(path, len, "%s", queue_writer_path(qw));
    CHECK_INT(queue_writer_sender(qw, "s@example.org"), 0);
    CHECK_INT(queue_writer_recipient(qw, "r@example.com", NULL, 0, NULL), 0);
    CHECK_INT(queue_writer_line(qw, "Subject: x", 10), 0);
    CHECK_INT(queue_writer_commit(qw, &err), 0);
    strbuf_free(&err);
    return open(path, O_RDWR);
}

TEST(delay_flag_in_place)
{
    char path[4096];
    int fd = sample_file(path, sizeof(path));
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    queue_envelope env;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    CHECK_INT(env.flags, 0);
    long size = env.message_size;
    queue_envelope_free(&env);
    off_t before = lseek(fd, 0, SEEK_END);

    CHECK_INT(queue_file_set_flags(fd, QUEUE_FLAG_DELAY_WARNED), 0);
    CHECK_INT(lseek(fd, 0, SEEK_END), before); /* nothing moved */
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    CHECK_INT(env.flags, QUEUE_FLAG_DELAY_WARNED);
    CHECK_INT(env.message_size, size);
    CHECK_INT((long)env.nrcpt, 1);
    queue_envelope_free(&env);

    CHECK(queue_file_set_flags(fd, -1) < 0);
    strbuf_free(&err);
    close(fd);

    /* Not a queue file: refused, nothing written. */
    int memfd = memfd_create("x", 0);
    CHECK(write(memfd, "Zhello", 6) == 6);
    CHECK(queue_file_set_flags(memfd, 1) < 0);
    CHECK_INT(lseek(memfd, 0, SEEK_END), 6);
    close(memfd);
    unlink(path);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-unit-qmgr-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 2;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    config *cfg = config_defaults(tmpdir);
    config_override(cfg, "queue_directory", qdir);
    config_set_current(cfg);
    if (unit_queue_dirs(qdir) < 0)
        return 2;
    RUN(backoff_is_the_age_clamped);
    RUN(backoff_odd_inputs);
    RUN(retry_due_survives_clock_steps);
    RUN(age_clock_ignores_steps_forward);
    RUN(queue_lifetime);
    RUN(delay_warning_decision);
    RUN(concurrency_window);
    RUN(site_failure_detection);
    RUN(reason_to_dsn_fields);
    RUN(reply_optional_dsn_attributes);
    RUN(delay_flag_in_place);
    config_set_current(NULL);
    config_free(cfg);
    unit_remove_tree(tmpdir);
    UNIT_MAIN_END("test_qmgr_policy");
}

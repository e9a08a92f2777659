/* test_showq.c: mailq / postqueue -p / -j formatting against golden text, defer log parsing. */
#include "queue/showq.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The indentation of a recipient line: "%-11s %7s %-20s " with empty strings. */
#define IND "                                         "
#define HEADING "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
#define NOV28 1259440927L /* Sat Nov 28 20:42:07 2009 UTC */
#define MAR2 1425287101L  /* Mon Mar  2 09:05:01 2015 UTC */
#define TIMEOUT_REASON "connect to mx.example.net[192.0.2.1]:25: Connection timed out"

static char *render(const showq_entry *entries, size_t n, int long_ids)
{
    strbuf out;
    strbuf_init(&out, 0);
    unsigned long total = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            showq_format_heading(&out, long_ids);
        else
            strbuf_append_str(&out, "\n");
        showq_format_message(&out, &entries[i], long_ids);
        total += (unsigned long)entries[i].size;
    }
    showq_format_summary(&out, n, total);
    char *text = strbuf_detach(&out);
    return text ? text : calloc(1, 1);
}

TEST(indent_is_41_columns)
{
    CHECK_INT(strlen(IND), 41);
}

TEST(empty_queue)
{
    char *text = render(NULL, 0, 0);
    CHECK_STR(text, "Mail queue is empty\n");
    free(text);
}

TEST(one_active_message)
{
    showq_entry e;
    showq_entry_init(&e, "active", "9DF7520804A");
    e.arrival = NOV28;
    e.size = 1234;
    showq_entry_set_sender(&e, "sender@example.com", "MAILER-DAEMON");
    showq_entry_add_rcpt(&e, "rcpt@example.net", NULL, 1);
    char *text = render(&e, 1, 0);
    CHECK_STR(text, HEADING "9DF7520804A*    1234 Sat Nov 28 20:42:07  sender@example.com\n" IND
                            "rcpt@example.net\n"
                            "\n-- 1 Kbytes in 1 Request.\n");
    free(text);
    showq_entry_free(&e);
}

TEST(deferred_with_reason_from_defer_log)
{
    showq_entry e;
    showq_entry_init(&e, "deferred", "3F2A1B0C9D");
    e.arrival = NOV28;
    e.size = 512;
    showq_entry_set_sender(&e, "alice@example.com", "MAILER-DAEMON");
    const char *log = "recipient=bob@example.net\noffset=123\nstatus=4.4.1\naction=delayed\n"
                      "reason=" TIMEOUT_REASON "\n\n"
                      "recipient=carol@example.net\r\nreason=" TIMEOUT_REASON "\r\n\r\n"
                      "garbage line without equals\n\nreason=orphan reason without recipient\n";
    CHECK_INT(showq_parse_defer_log(&e, log, strlen(log)), 2);
    /* bob is in the defer log already: the queue file's copy is not listed twice. */
    showq_entry_add_rcpt(&e, "bob@example.net", NULL, 1);
    showq_entry_add_rcpt(&e, "dave@example.org", NULL, 1);
    char *text = render(&e, 1, 0);
    CHECK_STR(text, HEADING "3F2A1B0C9D      512 Sat Nov 28 20:42:07  alice@example.com\n"
                            "               (" TIMEOUT_REASON ")\n" IND "bob@example.net\n" IND
                            "carol@example.net\n"
                            "                                                          "
                            "(reason unavailable)\n" IND "dave@example.org\n"
                            "\n-- 0 Kbytes in 1 Request.\n");
    free(text);
    showq_entry_free(&e);
}

TEST(defer_log_values_are_unescaped)
{
    showq_entry e;
    showq_entry_init(&e, "deferred", "3F2A1B0C9D");
    const char *log = "recipient=odd\\\\name@example.net\nstatus=4.0.0\n"
                      "reason=host said: 451 try\\nlater \\x01 now\n\n";
    CHECK_INT(showq_parse_defer_log(&e, log, strlen(log)), 1);
    CHECK_STR(e.rcpts[0].address, "odd\\name@example.net");
    CHECK_STR(e.rcpts[0].reason, "host said: 451 try?later ? now");
    showq_entry_free(&e);
}

TEST(held_message_null_sender_and_long_reason)
{
    showq_entry e;
    showq_entry_init(&e, "hold", "ABCDE12345");
    e.arrival = MAR2;
    e.size = 0;
    e.forced_expire = 1;
    showq_entry_set_sender(&e, "", "MAILER-DAEMON");
    char reason[120];
    memset(reason, 'x', 90);
    reason[90] = '\0';
    showq_entry_add_rcpt(&e, "postmaster@example.com", reason, 0);
    char *text = render(&e, 1, 0);
    strbuf want;
    strbuf_init(&want, 0);
    strbuf_printf(&want,
                  HEADING "ABCDE12345!#       0 Mon Mar  2 09:05:01  MAILER-DAEMON\n(%s)\n" IND
                          "postmaster@example.com\n\n-- 0 Kbytes in 1 Request.\n",
                  reason);
    CHECK_STR(text, want.data);
    strbuf_free(&want);
    free(text);
    showq_entry_free(&e);
}

TEST(kbytes_round_down_and_plural)
{
    showq_entry e[3];
    const long sizes[3] = {1023, 1024, 2000};
    const char *ids[3] = {"AAAAA00001", "AAAAA00002", "AAAAA00003"};
    for (int i = 0; i < 3; i++) {
        showq_entry_init(&e[i], "incoming", ids[i]);
        e[i].arrival = MAR2;
        e[i].size = sizes[i];
        showq_entry_set_sender(&e[i], "s@example.com", NULL);
        showq_entry_add_rcpt(&e[i], "r@example.com", NULL, 1);
    }
    char *text = render(e, 3, 0);
    const char *tail = strstr(text, "\n\n-- ");
    CHECK(tail != NULL);
    if (tail)
        CHECK_STR(tail, "\n\n-- 3 Kbytes in 3 Requests.\n");
    /* Messages are separated by one blank line. */
    CHECK(strstr(text, "r@example.com\n\nAAAAA00002     1024 Mon Mar  2 09:05:01  "
                       "s@example.com\n") != NULL);
    free(text);
    for (int i = 0; i < 3; i++)
        showq_entry_free(&e[i]);
}

TEST(long_queue_id_layout)
{
    showq_entry e;
    showq_entry_init(&e, "hold", "4Rq2Xp3Hx8z9C1Lb");
    e.arrival = MAR2;
    e.size = 500;
    showq_entry_set_sender(&e, "a@b", NULL);
    showq_entry_add_rcpt(&e, "c@d", NULL, 1);
    char *text = render(&e, 1, 1);
    CHECK_STR(text, "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
                    "4Rq2Xp3Hx8z9C1Lb!      500 Mon Mar  2 09:05:01 a@b\n"
                    "                                               c@d\n"
                    "\n-- 0 Kbytes in 1 Request.\n");
    free(text);
    showq_entry_free(&e);
}

TEST(addresses_are_quoted_and_printable)
{
    showq_entry e;
    showq_entry_init(&e, "incoming", "BBBBB00001");
    showq_entry_set_sender(&e, "john smith@example.com", NULL);
    CHECK_STR(e.sender, "\"john smith\"@example.com");
    showq_entry_add_rcpt(&e,
                         "a\x01"
                         "b@example.com",
                         NULL, 1);
    showq_entry_add_rcpt(&e, "x..y@example.com", NULL, 1);
    showq_entry_add_rcpt(&e, "plain.user+tag@example.com", NULL, 1);
    showq_entry_add_rcpt(&e, "q\"t@example.com", NULL, 1);
    CHECK_INT(e.nrcpt, 4);
    CHECK_STR(e.rcpts[0].address, "\"a?b\"@example.com");
    CHECK_STR(e.rcpts[1].address, "\"x..y\"@example.com");
    CHECK_STR(e.rcpts[2].address, "plain.user+tag@example.com");
    CHECK_STR(e.rcpts[3].address, "\"q\\\"t\"@example.com");
    showq_entry_free(&e);
}

TEST(json_object)
{
    showq_entry e;
    showq_entry_init(&e, "deferred", "3F2A1B0C9D");
    e.arrival = NOV28;
    e.size = 512;
    showq_entry_set_sender(&e, "", "MAILER-DAEMON");
    showq_entry_add_rcpt(&e, "bob@example.net", "said \"no\"\tthen \\ left", 0);
    showq_entry_add_rcpt(&e, "carol@example.net", NULL, 1);
    strbuf out;
    strbuf_init(&out, 0);
    showq_format_json(&out, &e);
    CHECK_STR(out.data, "{\"queue_name\": \"deferred\", \"queue_id\": \"3F2A1B0C9D\", "
                        "\"arrival_time\": 1259440927, \"message_size\": 512, "
                        "\"forced_expire\": false, \"sender\": \"MAILER-DAEMON\", "
                        "\"recipients\": [{\"address\": \"bob@example.net\", \"delay_reason\": "
                        "\"said \\\"no\\\"?then \\\\ left\"}, {\"address\": "
                        "\"carol@example.net\"}]}\n");
    strbuf_free(&out);
    showq_entry_free(&e);
}

int main(void)
{
    setenv("TZ", "UTC0", 1);
    tzset();
    RUN(indent_is_41_columns);
    RUN(empty_queue);
    RUN(one_active_message);
    RUN(deferred_with_reason_from_defer_log);
    RUN(defer_log_values_are_unescaped);
    RUN(held_message_null_sender_and_long_reason);
    RUN(kbytes_round_down_and_plural);
    RUN(long_queue_id_layout);
    RUN(addresses_are_quoted_and_printable);
    RUN(json_object);
    UNIT_MAIN_END("test_showq");
}

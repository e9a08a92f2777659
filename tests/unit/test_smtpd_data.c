/* test_smtpd_data.c: the DATA state machine: end-of-data, unstuffing, bare LF/CR, long lines. */
#include "smtpd/smtpd_data.h"
#include "unit.h"

#include <stdlib.h>

/* Collects pieces as "piece|" so piece boundaries are visible in one string. */
static void collect(void *ctx, const char *line, size_t len, int partial)
{
    strbuf *sb = ctx;
    (void)partial;
    strbuf_append(sb, line, len);
    strbuf_append_char(sb, '|');
}

typedef struct run_result {
    smtpd_data_status status;
    size_t consumed;
} run_result;

/* Feeds in one piece. */
static run_result feed_all(smtpd_bare_lf_mode mode, const char *in, size_t len, strbuf *lines)
{
    smtpd_data d;
    smtpd_data_init(&d, 2048, mode, 1);
    run_result r;
    r.status = smtpd_data_feed(&d, in, len, &r.consumed, collect, lines);
    smtpd_data_free(&d);
    return r;
}

/* Feeds one byte at a time: results must not depend on how TCP splits the stream. */
static run_result feed_bytewise(smtpd_bare_lf_mode mode, size_t limit, const char *in,
                                size_t len, strbuf *lines)
{
    smtpd_data d;
    smtpd_data_init(&d, limit, mode, 1);
    run_result r = {SMTPD_DATA_MORE, 0};
    for (size_t i = 0; i < len; i++) {
        size_t used;
        r.status = smtpd_data_feed(&d, in + i, 1, &used, collect, lines);
        r.consumed += used;
        if (r.status != SMTPD_DATA_MORE)
            break;
    }
    smtpd_data_free(&d);
    return r;
}

TEST(simple_message_and_leftover)
{
    strbuf l;
    strbuf_init(&l, 0);
    const char *in = "Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\n";
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "Subject: x||body|");
    CHECK_STR(in + r.consumed, "MAIL FROM:<a@b>\r\n");
    strbuf_reset(&l);
    r = feed_bytewise(SMTPD_BARE_LF_NORMALIZE, 2048, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "Subject: x||body|");
    CHECK_STR(in + r.consumed, "MAIL FROM:<a@b>\r\n");
    strbuf_free(&l);
}

TEST(empty_message)
{
    strbuf l;
    strbuf_init(&l, 0);
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, ".\r\n", 3, &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_INT(r.consumed, 3);
    CHECK_STR(l.data, "");
    strbuf_free(&l);
}

TEST(dot_unstuffing)
{
    strbuf l;
    strbuf_init(&l, 0);
    const char *in = "..leading\r\n...\r\n. x\r\na.b\r\n..\r\n.\r\n";
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, ".leading|..| x|a.b|.|");
    strbuf_free(&l);
}

TEST(smuggling_sequences_never_end_data)
{
    const char *attempts[] = {
        "a\r\n\n.\nMAIL FROM:<evil@x>\r\n",
        "a\r\n.\nMAIL FROM:<evil@x>\r\n",
        "a\n.\r\nMAIL FROM:<evil@x>\r\n",
        "a\r.\r\nMAIL FROM:<evil@x>\r\n",
        "a\r\n.\r.\r\nMAIL FROM:<evil@x>\r\n",
    };
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        strbuf l;
        strbuf_init(&l, 0);
        run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, attempts[i], strlen(attempts[i]), &l);
        CHECK_INT(r.status, SMTPD_DATA_MORE);
        CHECK_INT(r.consumed, strlen(attempts[i]));
        strbuf_reset(&l);
        r = feed_bytewise(SMTPD_BARE_LF_NORMALIZE, 2048, attempts[i], strlen(attempts[i]), &l);
        CHECK_INT(r.status, SMTPD_DATA_MORE);
        strbuf_reset(&l);
        r = feed_all(SMTPD_BARE_LF_NO, attempts[i], strlen(attempts[i]), &l);
        CHECK_INT(r.status, SMTPD_DATA_MORE);
        strbuf_free(&l);
    }
    /* What "\n.\n" turns into: an ordinary (unstuffed, empty) line, nothing more. */
    strbuf l;
    strbuf_init(&l, 0);
    const char *in = "a\n.\nb\r\n.\r\n";
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "a||b|");
    strbuf_free(&l);
}

TEST(end_needs_crlf_before_dot_line)
{
    strbuf l;
    strbuf_init(&l, 0);
    /* The line before the dot ended in a bare LF: ".\r\n" is content; the next one ends. */
    const char *in = "x\n.\r\n.\r\n";
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "x||");
    CHECK_INT(r.consumed, strlen(in));
    /* DATA itself ended in a bare LF: an immediate ".\r\n" is not the end. */
    smtpd_data d;
    smtpd_data_init(&d, 2048, SMTPD_BARE_LF_NORMALIZE, 0);
    size_t used;
    strbuf_reset(&l);
    CHECK_INT(smtpd_data_feed(&d, ".\r\n", 3, &used, collect, &l), SMTPD_DATA_MORE);
    CHECK_INT(smtpd_data_feed(&d, ".\r\n", 3, &used, collect, &l), SMTPD_DATA_END);
    smtpd_data_free(&d);
    strbuf_free(&l);
}

TEST(bare_cr_is_content)
{
    strbuf l;
    strbuf_init(&l, 0);
    const char *in = "a\rb\r\nc\r\r\n\r\r\n.\r\n";
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "a\rb|c\r|\r|");
    strbuf_reset(&l);
    r = feed_bytewise(SMTPD_BARE_LF_REJECT, 2048, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "a\rb|c\r|\r|");
    strbuf_free(&l);
}

TEST(bare_lf_modes)
{
    strbuf l;
    strbuf_init(&l, 0);
    const char *in = "one\r\ntwo\nthree\r\n.\r\n";
    run_result r = feed_all(SMTPD_BARE_LF_NORMALIZE, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l.data, "one|two|three|");
    strbuf_reset(&l);
    r = feed_all(SMTPD_BARE_LF_REJECT, in, strlen(in), &l);
    CHECK_INT(r.status, SMTPD_DATA_BARE_LF);
    CHECK_INT(r.consumed, 9);
    CHECK_STR(l.data, "one|");
    CHECK_INT(smtpd_bare_lf_mode_parse("normalize"), SMTPD_BARE_LF_NORMALIZE);
    CHECK_INT(smtpd_bare_lf_mode_parse("yes"), SMTPD_BARE_LF_NORMALIZE);
    CHECK_INT(smtpd_bare_lf_mode_parse("reject"), SMTPD_BARE_LF_REJECT);
    CHECK_INT(smtpd_bare_lf_mode_parse("note"), SMTPD_BARE_LF_NOTE);
    CHECK_INT(smtpd_bare_lf_mode_parse("no"), SMTPD_BARE_LF_NO);
    CHECK_INT(smtpd_bare_lf_mode_parse("maybe"), -1);
    strbuf_free(&l);
}

TEST(long_lines_are_split)
{
    strbuf l1, l2;
    strbuf_init(&l1, 0);
    strbuf_init(&l2, 0);
    /* limit 4: "abcdefghij" -> "abcd|efgh|ij|" both in one piece and byte by byte. */
    const char *in = "abcdefghij\r\n.abcdefgh\r\nabcd\r\n.\r\n";
    smtpd_data d;
    smtpd_data_init(&d, 4, SMTPD_BARE_LF_NORMALIZE, 1);
    size_t used;
    CHECK_INT(smtpd_data_feed(&d, in, strlen(in), &used, collect, &l1), SMTPD_DATA_END);
    smtpd_data_free(&d);
    CHECK_STR(l1.data, "abcd|efgh|ij|abcd|efgh|abcd|");
    run_result r = feed_bytewise(SMTPD_BARE_LF_NORMALIZE, 4, in, strlen(in), &l2);
    CHECK_INT(r.status, SMTPD_DATA_END);
    CHECK_STR(l2.data, l1.data);
    /* A long line's piece that starts with "." is not unstuffed, nor an end mark. */
    strbuf_reset(&l1);
    const char *in2 = "abcd.\r\nx\r\n.\r\n";
    smtpd_data_init(&d, 4, SMTPD_BARE_LF_NORMALIZE, 1);
    CHECK_INT(smtpd_data_feed(&d, in2, strlen(in2), &used, collect, &l1), SMTPD_DATA_END);
    smtpd_data_free(&d);
    CHECK_STR(l1.data, "abcd|.|x|");
    strbuf_free(&l1);
    strbuf_free(&l2);
}

TEST(partial_buffer_is_bounded)
{
    /* One megabyte without a newline: the state machine must pass it on as it goes. */
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'x', n);
    smtpd_data d;
    smtpd_data_init(&d, 2048, SMTPD_BARE_LF_NORMALIZE, 1);
    strbuf l;
    strbuf_init(&l, 0);
    size_t used;
    for (size_t off = 0; off < n; off += 65536)
        CHECK_INT(smtpd_data_feed(&d, big + off, 65536, &used, collect, &l), SMTPD_DATA_MORE);
    CHECK(d.partial.len <= 2049);
    CHECK_INT(smtpd_data_feed(&d, "\r\n.\r\n", 5, &used, collect, &l), SMTPD_DATA_END);
    CHECK_INT(l.len, n + (n + 2047) / 2048); /* content plus one '|' per piece */
    smtpd_data_free(&d);
    strbuf_free(&l);
    free(big);
}

/* Collects pieces with '+' after a piece that continues and '|' at the end of a line. */
static void collect_marked(void *ctx, const char *line, size_t len, int partial)
{
    strbuf *sb = ctx;
    strbuf_append(sb, line, len);
    strbuf_append_char(sb, partial ? '+' : '|');
}

TEST(long_line_pieces_say_they_continue)
{
    strbuf l;
    strbuf_init(&l, 0);
    smtpd_data d;
    size_t used;
    smtpd_data_init(&d, 4, SMTPD_BARE_LF_NORMALIZE, 1);
    CHECK_INT(smtpd_data_feed(&d, "abcdefghij\r\nxy\r\n.\r\n", 19, &used, collect_marked, &l),
              SMTPD_DATA_END);
    CHECK_STR(l.data, "abcd+efgh+ij|xy|");
    smtpd_data_free(&d);
    strbuf_free(&l);
}

int main(void)
{
    RUN(simple_message_and_leftover);
    RUN(empty_message);
    RUN(dot_unstuffing);
    RUN(smuggling_sequences_never_end_data);
    RUN(end_needs_crlf_before_dot_line);
    RUN(bare_cr_is_content);
    RUN(bare_lf_modes);
    RUN(long_lines_are_split);
    RUN(long_line_pieces_say_they_continue);
    RUN(partial_buffer_is_bounded);
    UNIT_MAIN_END("test_smtpd_data");
}

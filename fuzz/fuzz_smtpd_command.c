/*
 * fuzz_smtpd_command.c: libFuzzer target for the SMTP server's parsers.
 *
 * The input is a client's byte stream. Command lines are cut with smtpd_line_next() (as the
 * server does, with a small line limit so over-long lines are common) and each goes through
 * the verb lookup, the MAIL/RCPT path and parameter parsers, the HELO check and address
 * quoting. The whole input is also fed to the DATA state machine twice, in one piece and in
 * pieces whose sizes come from the input, and the two runs must produce the same lines, end at
 * the same place, and never pass on a line longer than the limit.
 */
#include "smtpd/smtpd_data.h"
#include "smtpd/smtpd_proto_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_LINE_LIMIT 64

static void parse_command(const char *line)
{
    const char *args;
    smtpd_cmd cmd = smtpd_command_lookup(line, &args);
    char addr[SMTPD_ADDR_MAX + 1];
    char quoted[SMTPD_ADDR_MAX * 2 + 3];
    const char *params = NULL;
    strbuf reply;
    strbuf_init(&reply, 0);
    (void)smtpd_command_is_forbidden(line);
    char verb[16];
    smtpd_command_verb(line, verb, sizeof(verb));
    if (cmd == SMTPD_CMD_MAIL || cmd == SMTPD_CMD_RCPT) {
        int mail = cmd == SMTPD_CMD_MAIL;
        if (smtpd_parse_path(args, mail ? "FROM:" : "TO:", 0, mail, addr, sizeof(addr),
                             &params) == SMTPD_PATH_OK) {
            if (strlen(addr) > SMTPD_ADDR_MAX)
                abort();
            smtpd_quote_address(addr, quoted, sizeof(quoted));
            if (mail) {
                smtpd_mail_params mp;
                smtpd_parse_mail_params(params, &mp, &reply);
            } else {
                smtpd_rcpt_params rp;
                smtpd_parse_rcpt_params(params, &rp, &reply);
            }
        }
        (void)smtpd_parse_path(args, mail ? "FROM:" : "TO:", 1, mail, addr, 16, &params);
    } else if (cmd == SMTPD_CMD_HELO || cmd == SMTPD_CMD_EHLO) {
        (void)smtpd_helo_is_valid(args);
    } else if (cmd == SMTPD_CMD_VRFY) {
        (void)smtpd_parse_path(args, "", 0, 0, addr, sizeof(addr), NULL);
    }
    strbuf_free(&reply);
}

static void parse_commands(const char *data, size_t size)
{
    char line[FUZZ_LINE_LIMIT + 1];
    size_t pos = 0;
    int skipping = 0;
    while (pos < size) {
        if (skipping) {
            size_t used;
            skipping = !smtpd_line_skip(data + pos, size - pos, &used);
            pos += used;
            continue;
        }
        smtpd_line l;
        smtpd_line_status st = smtpd_line_next(data + pos, size - pos, FUZZ_LINE_LIMIT, &l);
        if (st == SMTPD_LINE_NEED_MORE)
            break;
        if (l.consumed == 0 || l.consumed > size - pos)
            abort();
        if (st == SMTPD_LINE_OK) {
            if (l.len > FUZZ_LINE_LIMIT)
                abort();
            if (!l.has_nul) {
                memcpy(line, l.text, l.len);
                line[l.len] = '\0';
                parse_command(line);
            }
        }
        skipping = st == SMTPD_LINE_TOO_LONG_PARTIAL;
        pos += l.consumed;
    }
}

typedef struct collected {
    strbuf text;
    int too_long;
} collected;

/* Pieces are joined back into lines, so the text does not depend on how input was chunked. */
static void collect(void *ctx, const char *line, size_t len, int partial)
{
    collected *c = ctx;
    if (len > FUZZ_LINE_LIMIT)
        c->too_long = 1;
    strbuf_append(&c->text, line, len);
    if (!partial)
        strbuf_append_char(&c->text, '\n');
}

static void run_data(const uint8_t *data, size_t size, smtpd_bare_lf_mode mode)
{
    collected one = {.too_long = 0}, many = {.too_long = 0};
    strbuf_init(&one.text, 0);
    strbuf_init(&many.text, 0);
    smtpd_data d;
    size_t used1 = 0, used2 = 0;
    smtpd_data_init(&d, FUZZ_LINE_LIMIT, mode, 1);
    smtpd_data_status st1 = smtpd_data_feed(&d, (const char *)data, size, &used1, collect, &one);
    smtpd_data_free(&d);
    smtpd_data_init(&d, FUZZ_LINE_LIMIT, mode, 1);
    smtpd_data_status st2 = SMTPD_DATA_MORE;
    size_t pos = 0, step = 0;
    while (pos < size && st2 == SMTPD_DATA_MORE) {
        size_t n = 1 + (size_t)data[step++ % size] % 17;
        if (n > size - pos)
            n = size - pos;
        size_t u = 0;
        st2 = smtpd_data_feed(&d, (const char *)data + pos, n, &u, collect, &many);
        if (u > n)
            abort();
        pos += u;
    }
    used2 = pos;
    smtpd_data_free(&d);
    /* The end of data never depends on how the stream was cut. The content does only when the
     * stream did not end normally: a line still pending, or (reject mode) a long line whose
     * first pieces were passed on before its bare LF arrived; the message is dropped then. */
    if (st1 != st2 || used1 != used2 || used1 > size)
        abort();
    if (st1 == SMTPD_DATA_END &&
        (one.text.len != many.text.len || memcmp(one.text.data, many.text.data, one.text.len)))
        abort();
    if (one.too_long || many.too_long)
        abort();
    strbuf_free(&one.text);
    strbuf_free(&many.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    parse_commands((const char *)data, size);
    run_data(data, size, SMTPD_BARE_LF_NORMALIZE);
    run_data(data, size, SMTPD_BARE_LF_REJECT);
    return 0;
}

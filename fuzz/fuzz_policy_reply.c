/*
 * fuzz_policy_reply.c: libFuzzer target for the policy delegation protocol (a policy server's
 * reply is input from another process, possibly broken or hostile).
 *
 * The input is parsed as a reply in one piece and again as it would arrive in pieces: every
 * prefix must say "more" or give the same verdict, and a complete reply's action and length
 * must agree. The input is also used as the client's values for a request, which must come
 * out as name=value lines ended by exactly one empty line, whatever the bytes.
 */
#include "smtpd/smtpd_policy_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_request(const char *text)
{
    smtpd_check_args a = {
        .client_name = text, .client_addr = text, .reverse_name = text, .helo = text,
        .sender = text, .recipient = text, .protocol = "ESMTP", .stage = "RCPT",
        .queue_id = "", .rcpt_count = 1,
    };
    strbuf out;
    strbuf_init(&out, 0);
    policy_request_format(&a, text, "1.2.3", &out);
    if (out.len < 2 || out.data[out.len - 1] != '\n' || out.data[out.len - 2] != '\n')
        abort();
    const char *end = strstr(out.data, "\n\n");
    if (end == NULL || (size_t)(end - out.data) != out.len - 2)
        abort(); /* a value ended the request early */
    strbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    strbuf action, err, action2, err2;
    strbuf_init(&action, 0);
    strbuf_init(&err, 0);
    strbuf_init(&action2, 0);
    strbuf_init(&err2, 0);
    size_t used = 0;
    policy_reply_status st = policy_reply_parse(in, size, &used, &action, &err);
    if (st == POLICY_REPLY_DONE && (used > size || action.len == 0))
        abort();
    size_t step = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
    for (size_t n = 0; n < size; n += step) {
        size_t used2 = 0;
        strbuf_reset(&err2);
        policy_reply_status st2 = policy_reply_parse(in, n, &used2, &action2, &err2);
        if (st2 == POLICY_REPLY_MORE)
            continue;
        if (st2 != st)
            abort();
        if (st2 == POLICY_REPLY_DONE &&
            (used2 != used || action2.len != action.len ||
             memcmp(action2.data, action.data, action.len) != 0))
            abort();
        break;
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    check_request(text);
    free(text);
    strbuf_free(&action);
    strbuf_free(&err);
    strbuf_free(&action2);
    strbuf_free(&err2);
    return 0;
}

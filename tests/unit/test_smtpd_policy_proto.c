/*
 * test_smtpd_policy_proto.c: the policy delegation protocol's request and reply parser.
 */
#include "smtpd/smtpd_policy_proto.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static policy_reply_status parse(const char *text, size_t *used, strbuf *action, strbuf *err)
{
    strbuf_reset(err);
    return policy_reply_parse(text, strlen(text), used, action, err);
}

TEST(reply_with_action)
{
    strbuf action, err;
    strbuf_init(&action, 0);
    strbuf_init(&err, 0);
    size_t used = 0;
    CHECK_INT(parse("action=DUNNO\n\n", &used, &action, &err), POLICY_REPLY_DONE);
    CHECK_STR(action.data, "DUNNO");
    CHECK_INT(used, 14);
    CHECK_INT(parse("x=1\r\naction=550 5.7.1 Go away\r\ny=2\r\n\r\nnext", &used, &action, &err),
              POLICY_REPLY_DONE);
    CHECK_STR(action.data, "550 5.7.1 Go away");
    CHECK_INT(used, 38);
    /* Not complete yet: no empty line. */
    CHECK_INT(parse("action=OK\n", &used, &action, &err), POLICY_REPLY_MORE);
    CHECK_INT(parse("action=O", &used, &action, &err), POLICY_REPLY_MORE);
    CHECK_INT(parse("", &used, &action, &err), POLICY_REPLY_MORE);
    /* The last action wins, as attributes are name=value. */
    CHECK_INT(parse("action=OK\naction=REJECT\n\n", &used, &action, &err), POLICY_REPLY_DONE);
    CHECK_STR(action.data, "REJECT");
    strbuf_free(&action);
    strbuf_free(&err);
}

TEST(bad_replies)
{
    strbuf action, err;
    strbuf_init(&action, 0);
    strbuf_init(&err, 0);
    size_t used = 0;
    CHECK_INT(parse("\n", &used, &action, &err), POLICY_REPLY_ERROR);
    CHECK_STR(err.data, "policy server reply without an action attribute");
    CHECK_INT(parse("foo=bar\n\n", &used, &action, &err), POLICY_REPLY_ERROR);
    CHECK_INT(parse("action=\n\n", &used, &action, &err), POLICY_REPLY_ERROR);
    CHECK_STR(err.data, "policy server reply with an empty action");
    CHECK_INT(parse("hello world\n\n", &used, &action, &err), POLICY_REPLY_ERROR);
    CHECK_STR(err.data, "malformed policy server reply line: \"hello world\"");
    CHECK_INT(parse("=x\n\n", &used, &action, &err), POLICY_REPLY_ERROR);
    /* Too long, with or without a line end. */
    size_t big = POLICY_REPLY_MAX + 10;
    char *text = malloc(big + 1);
    memset(text, 'a', big);
    memcpy(text, "action=", 7);
    text[big] = '\0';
    CHECK_INT(parse(text, &used, &action, &err), POLICY_REPLY_ERROR);
    CHECK(strstr(err.data, "longer than") != NULL);
    text[big - 2] = '\n';
    text[big - 1] = '\n';
    CHECK_INT(parse(text, &used, &action, &err), POLICY_REPLY_ERROR);
    free(text);
    /* A NUL inside a line. */
    static const char nul[] = "action=O\0K\n\n";
    strbuf_reset(&err);
    CHECK_INT(policy_reply_parse(nul, sizeof(nul) - 1, &used, &action, &err), POLICY_REPLY_ERROR);
    strbuf_free(&action);
    strbuf_free(&err);
}

TEST(request_format)
{
    smtpd_check_args a = {
        .client_name = "host.example", .client_addr = "192.0.2.1", .reverse_name = "rev.example",
        .helo = "evil\r\nrecipient=x", .sender = "a@example.com", .recipient = "b@example.net",
        .protocol = "ESMTP", .stage = "RCPT", .queue_id = "", .rcpt_count = 2, .size = 1234,
    };
    strbuf out;
    strbuf_init(&out, 0);
    policy_request_format(&a, "ctx", "a.b.c", &out);
    static const char head[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                               "protocol_name=ESMTP\nhelo_name=evil??recipient=x\n";
    CHECK(strncmp(out.data, head, sizeof(head) - 1) == 0);
    CHECK(strstr(out.data, "\nsender=a@example.com\nrecipient=b@example.net\n"
                           "recipient_count=2\nclient_address=192.0.2.1\n"
                           "client_name=host.example\nreverse_client_name=rev.example\n"
                           "instance=a.b.c\n") != NULL);
    CHECK(strstr(out.data, "\nsize=1234\n") != NULL);
    CHECK(strstr(out.data, "\npolicy_context=ctx\n\n") != NULL);
    CHECK(strstr(out.data, "\n\n") == out.data + out.len - 2);
    strbuf_free(&out);
}

int main(void)
{
    RUN(reply_with_action);
    RUN(bad_replies);
    RUN(request_format);
    UNIT_MAIN_END("test_smtpd_policy_proto");
}

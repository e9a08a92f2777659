/*
 * smtpd_policy_proto.c: the policy delegation protocol's request and reply (see
 * smtpd_policy_proto.h).
 */
#include "smtpd/smtpd_policy_proto.h"

#include <string.h>

static void attr(strbuf *out, const char *name, const char *value)
{
    strbuf_append_str(out, name);
    strbuf_append_char(out, '=');
    for (const char *p = value ? value : ""; *p; p++)
        strbuf_append_char(out, *p == '\r' || *p == '\n' ? '?' : *p);
    strbuf_append_char(out, '\n');
}

static void attr_num(strbuf *out, const char *name, long long value)
{
    strbuf_printf(out, "%s=%lld\n", name, value);
}

void policy_request_format(const smtpd_check_args *a, const char *policy_context,
                           const char *instance, strbuf *out)
{
    attr(out, "request", "smtpd_access_policy");
    attr(out, "protocol_state", a->stage);
    attr(out, "protocol_name", a->protocol);
    attr(out, "helo_name", a->helo);
    attr(out, "queue_id", a->queue_id);
    attr(out, "sender", a->sender);
    attr(out, "recipient", a->recipient);
    attr_num(out, "recipient_count", a->rcpt_count);
    attr(out, "client_address", a->client_addr);
    attr(out, "client_name", a->client_name);
    attr(out, "reverse_client_name", a->reverse_name ? a->reverse_name : a->client_name);
    attr(out, "instance", instance);
    attr(out, "sasl_method", "");
    attr(out, "sasl_username", "");
    attr(out, "sasl_sender", "");
    attr_num(out, "size", a->size);
    attr(out, "ccert_subject", "");
    attr(out, "ccert_issuer", "");
    attr(out, "ccert_fingerprint", "");
    attr(out, "ccert_pubkey_fingerprint", "");
    attr(out, "encryption_protocol", "");
    attr(out, "encryption_cipher", "");
    attr(out, "encryption_keysize", "0");
    attr(out, "etrn_domain", "");
    attr(out, "stress", "");
    attr(out, "policy_context", policy_context);
    strbuf_append_char(out, '\n');
}

policy_reply_status policy_reply_parse(const char *data, size_t len, size_t *used,
                                       strbuf *action, strbuf *err)
{
    size_t limit = len < POLICY_REPLY_MAX ? len : POLICY_REPLY_MAX;
    int have_action = 0;
    size_t pos = 0;
    strbuf_reset(action);
    for (;;) {
        const char *nl = memchr(data + pos, '\n', limit - pos);
        if (nl == NULL) {
            if (len >= POLICY_REPLY_MAX) {
                strbuf_printf(err, "policy server reply longer than %d bytes", POLICY_REPLY_MAX);
                return POLICY_REPLY_ERROR;
            }
            return POLICY_REPLY_MORE;
        }
        size_t end = (size_t)(nl - data);
        size_t line_len = end - pos;
        if (line_len > 0 && data[end - 1] == '\r')
            line_len--;
        const char *line = data + pos;
        pos = end + 1;
        if (line_len == 0)
            break;
        if (memchr(line, '\0', line_len)) {
            strbuf_append_str(err, "NUL byte in policy server reply");
            return POLICY_REPLY_ERROR;
        }
        const char *eq = memchr(line, '=', line_len);
        if (eq == NULL || eq == line) {
            strbuf_printf(err, "malformed policy server reply line: \"%.*s\"",
                          (int)(line_len < 100 ? line_len : 100), line);
            return POLICY_REPLY_ERROR;
        }
        size_t nlen = (size_t)(eq - line);
        if (nlen == 6 && memcmp(line, "action", 6) == 0) {
            strbuf_reset(action);
            strbuf_append(action, eq + 1, line_len - nlen - 1);
            have_action = 1;
        }
    }
    *used = pos;
    if (!have_action) {
        strbuf_append_str(err, "policy server reply without an action attribute");
        return POLICY_REPLY_ERROR;
    }
    /* An empty action is no answer. */
    if (action->len == 0) {
        strbuf_append_str(err, "policy server reply with an empty action");
        return POLICY_REPLY_ERROR;
    }
    return POLICY_REPLY_DONE;
}

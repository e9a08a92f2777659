/*
 * smtpd_policy_proto.h: Postfix's SMTPD policy delegation protocol, both directions.
 *
 * A request is "name=value\n" lines (request=smtpd_access_policy, protocol_state,
 * protocol_name, helo_name, queue_id, sender, recipient, recipient_count, client_address,
 * client_name, reverse_client_name, instance, size, policy_context, ...) ended by an empty
 * line. Values are printed as received from the client; a CR, LF or NUL in them (impossible
 * from the SMTP parser, checked anyway) is replaced by '?', so no value can end the request.
 *
 * The reply is "name=value\n" lines ended by an empty line, of which "action" is the one that
 * matters (an access(5) result). CR LF line ends are accepted. The reply is bounded:
 * POLICY_REPLY_MAX bytes in all; a longer one, a line without '=', or a reply without an
 * action is an error (the caller then applies smtpd_policy_service_default_action).
 */
#ifndef POSTERN_SMTPD_POLICY_PROTO_H
#define POSTERN_SMTPD_POLICY_PROTO_H

#include "lib/strbuf.h"
#include "smtpd/smtpd_check.h"

#include <stddef.h>

#define POLICY_REPLY_MAX 65536

/* Appends the request for a to out. */
void policy_request_format(const smtpd_check_args *a, const char *policy_context,
                           const char *instance, strbuf *out);

typedef enum {
    POLICY_REPLY_MORE = 0,     /* no empty line yet */
    POLICY_REPLY_DONE = 1,     /* action holds the action; *used says how many bytes */
    POLICY_REPLY_ERROR = -1,   /* err says why */
} policy_reply_status;

/* Parses the reply at the start of data[0..len). */
policy_reply_status policy_reply_parse(const char *data, size_t len, size_t *used,
                                       strbuf *action, strbuf *err);

#endif

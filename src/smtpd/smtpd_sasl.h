/*
 * smtpd_sasl.h: SMTP AUTH (RFC 4954) in the SMTP server: the settings, the EHLO offer, the
 * AUTH command and its 334 dialog, and the result.
 *
 * Mechanisms: PLAIN and LOGIN, offered when smtpd_sasl_auth_enable = yes, the client is not in
 * smtpd_sasl_exceptions_networks, TLS is active or smtpd_tls_auth_only = no, and the security
 * options in force (smtpd_sasl_tls_security_options under TLS, else
 * smtpd_sasl_security_options) do not exclude plaintext mechanisms (noplaintext, noactive,
 * nodictionary, mutual_auth, forward_secrecy all do). The password check is asynchronous
 * (smtpd_sasl_backend.h): the session waits (SMTPD_NEXT_WAIT) and other sessions go on.
 *
 * Replies and logs are Postfix's: "235 2.7.0 Authentication successful"; "535 5.7.8 Error:
 * authentication failed: REASON" with "warning: NAME[ADDR]: SASL MECH authentication failed:
 * REASON" (the line fail2ban's postfix[mode=auth] filter matches); "454 4.7.0 Temporary
 * authentication failure: REASON" when the backend is unavailable. Each failure of a session
 * delays its reply by postern_sasl_failure_delay times the number of failures so far (at most
 * SMTPD_SASL_MAX_DELAY_MS), and smtpd_client_auth_rate_limit caps AUTH commands per client
 * address and anvil_rate_time_unit (counted per smtpd process). Credentials are never logged.
 * smtpd_sasl_local_domain is appended ("@domain") to login names without '@' for Postern's own
 * table only; Dovecot gets the name as typed (Postfix's Dovecot client ignores it too).
 */
#ifndef POSTERN_SMTPD_SASL_H
#define POSTERN_SMTPD_SASL_H

#include "lib/strbuf.h"

#include <stddef.h>

struct smtpd_server;
struct smtpd_session;

#define SMTPD_SASL_MAX_DELAY_MS 10000

/* smtpd_sasl_security_options and smtpd_sasl_tls_security_options: *plaintext_ok says whether
 * PLAIN and LOGIN stay usable; 0, or -1 with "parameter PARAM: ..." in err for a word Postfix
 * does not know. */
int smtpd_sasl_options_parse(const char *param, const char *value, int *plaintext_ok, strbuf *err);
/* Reads the smtpd_sasl_* settings (fatal on a bad value). */
void smtpd_sasl_load(struct smtpd_server *srv);
/* Opens the backend once the event loop exists (fatal when it cannot be set up). */
void smtpd_sasl_start(struct smtpd_server *srv);
void smtpd_sasl_unload(struct smtpd_server *srv);

/* "PLAIN LOGIN" when AUTH is offered to this session now, else NULL. */
const char *smtpd_sasl_mechanisms(struct smtpd_session *s);
/* The AUTH command: 1 (outcome later), or -1 (refused at once, reply queued). */
int smtpd_sasl_auth_command(struct smtpd_session *s, const char *args);
/* A line of the 334 dialog (s->sasl_state != 0). */
void smtpd_sasl_response(struct smtpd_session *s, const char *line);
/* Forgets a login (STARTTLS); cancels a check under way. */
void smtpd_sasl_reset(struct smtpd_session *s);

#endif

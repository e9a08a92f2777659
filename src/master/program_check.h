/*
 * program_check.h: each program's own start-up check, run on a configuration by postfix check,
 * start and reload (config_audit.c) instead of by each process as it starts.
 *
 * smtpd (smtpd_settings_check and its DNS server list), the smtp/lmtp agent (smtp_agent_check)
 * and local (local_settings_check) refuse values they cannot work with when they start; for a
 * delivery agent that is after mail was accepted. program_check_run() runs the same checks on a
 * configuration that is not current: main.cf, or a copy with a service's -o overrides applied.
 */
#ifndef POSTERN_PROGRAM_CHECK_H
#define POSTERN_PROGRAM_CHECK_H

#include "lib/config.h"
#include "lib/strbuf.h"

/* The check of program ("smtpd", "smtp", "lmtp", "local"; any other program has none), or with
 * NULL of every program main.cf alone configures (lmtp aside: it is checked per service with its
 * lmtp_* settings). 0, or -1 with the first error in err; warn gets what the program would only
 * warn about (smtpd TLS at level may that cannot be set up). */
int program_check_run(config *cfg, const char *program, strbuf *err, strbuf *warn);

#endif

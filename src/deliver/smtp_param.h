/*
 * smtp_param.h: the names of the PREFIX_* parameters the smtp and lmtp agents read.
 *
 * Both agents read the same settings under their own prefix ("smtp_helo_timeout",
 * "lmtp_helo_timeout"). The prefix is "smtp" or "lmtp" and the names are constants, so a name
 * always fits SMTP_PARAM_NAME_MAX: one that does not is a programming error and stops the agent,
 * it is never looked up cut.
 */
#ifndef POSTERN_SMTP_PARAM_H
#define POSTERN_SMTP_PARAM_H

#define SMTP_PARAM_NAME_MAX 128

/* Writes "prefix_name" into buf and returns buf. */
const char *smtp_param_name(char buf[SMTP_PARAM_NAME_MAX], const char *prefix, const char *name);

#endif

/*
 * smtpd_proto_parse.h: pure parsing of SMTP command lines (no I/O, no state).
 *
 * smtpd_line_next() finds the next command line in a byte buffer (CRLF or, when allowed, a bare
 * LF ends it) and reports lines longer than the limit so the caller can discard them without
 * executing them. smtpd_command_lookup() names the verb. smtpd_parse_path() reads the
 * "<address>" of MAIL FROM/RCPT TO: source routes (@a,@b:) are dropped, quoted local parts are
 * unquoted into the internal form, and the null sender "<>" is accepted only when asked.
 * smtpd_parse_mail_params() and smtpd_parse_rcpt_params() read the ESMTP parameters Postern
 * announces (SIZE, BODY, RET, ENVID; NOTIFY, ORCPT) and write Postfix's reply text for the first
 * error. smtpd_xtext_decode() decodes RFC 3461 xtext. smtpd_quote_address() turns an internal
 * address back into the external (quoted where needed) form used in replies and logs.
 *
 * Every function is bounded by the sizes it is given; none allocates except into the strbufs it
 * is handed.
 */
#ifndef POSTERN_SMTPD_PROTO_PARSE_H
#define POSTERN_SMTPD_PROTO_PARSE_H

#include "lib/strbuf.h"

#include <stddef.h>

/* Longest address Postern accepts in MAIL FROM/RCPT TO (internal form, without brackets). */
#define SMTPD_ADDR_MAX 1000
/* Bytes for the external form of such an address with its NUL (smtpd_quote_address): every
 * local-part byte escaped, two quotes. */
#define SMTPD_QUOTED_MAX (2 * SMTPD_ADDR_MAX + 3)

/* Results of smtpd_line_next(). */
typedef enum {
    SMTPD_LINE_NEED_MORE, /* no complete line yet; nothing consumed */
    SMTPD_LINE_OK,        /* a line: text/len without terminator, consumed includes it */
    SMTPD_LINE_TOO_LONG,  /* a complete line over the limit: consumed includes it */
    SMTPD_LINE_TOO_LONG_PARTIAL, /* over the limit and no end yet: consumed is everything; the
                                    caller discards input up to the next LF (smtpd_line_skip) */
} smtpd_line_status;

typedef struct smtpd_line {
    const char *text;
    size_t len;
    size_t consumed;
    int bare_lf; /* ended with LF not preceded by CR */
    int has_nul; /* contains a NUL byte */
} smtpd_line;

smtpd_line_status smtpd_line_next(const char *buf, size_t len, size_t limit, smtpd_line *out);
/* Discards up to and including the next LF. Returns 1 when the LF was found, 0 when all of buf
 * was discarded and the line goes on. *consumed is set in both cases. */
int smtpd_line_skip(const char *buf, size_t len, size_t *consumed);

typedef enum {
    SMTPD_CMD_UNKNOWN,
    SMTPD_CMD_HELO,
    SMTPD_CMD_EHLO,
    SMTPD_CMD_STARTTLS,
    SMTPD_CMD_AUTH,
    SMTPD_CMD_MAIL,
    SMTPD_CMD_RCPT,
    SMTPD_CMD_DATA,
    SMTPD_CMD_RSET,
    SMTPD_CMD_NOOP,
    SMTPD_CMD_VRFY,
    SMTPD_CMD_ETRN,
    SMTPD_CMD_QUIT,
    SMTPD_CMD_COUNT
} smtpd_cmd;

/* Splits "VERB args" (leading blanks skipped); *args points past the blanks after the verb. */
smtpd_cmd smtpd_command_lookup(const char *line, const char **args);
/* "helo", "ehlo", ... as Postfix names them in "disconnect from" lines; "unknown". */
const char *smtpd_command_name(smtpd_cmd cmd);
/* "HELO", "STARTTLS", ... as Postfix names the session state in "lost connection after X"
 * lines; "UNKNOWN". A static string. */
const char *smtpd_command_state(smtpd_cmd cmd);
/* The verb as the client spelled it, uppercased, for "after VERB" log text. */
void smtpd_command_verb(const char *line, char *out, size_t outlen);
/* Non-zero when the first word looks like a message header ("Subject:") or is a command that
 * betrays another protocol (CONNECT, GET, POST): Postfix hangs up on those. */
int smtpd_command_is_forbidden(const char *line);

typedef enum {
    SMTPD_PATH_OK = 0,
    SMTPD_PATH_BAD_ADDRESS = -1, /* 501 5.1.7 / 5.1.3 */
    SMTPD_PATH_BAD_SYNTAX = -2,  /* 501 5.5.4 Syntax: ... */
} smtpd_path_status;

/* Parses "FROM:<addr> params" or "TO:<addr> params" (keyword "FROM:" or "TO:", checked
 * case-insensitively; blanks after the colon are tolerated). strict: require <brackets> as
 * strict_rfc821_envelopes = yes does. allow_null: "<>" is valid. On success writes the internal
 * address to addr and sets *params to the text after it. */
smtpd_path_status smtpd_parse_path(const char *args, const char *keyword, int strict,
                                   int allow_null, char *addr, size_t addrlen,
                                   const char **params);

/* DSN values as Postfix keeps them. */
#define SMTPD_DSN_RET_FULL 1
#define SMTPD_DSN_RET_HDRS 2
#define SMTPD_DSN_NOTIFY_NEVER (1 << 0)
#define SMTPD_DSN_NOTIFY_SUCCESS (1 << 1)
#define SMTPD_DSN_NOTIFY_DELAY (1 << 2)
#define SMTPD_DSN_NOTIFY_FAILURE (1 << 3)

typedef struct smtpd_mail_params {
    long long size; /* SIZE=, -1 when absent */
    int body_8bit;  /* BODY=8BITMIME */
    int body_seen;
    int ret;        /* SMTPD_DSN_RET_*, 0 when absent */
    char envid[256]; /* decoded ENVID, "" when absent */
    int has_envid;
    int has_auth; /* AUTH= seen (RFC 4954; accepted and ignored) */
} smtpd_mail_params;

typedef struct smtpd_rcpt_params {
    int notify;          /* SMTPD_DSN_NOTIFY_* bits, 0 when absent */
    char orcpt[SMTPD_ADDR_MAX + 16]; /* "rfc822;decoded", "" when absent */
} smtpd_rcpt_params;

/* 0 ok; -1 with Postfix's reply ("501 5.5.4 Bad message size syntax", "555 5.5.4 Unsupported
 * option: X", ...) in reply. A SIZE beyond what a long long holds gives
 * "552 5.3.4 Message size exceeds file system imposed limit". */
int smtpd_parse_mail_params(const char *params, smtpd_mail_params *out, strbuf *reply);
int smtpd_parse_rcpt_params(const char *params, smtpd_rcpt_params *out, strbuf *reply);

/* Decodes xtext (RFC 3461: "+HH" escapes, printable ASCII other than '+' and '=' as is).
 * Returns the decoded length or -1 (bad syntax, or does not fit out with its NUL). */
long smtpd_xtext_decode(const char *in, size_t inlen, char *out, size_t outlen);

/* External form of an internal address: the local part is quoted when it needs to be
 * ("a b@x" -> "\"a b\"@x"). Returns -1 when out is too small (out is then ""); an address
 * of at most SMTPD_ADDR_MAX bytes always fits SMTPD_QUOTED_MAX. */
int smtpd_quote_address(const char *addr, char *out, size_t outlen);

/* HELO/EHLO argument checks used by reject_invalid_helo_hostname: a hostname (letters,
 * digits, '-', '_', '.'; no empty labels) or an address literal [1.2.3.4] / [IPv6:...]. */
int smtpd_helo_is_valid(const char *helo);

#endif

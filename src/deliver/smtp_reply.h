/*
 * smtp_reply.h: what an SMTP/LMTP server says, as the client reads it.
 *
 * A reply is one or more lines "DDD-text" ending with "DDD text" (or a bare "DDD"). The parser is
 * fed one line at a time (without its line end) and keeps the raw lines joined with a space, as
 * Postfix logs them ("250-a 250 b"). Lengths follow Postfix's smtp client: a line longer than
 * line_limit (line_length_limit) keeps its first line_limit bytes (the reader logs "response
 * longer than N"), and a line is added to the joined text only while that text is shorter than
 * line_limit, so the text holds whole lines and at most 2 * line_limit + 1 bytes. More than
 * SMTP_REPLY_LINES_MAX lines or a line without a three-digit code makes the reply malformed
 * (code 0). The code of the last line counts.
 *
 * smtp_reply_dsn() gives the enhanced status code: the one the server sent (RFC 3463) with the
 * class forced to the reply code's class, else "X.0.0". smtp_ehlo_parse() turns the lines of an
 * EHLO/LHLO reply into feature bits and the SIZE limit.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include "lib/strbuf.h"

#include <stddef.h>

#define SMTP_REPLY_LINE_MAX 2048  /* line_length_limit's default: the line_limit of a new reply */
#define SMTP_REPLY_LINES_MAX 1000 /* a longer reply is malformed */

typedef struct smtp_reply {
    int code;     /* 100..599 when complete; 0 when malformed */
    int complete; /* the last line arrived (or the reply is malformed) */
    int nlines;
    size_t line_limit; /* longest line kept, see above (SMTP_REPLY_LINE_MAX after init) */
    strbuf text;  /* raw lines joined with ' ' */
    strbuf lines; /* text after "DDD-" of every line, each ended by '\n' (EHLO keywords) */
} smtp_reply;

void smtp_reply_init(smtp_reply *r);
void smtp_reply_reset(smtp_reply *r);
void smtp_reply_free(smtp_reply *r);
/* Adds one line. Returns 1 when the reply is complete, 0 when more lines follow, -1 when the
 * reply is malformed (code 0, complete). */
int smtp_reply_add_line(smtp_reply *r, const char *line, size_t len);
/* 2, 3, 4, 5 or 0. */
int smtp_reply_class(const smtp_reply *r);
/* Writes the enhanced status code for r into dsn (at least 16 bytes). */
void smtp_reply_dsn(const smtp_reply *r, char *dsn, size_t len);

/* EHLO features. */
#define SMTP_FEATURE_PIPELINING 0x01
#define SMTP_FEATURE_SIZE 0x02
#define SMTP_FEATURE_8BITMIME 0x04
#define SMTP_FEATURE_DSN 0x08
#define SMTP_FEATURE_ENHANCEDSTATUSCODES 0x10
#define SMTP_FEATURE_SMTPUTF8 0x20
#define SMTP_FEATURE_STARTTLS 0x40
#define SMTP_FEATURE_AUTH 0x80
#define SMTP_FEATURE_CHUNKING 0x100

/* Parses the keyword lines of an EHLO reply (the first line is the greeting name and is
 * skipped). *size_limit gets SIZE's value, 0 when absent or without a number. */
unsigned smtp_ehlo_parse(const smtp_reply *r, long long *size_limit);

#endif

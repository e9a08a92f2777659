/*
 * smtpd_data.h: the SMTP DATA stream as a state machine (no I/O).
 *
 * smtpd_data_feed() takes message bytes as they arrive, in pieces of any size, and hands
 * complete content lines (terminator removed, dot-stuffing undone) to a callback. It stops at
 * the end-of-data mark and says how many bytes it used, so bytes after the mark (pipelined
 * commands) stay with the caller.
 *
 * Only CR LF "." CR LF ends the data: a "." line counts as the end only when both the line
 * before it and the "." line itself end in CR LF. "\n.\n", "\r\n.\n" and "\n.\r\n" are
 * ordinary content (the "." line is unstuffed into an empty line), so a message can never be
 * split into two ("SMTP smuggling"). A bare LF ends a content line ("normalize", Postfix 3.9's
 * default); in "reject" mode it stops the stream with SMTPD_DATA_BARE_LF instead. A bare CR
 * inside a line is content. Lines longer than line_limit are passed on in pieces of line_limit
 * bytes (as Postfix's smtpd does), never rejected; the buffered part of a line is bounded by
 * line_limit + 1.
 */
#ifndef POSTERN_SMTPD_DATA_H
#define POSTERN_SMTPD_DATA_H

#include "lib/strbuf.h"

#include <stddef.h>

/* smtpd_forbid_bare_newline: normalize (and its alias yes), reject, note, no. Postern never
 * accepts a non-standard end-of-data, so "no" and "note" receive like "normalize" ("note" also
 * logs). */
typedef enum {
    SMTPD_BARE_LF_NORMALIZE,
    SMTPD_BARE_LF_REJECT,
    SMTPD_BARE_LF_NOTE,
    SMTPD_BARE_LF_NO,
} smtpd_bare_lf_mode;

/* Parses a smtpd_forbid_bare_newline value; -1 when unknown. */
int smtpd_bare_lf_mode_parse(const char *value);

/* Called with each piece of content: partial = 1 when the line continues in the next call
 * (a line longer than line_length_limit arrives in pieces), 0 at the end of a line. */
typedef void (*smtpd_data_line_fn)(void *ctx, const char *line, size_t len, int partial);

typedef struct smtpd_data {
    size_t line_limit;
    smtpd_bare_lf_mode mode;
    int prev_crlf;    /* the line before the current one ended in CR LF */
    int continuation; /* the current line's first bytes were already passed on */
    int saw_bare_lf;  /* some line ended in a bare LF */
    strbuf partial;   /* the current line's bytes not yet passed on */
} smtpd_data;

typedef enum {
    SMTPD_DATA_MORE,   /* all input used; the message goes on */
    SMTPD_DATA_END,    /* end-of-data seen; *consumed includes it */
    SMTPD_DATA_BARE_LF /* reject mode: a bare LF; *consumed includes that line */
} smtpd_data_status;

/* after_crlf: the DATA command line itself ended in CR LF. */
void smtpd_data_init(smtpd_data *d, size_t line_limit, smtpd_bare_lf_mode mode, int after_crlf);
void smtpd_data_free(smtpd_data *d);
smtpd_data_status smtpd_data_feed(smtpd_data *d, const char *buf, size_t len, size_t *consumed,
                                  smtpd_data_line_fn fn, void *ctx);

#endif

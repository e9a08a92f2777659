/*
 * smtp_body.h: turning queued message content into the bytes sent after DATA.
 *
 * The writer is fed content lines as the queue file holds them (queue_content_each pieces: a
 * line may arrive in several pieces, partial = 1 on all but the last) and produces SMTP text:
 * every line ends in CRLF, a line starting with '.' gets another '.' (RFC 5321 4.5.2), and a
 * line longer than line_limit (smtp_line_length_limit, 0 = none) is broken by inserting
 * CRLF SPACE, as Postfix does. The final "." line is not written here.
 *
 * With downgrade set (the server does not announce 8BITMIME and the message has 8-bit
 * content), MIME parts declared "Content-Transfer-Encoding: 8bit" or "binary" are converted to
 * quoted-printable and their header is rewritten, as Postfix's default
 * (disable_mime_output_conversion = no) does. Multipart parts are walked by boundary (at most
 * SMTP_BODY_NESTING_MAX levels) and message/rfc822 parts by their own headers; a header block
 * longer than SMTP_BODY_HEADER_MAX bytes ends the conversion and the rest is sent as is. Mail
 * without MIME headers is sent as is.
 */
#ifndef POSTERN_SMTP_BODY_H
#define POSTERN_SMTP_BODY_H

#include "lib/strbuf.h"

#include <stddef.h>

#define SMTP_BODY_NESTING_MAX 20
#define SMTP_BODY_HEADER_MAX (256u * 1024)
#define SMTP_BODY_BOUNDARY_MAX 200

/* Returns non-zero to stop (write error). */
typedef int (*smtp_body_out_fn)(const char *data, size_t len, void *ctx);

typedef struct smtp_body_writer {
    smtp_body_out_fn out;
    void *ctx;
    size_t line_limit;
    int downgrade;
    /* output line state */
    int at_line_start;
    size_t column;
    /* MIME state (downgrade only) */
    int mime_off;     /* gave up: everything passes through */
    int in_headers;   /* reading a header block */
    int qp;           /* the current part's body is converted */
    int line_started; /* the current input line had an earlier piece */
    int line_is_boundary;
    strbuf headers; /* buffered header block, lines ended by '\n' */
    char *boundaries[SMTP_BODY_NESTING_MAX];
    size_t nboundaries;
    int failed;
} smtp_body_writer;

void smtp_body_init(smtp_body_writer *w, int downgrade, size_t line_limit, smtp_body_out_fn out,
                    void *ctx);
/* One piece of a content line. 0, or -1 when the output function failed. */
int smtp_body_piece(smtp_body_writer *w, const char *data, size_t len, int partial);
/* Writes whatever is buffered (an unfinished header block). 0 or -1. */
int smtp_body_finish(smtp_body_writer *w);
void smtp_body_free(smtp_body_writer *w);

/* Non-zero when data has a byte with the high bit set. */
int smtp_body_has_8bit(const char *data, size_t len);

#endif

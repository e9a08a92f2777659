/*
 * smtp_stream.h: line I/O on a client connection, with a deadline for every operation.
 *
 * Reads are buffered; smtp_stream_read_line() returns one line without its CRLF (or bare LF),
 * keeping at most max bytes and dropping the rest of a longer line (it says so: 1).
 * smtp_stream_read_reply() reads lines of at most line_limit bytes and logs a longer one as
 * Postfix's smtp client does ("PEER: response longer than N: first 30 bytes..."). Writes are collected with
 * smtp_stream_put() and sent by smtp_stream_flush(). Each read or flush call waits at most
 * timeout seconds in total; after any failure the stream stays failed and stream->error says why
 * (SMTP_STREAM_EOF, _TIMEOUT, _IO with errno in stream->err_no).
 *
 * Once smtp_stream_set_tls() gave it an established OpenSSL connection, every read and write goes
 * through TLS (same deadlines; OpenSSL's want-read/want-write are waited for with poll), and
 * smtp_stream_close() sends a close_notify before closing the descriptor.
 */
#ifndef POSTERN_SMTP_STREAM_H
#define POSTERN_SMTP_STREAM_H

#include "deliver/smtp_reply.h"
#include "lib/strbuf.h"

#include <stddef.h>

#define SMTP_STREAM_OK 0
#define SMTP_STREAM_EOF 1
#define SMTP_STREAM_TIMEOUT 2
#define SMTP_STREAM_IO 3

#define SMTP_STREAM_RBUF 8192
#define SMTP_STREAM_WBUF_LIMIT (1u << 20)

struct ssl_st;

typedef struct smtp_stream {
    int fd;
    struct ssl_st *ssl; /* NULL in plaintext */
    char rbuf[SMTP_STREAM_RBUF];
    size_t rstart, rend;
    strbuf wbuf;
    int error;
    int err_no;
    size_t line_limit; /* line_length_limit for reply lines; 0 = SMTP_REPLY_LINE_MAX */
    const char *peer;  /* "host[addr]" for warnings, or NULL */
} smtp_stream;

void smtp_stream_init(smtp_stream *s, int fd);
/* Closes the descriptor and frees the buffers. */
void smtp_stream_close(smtp_stream *s);
/* From now on the stream reads and writes through ssl, which it owns. */
void smtp_stream_set_tls(smtp_stream *s, struct ssl_st *ssl);
/* Bytes read but not yet consumed (plaintext a server pipelined after its STARTTLS reply must
 * be thrown away, never read as if it came inside TLS). */
size_t smtp_stream_discard_input(smtp_stream *s);
/* 0, 1 when the line was longer than max (only max bytes kept), or -1 on a stream error. */
int smtp_stream_read_line(smtp_stream *s, strbuf *line, size_t max, long timeout);
/* Reads a complete reply (possibly multi-line) into r (reset first). 0, or -1 on a stream error;
 * a malformed reply is not a stream error (r->code == 0). */
int smtp_stream_read_reply(smtp_stream *s, smtp_reply *r, long timeout);
/* Queues bytes for sending; flushes first when the buffer would pass its limit. */
int smtp_stream_put(smtp_stream *s, const char *data, size_t len, long timeout);
int smtp_stream_printf(smtp_stream *s, long timeout, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int smtp_stream_flush(smtp_stream *s, long timeout);
/* Non-zero when the peer has sent something or closed (checked without waiting): a cached
 * idle connection in that state is not worth reusing. */
int smtp_stream_peer_spoke(smtp_stream *s);
/* Text for the last error: "lost connection" or "timed out" style. */
const char *smtp_stream_error_text(const smtp_stream *s);

#endif

/* smtp_stream.c: deadline-bounded line I/O for the SMTP client (see smtp_stream.h). */
#include "deliver/smtp_stream.h"
#include "lib/log.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void smtp_stream_init(smtp_stream *s, int fd)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    strbuf_init(&s->wbuf, SMTP_STREAM_WBUF_LIMIT);
}

void smtp_stream_close(smtp_stream *s)
{
    if (s->ssl) {
        SSL_shutdown(s->ssl); /* one non-blocking attempt: close_notify, no wait for the peer's */
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    strbuf_free(&s->wbuf);
}

static int fail(smtp_stream *s, int error, int err_no)
{
    if (s->error == SMTP_STREAM_OK) {
        s->error = error;
        s->err_no = err_no;
    }
    return -1;
}

/* Waits until fd is ready for events or the deadline passes. 0 ready, -1 failed. */
static int wait_for(smtp_stream *s, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return fail(s, SMTP_STREAM_TIMEOUT, 0);
        struct pollfd p = {.fd = s->fd, .events = events};
        int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(s, SMTP_STREAM_IO, errno);
        if (n > 0)
            return 0;
    }
}

void smtp_stream_set_tls(smtp_stream *s, struct ssl_st *ssl)
{
    s->ssl = ssl;
}

size_t smtp_stream_discard_input(smtp_stream *s)
{
    size_t n = s->rend - s->rstart;
    s->rstart = s->rend = 0;
    return n;
}

/* One SSL_read or SSL_write of at most len bytes, waiting as OpenSSL asks. Returns the bytes
 * moved (> 0), or -1 with the stream failed. */
static ssize_t tls_io(smtp_stream *s, int writing, void *buf, size_t len, long long deadline)
{
    int n = len > INT_MAX ? INT_MAX : (int)len;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = writing ? SSL_write(s->ssl, buf, n) : SSL_read(s->ssl, buf, n);
        if (r > 0)
            return r;
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_for(s, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) < 0)
                return -1;
            continue;
        }
        if (e == SSL_ERROR_SYSCALL && errno == EINTR)
            continue;
        if (e == SSL_ERROR_SYSCALL && errno != 0 && errno != EPIPE && errno != ECONNRESET)
            return fail(s, SMTP_STREAM_IO, errno);
        return fail(s, SMTP_STREAM_EOF, 0); /* close_notify, reset, or a TLS protocol error */
    }
}

/* Refills the read buffer. 0 or -1. */
static int fill(smtp_stream *s, long long deadline)
{
    if (s->ssl) {
        if (s->rstart == s->rend)
            s->rstart = s->rend = 0;
        ssize_t n = tls_io(s, 0, s->rbuf + s->rend, sizeof(s->rbuf) - s->rend, deadline);
        if (n < 0)
            return -1;
        s->rend += (size_t)n;
        return 0;
    }
    if (s->rstart == s->rend)
        s->rstart = s->rend = 0;
    if (wait_for(s, POLLIN, deadline) < 0)
        return -1;
    for (;;) {
        ssize_t n = read(s->fd, s->rbuf + s->rend, sizeof(s->rbuf) - s->rend);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(s, POLLIN, deadline) < 0)
                return -1;
            continue;
        }
        if (n < 0)
            return fail(s, SMTP_STREAM_IO, errno);
        if (n == 0)
            return fail(s, SMTP_STREAM_EOF, 0);
        s->rend += (size_t)n;
        return 0;
    }
}

int smtp_stream_read_line(smtp_stream *s, strbuf *line, size_t max, long timeout)
{
    if (s->error)
        return -1;
    long long deadline = now_ms() + (timeout > 0 ? timeout : 1) * 1000LL;
    strbuf_reset(line);
    size_t seen = 0; /* bytes of the line before its newline, CR included */
    for (;;) {
        char *start = s->rbuf + s->rstart;
        size_t avail = s->rend - s->rstart;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        /* keep one byte more than max: a CR there is the line end, anything else a long line */
        size_t room = max + 1 > line->len ? max + 1 - line->len : 0;
        strbuf_append(line, start, take < room ? take : room);
        seen += take;
        s->rstart += take;
        if (nl) {
            s->rstart++; /* the newline */
            if (line->len > 0 && line->data[line->len - 1] == '\r' && line->len == seen) {
                strbuf_truncate(line, line->len - 1);
                seen--;
            }
            if (line->len > max)
                strbuf_truncate(line, max);
            return seen > max;
        }
        s->rstart = s->rend = 0;
        if (fill(s, deadline) < 0)
            return -1;
    }
}

/* Postfix's warning for a reply line past line_length_limit, its start made printable. */
static void warn_long_line(const smtp_stream *s, size_t limit, const strbuf *line)
{
    char start[31];
    size_t n = line->len < 30 ? line->len : 30;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line->data[i];
        start[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    start[n] = '\0';
    log_warning("%s: response longer than %zu: %s...", s->peer ? s->peer : "server", limit,
                start);
}

int smtp_stream_read_reply(smtp_stream *s, smtp_reply *r, long timeout)
{
    size_t limit = s->line_limit ? s->line_limit : SMTP_REPLY_LINE_MAX;
    strbuf line;
    strbuf_init(&line, limit + 2);
    smtp_reply_reset(r);
    r->line_limit = limit;
    int rc = 0;
    while (!r->complete) {
        int got = smtp_stream_read_line(s, &line, limit, timeout);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 1)
            warn_long_line(s, limit, &line);
        smtp_reply_add_line(r, line.data, line.len);
    }
    strbuf_free(&line);
    return rc;
}

int smtp_stream_flush(smtp_stream *s, long timeout)
{
    if (s->error)
        return -1;
    long long deadline = now_ms() + (timeout > 0 ? timeout : 1) * 1000LL;
    size_t off = 0;
    while (off < s->wbuf.len && s->ssl) {
        ssize_t n = tls_io(s, 1, s->wbuf.data + off, s->wbuf.len - off, deadline);
        if (n < 0)
            return -1;
        off += (size_t)n;
    }
    while (off < s->wbuf.len) {
        ssize_t n = send(s->fd, s->wbuf.data + off, s->wbuf.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(s, POLLOUT, deadline) < 0)
                return -1;
            continue;
        }
        if (n < 0)
            return fail(s, errno == EPIPE || errno == ECONNRESET ? SMTP_STREAM_EOF : SMTP_STREAM_IO,
                        errno);
        off += (size_t)n;
    }
    strbuf_reset(&s->wbuf);
    return 0;
}

int smtp_stream_put(smtp_stream *s, const char *data, size_t len, long timeout)
{
    if (s->error)
        return -1;
    if (s->wbuf.len + len > s->wbuf.limit && smtp_stream_flush(s, timeout) < 0)
        return -1;
    while (len > s->wbuf.limit) { /* a single huge piece: send it in buffer-sized parts */
        strbuf_append(&s->wbuf, data, s->wbuf.limit);
        if (smtp_stream_flush(s, timeout) < 0)
            return -1;
        data += s->wbuf.limit;
        len -= s->wbuf.limit;
    }
    strbuf_append(&s->wbuf, data, len);
    return 0;
}

int smtp_stream_printf(smtp_stream *s, long timeout, const char *fmt, ...)
{
    strbuf tmp;
    strbuf_init(&tmp, 0);
    va_list ap;
    va_start(ap, fmt);
    int rc = strbuf_vprintf(&tmp, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = smtp_stream_put(s, tmp.data, tmp.len, timeout);
    strbuf_free(&tmp);
    return rc;
}

int smtp_stream_peer_spoke(smtp_stream *s)
{
    if (s->error || s->rstart != s->rend)
        return 1;
    if (s->ssl && SSL_pending(s->ssl) > 0)
        return 1;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 0)
        return 0;
    if (s->ssl == NULL)
        return 1;
    /* TLS 1.3 session tickets arrive after the handshake and make the socket readable without
     * the server having said anything: let OpenSSL consume records and look for real data. */
    char c;
    ERR_clear_error();
    int r = SSL_peek(s->ssl, &c, 1);
    return r > 0 || SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_READ;
}

const char *smtp_stream_error_text(const smtp_stream *s)
{
    switch (s->error) {
    case SMTP_STREAM_TIMEOUT:
        return "timed out";
    case SMTP_STREAM_IO:
        return strerror(s->err_no);
    default:
        return "lost connection";
    }
}

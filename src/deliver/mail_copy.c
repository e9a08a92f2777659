/* mail_copy.c: writes a queued message into a mailbox, file or pipe (see mail_copy.h). */
#include "deliver/mail_copy.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/log.h"
#include "queue/queue_dir.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define COPY_FLUSH_AT (64 * 1024)

int mail_source_open(mail_source *src, const deliver_request *req, strbuf *why)
{
    memset(src, 0, sizeof(*src));
    src->fd = -1;
    char path[4096];
    if (queue_path(path, sizeof(path), mail_params_current()->queue_directory, req->queue_name,
                   req->queue_id, 0) < 0) {
        strbuf_printf(why, "queue file path too long");
        return -1;
    }
    src->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (src->fd < 0) {
        strbuf_printf(why, "cannot open queue file %s: %s", path, strerror(errno));
        return -1;
    }
    strbuf err;
    strbuf_init(&err, 0);
    if (queue_envelope_read(src->fd, &src->env, &err) < 0) {
        strbuf_printf(why, "cannot read queue file %s: %s", path, err.data);
        strbuf_free(&err);
        close(src->fd);
        src->fd = -1;
        return -1;
    }
    src->have_env = 1;
    strbuf_free(&err);
    return 0;
}

int mail_source_open_or_defer(mail_source *src, deliver_request *req, const char *relay)
{
    strbuf why;
    strbuf_init(&why, 0);
    int rc = mail_source_open(src, req, &why);
    if (rc < 0) {
        log_warning("%s: %s", req->queue_id, why.data);
        for (size_t i = 0; i < req->nrcpt; i++) {
            deliver_rcpt *r = &req->rcpts[i];
            deliver_set_result(r, "4.3.0", "cannot read the queue file");
            deliver_log(req, r->address, r->orig, relay, r->dsn, r->reason);
        }
    }
    strbuf_free(&why);
    return rc;
}

void mail_source_close(mail_source *src)
{
    if (src->have_env)
        queue_envelope_free(&src->env);
    if (src->fd >= 0)
        close(src->fd);
    src->fd = -1;
    src->have_env = 0;
}

/* ---- loop check ---- */

typedef struct loop_scan {
    const char *rcpt;
    strbuf line; /* the current header line, pieces joined */
    int hops;
    int match;
    int in_body;
} loop_scan;

static int header_is(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static void loop_scan_header(loop_scan *s)
{
    const char *h = s->line.data;
    if (header_is(h, "Received")) {
        s->hops++;
    } else if (header_is(h, "Delivered-To")) {
        s->hops++;
        const char *v = h + strlen("Delivered-To:");
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vlen = strlen(v);
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
            vlen--;
        if (vlen == strlen(s->rcpt) && strncasecmp(v, s->rcpt, vlen) == 0)
            s->match = 1;
    }
}

static int loop_scan_line(const char *data, size_t len, int partial, void *ctx)
{
    loop_scan *s = ctx;
    strbuf_append(&s->line, data, len);
    if (partial)
        return 0;
    int empty = s->line.len == 0;
    if (!empty)
        loop_scan_header(s);
    strbuf_reset(&s->line);
    return empty ? 1 : 0; /* stop at the end of the headers */
}

int mail_copy_loop_check(mail_source *src, const char *rcpt, strbuf *why)
{
    loop_scan s = {.rcpt = rcpt};
    strbuf_init(&s.line, 1024 * 1024);
    int rc = queue_content_each(src->fd, &src->env, loop_scan_line, &s);
    strbuf_free(&s.line);
    if (rc < 0) {
        strbuf_printf(why, "cannot read queue file content");
        return -1;
    }
    if (s.match || s.hops > mail_params_current()->hopcount_limit) {
        strbuf_printf(why, "mail forwarding loop for %s", rcpt);
        return 1;
    }
    return 0;
}

/* ---- copying ---- */

typedef struct copy_state {
    int fd;
    const mail_copy_opts *opts;
    strbuf buf;
    long long written;
    int at_line_start;
    int result;
    int err_no;
} copy_state;

static int copy_flush(copy_state *c)
{
    const char *p = c->buf.data;
    size_t left = c->buf.len;
    while (left > 0) {
        ssize_t n = write(c->fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            c->err_no = errno;
            c->result = MAIL_COPY_WRITE_ERROR;
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    strbuf_reset(&c->buf);
    return 0;
}

static int copy_out(copy_state *c, const char *data, size_t len)
{
    if (c->opts->size_limit > 0 && c->written + (long long)len > c->opts->size_limit) {
        c->result = MAIL_COPY_TOO_BIG;
        return -1;
    }
    strbuf_append(&c->buf, data, len);
    c->written += (long long)len;
    if (c->buf.len >= COPY_FLUSH_AT)
        return copy_flush(c);
    return 0;
}

int mail_copy_needs_quote(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] == '>')
        i++;
    return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

static int copy_line(const char *data, size_t len, int partial, void *ctx)
{
    copy_state *c = ctx;
    if (c->at_line_start && c->opts->quote_from && mail_copy_needs_quote(data, len) &&
        copy_out(c, ">", 1) < 0)
        return 1;
    if (copy_out(c, data, len) < 0)
        return 1;
    c->at_line_start = !partial;
    if (!partial && copy_out(c, "\n", 1) < 0)
        return 1;
    return 0;
}

static void copy_envelope_lines(copy_state *c, const char *sender)
{
    strbuf hdr;
    strbuf_init(&hdr, 0);
    if (c->opts->from_line) {
        time_t now = time(NULL);
        struct tm tm;
        char date[64]; /* "Mon Jan  1 00:00:00 2024", the year at most 12 digits for a time_t */
        localtime_r(&now, &tm);
        if (strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
            date[0] = '\0'; /* not reached: see the size */
        strbuf_printf(&hdr, "From %s  %s\n", *sender ? sender : "MAILER-DAEMON", date);
    }
    if (c->opts->return_path)
        strbuf_printf(&hdr, "Return-Path: <%s>\n", sender);
    if (c->opts->delivered_to)
        strbuf_printf(&hdr, "Delivered-To: %s\n", c->opts->delivered_to);
    copy_out(c, hdr.data, hdr.len);
    strbuf_free(&hdr);
}

int mail_copy(mail_source *src, const char *sender, int out_fd, const mail_copy_opts *opts,
              long long *written, strbuf *why)
{
    copy_state c = {.fd = out_fd, .opts = opts, .at_line_start = 1};
    strbuf_init(&c.buf, 0);
    copy_envelope_lines(&c, sender);
    int rc = c.result == MAIL_COPY_OK ? queue_content_each(src->fd, &src->env, copy_line, &c) : 1;
    if (rc < 0) {
        c.result = MAIL_COPY_READ_ERROR;
    } else if (c.result == MAIL_COPY_OK) {
        if (opts->blank_line)
            copy_out(&c, "\n", 1);
        if (c.result == MAIL_COPY_OK)
            copy_flush(&c);
        if (c.result == MAIL_COPY_OK && opts->sync && fsync(out_fd) < 0) {
            c.result = MAIL_COPY_WRITE_ERROR;
            c.err_no = errno;
        }
    }
    strbuf_free(&c.buf);
    if (written)
        *written = c.written;
    switch (c.result) {
    case MAIL_COPY_READ_ERROR:
        strbuf_printf(why, "error reading queue file content");
        break;
    case MAIL_COPY_WRITE_ERROR:
        strbuf_printf(why, "%s", strerror(c.err_no));
        errno = c.err_no;
        break;
    case MAIL_COPY_TOO_BIG:
        strbuf_printf(why, "mailbox full (size limit %lld exceeded)", opts->size_limit);
        break;
    }
    return c.result;
}

const char *mail_copy_dsn(int result, int err_no)
{
    if (result == MAIL_COPY_TOO_BIG)
        return "5.2.2";
    if (result == MAIL_COPY_WRITE_ERROR && (err_no == EDQUOT || err_no == EFBIG))
        return "5.2.2";
    return "4.3.0";
}

/*
 * smtpd_data.c: DATA stream state machine: end-of-data, dot-unstuffing, bare LF policy, long
 * line splitting (see smtpd_data.h).
 */
#include "smtpd/smtpd_data.h"

#include <string.h>
#include <strings.h>

int smtpd_bare_lf_mode_parse(const char *value)
{
    if (strcasecmp(value, "normalize") == 0 || strcasecmp(value, "yes") == 0)
        return SMTPD_BARE_LF_NORMALIZE;
    if (strcasecmp(value, "reject") == 0)
        return SMTPD_BARE_LF_REJECT;
    if (strcasecmp(value, "note") == 0)
        return SMTPD_BARE_LF_NOTE;
    if (strcasecmp(value, "no") == 0)
        return SMTPD_BARE_LF_NO;
    return -1;
}

void smtpd_data_init(smtpd_data *d, size_t line_limit, smtpd_bare_lf_mode mode, int after_crlf)
{
    d->line_limit = line_limit ? line_limit : 2048;
    d->mode = mode;
    d->prev_crlf = after_crlf;
    d->continuation = 0;
    d->saw_bare_lf = 0;
    strbuf_init(&d->partial, 0);
}

void smtpd_data_free(smtpd_data *d)
{
    strbuf_free(&d->partial);
}

/* Passes on the rest of a line of content in pieces of at most line_limit bytes; only a line's
 * first piece is subject to dot-unstuffing. */
static void emit_line_end(smtpd_data *d, const char *line, size_t len, smtpd_data_line_fn fn,
                          void *ctx)
{
    if (!d->continuation && len > 0 && line[0] == '.') {
        line++;
        len--;
    }
    while (len > d->line_limit) {
        fn(ctx, line, d->line_limit, 1);
        line += d->line_limit;
        len -= d->line_limit;
    }
    fn(ctx, line, len, 0);
    d->continuation = 0;
}

/* Keeps the buffered part of an unfinished line bounded: passes on full pieces while more than
 * line_limit + 1 bytes wait, so that what remains can never be just the CR of a CR LF. */
static void flush_long_partial(smtpd_data *d, smtpd_data_line_fn fn, void *ctx)
{
    if (d->partial.len <= d->line_limit + 1)
        return;
    if (!d->continuation && d->partial.data[0] == '.') {
        /* A line this long is never the end mark: undo the stuffing now, so the pieces hold
         * the same content as when the whole line arrives at once. */
        memmove(d->partial.data, d->partial.data + 1, d->partial.len - 1);
        strbuf_truncate(&d->partial, d->partial.len - 1);
        d->continuation = 1;
    }
    size_t keep = d->partial.len % d->line_limit;
    while (keep < 2)
        keep += d->line_limit;
    if (keep >= d->partial.len)
        return;
    size_t give = d->partial.len - keep;
    for (size_t off = 0; off < give; off += d->line_limit) {
        size_t n = give - off < d->line_limit ? give - off : d->line_limit;
        fn(ctx, d->partial.data + off, n, 1);
        d->continuation = 1;
    }
    memmove(d->partial.data, d->partial.data + give, d->partial.len - give);
    strbuf_truncate(&d->partial, d->partial.len - give);
}

/* A complete line (without its LF) has arrived: returns 1 when it is the end-of-data mark. */
static int end_of_line(smtpd_data *d, const char *line, size_t len, int *bare_lf,
                       smtpd_data_line_fn fn, void *ctx)
{
    int crlf = len > 0 && line[len - 1] == '\r';
    if (crlf)
        len--;
    *bare_lf = !crlf;
    if (!d->continuation && len == 1 && line[0] == '.' && crlf && d->prev_crlf)
        return 1;
    if (!crlf)
        d->saw_bare_lf = 1;
    if (!crlf && d->mode == SMTPD_BARE_LF_REJECT)
        return 0;
    emit_line_end(d, line, len, fn, ctx);
    d->prev_crlf = crlf;
    return 0;
}

smtpd_data_status smtpd_data_feed(smtpd_data *d, const char *buf, size_t len, size_t *consumed,
                                  smtpd_data_line_fn fn, void *ctx)
{
    size_t pos = 0;
    while (pos < len) {
        const char *lf = memchr(buf + pos, '\n', len - pos);
        if (lf == NULL) {
            strbuf_append(&d->partial, buf + pos, len - pos);
            flush_long_partial(d, fn, ctx);
            pos = len;
            break;
        }
        size_t end = (size_t)(lf - buf);
        int is_end, bare_lf;
        if (d->partial.len == 0) {
            /* Fast path: the whole line is in the caller's buffer. */
            is_end = end_of_line(d, buf + pos, end - pos, &bare_lf, fn, ctx);
        } else {
            strbuf_append(&d->partial, buf + pos, end - pos);
            is_end = end_of_line(d, d->partial.data, d->partial.len, &bare_lf, fn, ctx);
            strbuf_reset(&d->partial);
        }
        pos = end + 1;
        if (is_end) {
            *consumed = pos;
            return SMTPD_DATA_END;
        }
        if (bare_lf && d->mode == SMTPD_BARE_LF_REJECT) {
            *consumed = pos;
            return SMTPD_DATA_BARE_LF;
        }
    }
    *consumed = pos;
    return SMTPD_DATA_MORE;
}

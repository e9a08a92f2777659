/* attr.c: name=value record protocol (see attr.h). */
#include "lib/attr.h"
#include "lib/fixed_str.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char hex_digits[] = "0123456789abcdef";

void attr_put(strbuf *out, const char *name, const char *value)
{
    strbuf_append_str(out, name);
    strbuf_append_char(out, '=');
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++) {
        if (*p == '\\') {
            strbuf_append(out, "\\\\", 2);
        } else if (*p == '\n') {
            strbuf_append(out, "\\n", 2);
        } else if (*p == '\r') {
            strbuf_append(out, "\\r", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            char esc[4] = {'\\', 'x', hex_digits[*p >> 4], hex_digits[*p & 15]};
            strbuf_append(out, esc, 4);
        } else {
            strbuf_append_char(out, (char)*p);
        }
    }
    strbuf_append_char(out, '\n');
}

void attr_put_long(strbuf *out, const char *name, long value)
{
    char num[24]; /* a 64-bit long has at most 19 digits and a sign */
    if (fixed_printf(num, sizeof(num), "%ld", value) == 0)
        attr_put(out, name, num);
}

void attr_end(strbuf *out)
{
    strbuf_append_char(out, '\n');
}

void attr_record_init(attr_record *rec)
{
    rec->items = NULL;
    rec->count = rec->cap = 0;
}

void attr_record_reset(attr_record *rec)
{
    for (size_t i = 0; i < rec->count; i++)
        free(rec->items[i].value);
    rec->count = 0;
}

void attr_record_free(attr_record *rec)
{
    attr_record_reset(rec);
    free(rec->items);
    rec->items = NULL;
    rec->cap = 0;
}

const char *attr_get(const attr_record *rec, const char *name)
{
    for (size_t i = 0; i < rec->count; i++)
        if (strcmp(rec->items[i].name, name) == 0)
            return rec->items[i].value;
    return NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes src[0..len) into a new string. NULL on a bad escape. */
static char *unescape(const char *src, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] != '\\') {
            out[o++] = src[i];
            continue;
        }
        if (++i >= len)
            goto bad;
        switch (src[i]) {
        case '\\':
            out[o++] = '\\';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 'x': {
            if (i + 2 >= len)
                goto bad;
            int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                goto bad;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
            break;
        }
        default:
            goto bad;
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static int parse_line(const char *line, size_t len, attr_record *rec, strbuf *err)
{
    const char *eq = memchr(line, '=', len);
    size_t nlen = eq ? (size_t)(eq - line) : 0;
    if (eq == NULL || nlen == 0 || nlen >= ATTR_NAME_MAX) {
        strbuf_printf(err, "malformed attribute line");
        return -1;
    }
    for (size_t i = 0; i < nlen; i++) {
        char c = line[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            strbuf_printf(err, "bad attribute name");
            return -1;
        }
    }
    char *value = unescape(eq + 1, len - nlen - 1);
    if (value == NULL) {
        strbuf_printf(err, "bad escape in attribute value");
        return -1;
    }
    if (rec->count == rec->cap) {
        rec->cap = rec->cap ? rec->cap * 2 : 16;
        rec->items = xrealloc(rec->items, rec->cap * sizeof(*rec->items));
    }
    attr_item *it = &rec->items[rec->count++];
    memcpy(it->name, line, nlen);
    it->name[nlen] = '\0';
    it->value = value;
    return 0;
}

int attr_parse(const char *text, size_t len, attr_record *rec, strbuf *err)
{
    attr_record_reset(rec);
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (llen > ATTR_LINE_LIMIT) {
            strbuf_printf(err, "attribute line too long");
            return -1;
        }
        if (llen > 0 && parse_line(text + pos, llen, rec, err) < 0)
            return -1;
        pos += llen + 1;
    }
    return 0;
}

void attr_reader_init(attr_reader *rd, int fd, size_t record_limit)
{
    rd->fd = fd;
    strbuf_init(&rd->buf, record_limit + 1);
    rd->record_limit = record_limit;
    rd->eof = 0;
}

void attr_reader_free(attr_reader *rd)
{
    strbuf_free(&rd->buf);
}

/* Finds the end of a record ("\n\n", or a lone "\n" at the start). Offset past it, or 0. */
static size_t record_end(const strbuf *b)
{
    if (b->len >= 1 && b->data[0] == '\n')
        return 1;
    const char *p = b->data;
    for (size_t i = 1; i < b->len; i++)
        if (p[i] == '\n' && p[i - 1] == '\n')
            return i + 1;
    return 0;
}

int attr_reader_buffered(attr_reader *rd, attr_record *rec, strbuf *err)
{
    size_t end = record_end(&rd->buf);
    if (end == 0) {
        if (rd->buf.len >= rd->record_limit) {
            strbuf_printf(err, "record exceeds %zu bytes", rd->record_limit);
            return -1;
        }
        return 0;
    }
    int rc = attr_parse(rd->buf.data, end - 1, rec, err);
    size_t rest = rd->buf.len - end;
    memmove(rd->buf.data, rd->buf.data + end, rest);
    strbuf_truncate(&rd->buf, rest);
    return rc < 0 ? -1 : 1;
}

int attr_reader_next(attr_reader *rd, attr_record *rec, strbuf *err)
{
    int have = attr_reader_buffered(rd, rec, err);
    if (have != 0)
        return have;
    char chunk[16384];
    size_t room = rd->record_limit + 1 - rd->buf.len;
    ssize_t n = read(rd->fd, chunk, room < sizeof(chunk) ? room : sizeof(chunk));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        strbuf_printf(err, "read: %s", strerror(errno));
        return -1;
    }
    if (n == 0) {
        rd->eof = rd->buf.len == 0;
        strbuf_printf(err, rd->eof ? "end of file" : "end of file inside a record");
        return -1;
    }
    strbuf_append(&rd->buf, chunk, (size_t)n);
    return attr_reader_buffered(rd, rec, err);
}

int attr_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * header_addr.c: RFC 5322 address lists for sendmail -t (see header_addr.h).
 *
 * A single pass over the text with two buffers: the words outside angle brackets (an
 * addr-spec, or a display name that an angle address later replaces) and the text inside
 * the angle brackets. A comma or semicolon outside angle brackets ends a mailbox; a colon
 * outside them ends a group's display name.
 */
#include "cleanup/header_addr.h"
#include "lib/strbuf.h"

#include <string.h>

typedef struct addr_scan {
    strbuf plain; /* words outside <> */
    strbuf angle; /* text inside <> */
    int in_angle;
    int have_angle;
    size_t found;
    size_t max;
    int status; /* 0, -1 (fn failed) or -2 (max reached) */
    int (*fn)(const char *addr, void *ctx);
    void *ctx;
} addr_scan;

static strbuf *target(addr_scan *s)
{
    return s->in_angle ? &s->angle : &s->plain;
}

static void emit(addr_scan *s)
{
    const char *addr = s->have_angle ? s->angle.data : s->plain.data;
    if (addr[0] == '@') { /* source route: <@relay,@relay:user@domain> */
        const char *colon = strchr(addr, ':');
        addr = colon ? colon + 1 : "";
    }
    if (addr[0] != '\0' && s->status == 0) {
        if (s->found >= s->max)
            s->status = -2;
        else if (s->fn(addr, s->ctx) != 0)
            s->status = -1;
        else
            s->found++;
    }
    strbuf_reset(&s->plain);
    strbuf_reset(&s->angle);
    s->in_angle = s->have_angle = 0;
}

/* Copies a quoted string, quotes included; returns the index after it. */
static size_t copy_quoted(addr_scan *s, const char *text, size_t len, size_t i)
{
    strbuf *out = target(s);
    strbuf_append_char(out, '"');
    for (i++; i < len; i++) {
        if (text[i] == '\\' && i + 1 < len) {
            strbuf_append(out, text + i, 2);
            i++;
        } else if (text[i] == '"') {
            i++;
            break;
        } else {
            strbuf_append_char(out, text[i]);
        }
    }
    strbuf_append_char(out, '"');
    return i;
}

/* Skips a possibly nested comment; returns the index after it. */
static size_t skip_comment(const char *text, size_t len, size_t i)
{
    size_t depth = 0;
    for (; i < len; i++) {
        if (text[i] == '\\')
            i++;
        else if (text[i] == '(')
            depth++;
        else if (text[i] == ')' && --depth == 0)
            return i + 1;
    }
    return len;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int header_addr_each(const char *text, size_t len, size_t max,
                     int (*fn)(const char *addr, void *ctx), void *ctx)
{
    addr_scan s = {.max = max, .fn = fn, .ctx = ctx};
    strbuf_init(&s.plain, len + 4);
    strbuf_init(&s.angle, len + 4);
    size_t i = 0;
    while (i < len && s.status == 0) {
        char ch = text[i];
        if (ch == '"') {
            i = copy_quoted(&s, text, len, i);
        } else if (ch == '(') {
            i = skip_comment(text, len, i);
        } else if (ch == '\\' && i + 1 < len) {
            strbuf_append(target(&s), text + i, 2);
            i += 2;
        } else if (s.in_angle) {
            if (ch == '>')
                s.in_angle = 0;
            else if (!is_blank(ch))
                strbuf_append_char(&s.angle, ch);
            i++;
        } else {
            if (ch == '<') {
                s.in_angle = s.have_angle = 1;
                strbuf_reset(&s.angle);
            } else if (ch == ',' || ch == ';') {
                emit(&s);
            } else if (ch == ':') {
                if (!s.have_angle) /* end of a group's display name */
                    strbuf_reset(&s.plain);
            } else if (!is_blank(ch)) {
                strbuf_append_char(&s.plain, ch);
            }
            i++;
        }
    }
    if (s.status == 0)
        emit(&s);
    strbuf_free(&s.plain);
    strbuf_free(&s.angle);
    return s.status != 0 ? s.status : (int)s.found;
}

/* smtp_reply.c: parsing server replies and EHLO keywords (see smtp_reply.h). */
#include "deliver/smtp_reply.h"
#include "deliver/deliver_request.h"
#include "lib/fixed_str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void smtp_reply_init(smtp_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->line_limit = SMTP_REPLY_LINE_MAX;
    strbuf_init(&r->text, 0); /* bounded by the rule in smtp_reply.h */
    strbuf_init(&r->lines, 0); /* SMTP_REPLY_LINES_MAX lines of at most line_limit bytes */
}

void smtp_reply_reset(smtp_reply *r)
{
    r->code = 0;
    r->complete = 0;
    r->nlines = 0;
    strbuf_reset(&r->text);
    strbuf_reset(&r->lines);
}

void smtp_reply_free(smtp_reply *r)
{
    strbuf_free(&r->text);
    strbuf_free(&r->lines);
}

/* Adds a whole line to the joined text while the text is shorter than line_limit (Postfix
 * stores multi-line text the same way, against a server that talks without end). */
static void append_text(smtp_reply *r, const char *line, size_t len)
{
    if (r->text.len >= r->line_limit)
        return;
    if (r->text.len)
        strbuf_append_char(&r->text, ' ');
    strbuf_append(&r->text, line, len);
}

static void mark_malformed(smtp_reply *r, const char *line, size_t len)
{
    append_text(r, line, len);
    r->code = 0;
    r->complete = 1;
}

int smtp_reply_add_line(smtp_reply *r, const char *line, size_t len)
{
    if (r->complete)
        return r->code ? 1 : -1;
    if (++r->nlines > SMTP_REPLY_LINES_MAX) {
        mark_malformed(r, "(too many reply lines)", 22);
        return -1;
    }
    if (len > r->line_limit) /* the reader has logged it */
        len = r->line_limit;
    if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-') ||
        line[0] < '1' || line[0] > '5') {
        mark_malformed(r, line, len);
        return -1;
    }
    append_text(r, line, len);
    size_t skip = len > 3 ? 4 : 3;
    if (strbuf_append(&r->lines, line + skip, len - skip) < 0 ||
        strbuf_append_char(&r->lines, '\n') < 0) {
        mark_malformed(r, "(reply too large)", 17);
        return -1;
    }
    r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (len > 3 && line[3] == '-')
        return 0;
    r->complete = 1;
    return 1;
}

int smtp_reply_class(const smtp_reply *r)
{
    int c = r->code / 100;
    return c >= 2 && c <= 5 ? c : 0;
}

/* Length of a "d.ddd.ddd" enhanced status code at s (class 2, 4 or 5), 0 when none. */
static size_t enhanced_code_len(const char *s)
{
    if (s[0] != '2' && s[0] != '4' && s[0] != '5')
        return 0;
    if (s[1] != '.')
        return 0;
    size_t i = 2, digits = 0;
    while (isdigit((unsigned char)s[i]) && digits < 3) {
        i++;
        digits++;
    }
    if (digits == 0 || s[i] != '.')
        return 0;
    i++;
    digits = 0;
    while (isdigit((unsigned char)s[i]) && digits < 3) {
        i++;
        digits++;
    }
    if (digits == 0 || (s[i] != '\0' && s[i] != ' ' && s[i] != '\n'))
        return 0;
    return i;
}

void smtp_reply_dsn(const smtp_reply *r, char *dsn, size_t len)
{
    int cls = smtp_reply_class(r);
    if (cls == 0 || cls == 3) {
        dsn_set(dsn, len, cls == 3 ? "2.0.0" : "4.5.0");
        return;
    }
    /* The first line's text starts the lines buffer; a code there has at most 9 bytes. */
    const char *s = r->lines.data ? r->lines.data : "";
    size_t n = enhanced_code_len(s);
    char code[DSN_MAX];
    if (n == 0 || fixed_printf(code, sizeof(code), "%c%.*s", '0' + cls, (int)(n - 1), s + 1) < 0) {
        code[0] = (char)('0' + cls);
        memcpy(code + 1, ".0.0", 5);
    }
    dsn_set(dsn, len, code);
}

static const struct {
    const char *name;
    unsigned bit;
} ehlo_keywords[] = {
    {"PIPELINING", SMTP_FEATURE_PIPELINING},
    {"SIZE", SMTP_FEATURE_SIZE},
    {"8BITMIME", SMTP_FEATURE_8BITMIME},
    {"DSN", SMTP_FEATURE_DSN},
    {"ENHANCEDSTATUSCODES", SMTP_FEATURE_ENHANCEDSTATUSCODES},
    {"SMTPUTF8", SMTP_FEATURE_SMTPUTF8},
    {"STARTTLS", SMTP_FEATURE_STARTTLS},
    {"AUTH", SMTP_FEATURE_AUTH},
    {"CHUNKING", SMTP_FEATURE_CHUNKING},
};

/* Parses SIZE's argument: decimal digits only, capped; 0 when absent or bad. */
static long long parse_size_arg(const char *s, size_t len)
{
    long long v = 0;
    size_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    if (i == len)
        return 0;
    for (; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        if (v > (1LL << 50))
            return 1LL << 50;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

unsigned smtp_ehlo_parse(const smtp_reply *r, long long *size_limit)
{
    unsigned features = 0;
    *size_limit = 0;
    const char *p = r->lines.data ? r->lines.data : "";
    const char *nl = strchr(p, '\n');
    if (nl == NULL)
        return 0;
    p = nl + 1; /* skip the server's name line */
    while ((nl = strchr(p, '\n')) != NULL) {
        size_t len = (size_t)(nl - p);
        size_t kw = 0;
        while (kw < len && p[kw] != ' ' && p[kw] != '=')
            kw++;
        for (size_t i = 0; i < sizeof(ehlo_keywords) / sizeof(ehlo_keywords[0]); i++) {
            if (strlen(ehlo_keywords[i].name) == kw &&
                strncasecmp(p, ehlo_keywords[i].name, kw) == 0) {
                features |= ehlo_keywords[i].bit;
                if (ehlo_keywords[i].bit == SMTP_FEATURE_SIZE)
                    *size_limit = parse_size_arg(p + kw, len - kw);
            }
        }
        p = nl + 1;
    }
    return features;
}

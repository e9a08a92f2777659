/* smtp_body.c: dot-stuffing, CRLF and 8BITMIME downgrade of message content (see smtp_body.h). */
#include "deliver/smtp_body.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QP_LINE_MAX 76

void smtp_body_init(smtp_body_writer *w, int downgrade, size_t line_limit, smtp_body_out_fn out,
                    void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->ctx = ctx;
    w->line_limit = line_limit;
    w->downgrade = downgrade;
    w->at_line_start = 1;
    w->in_headers = downgrade;
    strbuf_init(&w->headers, SMTP_BODY_HEADER_MAX);
}

void smtp_body_free(smtp_body_writer *w)
{
    for (size_t i = 0; i < w->nboundaries; i++)
        free(w->boundaries[i]);
    w->nboundaries = 0;
    strbuf_free(&w->headers);
}

int smtp_body_has_8bit(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] & 0x80)
            return 1;
    return 0;
}

/* ---- output lines: dot-stuffing, length limit, CRLF ---- */

static int out_raw(smtp_body_writer *w, const char *data, size_t len)
{
    if (w->failed)
        return -1;
    if (len > 0 && w->out(data, len, w->ctx) != 0) {
        w->failed = 1;
        return -1;
    }
    return 0;
}

static int emit(smtp_body_writer *w, const char *data, size_t len, int end_of_line)
{
    while (len > 0) {
        if (w->at_line_start) {
            w->at_line_start = 0;
            if (data[0] == '.') {
                if (out_raw(w, ".", 1) < 0)
                    return -1;
                w->column++;
            }
        }
        if (w->line_limit > 0 && w->column >= w->line_limit) {
            if (out_raw(w, "\r\n ", 3) < 0)
                return -1;
            w->column = 1;
            continue;
        }
        size_t take = len;
        if (w->line_limit > 0 && take > w->line_limit - w->column)
            take = w->line_limit - w->column;
        if (out_raw(w, data, take) < 0)
            return -1;
        w->column += take;
        data += take;
        len -= take;
    }
    if (end_of_line) {
        if (out_raw(w, "\r\n", 2) < 0)
            return -1;
        w->column = 0;
        w->at_line_start = 1;
    }
    return 0;
}

/* ---- quoted-printable ---- */

static int qp_piece(smtp_body_writer *w, const char *data, size_t len, int partial)
{
    static const char hex[] = "0123456789ABCDEF";
    char seg[QP_LINE_MAX + 8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        char tok[3];
        size_t tlen;
        int whitespace = c == ' ' || c == '\t';
        if ((c >= 33 && c <= 126 && c != '=') || (whitespace && i + 1 < len)) {
            tok[0] = (char)c;
            tlen = 1;
        } else {
            tok[0] = '=';
            tok[1] = hex[c >> 4];
            tok[2] = hex[c & 15];
            tlen = 3;
        }
        if (w->column + n + tlen > QP_LINE_MAX - 1) {
            seg[n++] = '=';
            if (emit(w, seg, n, 1) < 0)
                return -1;
            n = 0;
        }
        memcpy(seg + n, tok, tlen);
        n += tlen;
    }
    return emit(w, seg, n, !partial);
}

/* ---- MIME structure ---- */

/* Value of a header line if its name is name (case-insensitive), else NULL. */
static const char *header_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0)
        return NULL;
    const char *p = line + n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    return p;
}

/* Copies the boundary parameter of a Content-Type value into out. 0, or -1 when absent. */
static int find_boundary(const char *value, char *out, size_t outlen)
{
    const char *p = value;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (strncasecmp(p, "boundary", 8) != 0)
            continue;
        const char *q = p + 8;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        size_t len;
        if (*q == '"') {
            q++;
            const char *end = strchr(q, '"');
            if (end == NULL)
                return -1;
            len = (size_t)(end - q);
        } else {
            len = strcspn(q, "; \t\n");
        }
        if (len == 0 || len >= outlen)
            return -1;
        memcpy(out, q, len);
        out[len] = '\0';
        return 0;
    }
    return -1;
}

/* Matches "--boundary" or "--boundary--" (trailing white space allowed) against the open
 * multiparts, innermost first. Returns 1 (part), 2 (close) with *level set, or 0. */
static int match_boundary(const smtp_body_writer *w, const char *data, size_t len, size_t *level)
{
    if (len < 3 || data[0] != '-' || data[1] != '-')
        return 0;
    while (len > 2 && (data[len - 1] == ' ' || data[len - 1] == '\t'))
        len--;
    for (size_t i = w->nboundaries; i-- > 0;) {
        const char *b = w->boundaries[i];
        size_t blen = strlen(b);
        if (len < 2 + blen || memcmp(data + 2, b, blen) != 0)
            continue;
        size_t rest = len - 2 - blen;
        if (rest == 0 || (rest == 2 && data[len - 2] == '-' && data[len - 1] == '-')) {
            *level = i;
            return rest == 0 ? 1 : 2;
        }
    }
    return 0;
}

static void pop_to(smtp_body_writer *w, size_t level)
{
    while (w->nboundaries > level)
        free(w->boundaries[--w->nboundaries]);
}

/* Emits buffered header lines as they are and stops MIME processing. */
static int give_up(smtp_body_writer *w)
{
    w->mime_off = 1;
    w->in_headers = 0;
    w->qp = 0;
    const char *p = w->headers.data ? w->headers.data : "";
    const char *end = p + w->headers.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return emit(w, p, (size_t)(end - p), 0);
        if (emit(w, p, (size_t)(nl - p), 1) < 0)
            return -1;
        p = nl + 1;
    }
    strbuf_reset(&w->headers);
    return 0;
}

typedef struct part_info {
    int multipart;
    int message;
    int eight_bit;
    char boundary[SMTP_BODY_BOUNDARY_MAX];
} part_info;

/* Looks at one logical header (continuation lines included). */
static void inspect_header(const char *hdr, part_info *pi)
{
    const char *v;
    if ((v = header_value(hdr, "Content-Type")) != NULL) {
        if (strncasecmp(v, "multipart/", 10) == 0) {
            pi->multipart = find_boundary(v, pi->boundary, sizeof(pi->boundary)) == 0;
        } else if (strncasecmp(v, "message/rfc822", 14) == 0 ||
                   strncasecmp(v, "message/global", 14) == 0) {
            pi->message = 1;
        }
    } else if ((v = header_value(hdr, "Content-Transfer-Encoding")) != NULL) {
        size_t n = strcspn(v, " \t\n;(");
        pi->eight_bit = (n == 4 && strncasecmp(v, "8bit", 4) == 0) ||
                        (n == 6 && strncasecmp(v, "binary", 6) == 0);
    }
}

/* End of a header block: decides the part's treatment and writes the headers. */
static int finish_headers(smtp_body_writer *w)
{
    strbuf *h = &w->headers;
    part_info pi;
    memset(&pi, 0, sizeof(pi));
    /* Logical headers: a line plus the following lines that start with white space. */
    char *p = h->data ? h->data : "";
    char *end = p + h->len;
    while (p < end) {
        char *q = p;
        do {
            char *nl = memchr(q, '\n', (size_t)(end - q));
            q = nl ? nl + 1 : end;
        } while (q < end && (*q == ' ' || *q == '\t'));
        if (q < end)
            q[-1] = '\0'; /* was the newline before the next header */
        inspect_header(p, &pi);
        if (q < end)
            q[-1] = '\n';
        p = q;
    }
    int convert = pi.eight_bit && !pi.multipart && !pi.message;
    int in_cte = 0;
    for (p = h->data ? h->data : ""; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int continuation = len > 0 && (p[0] == ' ' || p[0] == '\t');
        if (!continuation) { /* the name is read in place: a cut copy hid "Name   :" */
            in_cte = convert && header_value(p, "Content-Transfer-Encoding") != NULL;
            if (in_cte && emit(w, "Content-Transfer-Encoding: quoted-printable", 43, 1) < 0)
                return -1;
        }
        if (!in_cte && emit(w, p, len, 1) < 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    strbuf_reset(h);
    if (emit(w, "", 0, 1) < 0) /* the empty line that ended the headers */
        return -1;
    w->qp = convert;
    w->in_headers = pi.message;
    if (pi.multipart) {
        if (w->nboundaries == SMTP_BODY_NESTING_MAX) {
            w->mime_off = 1;
            w->qp = 0;
            return 0;
        }
        w->boundaries[w->nboundaries++] = xstrdup(pi.boundary);
    }
    return 0;
}

static int header_piece(smtp_body_writer *w, const char *data, size_t len, int partial, int first)
{
    if (first && !partial && len == 0)
        return finish_headers(w);
    if (strbuf_append(&w->headers, data, len) < 0 ||
        (!partial && strbuf_append_char(&w->headers, '\n') < 0)) {
        if (give_up(w) < 0)
            return -1;
        return emit(w, data, len, !partial);
    }
    return 0;
}

int smtp_body_piece(smtp_body_writer *w, const char *data, size_t len, int partial)
{
    if (w->failed)
        return -1;
    if (!w->downgrade || w->mime_off)
        return emit(w, data, len, !partial);
    int first = !w->line_started;
    w->line_started = partial;
    if (first) {
        size_t level = 0;
        int kind = partial ? 0 : match_boundary(w, data, len, &level);
        if (kind != 0) {
            if (w->in_headers && w->headers.len > 0 && give_up(w) < 0)
                return -1;
            if (w->mime_off)
                return emit(w, data, len, 1);
            if (emit(w, data, len, 1) < 0)
                return -1;
            pop_to(w, kind == 1 ? level + 1 : level);
            w->in_headers = kind == 1;
            w->qp = 0;
            return 0;
        }
    }
    if (w->in_headers)
        return header_piece(w, data, len, partial, first);
    if (w->qp)
        return qp_piece(w, data, len, partial);
    return emit(w, data, len, !partial);
}

int smtp_body_finish(smtp_body_writer *w)
{
    if (w->failed)
        return -1;
    if (w->downgrade && !w->mime_off && w->in_headers && w->headers.len > 0)
        return give_up(w);
    if (!w->at_line_start) /* content ended inside a line: end it */
        return emit(w, "", 0, 1);
    return 0;
}

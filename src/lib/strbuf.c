/* strbuf.c: bounded growable strings (see strbuf.h). */
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf *sb, size_t limit)
{
    sb->cap = 64;
    sb->data = xmalloc(sb->cap);
    sb->data[0] = '\0';
    sb->len = 0;
    sb->limit = limit ? limit : STRBUF_DEFAULT_LIMIT;
}

void strbuf_free(strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

void strbuf_reset(strbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

static int strbuf_reserve(strbuf *sb, size_t extra)
{
    if (extra > sb->limit - sb->len)
        return -1;
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = cap * 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
    return 0;
}

int strbuf_append(strbuf *sb, const char *data, size_t len)
{
    if (strbuf_reserve(sb, len) < 0)
        return -1;
    memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
    return 0;
}

int strbuf_append_str(strbuf *sb, const char *s)
{
    return strbuf_append(sb, s, strlen(s));
}

int strbuf_append_char(strbuf *sb, char c)
{
    return strbuf_append(sb, &c, 1);
}

int strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || strbuf_reserve(sb, (size_t)n) < 0)
        return -1;
    if (vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap) != n) { /* the room was measured */
        sb->data[sb->len] = '\0';
        return -1;
    }
    sb->len += (size_t)n;
    return 0;
}

int strbuf_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    return r;
}

void strbuf_truncate(strbuf *sb, size_t len)
{
    if (len < sb->len) {
        sb->len = len;
        sb->data[len] = '\0';
    }
}

char *strbuf_detach(strbuf *sb)
{
    char *p = sb->data;
    sb->data = NULL; /* the next append allocates afresh */
    sb->len = sb->cap = 0;
    return p;
}

void strbuf_path_init(strbuf *sb)
{
    strbuf_init(sb, PATH_MAX - 1);
}

int strbuf_path_printf(strbuf *sb, const char *fmt, ...)
{
    strbuf_reset(sb);
    va_list ap;
    va_start(ap, fmt);
    int r = strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    if (r < 0)
        errno = ENAMETOOLONG;
    return r;
}

char *strbuf_vformat(size_t limit, const char *fmt, va_list ap)
{
    strbuf sb;
    strbuf_init(&sb, limit);
    strbuf_vprintf(&sb, fmt, ap);
    return strbuf_detach(&sb);
}

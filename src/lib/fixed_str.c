/*
 * fixed_str.c: checked formatting into fixed-size arrays (see fixed_str.h).
 */
#include "lib/fixed_str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int refuse(char *dst, size_t size)
{
    if (size > 0)
        dst[0] = '\0';
    errno = ENAMETOOLONG;
    return -1;
}

int fixed_printf(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        return refuse(dst, size);
    return 0;
}

int fixed_copy(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);
    if (len >= size)
        return refuse(dst, size);
    memcpy(dst, src, len + 1);
    return 0;
}

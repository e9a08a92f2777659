/*
 * fixed_str.h: text into fixed-size arrays without silent cuts.
 *
 * A fixed array is fine where the text has a documented bound (a queue id, an enhanced status
 * code, a DSN field Postfix also limits). Where the text comes from input or configuration, the
 * copy must say when it does not fit, so the caller answers with a clear error or reply instead
 * of acting on a cut value. Both functions leave dst as "" when the text does not fit and their
 * results must be checked (the compiler refuses to ignore them). Text of unbounded length belongs
 * in a strbuf (strbuf.h) instead.
 */
#ifndef POSTERN_FIXED_STR_H
#define POSTERN_FIXED_STR_H

#include <stddef.h>

/* 0, or -1 (errno = ENAMETOOLONG, dst = "") when the formatted text needs size bytes or more. */
int fixed_printf(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), warn_unused_result));
/* 0, or -1 (errno = ENAMETOOLONG, dst = "") when strlen(src) >= size. */
int fixed_copy(char *dst, size_t size, const char *src) __attribute__((warn_unused_result));

#endif

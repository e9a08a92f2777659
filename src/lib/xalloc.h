/*
 * xalloc.h: allocation that never returns NULL.
 *
 * Out of memory is not a condition Postern can recover from in the middle of a protocol exchange;
 * these wrappers log and abort instead, so callers need no NULL checks.
 */
#ifndef POSTERN_XALLOC_H
#define POSTERN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif

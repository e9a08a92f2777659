/*
 * strbuf.h: growable strings with a hard upper bound.
 *
 * Every piece of text Postern builds goes through a strbuf: it is always NUL-terminated, grows on
 * demand and refuses to grow past its limit (strbuf_append* return -1 and leave the buffer
 * unchanged), so no input can make a buffer grow without bound. A limit of 0 means the default
 * STRBUF_DEFAULT_LIMIT. Allocation failure is fatal (see xalloc.h): a mail server that cannot
 * allocate a few bytes cannot do anything useful.
 */
#ifndef POSTERN_STRBUF_H
#define POSTERN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#define STRBUF_DEFAULT_LIMIT (64u * 1024 * 1024)

typedef struct strbuf {
    char *data;   /* always NUL-terminated once initialised */
    size_t len;   /* bytes used, excluding the NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* maximum len */
} strbuf;

void strbuf_init(strbuf *sb, size_t limit);
void strbuf_free(strbuf *sb);
void strbuf_reset(strbuf *sb);
int strbuf_append(strbuf *sb, const char *data, size_t len);
int strbuf_append_str(strbuf *sb, const char *s);
int strbuf_append_char(strbuf *sb, char c);
int strbuf_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap);
void strbuf_truncate(strbuf *sb, size_t len);
/* Returns the buffer's text and hands ownership to the caller. The strbuf is left empty with
 * data == NULL until the next append; strbuf_free() on it is harmless. */
char *strbuf_detach(strbuf *sb);

/* Paths: a strbuf made by strbuf_path_init() holds at most PATH_MAX - 1 bytes, the most a
 * system call accepts. strbuf_path_printf() replaces the buffer's text; on a path that would
 * be longer it returns -1 with errno = ENAMETOOLONG and leaves the buffer empty, so a caller
 * reports "File name too long" instead of using a cut path. */
void strbuf_path_init(strbuf *sb);
int strbuf_path_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new string made from fmt (at most limit bytes, 0 = STRBUF_DEFAULT_LIMIT; text past the
 * limit is refused and the result is ""); free() it. */
char *strbuf_vformat(size_t limit, const char *fmt, va_list ap);

#endif

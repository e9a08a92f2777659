/*
 * attr.h: a plain-text name=value record protocol for Postern's internal sockets.
 *
 * A record is a sequence of lines "name=value\n" ended by an empty line. Names are
 * [a-z0-9_]+. Values are escaped so that any byte string survives: '\\' becomes "\\\\", a
 * newline "\\n", a carriage return "\\r", a NUL and any other control byte "\\xHH". Order and
 * repetition are kept (a recipient list is a repeated group of attributes).
 *
 * attr_put() appends one escaped line to a strbuf, attr_end() the record terminator.
 * An attr_reader collects bytes from a (possibly non-blocking) descriptor and hands out
 * complete records; it enforces ATTR_LINE_LIMIT per line and a caller-given record size limit,
 * so a peer cannot make it grow without bound.
 */
#ifndef POSTERN_ATTR_H
#define POSTERN_ATTR_H

#include "lib/strbuf.h"

#include <stddef.h>

#define ATTR_LINE_LIMIT (64u * 1024)
#define ATTR_NAME_MAX 64

typedef struct attr_item {
    char name[ATTR_NAME_MAX];
    char *value; /* unescaped, NUL-terminated (an embedded NUL ends it early) */
} attr_item;

typedef struct attr_record {
    attr_item *items;
    size_t count;
    size_t cap;
} attr_record;

/* ---- writing ---- */
void attr_put(strbuf *out, const char *name, const char *value);
void attr_put_long(strbuf *out, const char *name, long value);
void attr_end(strbuf *out);

/* ---- records ---- */
void attr_record_init(attr_record *rec);
void attr_record_free(attr_record *rec);
void attr_record_reset(attr_record *rec);
/* First value of name, or NULL. */
const char *attr_get(const attr_record *rec, const char *name);
/* Parses one record's text (lines without the final empty line). 0, or -1 with err. */
int attr_parse(const char *text, size_t len, attr_record *rec, strbuf *err);

/* ---- reading from a descriptor ---- */
typedef struct attr_reader {
    int fd;
    strbuf buf;        /* bytes received, not yet consumed */
    size_t record_limit;
    int eof;
} attr_reader;

void attr_reader_init(attr_reader *rd, int fd, size_t record_limit);
void attr_reader_free(attr_reader *rd);
/* Reads what is available (one read call) and, when a whole record is buffered, parses it into
 * rec. Returns 1 record ready, 0 need more input (EAGAIN), -1 error or EOF (err says which;
 * rd->eof is set for a clean EOF between records). */
int attr_reader_next(attr_reader *rd, attr_record *rec, strbuf *err);
/* Parses a record already buffered without reading. 1 ready, 0 none, -1 malformed. */
int attr_reader_buffered(attr_reader *rd, attr_record *rec, strbuf *err);

/* Writes all of data to a blocking descriptor. 0, or -1 (errno set). */
int attr_write_all(int fd, const char *data, size_t len);

#endif

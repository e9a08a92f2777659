/*
 * dovecot_auth_proto.h: Dovecot's auth-client protocol (version 1.2, as spoken on Dovecot's
 * "auth-client" / "auth" sockets), the pure parsing and formatting part.
 *
 * A line is TAB-separated fields; inside a field, byte 0x01 escapes: 0x01 '1' = 0x01,
 * 0x01 't' = TAB, 0x01 'r' = CR, 0x01 'n' = LF. The server says "VERSION\t1\t2", "MECH\t...",
 * "SPID", "CUID", "COOKIE", then "DONE"; each request "AUTH\tID\tMECH\tservice=...\t..." is
 * answered by "OK\tID\tparams", "FAIL\tID\tparams" or "CONT\tID\tbase64". Parameters are
 * "key=value" or bare flags.
 */
#ifndef POSTERN_DOVECOT_AUTH_PROTO_H
#define POSTERN_DOVECOT_AUTH_PROTO_H

#include "lib/strbuf.h"

#include <stddef.h>

#define DOVECOT_MAX_FIELDS 64
#define DOVECOT_LINE_MAX 16384

typedef struct dovecot_line {
    char *field[DOVECOT_MAX_FIELDS]; /* unescaped, NUL-terminated, pointing into the line */
    size_t nfields;
} dovecot_line;

/* Splits and unescapes line (no LF) in place. -1 when it has too many fields or a bad
 * escape. */
int dovecot_line_parse(char *line, dovecot_line *out);
/* The value of "key=value" among fields from index first on; "" for a bare "key"; NULL when
 * absent. */
const char *dovecot_line_param(const dovecot_line *l, size_t first, const char *key);
/* Appends in with TAB, CR, LF and 0x01 escaped. */
void dovecot_escape(const char *in, strbuf *out);

typedef enum {
    DOVECOT_REPLY_NONE, /* not a reply to a request */
    DOVECOT_REPLY_OK,
    DOVECOT_REPLY_FAIL,
    DOVECOT_REPLY_CONT,
} dovecot_reply;

/* Classifies a parsed line; for a reply, *id is its request id (-1 when malformed). */
dovecot_reply dovecot_reply_kind(const dovecot_line *l, long *id);

#endif

/*
 * dovecot_auth_proto.c: parsing and escaping for Dovecot's auth-client protocol (see
 * dovecot_auth_proto.h).
 */
#include "smtpd/dovecot_auth_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Unescapes s in place. -1 on a bad escape. */
static int unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '\001') {
            *w++ = *r;
            continue;
        }
        switch (r[1]) {
        case '1': *w++ = '\001'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case 'n': *w++ = '\n'; break;
        default: return -1;
        }
        r++;
    }
    *w = '\0';
    return 0;
}

int dovecot_line_parse(char *line, dovecot_line *out)
{
    out->nfields = 0;
    char *p = line;
    for (;;) {
        if (out->nfields == DOVECOT_MAX_FIELDS)
            return -1;
        out->field[out->nfields++] = p;
        char *tab = strchr(p, '\t');
        if (tab)
            *tab = '\0';
        if (unescape(p) < 0)
            return -1;
        if (tab == NULL)
            break;
        p = tab + 1;
    }
    return 0;
}

const char *dovecot_line_param(const dovecot_line *l, size_t first, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = first; i < l->nfields; i++) {
        const char *f = l->field[i];
        if (strncmp(f, key, klen) != 0)
            continue;
        if (f[klen] == '=')
            return f + klen + 1;
        if (f[klen] == '\0')
            return f + klen;
    }
    return NULL;
}

void dovecot_escape(const char *in, strbuf *out)
{
    for (; *in; in++) {
        switch (*in) {
        case '\001': strbuf_append(out, "\0011", 2); break;
        case '\t': strbuf_append(out, "\001t", 2); break;
        case '\r': strbuf_append(out, "\001r", 2); break;
        case '\n': strbuf_append(out, "\001n", 2); break;
        default: strbuf_append_char(out, *in);
        }
    }
}

dovecot_reply dovecot_reply_kind(const dovecot_line *l, long *id)
{
    *id = -1;
    if (l->nfields == 0)
        return DOVECOT_REPLY_NONE;
    dovecot_reply kind;
    if (strcmp(l->field[0], "OK") == 0)
        kind = DOVECOT_REPLY_OK;
    else if (strcmp(l->field[0], "FAIL") == 0)
        kind = DOVECOT_REPLY_FAIL;
    else if (strcmp(l->field[0], "CONT") == 0)
        kind = DOVECOT_REPLY_CONT;
    else
        return DOVECOT_REPLY_NONE;
    if (l->nfields >= 2 && l->field[1][0] >= '0' && l->field[1][0] <= '9') {
        char *end;
        errno = 0;
        long v = strtol(l->field[1], &end, 10);
        if (*end == '\0' && errno == 0 && v >= 0)
            *id = v;
    }
    return kind;
}

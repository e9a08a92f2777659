/*
 * fuzz_dovecot_auth.c: libFuzzer target for the Dovecot auth-client protocol parser.
 *
 * The input is a server's byte stream: each line is parsed (split at TABs, unescaped),
 * classified as a reply, and searched for parameters, as smtpd_sasl_dovecot.c does. The
 * escaper must round-trip: escaping a parsed field and parsing it again gives the field back.
 */
#include "smtpd/dovecot_auth_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void one_line(char *line)
{
    dovecot_line l;
    if (dovecot_line_parse(line, &l) < 0)
        return;
    if (l.nfields == 0 || l.nfields > DOVECOT_MAX_FIELDS)
        abort();
    long id;
    (void)dovecot_reply_kind(&l, &id);
    (void)dovecot_line_param(&l, 2, "user");
    (void)dovecot_line_param(&l, 2, "reason");
    (void)dovecot_line_param(&l, 0, "temp");
    for (size_t i = 0; i < l.nfields; i++) {
        if (strchr(l.field[i], '\t'))
            continue; /* a TAB inside a field splits it on the way back: not comparable */
        strbuf esc;
        strbuf_init(&esc, 0);
        dovecot_escape(l.field[i], &esc);
        dovecot_line back;
        if (dovecot_line_parse(esc.data, &back) < 0 || back.nfields != 1 ||
            strcmp(back.field[0], l.field[i]) != 0)
            abort();
        strbuf_free(&esc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *p = buf;
    for (;;) {
        char *nl = memchr(p, '\n', size - (size_t)(p - buf));
        if (nl)
            *nl = '\0';
        if (strlen(p) < DOVECOT_LINE_MAX)
            one_line(p);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    free(buf);
    return 0;
}

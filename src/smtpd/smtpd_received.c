/*
 * smtpd_received.c: formats the Received: header (see smtpd_received.h).
 */
#include "smtpd/smtpd_received.h"
#include "global/mail_date.h"

#include <string.h>

/* Appends s with bytes outside printable ASCII replaced, so no client text can break lines. */
static void append_printable(strbuf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        strbuf_append_char(out, c >= 32 && c <= 126 ? (char)c : '?');
    }
}

void smtpd_received_format(const smtpd_received_info *ri, strbuf *out)
{
    int ipv6 = strchr(ri->client_addr, ':') != NULL;
    strbuf_append_str(out, "Received: from ");
    append_printable(out, ri->helo && *ri->helo ? ri->helo : ri->client_name);
    strbuf_printf(out, " (%s [%s%s])\n", ri->client_name, ipv6 ? "IPv6:" : "", ri->client_addr);
    if (ri->tls_text)
        strbuf_append_str(out, ri->tls_text);
    if (ri->auth_sender) {
        strbuf_append_str(out, "\t(Authenticated sender: ");
        append_printable(out, ri->auth_sender);
        strbuf_append_str(out, ")\n");
    }
    strbuf_printf(out, "\tby %s (%s) with %s id %s", ri->myhostname, ri->mail_name, ri->protocol,
                  ri->queue_id);
    if (ri->rcpt) {
        strbuf_append_str(out, "\n\tfor <");
        append_printable(out, ri->rcpt);
        strbuf_append_str(out, ">; ");
    } else {
        strbuf_append_str(out, ";\n\t");
    }
    mail_date_append(out, ri->when);
    strbuf_append_char(out, '\n');
}

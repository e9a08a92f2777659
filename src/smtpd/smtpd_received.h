/*
 * smtpd_received.h: the Received: header the SMTP server prepends to each message.
 *
 * The layout is Postfix's:
 *   Received: from HELO (NAME [ADDR])
 *   \t(using TLSv1.3 with cipher ... (256/256 bits)\n\t key-exchange ...)   (TLS, when enabled)
 *   \t(No client certificate requested)
 *   \t(Authenticated sender: LOGIN)                    (smtpd_sasl_authenticated_header)
 *   \tby MYHOSTNAME (MAIL_NAME) with PROTOCOL id QUEUEID
 *   \tfor <RCPT>; DATE
 * "for <RCPT>" appears only when the message has exactly one recipient; otherwise the id line
 * ends in ";" and the date has a line of its own. Without HELO the client name stands in for
 * it. IPv6 addresses are written "IPv6:addr". Client-supplied text (the HELO name) has its
 * non-printable bytes replaced with '?', so the header is always well-formed.
 */
#ifndef POSTERN_SMTPD_RECEIVED_H
#define POSTERN_SMTPD_RECEIVED_H

#include "lib/strbuf.h"

#include <time.h>

typedef struct smtpd_received_info {
    const char *helo;        /* NULL when the client sent none */
    const char *client_name; /* "localhost", "unknown", ... */
    const char *client_addr; /* numeric address */
    const char *myhostname;
    const char *mail_name;
    const char *protocol; /* "ESMTP", "SMTP" */
    const char *queue_id;
    const char *rcpt; /* external form of the only recipient, NULL when several */
    time_t when;
    const char *tls_text;    /* lines "\t(using ...)\n" from tls_received_text(), or NULL */
    const char *auth_sender; /* smtpd_sasl_authenticated_header: the login name, or NULL */
} smtpd_received_info;

/* Appends the header's lines to out, each ending in '\n' (callers split there). */
void smtpd_received_format(const smtpd_received_info *ri, strbuf *out);

#endif

/*
 * smtp_nexthop.h: the destination syntax of the smtp and lmtp delivery agents.
 *
 * A nexthop is a list of destinations separated by commas or spaces, tried in order (Postfix 3.5
 * and later). Each destination is one of:
 *   domain         look up MX records, fall back to A/AAAA (smtp); LMTP: the host itself
 *   domain:port    the same with another TCP port (numeric or a service name)
 *   [host]         no MX lookup: the host's own addresses, or a numeric address
 *   [host]:port
 *   inet:...       (lmtp) any of the above forms
 *   unix:/path     (lmtp) a UNIX-domain socket
 * The default port is 25 for smtp and 24 for lmtp.
 */
#ifndef POSTERN_SMTP_NEXTHOP_H
#define POSTERN_SMTP_NEXTHOP_H

#include "lib/strbuf.h"

#include <stddef.h>

#define SMTP_HOST_MAX 256
#define SMTP_DEST_MAX 16 /* destinations in one nexthop list */

typedef struct smtp_dest {
    char host[SMTP_HOST_MAX]; /* domain, host name or numeric address, without brackets;
                                 the socket path for unix */
    unsigned port;            /* TCP port */
    int mx_lookup;            /* look up MX records first */
    int is_unix;              /* LMTP over a UNIX-domain socket */
} smtp_dest;

/* The destination as a table key: "domain", "[host]" or "[host]:port" (the port only when it
 * is not the default). SMTP_DEST_KEY_MAX holds any: a host of SMTP_HOST_MAX - 1 bytes, the
 * brackets and ":65535". */
#define SMTP_DEST_KEY_MAX (SMTP_HOST_MAX + 16)
void smtp_dest_key(const smtp_dest *d, int lmtp, char buf[SMTP_DEST_KEY_MAX]);

/* Parses nexthop into at most max destinations. Returns the count (>= 1), or -1 with a reason
 * in err. */
int smtp_nexthop_parse(const char *nexthop, int lmtp, smtp_dest *out, size_t max, strbuf *err);

#endif

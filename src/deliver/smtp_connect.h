/*
 * smtp_connect.h: from destinations to connected sockets.
 *
 * smtp_candidates() turns parsed destinations (smtp_nexthop.h) into the list of addresses to
 * try, in order: MX hosts by preference (equal preferences shuffled), each host's IPv4 then IPv6
 * addresses, then the next destination; at most smtp_mx_address_limit addresses (0 = no limit).
 * A domain without MX records falls back to its own A/AAAA records. When no address results,
 * dsn and why give the lookup failure (5.4.4 when a name does not exist, 5.1.10 for a null MX,
 * 4.4.3 for temporary failures).
 *
 * smtp_connect_candidate() connects with a deadline and on failure writes Postfix's text
 * ("connect to host[addr]:port: Connection refused") into why.
 */
#ifndef POSTERN_SMTP_CONNECT_H
#define POSTERN_SMTP_CONNECT_H

#include "deliver/smtp_nexthop.h"
#include "lib/inet_addr.h"
#include "lib/strbuf.h"

#include <stddef.h>

#define SMTP_CANDIDATE_MAX 64

typedef struct smtp_candidate {
    char host[SMTP_HOST_MAX]; /* name for logs (MX host, given host, or socket path) */
    inet_address addr;
    unsigned port;
    int is_unix;
    size_t dest; /* index of the destination it came from */
    int dnssec;    /* its address records were DNSSEC-validated */
    int mx_dnssec; /* the MX records that named it were validated (1 when no MX was used) */
} smtp_candidate;

int smtp_candidates(const smtp_dest *dests, size_t ndest, smtp_candidate *out, size_t max,
                    char *dsn, size_t dsnlen, strbuf *why);
/* "host[addr]:port" (with_port) or "host[addr]"; "myhostname[path]" for a UNIX socket. */
void smtp_candidate_name(const smtp_candidate *c, int with_port, char *buf, size_t len);
/* A connected blocking-free socket, or -1 with why. */
int smtp_connect_candidate(const smtp_candidate *c, long timeout, strbuf *why);

#endif

/*
 * local_addrs.h: this host's own addresses, for "is this address the local machine?" (smtpd's
 * local-client checks, the resolver's [address] literals that mean this host).
 *
 * local_addrs_collect() reads the numeric text of every IPv4 and IPv6 interface address
 * (getifaddrs); local_addrs_has() is true for a loopback address (127.x.x.x, ::1) or one of them.
 * Addresses compare as text, so callers pass them in inet_ntop() form.
 */
#ifndef POSTERN_LOCAL_ADDRS_H
#define POSTERN_LOCAL_ADDRS_H

#include <stddef.h>

typedef struct local_addrs {
    char **addrs;
    size_t n;
} local_addrs;

void local_addrs_collect(local_addrs *la);
int local_addrs_has(const local_addrs *la, const char *addr);
void local_addrs_free(local_addrs *la);

#endif

/* local_addrs.c: this host's own addresses (see local_addrs.h). */
#include "lib/local_addrs.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void local_addrs_collect(local_addrs *la)
{
    la->addrs = NULL;
    la->n = 0;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return;
    size_t count = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        count++;
    la->addrs = xcalloc(count + 1, sizeof(*la->addrs));
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        const void *bin = NULL;
        if (i->ifa_addr->sa_family == AF_INET)
            bin = &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
        else if (i->ifa_addr->sa_family == AF_INET6)
            bin = &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
        char buf[INET6_ADDRSTRLEN];
        if (bin && inet_ntop(i->ifa_addr->sa_family, bin, buf, sizeof(buf)) != NULL)
            la->addrs[la->n++] = xstrdup(buf);
    }
    freeifaddrs(ifs);
}

int local_addrs_has(const local_addrs *la, const char *addr)
{
    if (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0)
        return 1;
    for (size_t i = 0; i < la->n; i++)
        if (strcmp(la->addrs[i], addr) == 0)
            return 1;
    return 0;
}

void local_addrs_free(local_addrs *la)
{
    for (size_t i = 0; i < la->n; i++)
        free(la->addrs[i]);
    free(la->addrs);
    la->addrs = NULL;
    la->n = 0;
}

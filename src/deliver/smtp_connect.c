/* smtp_connect.c: address lists and connection setup for the SMTP client (see smtp_connect.h). */
#include "deliver/deliver_request.h"
#include "deliver/smtp_settings.h"
#include "deliver/smtp_connect.h"
#include "deliver/smtp_dns.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct candidate_list {
    smtp_candidate *items;
    size_t n, max;
} candidate_list;

static void add_candidate(candidate_list *cl, const char *host, const inet_address *addr,
                          unsigned port, int dnssec, int mx_dnssec)
{
    if (cl->n == cl->max)
        return;
    smtp_candidate *c = &cl->items[cl->n];
    memset(c, 0, sizeof(*c));
    if (fixed_copy(c->host, sizeof(c->host), host) < 0) { /* host is an smtp_dest or smtp_mx name */
        log_warning("%s: host name too long", host);
        return;
    }
    cl->n++;
    c->addr = *addr;
    c->port = port;
    c->dnssec = dnssec;
    c->mx_dnssec = mx_dnssec;
}

/* Addresses from /etc/hosts and friends, for single-label names such as "localhost". */
static size_t native_lookup(const char *host, int v4, int v6, inet_address *out, size_t max)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        memset(&out[n], 0, sizeof(out[n]));
        if (ai->ai_family == AF_INET) {
            out[n].family = AF_INET;
            memcpy(out[n].bytes, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
            n++;
        } else if (ai->ai_family == AF_INET6) {
            out[n].family = AF_INET6;
            memcpy(out[n].bytes, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
            n++;
        }
    }
    freeaddrinfo(res);
    return n;
}

/* Adds the addresses of one host. Returns an SMTP_DNS_* status. */
static int add_host(candidate_list *cl, const char *host, unsigned port, int mx_secure,
                    strbuf *why)
{
    inet_address numeric;
    if (inet_addr_parse(host, &numeric) == 0) {
        add_candidate(cl, host, &numeric, port, 0, mx_secure);
        return SMTP_DNS_OK;
    }
    int v4, v6;
    smtp_dns_families(&v4, &v6);
    inet_address addrs[SMTP_ADDR_MAX];
    size_t n = 0;
    int secure = 0;
    int status = smtp_dns_host(host, v4, v6, addrs, SMTP_ADDR_MAX, &n, &secure, why);
    if (status != SMTP_DNS_OK && status != SMTP_DNS_RETRY && strchr(host, '.') == NULL) {
        n = native_lookup(host, v4, v6, addrs, SMTP_ADDR_MAX);
        secure = 0;
        if (n > 0)
            status = SMTP_DNS_OK;
    }
    for (size_t i = 0; i < n; i++)
        add_candidate(cl, host, &addrs[i], port, secure, mx_secure);
    return status;
}

static void set_failure(char *dsn, size_t dsnlen, int status)
{
    dsn_set(dsn, dsnlen,
            status == SMTP_DNS_NOTFOUND || status == SMTP_DNS_NODATA ? "5.4.4" : "4.4.3");
}

/* Adds the candidates of one MX destination. 0 or -1 with dsn/why. */
static int add_mx_destination(candidate_list *cl, const smtp_dest *d, char *dsn, size_t dsnlen,
                              strbuf *why)
{
    smtp_mx mx[SMTP_MX_MAX];
    size_t n = 0;
    int mx_secure = 0;
    int status = smtp_dns_mx(d->host, mx, SMTP_MX_MAX, &n, &mx_secure, why);
    if (status == SMTP_DNS_NODATA) {
        strbuf_reset(why);
        status = add_host(cl, d->host, d->port, 1, why);
        if (status != SMTP_DNS_OK)
            set_failure(dsn, dsnlen, status);
        return status == SMTP_DNS_OK ? 0 : -1;
    }
    if (status != SMTP_DNS_OK) {
        set_failure(dsn, dsnlen, status);
        return -1;
    }
    if (n == 1 && mx[0].host[0] == '\0') {
        dsn_set(dsn, dsnlen, "5.1.10");
        strbuf_reset(why);
        strbuf_printf(why, "Domain %s does not accept mail (nullMX)", d->host);
        return -1;
    }
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    smtp_mx_sort(mx, n, &seed);
    size_t before = cl->n;
    int worst = SMTP_DNS_NOTFOUND;
    strbuf host_why;
    strbuf_init(&host_why, 0);
    for (size_t i = 0; i < n && cl->n < cl->max; i++) {
        if (mx[i].host[0] == '\0')
            continue;
        strbuf_reset(&host_why);
        int hs = add_host(cl, mx[i].host, d->port, mx_secure, &host_why);
        if (hs != SMTP_DNS_OK) {
            if (hs == SMTP_DNS_RETRY || hs == SMTP_DNS_FAIL)
                worst = SMTP_DNS_RETRY;
            strbuf_reset(why);
            strbuf_append(why, host_why.data, host_why.len);
        }
    }
    strbuf_free(&host_why);
    if (cl->n == before) {
        set_failure(dsn, dsnlen, worst);
        return -1;
    }
    return 0;
}

int smtp_candidates(const smtp_dest *dests, size_t ndest, smtp_candidate *out, size_t max,
                    char *dsn, size_t dsnlen, strbuf *why)
{
    long limit = smtp_settings_current()->mx_address_limit;
    if (limit > 0 && (size_t)limit < max)
        max = (size_t)limit;
    candidate_list cl = {out, 0, max};
    dsn_set(dsn, dsnlen, "4.4.3");
    for (size_t i = 0; i < ndest && cl.n < cl.max; i++) {
        const smtp_dest *d = &dests[i];
        size_t first = cl.n;
        if (d->is_unix) {
            smtp_candidate *c = &cl.items[cl.n++];
            memset(c, 0, sizeof(*c));
            _Static_assert(sizeof(c->host) == sizeof(d->host), "a destination fits a candidate");
            memcpy(c->host, d->host, strlen(d->host) + 1);
            c->is_unix = 1;
            c->dest = i;
            continue;
        }
        if (d->mx_lookup) {
            add_mx_destination(&cl, d, dsn, dsnlen, why);
        } else {
            int status = add_host(&cl, d->host, d->port, 1, why);
            if (status != SMTP_DNS_OK)
                set_failure(dsn, dsnlen, status);
        }
        for (size_t k = first; k < cl.n; k++)
            cl.items[k].dest = i;
    }
    return (int)cl.n;
}

void smtp_candidate_name(const smtp_candidate *c, int with_port, char *buf, size_t len)
{
    int rc;
    if (c->is_unix) { /* Postfix names a socket peer by this host's name: "host[path]" */
        rc = fixed_printf(buf, len, "%s[%s]", smtp_settings_current()->myhostname, c->host);
    } else {
        char text[INET_ADDR_TEXT_MAX];
        inet_addr_format(&c->addr, text, sizeof(text));
        rc = with_port ? fixed_printf(buf, len, "%s[%s]:%u", c->host, text, c->port)
                       : fixed_printf(buf, len, "%s[%s]", c->host, text);
    }
    /* SMTP_NAME_MAX holds any host, address and port, and smtp_main refuses a myhostname
     * longer than a host name: only a caller's short buffer gets here */
    if (rc < 0 && fixed_copy(buf, len, "unknown") < 0)
        log_warning("smtp_candidate_name: %zu-byte buffer", len);
}

/* Waits for a non-blocking connect to finish. 0 or an errno value. */
static int finish_connect(int fd, long timeout)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    long ms = (timeout > 0 ? timeout : 1) * 1000L;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= ms)
            return ETIMEDOUT;
        int n = poll(&p, 1, (int)(ms - spent));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return ETIMEDOUT;
        int err = 0;
        socklen_t elen = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            return errno;
        return err;
    }
}

int smtp_connect_candidate(const smtp_candidate *c, long timeout, strbuf *why)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    if (c->is_unix) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        sun->sun_family = AF_UNIX;
        size_t plen = strnlen(c->host, sizeof(c->host));
        if (plen >= sizeof(sun->sun_path))
            plen = sizeof(sun->sun_path) - 1;
        memcpy(sun->sun_path, c->host, plen);
        sslen = sizeof(*sun);
    } else if (c->addr.family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short)c->port);
        memcpy(&sin->sin_addr, c->addr.bytes, 4);
        sslen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short)c->port);
        memcpy(&sin6->sin6_addr, c->addr.bytes, 16);
        sslen = sizeof(*sin6);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0;
    if (fd < 0) {
        err = errno;
    } else if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
        err = errno == EINPROGRESS ? finish_connect(fd, timeout) : errno;
    }
    if (err == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    char name[SMTP_HOST_MAX + INET_ADDR_TEXT_MAX + 16];
    smtp_candidate_name(c, 1, name, sizeof(name));
    strbuf_reset(why);
    if (err == ETIMEDOUT)
        strbuf_printf(why, "connect to %s: Connection timed out", name);
    else
        strbuf_printf(why, "connect to %s: %s", name, strerror(err));
    return -1;
}

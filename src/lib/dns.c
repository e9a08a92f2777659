/*
 * dns.c: c-ares on the event loop (see dns.h). c-ares tells which sockets it wants watched
 * (sock_state_cb); one loop timer follows ares_timeout() so retries and timeouts happen
 * without any blocking call.
 */
#include "lib/dns.h"
#include "lib/xalloc.h"

#include <ares.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct dns_resolver {
    event_loop *loop;
    ares_channel channel;
    event_timer_id timer;
    int initialized;
};

struct dns_query {
    dns_resolver *r;
    dns_type type;
    dns_done_fn fn;
    void *ctx;
    int cancelled;
    int *answered_now; /* set while ares_query runs: the reply came at once */
};

static int library_users;

static void schedule(dns_resolver *r);

static void on_fd(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    dns_resolver *r = ctx;
    ares_socket_t rd = events & (EVENT_READ | EVENT_ERROR) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wr = events & EVENT_WRITE ? fd : ARES_SOCKET_BAD;
    ares_process_fd(r->channel, rd, wr);
    schedule(r);
}

static void on_timer(event_loop *loop, void *ctx)
{
    (void)loop;
    dns_resolver *r = ctx;
    r->timer = 0;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    schedule(r);
}

/* One timer at c-ares's next deadline, while queries are outstanding. */
static void schedule(dns_resolver *r)
{
    if (r->timer) {
        event_timer_cancel(r->loop, r->timer);
        r->timer = 0;
    }
    struct timeval tv, *tvp = ares_timeout(r->channel, NULL, &tv);
    if (tvp == NULL)
        return;
    long ms = (long)tvp->tv_sec * 1000 + (long)tvp->tv_usec / 1000 + 1;
    r->timer = event_timer_add(r->loop, ms, on_timer, r);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_resolver *r = data;
    unsigned interest = (readable ? EVENT_READ : 0) | (writable ? EVENT_WRITE : 0);
    if (interest == 0) {
        if (event_watching(r->loop, fd))
            event_remove(r->loop, fd);
    } else if (event_watching(r->loop, fd)) {
        event_modify(r->loop, fd, interest);
    } else {
        event_add(r->loop, fd, interest, on_fd, r);
    }
}

dns_resolver *dns_resolver_new(event_loop *loop, const char *servers, strbuf *err)
{
    if (library_users++ == 0 && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
        library_users--;
        strbuf_append_str(err, "cannot initialise c-ares");
        return NULL;
    }
    dns_resolver *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    struct ares_options opts;
    memset(&opts, 0, sizeof(opts));
    opts.sock_state_cb = sock_state;
    opts.sock_state_cb_data = r;
    opts.timeout = DNS_TIMEOUT_MS;
    opts.tries = DNS_TRIES;
    opts.lookups = (char *)"b"; /* DNS only: names here are for mail, not /etc/hosts */
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
    int rc = ares_init_options(&r->channel, &opts, mask);
    if (rc != ARES_SUCCESS) {
        strbuf_printf(err, "cannot create a DNS resolver: %s", ares_strerror(rc));
        free(r);
        if (--library_users == 0)
            ares_library_cleanup();
        return NULL;
    }
    r->initialized = 1;
    if (servers && *servers) {
        rc = ares_set_servers_ports_csv(r->channel, servers);
        if (rc != ARES_SUCCESS) {
            strbuf_printf(err, "bad DNS server list \"%s\": %s", servers, ares_strerror(rc));
            dns_resolver_free(r);
            return NULL;
        }
    }
    return r;
}

void dns_resolver_free(dns_resolver *r)
{
    if (r == NULL)
        return;
    if (r->timer)
        event_timer_cancel(r->loop, r->timer);
    if (r->initialized)
        ares_destroy(r->channel); /* outstanding queries end with ARES_EDESTRUCTION */
    free(r);
    if (--library_users == 0)
        ares_library_cleanup();
}

int dns_servers_check(const char *servers, strbuf *err)
{
    dns_resolver *r = dns_resolver_new(NULL, servers, err); /* no query, so no loop needed */
    if (r == NULL)
        return -1;
    dns_resolver_free(r);
    return 0;
}

/* ---- reply parsing ---- */

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static void add_rr(dns_answer *a, const dns_rr *rr)
{
    a->rr = xrealloc(a->rr, (a->n + 1) * sizeof(*a->rr));
    a->rr[a->n++] = *rr;
}

void dns_answer_free(dns_answer *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->rr[i].text);
        free(a->rr[i].data);
    }
    free(a->rr);
    a->rr = NULL;
    a->n = 0;
}

/* A domain name at p inside the message, expanded (compression pointers followed). */
static int read_name(const unsigned char *msg, size_t len, const unsigned char *p, char **out,
                     long *used)
{
    char *name = NULL;
    if (ares_expand_name(p, msg, (int)len, &name, used) != ARES_SUCCESS)
        return -1;
    if (strlen(name) > DNS_NAME_MAX) {
        ares_free_string(name);
        return -1;
    }
    if (out)
        *out = xstrdup(name);
    ares_free_string(name);
    return 0;
}

/* The record data of one answer of the wanted type. */
static int parse_rdata(const unsigned char *msg, size_t len, const unsigned char *rd,
                       size_t rdlen, dns_type type, dns_rr *rr)
{
    char buf[INET6_ADDRSTRLEN];
    long used;
    switch (type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA: {
        size_t want = type == DNS_TYPE_A ? 4 : 16;
        if (rdlen != want ||
            !inet_ntop(type == DNS_TYPE_A ? AF_INET : AF_INET6, rd, buf, sizeof(buf)))
            return -1;
        rr->text = xstrdup(buf);
        return 0;
    }
    case DNS_TYPE_PTR: return read_name(msg, len, rd, &rr->text, &used);
    case DNS_TYPE_MX:
        if (rdlen < 3)
            return -1;
        rr->pref = get16(rd);
        return read_name(msg, len, rd + 2, &rr->text, &used);
    case DNS_TYPE_TXT: {
        strbuf t;
        strbuf_init(&t, 0);
        for (size_t i = 0; i < rdlen;) {
            size_t n = rd[i++];
            if (i + n > rdlen) {
                strbuf_free(&t);
                return -1;
            }
            strbuf_append(&t, (const char *)rd + i, n);
            i += n;
        }
        rr->text = strbuf_detach(&t);
        strbuf_free(&t);
        return 0;
    }
    case DNS_TYPE_TLSA:
        if (rdlen < 3)
            return -1;
        rr->usage = rd[0];
        rr->selector = rd[1];
        rr->mtype = rd[2];
        rr->len = rdlen - 3;
        rr->data = xmalloc(rr->len ? rr->len : 1);
        memcpy(rr->data, rd + 3, rr->len);
        return 0;
    }
    return -1;
}

dns_status dns_parse_reply(const unsigned char *msg, size_t len, dns_type type, dns_answer *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 12 || len > 65535)
        return DNS_INVALID;
    unsigned qd = get16(msg + 4), an = get16(msg + 6);
    const unsigned char *p = msg + 12, *end = msg + len;
    long used;
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(msg, len, p, NULL, &used) < 0 || end - p < used + 4)
            return DNS_INVALID;
        p += used + 4;
    }
    for (unsigned i = 0; i < an; i++) {
        if (read_name(msg, len, p, NULL, &used) < 0 || end - p < used + 10) {
            dns_answer_free(out);
            return DNS_INVALID;
        }
        p += used;
        unsigned rtype = get16(p), rclass = get16(p + 2);
        unsigned ttl = (unsigned)p[4] << 24 | (unsigned)p[5] << 16 | (unsigned)p[6] << 8 | p[7];
        size_t rdlen = get16(p + 8);
        p += 10;
        if ((size_t)(end - p) < rdlen) {
            dns_answer_free(out);
            return DNS_INVALID;
        }
        if (rtype == (unsigned)type && rclass == 1) {
            dns_rr rr = {.type = type, .ttl = ttl};
            if (parse_rdata(msg, len, p, rdlen, type, &rr) < 0) {
                free(rr.text);
                free(rr.data);
                dns_answer_free(out);
                return DNS_INVALID;
            }
            add_rr(out, &rr);
        }
        p += rdlen;
    }
    return out->n ? DNS_OK : DNS_NOTFOUND;
}

/* ---- queries ---- */

static dns_status status_of(int ares_status)
{
    switch (ares_status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA: return DNS_NOTFOUND;
    case ARES_EBADNAME:
    case ARES_EFORMERR:
    case ARES_EBADRESP: return DNS_INVALID;
    default: return DNS_TEMPFAIL;
    }
}

static void on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    dns_query *q = arg;
    if (q->answered_now)
        *q->answered_now = 1;
    if (q->cancelled || status == ARES_EDESTRUCTION) {
        free(q);
        return;
    }
    dns_answer ans = {0};
    dns_status st = status == ARES_SUCCESS ? dns_parse_reply(abuf, (size_t)alen, q->type, &ans)
                                           : status_of(status);
    const char *why = status == ARES_SUCCESS
                          ? (st == DNS_INVALID ? "malformed DNS reply"
                                               : st == DNS_NOTFOUND ? "no such record" : "")
                          : ares_strerror(status);
    q->fn(q->ctx, st, &ans, why);
    dns_answer_free(&ans);
    free(q);
}

dns_query *dns_lookup(dns_resolver *r, const char *name, dns_type type, dns_done_fn fn,
                      void *ctx)
{
    dns_query *q = xcalloc(1, sizeof(*q));
    q->r = r;
    q->type = type;
    q->fn = fn;
    q->ctx = ctx;
    /* The reply callback frees q; a query answered at once is gone when ares_query returns,
     * so the caller gets NULL (its callback has run). */
    int answered_now = 0;
    q->answered_now = &answered_now;
    ares_query(r->channel, name, 1 /* C_IN */, (int)type, on_reply, q);
    if (answered_now)
        return NULL;
    q->answered_now = NULL;
    schedule(r);
    return q;
}

void dns_cancel(dns_query *q)
{
    if (q)
        q->cancelled = 1;
}

int dns_reverse_name(const char *addr, const char *suffix, char *out, size_t outlen)
{
    unsigned char b[16];
    int n = 0;
    if (inet_pton(AF_INET, addr, b) == 1) {
        n = snprintf(out, outlen, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
                     suffix ? suffix : "in-addr.arpa");
    } else if (inet_pton(AF_INET6, addr, b) == 1) {
        static const char hex[] = "0123456789abcdef";
        char nib[64 + 1];
        size_t k = 0;
        for (int i = 15; i >= 0; i--) {
            nib[k++] = hex[b[i] & 15];
            nib[k++] = '.';
            nib[k++] = hex[b[i] >> 4];
            nib[k++] = '.';
        }
        nib[k] = '\0';
        n = snprintf(out, outlen, "%s%s", nib, suffix ? suffix : "ip6.arpa");
    } else {
        return -1;
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

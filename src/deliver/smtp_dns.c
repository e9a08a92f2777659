/* smtp_dns.c: MX and address lookups for the SMTP client (see smtp_dns.h). */
#include "deliver/smtp_dns.h"
#include "deliver/smtp_settings.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define DNS_ANSWER_MAX 65536
#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_TLSA 52
#define DNS_CLASS_IN 1

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Calls fn for each answer record of type qtype (class IN). Returns the records passed to fn,
 * or -1 when the message is malformed. fn returns non-zero to stop. */
typedef int (*answer_fn)(const unsigned char *msg, size_t len, const unsigned char *rdata,
                         size_t rdlen, void *ctx);

static int each_answer(const unsigned char *msg, size_t len, int qtype, answer_fn fn, void *ctx)
{
    if (len < 12)
        return -1;
    const unsigned char *eom = msg + len;
    unsigned qdcount = get16(msg + 4), ancount = get16(msg + 6);
    const unsigned char *p = msg + 12;
    for (unsigned i = 0; i < qdcount; i++) {
        int skip = dn_skipname(p, eom);
        if (skip < 0 || eom - p < skip + 4)
            return -1;
        p += skip + 4;
    }
    int count = 0;
    for (unsigned i = 0; i < ancount; i++) {
        int skip = dn_skipname(p, eom);
        if (skip < 0 || eom - p < skip + 10)
            return -1;
        p += skip;
        unsigned type = get16(p), klass = get16(p + 2), rdlen = get16(p + 8);
        p += 10;
        if ((size_t)(eom - p) < rdlen)
            return -1;
        if ((int)type == qtype && klass == DNS_CLASS_IN) {
            count++;
            if (fn(msg, len, p, rdlen, ctx))
                break;
        }
        p += rdlen;
    }
    return count;
}

typedef struct mx_collect {
    smtp_mx *out;
    size_t max, n;
    int bad;
} mx_collect;

static int collect_mx(const unsigned char *msg, size_t len, const unsigned char *rdata,
                      size_t rdlen, void *ctx)
{
    mx_collect *c = ctx;
    if (rdlen < 3) {
        c->bad = 1;
        return 1;
    }
    if (c->n == c->max)
        return 1;
    smtp_mx *mx = &c->out[c->n];
    mx->pref = (int)get16(rdata);
    char name[NS_MAXDNAME];
    int used = dn_expand(msg, msg + len, rdata + 2, name, sizeof(name));
    if (used < 0 || (size_t)used > rdlen - 2 || fixed_copy(mx->host, sizeof(mx->host), name) < 0) {
        c->bad = 1;
        return 1;
    }
    c->n++;
    return 0;
}

int smtp_dns_parse_mx(const unsigned char *msg, size_t len, smtp_mx *out, size_t max)
{
    mx_collect c = {out, max, 0, 0};
    if (each_answer(msg, len, DNS_TYPE_MX, collect_mx, &c) < 0 || c.bad)
        return -1;
    return (int)c.n;
}

typedef struct addr_collect {
    inet_address *out;
    size_t max, n;
    int family;
    size_t size;
    int bad;
} addr_collect;

static int collect_addr(const unsigned char *msg, size_t len, const unsigned char *rdata,
                        size_t rdlen, void *ctx)
{
    (void)msg;
    (void)len;
    addr_collect *c = ctx;
    if (rdlen != c->size) {
        c->bad = 1;
        return 1;
    }
    if (c->n == c->max)
        return 1;
    memset(&c->out[c->n], 0, sizeof(c->out[c->n]));
    c->out[c->n].family = c->family;
    memcpy(c->out[c->n].bytes, rdata, c->size);
    c->n++;
    return 0;
}

int smtp_dns_parse_addr(const unsigned char *msg, size_t len, int qtype, inet_address *out,
                        size_t max)
{
    addr_collect c = {
        out, max, 0, qtype == DNS_TYPE_A ? AF_INET : AF_INET6, qtype == DNS_TYPE_A ? 4u : 16u, 0};
    if (qtype != DNS_TYPE_A && qtype != DNS_TYPE_AAAA)
        return -1;
    if (each_answer(msg, len, qtype, collect_addr, &c) < 0 || c.bad)
        return -1;
    return (int)c.n;
}

static void mx_swap(smtp_mx *a, smtp_mx *b)
{
    smtp_mx t = *a;
    *a = *b;
    *b = t;
}

void smtp_mx_sort(smtp_mx *mx, size_t n, unsigned *seed)
{
    /* Insertion sort by preference (n is small and bounded), then shuffle each run of equal
     * preference (Fisher-Yates). */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && mx[j - 1].pref > mx[j].pref; j--)
            mx_swap(&mx[j - 1], &mx[j]);
    size_t start = 0;
    while (start < n) {
        size_t end = start + 1;
        while (end < n && mx[end].pref == mx[start].pref)
            end++;
        for (size_t i = end - 1; i > start; i--) {
            size_t j = start + (size_t)rand_r(seed) % (i - start + 1);
            mx_swap(&mx[i], &mx[j]);
        }
        start = end;
    }
}

void smtp_dns_families(int *want_v4, int *want_v6)
{
    *want_v4 = smtp_settings_current()->want_v4;
    *want_v6 = smtp_settings_current()->want_v6;
}

int smtp_dns_resolver_parse(const char *spec, struct sockaddr_in *out, strbuf *err)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(spec, ':');
    size_t hlen = colon ? (size_t)(colon - spec) : strlen(spec);
    unsigned long port = 53;
    if (colon) {
        char *end;
        port = strtoul(colon + 1, &end, 10);
        if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port == 0 || port > 65535) {
            strbuf_printf(err, "parameter smtp_dns_resolver_address: bad port in \"%s\"", spec);
            return -1;
        }
    }
    memset(out, 0, sizeof(*out));
    if (fixed_printf(host, sizeof(host), "%.*s", (int)hlen, spec) < 0 ||
        inet_pton(AF_INET, host, &out->sin_addr) != 1) {
        strbuf_printf(err,
                      "parameter smtp_dns_resolver_address: \"%s\" is not an IPv4 address or "
                      "address:port",
                      spec);
        return -1;
    }
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)port);
    return 0;
}

/* Points the resolver at smtp_dns_resolver_address when it is set (the agent refused to start
 * on a value that does not parse: smtp_settings_check). */
static void apply_resolver_address(struct __res_state *st)
{
    const char *spec = smtp_settings_current()->dns_resolver_address;
    if (spec[0] == '\0')
        return;
    struct sockaddr_in sin;
    strbuf err;
    strbuf_init(&err, 0);
    int rc = smtp_dns_resolver_parse(spec, &sin, &err);
    strbuf_free(&err);
    if (rc < 0)
        return;
    st->nsaddr_list[0] = sin;
    st->nscount = 1;
}

static const char *type_name(int qtype)
{
    return qtype == DNS_TYPE_MX     ? "MX"
           : qtype == DNS_TYPE_A    ? "A"
           : qtype == DNS_TYPE_TLSA ? "TLSA"
                                    : "AAAA";
}

int smtp_dns_dnssec_enabled(void)
{
    return smtp_settings_current()->dnssec;
}

/* The AD bit of a response header: the resolver validated the answer with DNSSEC. */
static int authentic_data(const unsigned char *msg, size_t len)
{
    return len >= 4 && (msg[3] & 0x20) != 0;
}

/* One query. On SMTP_DNS_OK the answer is in buf/len. */
static int dns_query(const char *name, int qtype, unsigned char *buf, size_t cap, size_t *len,
                     int *ad, strbuf *why)
{
    *ad = 0;
    struct __res_state st;
    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) != 0) {
        strbuf_printf(why, "cannot initialise the DNS resolver");
        return SMTP_DNS_RETRY;
    }
    apply_resolver_address(&st);
    st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
    /* smtp_dns_support_level = dnssec: ask for DNSSEC (DO bit) and keep the resolver's AD bit,
     * which glibc strips unless told to trust it. As Postfix does, the resolver is trusted to
     * validate: it must be local or reached over a trusted path. */
    if (smtp_dns_dnssec_enabled())
        st.options |= RES_USE_EDNS0 | RES_USE_DNSSEC | RES_TRUSTAD;
    int n = res_nquery(&st, name, DNS_CLASS_IN, qtype, buf, (int)cap);
    int herr = st.res_h_errno;
    res_nclose(&st);
    if (n >= 0) {
        *len = (size_t)n < cap ? (size_t)n : cap;
        *ad = authentic_data(buf, *len);
        return SMTP_DNS_OK;
    }
    const char *text;
    int status;
    switch (herr) {
    case HOST_NOT_FOUND:
        text = "Host not found";
        status = SMTP_DNS_NOTFOUND;
        break;
    case NO_DATA:
        text = "Host found but no data record of requested type";
        status = SMTP_DNS_NODATA;
        break;
    case NO_RECOVERY:
        text = "Non-recoverable error";
        status = SMTP_DNS_FAIL;
        break;
    default:
        text = "Host not found, try again";
        status = SMTP_DNS_RETRY;
        break;
    }
    strbuf_reset(why);
    strbuf_printf(why, "Host or domain name not found. Name service error for name=%s type=%s: %s",
                  name, type_name(qtype), text);
    return status;
}

/* Parses the answer records of type qtype into out[0..max); -1 when the message is malformed. */
typedef int (*records_parser)(const unsigned char *msg, size_t len, int qtype, void *out,
                              size_t max);

static int parse_mx_records(const unsigned char *msg, size_t len, int qtype, void *out, size_t max)
{
    (void)qtype;
    return smtp_dns_parse_mx(msg, len, out, max);
}

static int parse_addr_records(const unsigned char *msg, size_t len, int qtype, void *out,
                              size_t max)
{
    return smtp_dns_parse_addr(msg, len, qtype, out, max);
}

static int parse_tlsa_records(const unsigned char *msg, size_t len, int qtype, void *out,
                              size_t max)
{
    (void)qtype;
    return smtp_dns_parse_tlsa(msg, len, out, max);
}

/* One query whose answer is parsed into out. SMTP_DNS_OK with *n records (possibly none), or the
 * failure with why set; a malformed answer is a temporary failure, as in Postfix. */
static int query_records(const char *name, int qtype, records_parser parse, void *out, size_t max,
                         size_t *n, int *ad, strbuf *why)
{
    unsigned char *buf = xmalloc(DNS_ANSWER_MAX);
    size_t len = 0;
    *n = 0;
    int status = dns_query(name, qtype, buf, DNS_ANSWER_MAX, &len, ad, why);
    if (status == SMTP_DNS_OK) {
        int got = parse(buf, len, qtype, out, max);
        if (got < 0) {
            strbuf_reset(why);
            strbuf_printf(why, "malformed DNS reply for name=%s type=%s", name, type_name(qtype));
            status = SMTP_DNS_RETRY;
        } else {
            *n = (size_t)got;
        }
    }
    free(buf);
    return status;
}

int smtp_dns_mx(const char *domain, smtp_mx *out, size_t max, size_t *n, int *secure,
                strbuf *why)
{
    int status = query_records(domain, DNS_TYPE_MX, parse_mx_records, out, max, n, secure, why);
    return status == SMTP_DNS_OK && *n == 0 ? SMTP_DNS_NODATA : status;
}

int smtp_dns_host(const char *host, int want_v4, int want_v6, inet_address *out, size_t max,
                  size_t *n, int *secure, strbuf *why)
{
    int all_authentic = 1;
    int types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    int wanted[2] = {want_v4, want_v6};
    int best = SMTP_DNS_FAIL, tried = 0;
    *n = 0;
    for (int i = 0; i < 2; i++) {
        if (!wanted[i])
            continue;
        strbuf tmp;
        strbuf_init(&tmp, 1024);
        int ad = 0;
        size_t got = 0;
        int status = query_records(host, types[i], parse_addr_records, out + *n, max - *n, &got,
                                   &ad, &tmp);
        if (status == SMTP_DNS_OK) {
            all_authentic &= ad;
            *n += got;
        }
        /* Keep the most telling failure: a temporary one beats "not found". */
        if (status != SMTP_DNS_OK &&
            (!tried || status == SMTP_DNS_RETRY || best != SMTP_DNS_RETRY)) {
            strbuf_reset(why);
            strbuf_append(why, tmp.data, tmp.len);
            best = status;
        }
        tried = 1;
        strbuf_free(&tmp);
    }
    *secure = *n > 0 && all_authentic;
    if (*n > 0)
        return SMTP_DNS_OK;
    if (why->len == 0)
        strbuf_printf(why,
                      "Host or domain name not found. Name service error for name=%s "
                      "type=A: Host found but no data record of requested type",
                      host);
    return best == SMTP_DNS_OK ? SMTP_DNS_NODATA : best;
}

typedef struct tlsa_collect {
    smtp_tlsa *out;
    size_t max, n;
} tlsa_collect;

static int collect_tlsa(const unsigned char *msg, size_t len, const unsigned char *rdata,
                        size_t rdlen, void *ctx)
{
    (void)msg;
    (void)len;
    tlsa_collect *c = ctx;
    if (c->n == c->max)
        return 1;
    if (rdlen < 4 || rdlen - 3 > SMTP_TLSA_DATA_MAX)
        return 0; /* malformed or too large to use: skipped, so it can only weaken nothing */
    smtp_tlsa *t = &c->out[c->n++];
    t->usage = rdata[0];
    t->selector = rdata[1];
    t->mtype = rdata[2];
    t->len = rdlen - 3;
    memcpy(t->data, rdata + 3, t->len);
    return 0;
}

int smtp_dns_parse_tlsa(const unsigned char *msg, size_t len, smtp_tlsa *out, size_t max)
{
    tlsa_collect c = {out, max, 0};
    if (each_answer(msg, len, DNS_TYPE_TLSA, collect_tlsa, &c) < 0)
        return -1;
    return (int)c.n;
}

int smtp_dns_tlsa(const char *name, smtp_tlsa *out, size_t max, size_t *n, int *secure,
                  strbuf *why)
{
    int status = query_records(name, DNS_TYPE_TLSA, parse_tlsa_records, out, max, n, secure, why);
    return status == SMTP_DNS_OK && *n == 0 ? SMTP_DNS_NODATA : status;
}

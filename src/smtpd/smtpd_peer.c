/*
 * smtpd_peer.c: client name lookup with forward confirmation (see smtpd_peer.h).
 */
#include "smtpd/smtpd_peer.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_proto_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct smtpd_peer_lookup {
    event_loop *loop;
    dns_resolver *dns;
    char addr[INET6_ADDRSTRLEN];
    dns_query *query;
    event_timer_id timer;
    smtpd_peer_result res;
    smtpd_peer_done_fn done;
    void *ctx;
};

static void finish(smtpd_peer_lookup *p)
{
    smtpd_peer_done_fn done = p->done;
    void *ctx = p->ctx;
    smtpd_peer_result res = p->res;
    free(p);
    done(ctx, &res);
}

/* The outcome goes out from a timer: the caller may still be inside smtpd_peer_lookup_start
 * or a DNS callback when it is known. */
static void deliver_later(event_loop *loop, void *ctx)
{
    (void)loop;
    smtpd_peer_lookup *p = ctx;
    p->timer = 0;
    finish(p);
}

/* A lookup whose callback may run before dns_lookup returns (then it has set p->query). */
static void lookup(smtpd_peer_lookup *p, const char *name, dns_type t, dns_done_fn fn)
{
    p->query = NULL;
    dns_query *q = dns_lookup(p->dns, name, t, fn, p);
    if (q)
        p->query = q;
}

static void set_unknown(smtpd_peer_result *r, int name_status, int reverse_status)
{
    strcpy(r->name, "unknown"); /* a literal: the compiler checks that it fits */
    r->name_status = name_status;
    r->reverse_status = reverse_status;
}

/* Two addresses are the same (textual forms may differ for IPv6). */
static int same_address(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
        return memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
        return memcmp(x, y, 16) == 0;
    return 0;
}

static void on_forward(void *ctx, dns_status st, const dns_answer *ans, const char *why)
{
    smtpd_peer_lookup *p = ctx;
    smtpd_peer_result *r = &p->res;
    p->query = NULL;
    if (st == DNS_OK) {
        for (size_t i = 0; i < ans->n; i++)
            if (same_address(ans->rr[i].text, p->addr)) {
                memcpy(r->name, r->reverse_name, sizeof(r->name)); /* same size */
                r->name_status = SMTPD_PEER_OK;
                p->timer = event_timer_add(p->loop, 0, deliver_later, p);
                return;
            }
        log_warning("hostname %s does not resolve to address %s", r->reverse_name, p->addr);
        set_unknown(r, SMTPD_PEER_FORGED, SMTPD_PEER_OK);
    } else {
        log_warning("hostname %s does not resolve to address %s: %s", r->reverse_name, p->addr,
                    st == DNS_NOTFOUND ? "Name or service not known" : why);
        set_unknown(r, st == DNS_TEMPFAIL ? SMTPD_PEER_TEMP : SMTPD_PEER_FORGED, SMTPD_PEER_OK);
    }
    p->timer = event_timer_add(p->loop, 0, deliver_later, p);
}

static void on_reverse(void *ctx, dns_status st, const dns_answer *ans, const char *why)
{
    (void)why;
    smtpd_peer_lookup *p = ctx;
    smtpd_peer_result *r = &p->res;
    p->query = NULL;
    const char *name = st == DNS_OK ? ans->rr[0].text : NULL;
    if (name && (!smtpd_helo_is_valid(name) || strchr(name, '.') == NULL ||
                 fixed_copy(r->reverse_name, sizeof(r->reverse_name), name) < 0)) {
        log_warning("%s: malformed or unqualified hostname in PTR record: %.100s", p->addr,
                    name);
        name = NULL;
        st = DNS_INVALID;
    }
    if (name == NULL) {
        strcpy(r->reverse_name, "unknown"); /* fixed_copy() above may have emptied it */
        int code = st == DNS_TEMPFAIL ? SMTPD_PEER_TEMP : SMTPD_PEER_PERM;
        set_unknown(r, code, code);
        p->timer = event_timer_add(p->loop, 0, deliver_later, p);
        return;
    }
    r->reverse_status = SMTPD_PEER_OK;
    dns_type t = strchr(p->addr, ':') ? DNS_TYPE_AAAA : DNS_TYPE_A;
    lookup(p, r->reverse_name, t, on_forward);
}

smtpd_peer_lookup *smtpd_peer_lookup_start(event_loop *loop, dns_resolver *dns, const char *addr,
                                           smtpd_peer_done_fn done, void *ctx)
{
    smtpd_peer_lookup *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->dns = dns;
    p->done = done;
    p->ctx = ctx;
    strcpy(p->res.reverse_name, "unknown");
    char rev[128];
    if (fixed_copy(p->addr, sizeof(p->addr), addr) < 0 ||
        dns_reverse_name(addr, NULL, rev, sizeof(rev)) < 0) {
        set_unknown(&p->res, SMTPD_PEER_PERM, SMTPD_PEER_PERM);
        p->timer = event_timer_add(loop, 0, deliver_later, p);
        return p;
    }
    lookup(p, rev, DNS_TYPE_PTR, on_reverse);
    return p;
}

void smtpd_peer_lookup_cancel(smtpd_peer_lookup *p)
{
    if (p == NULL)
        return;
    if (p->query)
        dns_cancel(p->query);
    if (p->timer)
        event_timer_cancel(p->loop, p->timer);
    free(p);
}

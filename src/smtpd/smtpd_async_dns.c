/*
 * smtpd_async_dns.c: the restrictions that need DNS, as a waiting kind (smtpd_async.h):
 *
 *   reject_unknown_client_hostname (reject_unknown_client)    the client name lookup failed
 *   reject_unknown_reverse_client_hostname                    the client has no PTR name
 *   reject_unknown_helo_hostname (reject_unknown_hostname)    HELO name has no MX, A or AAAA
 *   reject_unknown_sender_domain, reject_unknown_recipient_domain
 *                       the address's domain has no MX, A or AAAA (not for our own domains);
 *                       a null MX (RFC 7505) is refused as Postfix does
 *   reject_rbl_client ZONE[=ADDR]                             the client address is listed
 *   reject_rhsbl_client, _reverse_client, _helo, _sender, _recipient ZONE[=ADDR]
 *                       the name or domain is listed
 *
 * The two client-name restrictions use the lookup made before the greeting (smtpd_peer.c)
 * and answer at once; the others send queries through the c-ares resolver in the event loop.
 * Replies, codes (unknown_client_reject_code, unknown_hostname_reject_code,
 * unknown_address_reject_code, maps_rbl_reject_code) and texts are Postfix's. Where Postfix
 * applies *_tempfail_action (defer_if_permit) to a temporary DNS failure, Postern defers at
 * once (450), which is never less safe. A DNSBL that cannot be reached lists nobody, as in
 * Postfix. A DNSBL filter is one address (ZONE=127.0.0.2); Postfix's pattern forms are
 * refused at load.
 */
#include "global/resolve.h"
#include "lib/config.h"
#include "lib/dns.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd_async.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    OP_CLIENT,
    OP_REVERSE_CLIENT,
    OP_HELO,
    OP_SENDER_DOMAIN,
    OP_RECIPIENT_DOMAIN,
    OP_RBL_CLIENT,
    OP_RHSBL_CLIENT,
    OP_RHSBL_REVERSE_CLIENT,
    OP_RHSBL_HELO,
    OP_RHSBL_SENDER,
    OP_RHSBL_RECIPIENT,
};

static const smtpd_async_name dns_names[] = {
    {"reject_unknown_client_hostname", 0, OP_CLIENT},
    {"reject_unknown_client", 0, OP_CLIENT},
    {"reject_unknown_reverse_client_hostname", 0, OP_REVERSE_CLIENT},
    {"reject_unknown_helo_hostname", 0, OP_HELO},
    {"reject_unknown_hostname", 0, OP_HELO},
    {"reject_unknown_sender_domain", 0, OP_SENDER_DOMAIN},
    {"reject_unknown_recipient_domain", 0, OP_RECIPIENT_DOMAIN},
    {"reject_rbl_client", 1, OP_RBL_CLIENT},
    {"reject_rhsbl_client", 1, OP_RHSBL_CLIENT},
    {"reject_rhsbl_reverse_client", 1, OP_RHSBL_REVERSE_CLIENT},
    {"reject_rhsbl_helo", 1, OP_RHSBL_HELO},
    {"reject_rhsbl_sender", 1, OP_RHSBL_SENDER},
    {"reject_rhsbl_recipient", 1, OP_RHSBL_RECIPIENT},
    {NULL, 0, 0},
};

/* Outcomes in w->code. */
enum { RES_NONE, RES_FOUND, RES_NOTFOUND, RES_TEMP, RES_NULLMX, RES_LISTED };

typedef struct dns_check {
    int op;
    char *zone;    /* DNSBL zone */
    char *filter;  /* the one answer address that counts, or NULL for any */
    resolver *res; /* our own domains are never "unknown" */
} dns_check;

typedef struct dns_req {
    smtpd_wait *w;
    dns_check *ck;
    dns_query *q;
    char name[DNS_NAME_MAX + 1];
    int step; /* index into the types tried in turn */
    int temp; /* a query failed temporarily */
} dns_req;

static int is_rbl(int op)
{
    return op >= OP_RBL_CLIENT;
}

static void *dns_compile(int op, const char *arg, smtpd_async_env *env, strbuf *err)
{
    (void)env;
    dns_check *ck = xcalloc(1, sizeof(*ck));
    ck->op = op;
    if (is_rbl(op)) {
        const char *eq = strchr(arg, '=');
        ck->zone = xstrndup(arg, eq ? (size_t)(eq - arg) : strlen(arg));
        if (eq) {
            unsigned char b[4];
            if (inet_pton(AF_INET, eq + 1, b) != 1) {
                strbuf_printf(err, "DNSBL reply filter \"%s\" is not one IPv4 address; "
                                   "Postfix's pattern forms are not implemented by Postern",
                              eq + 1);
                free(ck->zone);
                free(ck);
                return NULL;
            }
            ck->filter = xstrdup(eq + 1);
        }
        if (ck->zone[0] == '\0' || strlen(ck->zone) > 200) {
            strbuf_printf(err, "bad DNSBL zone \"%s\"", arg);
            free(ck->zone);
            free(ck->filter);
            free(ck);
            return NULL;
        }
    }
    if (op == OP_SENDER_DOMAIN || op == OP_RECIPIENT_DOMAIN) {
        ck->res = resolver_open(err);
        if (ck->res == NULL) {
            free(ck);
            return NULL;
        }
    }
    return ck;
}

static void dns_release(void *data)
{
    dns_check *ck = data;
    if (ck->res)
        resolver_close(ck->res);
    free(ck->zone);
    free(ck->filter);
    free(ck);
}

/* ---- requests ---- */

static void req_end(dns_req *q, int code)
{
    smtpd_wait *w = q->w;
    w->code = code;
    free(q);
    smtpd_wait_finish(w, SMTPD_WAIT_OK);
}

static void send_query(dns_req *q, const char *name, dns_type t, dns_done_fn fn)
{
    q->q = NULL;
    dns_query *dq = dns_lookup(q->w->env->dns, name, t, fn, q);
    if (dq)
        q->q = dq;
}

/* MX, then A, then AAAA: the first that exists decides. */
static const dns_type domain_types[] = {DNS_TYPE_MX, DNS_TYPE_A, DNS_TYPE_AAAA};

static void on_domain(void *ctx, dns_status st, const dns_answer *ans, const char *why)
{
    (void)why;
    dns_req *q = ctx;
    q->q = NULL;
    if (st == DNS_OK) {
        int nullmx = domain_types[q->step] == DNS_TYPE_MX && ans->n == 1 &&
                     (ans->rr[0].text[0] == '\0' || strcmp(ans->rr[0].text, ".") == 0);
        req_end(q, nullmx ? RES_NULLMX : RES_FOUND);
        return;
    }
    if (st == DNS_TEMPFAIL)
        q->temp = 1;
    if (++q->step < (int)(sizeof(domain_types) / sizeof(domain_types[0]))) {
        send_query(q, q->name, domain_types[q->step], on_domain);
        return;
    }
    req_end(q, q->temp ? RES_TEMP : RES_NOTFOUND);
}

static void on_rbl_txt(void *ctx, dns_status st, const dns_answer *ans, const char *why)
{
    (void)why;
    dns_req *q = ctx;
    q->q = NULL;
    strbuf_reset(&q->w->answer);
    if (st == DNS_OK)
        strbuf_append_str(&q->w->answer, ans->rr[0].text);
    req_end(q, RES_LISTED);
}

static void on_rbl(void *ctx, dns_status st, const dns_answer *ans, const char *why)
{
    (void)why;
    dns_req *q = ctx;
    q->q = NULL;
    int listed = 0;
    for (size_t i = 0; st == DNS_OK && i < ans->n; i++)
        if (q->ck->filter == NULL || strcmp(ans->rr[i].text, q->ck->filter) == 0)
            listed = 1;
    if (!listed) {
        req_end(q, RES_NOTFOUND); /* not listed, or the list cannot be reached */
        return;
    }
    send_query(q, q->name, DNS_TYPE_TXT, on_rbl_txt);
}

/* The domain an address or name check is about; NULL when the check does not apply. */
static const char *subject_domain(const dns_check *ck, const smtpd_check_args *a)
{
    const char *addr = NULL;
    switch (ck->op) {
    case OP_HELO:
    case OP_RHSBL_HELO:
        return a->helo && a->helo[0] != '[' ? a->helo : NULL;
    case OP_RHSBL_CLIENT:
        return a->client_name && strcmp(a->client_name, "unknown") != 0 ? a->client_name : NULL;
    case OP_RHSBL_REVERSE_CLIENT:
        return a->reverse_name && strcmp(a->reverse_name, "unknown") != 0 ? a->reverse_name
                                                                             : NULL;
    case OP_SENDER_DOMAIN:
    case OP_RHSBL_SENDER: addr = a->sender; break;
    case OP_RECIPIENT_DOMAIN:
    case OP_RHSBL_RECIPIENT: addr = a->recipient; break;
    default: return NULL;
    }
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] && at[1] != '[' ? at + 1 : NULL;
}

/* Our own domains (local, virtual, relay) are never looked up. */
static int is_our_domain(dns_check *ck, const char *addr)
{
    resolved res;
    strbuf err;
    strbuf_init(&err, 0);
    int rc = resolve_address(ck->res, addr, &res, &err);
    strbuf_free(&err);
    return rc == 0 && res.cls != ADDR_CLASS_DEFAULT;
}

static void dns_start(smtpd_wait *w, const smtpd_check_args *a)
{
    dns_check *ck = w->r->async_data;
    w->timeout_ms = 20000; /* three queries, each bounded by the resolver (dns.h) */
    if (ck->op == OP_CLIENT || ck->op == OP_REVERSE_CLIENT || w->env->dns == NULL) {
        w->code = RES_NONE;
        smtpd_wait_finish(w, SMTPD_WAIT_OK);
        return;
    }
    dns_req *q = xcalloc(1, sizeof(*q));
    q->w = w;
    q->ck = ck;
    w->req = q;
    if (ck->op == OP_RBL_CLIENT) {
        if (a->client_addr == NULL ||
            dns_reverse_name(a->client_addr, ck->zone, q->name, sizeof(q->name)) < 0) {
            req_end(q, RES_NOTFOUND);
            return;
        }
        send_query(q, q->name, DNS_TYPE_A, on_rbl);
        return;
    }
    const char *domain = subject_domain(ck, a);
    const char *addr = ck->op == OP_SENDER_DOMAIN ? a->sender : a->recipient;
    if (domain == NULL || ((ck->op == OP_SENDER_DOMAIN || ck->op == OP_RECIPIENT_DOMAIN) &&
                           is_our_domain(ck, addr))) {
        req_end(q, RES_NONE);
        return;
    }
    /* A name longer than DNS allows has no records: "Host not found", as Postfix's lookup of
     * an invalid name (never a pass for reject_unknown_*). */
    if (strlen(domain) > DNS_NAME_MAX - 1 || fixed_copy(q->name, sizeof(q->name), domain) < 0) {
        req_end(q, RES_NOTFOUND);
        return;
    }
    if (is_rbl(ck->op)) {
        if (fixed_printf(q->name, sizeof(q->name), "%s.%s", domain, ck->zone) < 0) {
            req_end(q, RES_NOTFOUND); /* too long to be listed */
            return;
        }
        send_query(q, q->name, DNS_TYPE_A, on_rbl);
        return;
    }
    send_query(q, q->name, domain_types[0], on_domain);
}

static void dns_cancel_req(smtpd_wait *w)
{
    dns_req *q = w->req;
    if (q == NULL)
        return;
    if (q->q)
        dns_cancel(q->q);
    free(q);
    w->req = NULL;
}

/* ---- answers as replies ---- */

static int code_param(const char *name, int fallback)
{
    long v = cfg_int(name);
    return v >= 400 && v <= 599 ? (int)v : fallback;
}

static int client_reply(const smtpd_check_args *a, int status, const char *what, strbuf *reply)
{
    if (status == 0 || status == SMTPD_PEER_OK)
        return SMTPD_CHECK_DUNNO;
    int code = status == SMTPD_PEER_TEMP ? 450 : code_param("unknown_client_reject_code", 450);
    strbuf_reset(reply);
    strbuf_printf(reply, "%d %c.7.25 Client host rejected: cannot find your %s, [%s]", code,
                  '0' + code / 100, what, a->client_addr);
    return SMTPD_CHECK_REJECT;
}

static int rbl_reply(const dns_check *ck, smtpd_wait *w, const smtpd_check_args *a, int cls,
                     strbuf *reply)
{
    static const char *const classes[] = {"Client host", "Helo command", "Sender address",
                                          "Recipient address", "Data command"};
    const char *what = a->client_addr;
    const char *klass = classes[0];
    if (ck->op != OP_RBL_CLIENT) {
        what = subject_domain(ck, a);
        klass = ck->op == OP_RHSBL_HELO        ? classes[1]
                : ck->op == OP_RHSBL_SENDER    ? classes[2]
                : ck->op == OP_RHSBL_RECIPIENT ? classes[3]
                                               : classes[0];
        if (ck->op == OP_RHSBL_REVERSE_CLIENT)
            klass = "Unverified Client host";
    }
    (void)cls;
    int code = code_param("maps_rbl_reject_code", 554);
    strbuf_reset(reply);
    strbuf_printf(reply, "%d %c.7.1 Service unavailable; %s [%s] blocked using %s", code,
                  '0' + code / 100, klass, what ? what : "", ck->zone);
    if (w->answer.len) { /* at most 200 bytes of TXT: the reply line stays within RFC 5321's
                          * 512 octets (4.5.3.1.5), whatever the list publishes */
        strbuf_append_str(reply, "; ");
        for (size_t i = 0; i < w->answer.len && i < 200; i++) {
            char c = w->answer.data[i];
            strbuf_append_char(reply, c >= 32 && c < 127 ? c : '?');
        }
    }
    return SMTPD_CHECK_REJECT;
}

static int dns_decide(smtpd_wait *w, const smtpd_check_args *a, int cls, strbuf *reply)
{
    dns_check *ck = w->r->async_data;
    if (ck->op == OP_CLIENT)
        return client_reply(a, a->name_status, "hostname", reply);
    if (ck->op == OP_REVERSE_CLIENT)
        return client_reply(a, a->reverse_status, "reverse hostname", reply);
    int code = w->status == SMTPD_WAIT_OK ? w->code : RES_TEMP;
    if (is_rbl(ck->op))
        return code == RES_LISTED ? rbl_reply(ck, w, a, cls, reply) : SMTPD_CHECK_DUNNO;
    if (code == RES_NONE || code == RES_FOUND)
        return SMTPD_CHECK_DUNNO;
    if (ck->op == OP_HELO) {
        int c = code == RES_TEMP ? 450 : code_param("unknown_hostname_reject_code", 450);
        return smtpd_check_reply(reply, c, "4.7.1", SMTPD_CLASS_HELO, a, "Host not found");
    }
    int sender = ck->op == OP_SENDER_DOMAIN;
    int subject = sender ? SMTPD_CLASS_SENDER : SMTPD_CLASS_RECIPIENT;
    if (code == RES_NULLMX) {
        strbuf text;
        strbuf_init(&text, 0);
        strbuf_printf(&text, "Domain %s does not accept mail (nullMX)", subject_domain(ck, a));
        smtpd_check_result r =
            sender ? smtpd_check_reply(reply, 550, "5.7.27", subject, a, text.data)
                   : smtpd_check_reply(reply, 556, "5.1.10", subject, a, text.data);
        strbuf_free(&text);
        return r;
    }
    int c = code == RES_TEMP ? 450 : code_param("unknown_address_reject_code", 450);
    return smtpd_check_reply(reply, c, sender ? "4.1.8" : "4.1.2", subject, a,
                             "Domain not found");
}

const smtpd_async_kind smtpd_async_dns = {
    .kind_name = "dns",
    .names = dns_names,
    .compile = dns_compile,
    .release = dns_release,
    .start = dns_start,
    .cancel = dns_cancel_req,
    .decide = dns_decide,
};

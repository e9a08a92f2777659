/* smtp_dane.c: RFC 7672 decisions and OpenSSL's DANE verification (see smtp_dane.h). */
#include "deliver/deliver_request.h"
#include "deliver/smtp_settings.h"
#include "deliver/smtp_dane.h"
#include "deliver/smtp_tls_policy.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int smtp_dane_usable(const smtp_tlsa *t)
{
    if (t->usage != 2 && t->usage != 3)
        return 0;
    if (t->selector > 1)
        return 0;
    return (t->mtype == 0 && t->len > 0) || (t->mtype == 1 && t->len == 32) ||
           (t->mtype == 2 && t->len == 64);
}

/* smtp_tls_dane_insecure_mx_policy: may a host named by an unvalidated MX record still get
 * DANE when its own records are validated? Postfix's default: yes at level dane, no otherwise. */
static int insecure_mx_dane(int level)
{
    const char *v = smtp_settings_current()->dane_insecure_mx_policy;
    if (v[0] == '\0')
        return level == SMTP_TLS_DANE;
    return strcmp(v, "dane") == 0;
}

/* No DANE for this server: may for dane, a failure for dane-only. */
static int without_dane(int level, const char *reason, const char *host, int *effective,
                        char *dsn, size_t dsnlen, strbuf *why)
{
    if (level == SMTP_TLS_DANE) {
        *effective = SMTP_TLS_MAY;
        return 0;
    }
    strbuf_reset(why);
    strbuf_printf(why, "TLS is required, but %s for host %s", reason, host);
    dsn_set(dsn, dsnlen, "4.7.5");
    return -1;
}

int smtp_dane_prepare(int level, const smtp_candidate *c, smtp_dane *out, int *effective,
                      char *dsn, size_t dsnlen, strbuf *why)
{
    out->n = 0;
    if (!smtp_dns_dnssec_enabled())
        return without_dane(level, "DNSSEC is off (smtp_dns_support_level)", c->host, effective,
                            dsn, dsnlen, why);
    if (c->is_unix || !c->dnssec)
        return without_dane(level, "its address records are not DNSSEC-validated", c->host,
                            effective, dsn, dsnlen, why);
    if (!c->mx_dnssec && !insecure_mx_dane(level))
        return without_dane(level, "its MX records are not DNSSEC-validated", c->host, effective,
                            dsn, dsnlen, why);
    char name[SMTP_HOST_MAX + 32]; /* "_65535._tcp." and a host of SMTP_HOST_MAX - 1 bytes */
    if (fixed_printf(name, sizeof(name), "_%u._tcp.%s", c->port, c->host) < 0)
        return without_dane(level, "its TLSA name is too long", c->host, effective, dsn, dsnlen,
                            why);
    smtp_tlsa *found = out->records;
    size_t n = 0;
    int secure = 0;
    strbuf err;
    strbuf_init(&err, 0);
    int status = smtp_dns_tlsa(name, found, SMTP_TLSA_MAX, &n, &secure, &err);
    if (status == SMTP_DNS_RETRY || status == SMTP_DNS_FAIL) {
        strbuf_reset(why);
        strbuf_printf(why, "TLSA lookup error for %s: %s", name, err.data);
        strbuf_free(&err);
        dsn_set(dsn, dsnlen, "4.7.5");
        return -1;
    }
    strbuf_free(&err);
    if (status != SMTP_DNS_OK || !secure)
        return without_dane(level, "no DNSSEC-validated TLSA records were found", c->host,
                            effective, dsn, dsnlen, why);
    for (size_t i = 0; i < n; i++)
        if (smtp_dane_usable(&found[i]))
            found[out->n++] = found[i];
    if (out->n == 0) {
        if (level == SMTP_TLS_DANE) {
            *effective = SMTP_TLS_ENCRYPT; /* RFC 7672 2.2: unusable records still mean TLS */
            return 0;
        }
        return without_dane(level, "no usable TLSA records were found", c->host, effective, dsn,
                            dsnlen, why);
    }
    *effective = SMTP_TLS_DANE_ONLY;
    return 0;
}

int smtp_dane_apply(SSL *ssl, const smtp_dane *d, const char *host, const char *nexthop)
{
    if (SSL_dane_enable(ssl, host) <= 0)
        return -1;
    if (nexthop && nexthop[0] && strcasecmp(nexthop, host) != 0)
        SSL_add1_host(ssl, nexthop);
    /* RFC 7672 3.1.1: DANE-EE(3) binds the key; names and dates in the certificate do not
     * matter. */
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    int added = 0;
    for (size_t i = 0; i < d->n; i++) {
        const smtp_tlsa *t = &d->records[i];
        int r = SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len);
        if (r < 0)
            return -1;
        added += r > 0;
    }
    return added > 0 ? 0 : -1;
}

int smtp_dane_matched(SSL *ssl)
{
    return SSL_get_verify_result(ssl) == X509_V_OK && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0;
}

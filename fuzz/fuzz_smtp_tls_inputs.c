/*
 * fuzz_smtp_tls_inputs.c: libFuzzer target for what the SMTP client's TLS and DANE code reads
 * from outside: DNS answers parsed for TLSA records (from the network), policy-table entries and
 * fingerprint lists (from tables an administrator may generate from other sources).
 *
 * The first byte picks the parser; the rest is its input.
 */
#include "deliver/smtp_dns.h"
#include "deliver/smtp_tls_policy.h"
#include "tls/tls_fprint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 3;
    data++, size--;
    if (which == 0) {
        smtp_tlsa *out = malloc(sizeof(*out) * SMTP_TLSA_MAX);
        (void)smtp_dns_parse_tlsa(data, size, out, SMTP_TLSA_MAX);
        free(out);
        return 0;
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (which == 1) {
        smtp_tls_policy p;
        memset(&p, 0, sizeof(p));
        strbuf err;
        strbuf_init(&err, 0);
        (void)smtp_tls_policy_parse(text, &p, &err);
        strbuf_free(&err);
    } else {
        char *bar = strchr(text, '|');
        (void)tls_fprint_match(text, bar ? bar + 1 : text);
    }
    free(text);
    return 0;
}

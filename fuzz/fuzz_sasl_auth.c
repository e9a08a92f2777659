/*
 * fuzz_sasl_auth.c: libFuzzer target for the SMTP AUTH argument decoder.
 *
 * The input is split at its first newline: the first part goes to sasl_auth_args() as the
 * AUTH command's arguments, the rest is decoded as base64 (as a 334 response would be) and, if
 * it decodes, split as a PLAIN message. Invariants: decoded bytes re-encode to the same text
 * (the decoder accepts canonical base64 only), outputs stay NUL-terminated within bounds, and a
 * PLAIN split's fields are never longer than their limits.
 */
#include "smtpd/smtpd_sasl_decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - data) : size;
    char *args = malloc(first + 1);
    memcpy(args, data, first);
    args[first] = '\0';
    char mech[SASL_MECH_MAX + 1];
    const char *initial;
    if (sasl_auth_args(args, mech, sizeof(mech), &initial) == 0 && strlen(mech) > SASL_MECH_MAX)
        abort();
    free(args);
    if (nl == NULL)
        return 0;
    const char *b64 = (const char *)nl + 1;
    size_t blen = size - first - 1;
    unsigned char out[4096];
    long n = sasl_base64_decode(b64, blen, out, sizeof(out));
    if (n < 0)
        return 0;
    char again[8192];
    long m = sasl_base64_encode(out, (size_t)n, again, sizeof(again));
    if (m != (long)blen || memcmp(again, b64, blen) != 0)
        abort(); /* only canonical base64 is accepted */
    sasl_plain p;
    if (sasl_plain_split(out, (size_t)n, &p) == 0) {
        if (strlen(p.authcid) == 0 || strlen(p.authcid) > SASL_NAME_MAX ||
            strlen(p.authzid) > SASL_NAME_MAX || strlen(p.passwd) > SASL_PASSWORD_MAX)
            abort();
    }
    return 0;
}

/*
 * fuzz_mime_downgrade.c: libFuzzer target for the outbound MIME walker (8BITMIME downgrade).
 *
 * The input is split into lines, each fed as one or two pieces (the first byte chooses where a
 * line is cut, so partial pieces are exercised too), with downgrade on. The target checks the
 * framing invariant (no bare LF ever reaches the wire) and relies on the sanitizers for memory
 * safety in the MIME header and boundary handling.
 */
#include "deliver/smtp_body.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    strbuf out;
} sink;

static int collect(const char *data, size_t len, void *ctx)
{
    sink *s = ctx;
    strbuf_append(&s->out, data, len);
    return 0;
}

static void check_framing(const strbuf *out)
{
    for (size_t i = 0; i < out->len; i++)
        if (out->data[i] == '\n' && (i == 0 || out->data[i - 1] != '\r'))
            abort(); /* bare LF on the wire */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut = data[0] % 16;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    sink s;
    strbuf_init(&s.out, 0);
    smtp_body_writer w;
    smtp_body_init(&w, 1, 998, collect, &s);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (cut > 0 && cut < len) {
            smtp_body_piece(&w, p, cut, 1);
            smtp_body_piece(&w, p + cut, len - cut, 0);
        } else {
            smtp_body_piece(&w, p, len, 0);
        }
        p += len + (nl ? 1 : 0);
    }
    smtp_body_finish(&w);
    smtp_body_free(&w);
    check_framing(&s.out);
    strbuf_free(&s.out);
    return 0;
}

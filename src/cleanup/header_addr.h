/*
 * header_addr.h: a small RFC 5322 address-list parser for sendmail -t.
 *
 * header_addr_each() walks the value of a To:/Cc:/Bcc: field and calls fn with each mailbox
 * address it finds, as an addr-spec without display name, comments or angle brackets:
 *   "Name <a@b>, c@d (comment), group: x@y, \"q z\"@w;"  ->  a@b, c@d, x@y, "q z"@w
 * Source routes (<@relay:a@b>) are dropped; empty addresses (<>, "group:;") are skipped.
 * Bounded: at most max addresses (further ones are ignored and the return value says so),
 * each no longer than the input, comments nested at most 32 deep. Returns the number of
 * addresses passed to fn, -1 when fn returned non-zero, or -2 when max was reached.
 */
#ifndef POSTERN_HEADER_ADDR_H
#define POSTERN_HEADER_ADDR_H

#include <stddef.h>

int header_addr_each(const char *text, size_t len, size_t max,
                     int (*fn)(const char *addr, void *ctx), void *ctx);

#endif

/*
 * mail_addr.h: small helpers for RFC 5321 mailbox addresses.
 *
 * Splitting local part and domain, recipient_delimiter extensions (user+ext), quoting local parts
 * for display, and checks used by restrictions (fully-qualified domain). All bounded.
 */
#ifndef POSTERN_MAIL_ADDR_H
#define POSTERN_MAIL_ADDR_H

#include <stddef.h>

/* Splits "local@domain" at the last '@'; domain is "" when there is none. Returns -1 when the
 * parts do not fit the buffers. */
int mail_addr_split(const char *addr, char *local, size_t locallen, char *domain, size_t domlen);
/* Removes a recipient_delimiter extension from local ("user+ext" -> "user", ext "ext").
 * delimiters: the recipient_delimiter value (any one of its characters). ext may be NULL. */
void mail_addr_strip_extension(char *local, const char *delimiters, char *ext, size_t extlen);
/* Non-zero when domain has a dot and only valid hostname characters, or is an [address]. */
int mail_addr_domain_is_fqdn(const char *domain);
/* Host name syntax (HELO, domains): labels of letters, digits, '-' and '_', 1 to 63 bytes,
 * at most 255 bytes in all, a trailing dot allowed. Returns the number of dots between labels,
 * or -1 when name is not a host name. */
int mail_hostname_dots(const char *name);
/* Lowercases the domain part in place. */
void mail_addr_fold_domain(char *addr);

#endif

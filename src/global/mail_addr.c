/*
 * mail_addr.c: small helpers for RFC 5321 mailbox addresses (see mail_addr.h).
 *
 * All functions work on NUL-terminated text and never write past the buffers they are given.
 */
#include "global/mail_addr.h"

#include <ctype.h>
#include <string.h>

int mail_addr_split(const char *addr, char *local, size_t locallen, char *domain, size_t domlen)
{
    const char *at = strrchr(addr, '@');
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    const char *dom = at ? at + 1 : "";
    size_t dlen = strlen(dom);
    if (llen >= locallen || dlen >= domlen)
        return -1;
    memcpy(local, addr, llen);
    local[llen] = '\0';
    memcpy(domain, dom, dlen + 1);
    return 0;
}

void mail_addr_strip_extension(char *local, const char *delimiters, char *ext, size_t extlen)
{
    if (ext && extlen)
        ext[0] = '\0';
    if (delimiters == NULL || *delimiters == '\0')
        return;
    /* Postfix splits at the first delimiter; a local part that starts with one is left alone
     * ("+foo" is a name, not an empty name with an extension). */
    size_t at = strcspn(local, delimiters);
    if (local[at] == '\0' || at == 0)
        return;
    if (ext && extlen) {
        size_t n = strlen(local + at + 1);
        if (n >= extlen)
            n = extlen - 1;
        memcpy(ext, local + at + 1, n);
        ext[n] = '\0';
    }
    local[at] = '\0';
}

static int is_label_char(int c)
{
    return isalnum(c) || c == '-' || c == '_';
}

int mail_hostname_dots(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return -1;
    int dots = 0;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            /* A trailing dot is tolerated (absolute name); empty labels are not. */
            if (label == 0)
                return -1;
            if (i + 1 < len)
                dots++;
            label = 0;
        } else if (is_label_char(c)) {
            if (++label > 63)
                return -1;
        } else {
            return -1;
        }
    }
    return dots;
}

int mail_addr_domain_is_fqdn(const char *domain)
{
    size_t len = strlen(domain);
    if (domain[0] == '[')
        return len > 2 && len <= 255 && domain[len - 1] == ']';
    return mail_hostname_dots(domain) > 0;
}

void mail_addr_fold_domain(char *addr)
{
    char *at = strrchr(addr, '@');
    if (at == NULL)
        return;
    for (char *p = at + 1; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

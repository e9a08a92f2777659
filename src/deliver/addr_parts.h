/*
 * addr_parts.h: an address split into local part and domain, whatever its length.
 *
 * The delivery agents look up and compare parts of addresses that come from the queue file and
 * the alias tables; they must see the whole text (a fixed array cut or refused a long local
 * part, so that a lookup silently found nothing). addr_parts owns one heap copy of the address;
 * bare is the local part without its recipient_delimiter extension, ext the extension ("" when
 * none).
 */
#ifndef POSTERN_ADDR_PARTS_H
#define POSTERN_ADDR_PARTS_H

typedef struct addr_parts {
    char *local;  /* before the last '@' (the whole address when there is none) */
    char *domain; /* after the last '@', or "" */
    char *bare;   /* local without the extension */
    char *ext;    /* the extension, or "" */
    char *mem;    /* the one allocation the fields point into */
} addr_parts;

/* Splits address at the last '@'; delims are the recipient_delimiter characters ("" = none). */
void addr_parts_split(addr_parts *p, const char *address, const char *delims);
void addr_parts_free(addr_parts *p);

#endif

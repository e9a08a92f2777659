/* addr_parts.c: splitting addresses without a length cap (see addr_parts.h). */
#include "deliver/addr_parts.h"
#include "global/mail_addr.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

void addr_parts_split(addr_parts *p, const char *address, const char *delims)
{
    size_t len = strlen(address);
    /* address, then a copy of its local part (bare) and room for the extension */
    p->mem = xmalloc(3 * (len + 1));
    p->local = p->mem;
    memcpy(p->local, address, len + 1);
    char *at = strrchr(p->local, '@');
    p->domain = at ? at + 1 : p->local + len;
    if (at)
        *at = '\0';
    p->bare = p->mem + len + 1;
    p->ext = p->bare + len + 1;
    memcpy(p->bare, p->local, strlen(p->local) + 1);
    /* ext has room for the whole local part: nothing is cut */
    mail_addr_strip_extension(p->bare, delims, p->ext, len + 1);
}

void addr_parts_free(addr_parts *p)
{
    free(p->mem);
    p->mem = p->local = p->domain = p->bare = p->ext = NULL;
}

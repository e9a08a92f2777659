/*
 * cleanup_alias.h: virtual_alias_maps expansion of envelope recipients, as Postfix's cleanup.
 *
 * cleanup_alias_expand() rewrites one recipient (already in canonical form, user@domain)
 * through virtual_alias_maps before the message is queued, so the queue file holds the final
 * recipients. Lookup order for user+ext@domain (virtual(5)): "user+ext@domain", "user@domain",
 * then "user+ext" and "user" only when domain is local (mydestination or an [address] literal
 * of this host, per resolve.h), then "@domain". A table value is a list of addresses separated
 * by commas or white space; a bare name gets "@$myorigin" (append_at_myorigin), a value
 * "@other" keeps the local part. An extension that the matching key did not contain is copied
 * into every result address when propagate_unmatched_extensions lists "virtual".
 * Each result is expanded again. An address whose own value contains it is delivered as is;
 * an address that comes back in its own expansion chain is a loop. Duplicates collapse.
 *
 * Limits: virtual_alias_expansion_limit (result addresses), virtual_alias_recursion_limit
 * (chain depth), CLEANUP_ALIAS_ADDRESS_MAX bytes per address (Postfix's
 * virtual_alias_address_length_limit default). The tables are opened once per configuration
 * (and again when a table file changes); with an empty virtual_alias_maps nothing is opened.
 */
#ifndef POSTERN_CLEANUP_ALIAS_H
#define POSTERN_CLEANUP_ALIAS_H

#include "lib/strbuf.h"
#include "queue/queue_file.h"

#include <stddef.h>

#define CLEANUP_ALIAS_ADDRESS_MAX 1000

typedef enum {
    CLEANUP_ALIAS_OK = 0,   /* out holds the final recipients (at least one) */
    CLEANUP_ALIAS_TEMPFAIL, /* a table could not be opened or searched: try again later */
    CLEANUP_ALIAS_LIMIT,    /* loop, expansion size, nesting or address length: try again later */
} cleanup_alias_status;

typedef struct cleanup_alias_list {
    char **addrs;
    size_t count;
    size_t cap;
} cleanup_alias_list;

/* Expands address. On CLEANUP_ALIAS_OK out (initialised here) has at least one address,
 * address itself when no table matches; on failure out is empty and why says what went wrong
 * (for a log line). Free out with cleanup_alias_list_free() in both cases. */
cleanup_alias_status cleanup_alias_expand(const char *address, cleanup_alias_list *out,
                                          strbuf *why);
void cleanup_alias_list_free(cleanup_alias_list *list);

/* The hook cleanup uses: writes one recipient record per expansion of rcpt (each with orig as
 * its original recipient and the given DSN fields). A failed expansion is logged
 * ("ID: warning: ...") and sets bits in *status as Postfix does (the message is then not
 * accepted and the client tries again later); the caller's record is still written, so the
 * envelope stays complete. Returns 0, or -1 when writing to the queue file failed. */
int cleanup_alias_write_recipient(queue_writer *qw, const char *rcpt, const char *orig, int notify,
                                  const char *dsn_orcpt, int *status);

/* Forgets the cached tables (tests; a process about to load another configuration). */
void cleanup_alias_reset(void);

#endif

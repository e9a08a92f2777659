/*
 * smtp_cache.h: open SMTP sessions kept for the next delivery to the same destination.
 *
 * After a transaction the agent may park the session here under its destination key
 * ("smtp:nexthop"). smtp_cache_take() hands it back for the next request to that destination
 * while it is younger than smtp_connection_reuse_time_limit and the server has not spoken or
 * hung up in the meantime; stale sessions are closed with QUIT. At most SMTP_CACHE_MAX sessions
 * are kept (the oldest goes first). The cache belongs to one agent process; smtp_cache_close_all()
 * says QUIT to every session when the agent exits.
 */
#ifndef POSTERN_SMTP_CACHE_H
#define POSTERN_SMTP_CACHE_H

#include "deliver/smtp_session.h"

#define SMTP_CACHE_MAX 8

typedef struct smtp_cache_entry {
    char *key;
    smtp_session *session;
} smtp_cache_entry;

typedef struct smtp_cache {
    smtp_cache_entry items[SMTP_CACHE_MAX];
    size_t n;
} smtp_cache;

void smtp_cache_init(smtp_cache *c);
/* The cached session for key (removed from the cache), or NULL. The caller owns it. */
smtp_session *smtp_cache_take(smtp_cache *c, const char *key);
/* Parks a heap-allocated usable session; the cache owns it from now on. */
void smtp_cache_put(smtp_cache *c, const char *key, smtp_session *s);
void smtp_cache_close_all(smtp_cache *c);

#endif

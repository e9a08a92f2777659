/* smtp_cache.c: per-process reuse of open SMTP sessions (see smtp_cache.h). */
#include "deliver/smtp_cache.h"
#include "deliver/smtp_settings.h"
#include "global/mail_date.h"
#include "lib/config.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

void smtp_cache_init(smtp_cache *c)
{
    memset(c, 0, sizeof(*c));
}

static void drop(smtp_cache *c, size_t i)
{
    smtp_session_quit(c->items[i].session);
    free(c->items[i].session);
    free(c->items[i].key);
    memmove(&c->items[i], &c->items[i + 1], (c->n - i - 1) * sizeof(c->items[0]));
    c->n--;
}

static int expired(const smtp_session *s)
{
    long limit = smtp_settings_current()->connection_reuse_time_limit;
    return mail_time_steady() - s->created >= (double)limit;
}

smtp_session *smtp_cache_take(smtp_cache *c, const char *key)
{
    for (size_t i = 0; i < c->n;) {
        smtp_session *s = c->items[i].session;
        if (!s->usable || expired(s) || smtp_stream_peer_spoke(&s->stream)) {
            if (smtp_stream_peer_spoke(&s->stream))
                s->usable = 0; /* probably a 421 or a close: no QUIT */
            drop(c, i);
            continue;
        }
        if (strcmp(c->items[i].key, key) == 0) {
            free(c->items[i].key);
            memmove(&c->items[i], &c->items[i + 1], (c->n - i - 1) * sizeof(c->items[0]));
            c->n--;
            return s;
        }
        i++;
    }
    return NULL;
}

void smtp_cache_put(smtp_cache *c, const char *key, smtp_session *s)
{
    if (c->n == SMTP_CACHE_MAX)
        drop(c, 0);
    c->items[c->n].key = xstrdup(key);
    c->items[c->n].session = s;
    c->n++;
}

void smtp_cache_close_all(smtp_cache *c)
{
    while (c->n > 0)
        drop(c, 0);
}

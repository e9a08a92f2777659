/*
 * qmgr_policy.c: the queue manager's scheduling rules as pure functions (see qmgr.h for the
 * policy in words): retry backoff, queue lifetime, the delay-warning decision, the
 * per-destination concurrency window, what counts as a dead destination, and the RFC 3464
 * fields derived from an agent's reason text. No I/O and no configuration reads, so the unit
 * tests can drive them with any clock.
 */
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "qmgr/qmgr.h"

#include <string.h>

#define SERVER_REPLY_MARK " said: "
#define IN_REPLY_MARK " (in reply to "

long qmgr_backoff_delay(time_t now, time_t arrival, long min_backoff, long max_backoff)
{
    if (max_backoff < min_backoff)
        max_backoff = min_backoff;
    long age = arrival > 0 && now > arrival ? (long)(now - arrival) : 0;
    if (age > max_backoff)
        age = max_backoff;
    if (age < min_backoff)
        age = min_backoff;
    return age > 0 ? age : 0;
}

int qmgr_retry_due(time_t now, time_t next_attempt, long max_backoff, long slack)
{
    if (next_attempt <= now)
        return 1;
    if (max_backoff < 0)
        max_backoff = 0;
    if (slack < 0)
        slack = 0;
    /* Nothing puts a retry further ahead than max_backoff: the clock was ahead when it was set. */
    return next_attempt - now > (time_t)max_backoff + (time_t)slack;
}

time_t qmgr_age_clock(time_t wall, double steady, double base)
{
    double since_start = base + steady; /* the wall clock as it would be without steps */
    if (since_start < (double)wall)
        return (time_t)since_start;
    return wall;
}

int qmgr_lifetime_expired(time_t now, time_t arrival, long lifetime)
{
    if (lifetime <= 0)
        return 1;
    return now - arrival >= (time_t)lifetime;
}

int qmgr_delay_warning_due(time_t now, time_t arrival, long warn_time, long flags)
{
    if (warn_time <= 0 || (flags & QUEUE_FLAG_DELAY_WARNED))
        return 0;
    return now - arrival >= (time_t)warn_time;
}

void qmgr_window_init(qmgr_window *w, int initial, int limit)
{
    if (limit < 1)
        limit = 1;
    if (initial < 1)
        initial = 1;
    if (initial > limit)
        initial = limit;
    w->initial = initial;
    w->limit = limit;
    w->value = initial;
}

void qmgr_window_success(qmgr_window *w)
{
    if (w->value < w->limit)
        w->value++;
}

void qmgr_window_failure(qmgr_window *w)
{
    w->value = w->initial;
}

static int connection_level_dsn(const char *dsn)
{
    return dsn &&
           (strcmp(dsn, "4.4.1") == 0 || strcmp(dsn, "4.4.2") == 0 || strcmp(dsn, "4.4.3") == 0);
}

int qmgr_site_failure(const char *const *dsns, const char *const *reasons, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!connection_level_dsn(dsns[i]))
            return 0;
        /* A server that answered is alive, even when it said 4xx. */
        if (reasons[i] && strstr(reasons[i], SERVER_REPLY_MARK) != NULL)
            return 0;
    }
    return 1;
}

/* Letters, digits and "-_." before a ';' would make text look like "type; text". */
static int looks_typed(const char *text)
{
    size_t n = strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
    return n > 0 && text[n] == ';';
}

void qmgr_reason_to_dsn_fields(const char *reason, char **diag, char **mta)
{
    *diag = NULL;
    *mta = NULL;
    if (reason == NULL)
        reason = "";
    const char *said = strncmp(reason, "host ", 5) == 0 ? strstr(reason, SERVER_REPLY_MARK) : NULL;
    strbuf sb;
    strbuf_init(&sb, 0);
    if (said != NULL) {
        const char *host = reason + 5;
        size_t hostlen = (size_t)(said - host);
        const char *bracket = memchr(host, '[', hostlen);
        if (bracket != NULL && bracket > host)
            hostlen = (size_t)(bracket - host);
        strbuf_append_str(&sb, "dns; ");
        strbuf_append(&sb, host, hostlen);
        *mta = strbuf_detach(&sb);
        const char *text = said + strlen(SERVER_REPLY_MARK);
        const char *tail = strstr(text, IN_REPLY_MARK);
        size_t textlen = tail ? (size_t)(tail - text) : strlen(text);
        strbuf_init(&sb, 0);
        strbuf_append_str(&sb, "smtp; ");
        strbuf_append(&sb, text, textlen);
        *diag = strbuf_detach(&sb);
    } else {
        /* Untyped: a leading blank keeps "x;y" text from being read as its own type. */
        if (looks_typed(reason))
            strbuf_append_str(&sb, " ");
        strbuf_append_str(&sb, reason);
        *diag = strbuf_detach(&sb);
    }
    strbuf_free(&sb);
}

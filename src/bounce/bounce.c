/*
 * bounce.c: who gets a delivery status notification, and queueing it (see bounce.h).
 *
 * The policy follows Postfix's bounce daemon: the sender hears about the recipients whose DSN
 * NOTIFY asks for it; a failed bounce (null sender) becomes a "double bounce" to postmaster
 * only when notify_classes asks for it; a failed double bounce is discarded; notify_classes
 * also asks for postmaster copies. The message itself is written by bounce_message.c.
 */
#include "bounce/bounce.h"
#include "bounce/bounce_message.h"
#include "cleanup/cleanup.h"
#include "global/mail_params.h"
#include "global/mail_trigger.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/word_list.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QMGR_TRIGGER 'A'
#define DSN_RET_HDRS_VALUE "2"

int bounce_notify_class(const char *classes, const char *class_name)
{
    return word_list_has(classes ? classes : "", class_name, WORD_LIST_FOLD_CASE);
}

/* name, or name@$myorigin when it has no domain. */
static char *qualified(const char *name)
{
    strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_append_str(&sb, name);
    if (name[0] != '\0' && strchr(name, '@') == NULL)
        strbuf_printf(&sb, "@%s", mail_params_current()->myorigin);
    return strbuf_detach(&sb);
}

/* The envelope recipient that rcpt reports on: same address, else same original address. */
static const queue_rcpt *envelope_rcpt(const queue_envelope *env, const bounce_rcpt *r)
{
    const char *orig = r->orig && r->orig[0] ? r->orig : NULL;
    for (size_t i = 0; i < env->nrcpt; i++) {
        const queue_rcpt *e = &env->rcpts[i];
        if (e->address && r->address && strcasecmp(e->address, r->address) == 0 &&
            (orig == NULL || e->orig == NULL || strcasecmp(e->orig, orig) == 0))
            return e;
    }
    for (size_t i = 0; orig && i < env->nrcpt; i++) {
        const queue_rcpt *e = &env->rcpts[i];
        if ((e->orig && strcasecmp(e->orig, orig) == 0) ||
            (e->address && strcasecmp(e->address, orig) == 0))
            return e;
    }
    return NULL;
}

/* Does a recipient with these NOTIFY bits want this kind of notice? */
static int notify_wanted(bounce_kind kind, int notify)
{
    if (notify & DSN_NOTIFY_NEVER)
        return 0;
    switch (kind) {
    case BOUNCE_FAILURE:
        return notify == 0 || (notify & DSN_NOTIFY_FAILURE) != 0;
    case BOUNCE_DELAY:
        return notify == 0 || (notify & DSN_NOTIFY_DELAY) != 0;
    case BOUNCE_SUCCESS:
        return (notify & DSN_NOTIFY_SUCCESS) != 0;
    }
    return 0;
}

/* Whether the original may come back whole; otherwise only its headers (Postfix's rules:
 * RET=HDRS, or a message larger than bounce_size_limit, so MIME is never cut in half). */
static int return_headers_only(const queue_envelope *env, int want_full)
{
    if (!want_full)
        return 1;
    const char *ret = queue_envelope_attr(env, "dsn_ret");
    if (ret && strcmp(ret, DSN_RET_HDRS_VALUE) == 0)
        return 1;
    long long limit = mail_params_current()->bounce_size_limit;
    return limit > 0 && (env->message_size <= 0 || env->message_size > limit);
}

/* new_id is QUEUE_ID_MAX bytes at callers (bounce.h); the notice is queued either way. */
static void copy_id(char *new_id, size_t new_id_len, const char *id)
{
    if (new_id_len > 0 && fixed_copy(new_id, new_id_len, id) < 0)
        log_warning("%s: queue id does not fit the caller's %zu bytes", id, new_id_len);
}

/* Queues one notice; returns 0 with its id, or -1 with err. Wakes qmgr when queued. */
static int queue_notice(int fd, const queue_envelope *env, const bounce_notice *notice, char *id,
                        size_t id_len, strbuf *err)
{
    if (bounce_message_queue(fd, env, notice, id, id_len, err) < 0)
        return -1;
    mail_trigger(mail_params_current()->queue_directory, "public/qmgr", QMGR_TRIGGER); /* qmgr also scans */
    return 0;
}

static const char *kind_log_name(bounce_kind kind)
{
    switch (kind) {
    case BOUNCE_FAILURE:
        return "non-delivery notification";
    case BOUNCE_DELAY:
        return "delay notification";
    case BOUNCE_SUCCESS:
        return "delivery status notification";
    }
    return "notification";
}

/* The original sender was the null sender: tell 2bounce_notice_recipient when configured. */
static int notify_double_bounce(int fd, const queue_envelope *env, bounce_kind kind,
                                const bounce_rcpt **all, size_t n, const char *double_bounce,
                                char *new_id, size_t new_id_len, strbuf *err)
{
    const char *classes = mail_params_current()->notify_classes;
    int wanted =
        kind == BOUNCE_FAILURE
            ? bounce_notify_class(classes, "bounce") || bounce_notify_class(classes, "2bounce")
            : kind == BOUNCE_DELAY && bounce_notify_class(classes, "2bounce");
    if (!wanted)
        return 0;
    char *postmaster = qualified(mail_params_current()->double_bounce_notice_recipient);
    bounce_notice notice = {kind,
                            BOUNCE_TO_POSTMASTER_DOUBLE,
                            postmaster,
                            double_bounce,
                            return_headers_only(env, kind == BOUNCE_FAILURE),
                            all,
                            n};
    char id[QUEUE_ID_MAX];
    int rc = queue_notice(fd, env, &notice, id, sizeof(id), err);
    if (rc == 0) {
        log_info("%s: postmaster %s: %s", env->id, kind_log_name(kind), id);
        copy_id(new_id, new_id_len, id);
    }
    free(postmaster);
    return rc;
}

/* notify_classes "bounce" / "delay": a copy with the headers only, to the postmaster. */
static void notify_postmaster_copy(int fd, const queue_envelope *env, bounce_kind kind,
                                   const bounce_rcpt **all, size_t n, const char *double_bounce)
{
    const char *classes = mail_params_current()->notify_classes;
    const char *to;
    if (kind == BOUNCE_FAILURE && bounce_notify_class(classes, "bounce"))
        to = mail_params_current()->bounce_notice_recipient;
    else if (kind == BOUNCE_DELAY && bounce_notify_class(classes, "delay"))
        to = mail_params_current()->delay_notice_recipient;
    else
        return;
    char *postmaster = qualified(to);
    bounce_notice notice = {kind, BOUNCE_TO_POSTMASTER_COPY, postmaster, double_bounce, 1, all, n};
    char id[QUEUE_ID_MAX];
    strbuf err;
    strbuf_init(&err, 0);
    if (queue_notice(fd, env, &notice, id, sizeof(id), &err) == 0)
        log_info("%s: postmaster %s: %s", env->id, kind_log_name(kind), id);
    else
        log_warning("%s: postmaster notice failed while bouncing to %s: %s", env->id,
                    env->sender && env->sender[0] ? env->sender : "<>",
                    err.data ? err.data : "error");
    strbuf_free(&err);
    free(postmaster);
}

/* Tells the sender about the recipients whose NOTIFY asks for it. */
static int notify_sender(int fd, const queue_envelope *env, bounce_kind kind,
                         const bounce_rcpt **all, size_t n, char *new_id, size_t new_id_len,
                         strbuf *err)
{
    const bounce_rcpt **wanted = xcalloc(n, sizeof(*wanted));
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const queue_rcpt *e = envelope_rcpt(env, all[i]);
        if (notify_wanted(kind, e ? e->notify : 0))
            wanted[count++] = all[i];
    }
    int rc = 0;
    if (count > 0) {
        bounce_notice notice = {kind,
                                BOUNCE_TO_SENDER,
                                env->sender,
                                "",
                                return_headers_only(env, kind == BOUNCE_FAILURE),
                                wanted,
                                count};
        char id[QUEUE_ID_MAX];
        rc = queue_notice(fd, env, &notice, id, sizeof(id), err);
        if (rc == 0) {
            log_info("%s: sender %s: %s", env->id, kind_log_name(kind), id);
            copy_id(new_id, new_id_len, id);
        }
    }
    free(wanted);
    return rc;
}

int bounce_notify(int fd, const queue_envelope *env, bounce_kind kind, const bounce_rcpt *rcpts,
                  size_t n, char *new_id, size_t new_id_len, strbuf *err)
{
    strbuf scratch;
    strbuf_init(&scratch, 0);
    if (err == NULL)
        err = &scratch;
    copy_id(new_id, new_id_len, "");
    if (n == 0 || rcpts == NULL) {
        strbuf_free(&scratch);
        return 0;
    }
    const bounce_rcpt **all = xcalloc(n, sizeof(*all));
    for (size_t i = 0; i < n; i++)
        all[i] = &rcpts[i];
    const char *sender = env->sender ? env->sender : "";
    char *double_bounce = qualified(mail_params_current()->double_bounce_sender);
    int rc = 0;
    if (strcasecmp(sender, double_bounce) == 0) {
        if (kind != BOUNCE_SUCCESS)
            log_warning("%s: undeliverable postmaster notification discarded", env->id);
    } else if (sender[0] == '\0') {
        rc = notify_double_bounce(fd, env, kind, all, n, double_bounce, new_id, new_id_len, err);
    } else {
        rc = notify_sender(fd, env, kind, all, n, new_id, new_id_len, err);
        if (rc == 0)
            notify_postmaster_copy(fd, env, kind, all, n, double_bounce);
    }
    free(double_bounce);
    free(all);
    strbuf_free(&scratch);
    return rc;
}

/*
 * postqueue.c: the user's view of the queue, as Postfix's postqueue(1).
 *
 *   postqueue [-c config_dir] [-v] -p | -j | -f | -i queue_id | -s site
 *
 * -p lists the queue in the Sendmail mailq layout (see queue/showq.h), -j prints one JSON
 * object per message (Postfix 3.1's fields). -f flushes: the queue manager is woken with 'F'
 * (retry all deferred mail now). -i ID makes one deferred message due now (its mtime is its
 * next attempt time) and wakes the queue manager with 'D'; -s SITE does that for the deferred
 * messages with a recipient in SITE. Listing is allowed to the users in
 * authorized_mailq_users, flushing to authorized_flush_users (names or type:table lookups,
 * "static:anyone" by default); root and mail_owner are always allowed. The queue is read
 * directly, so the listing works while the mail system is down, for root and mail_owner.
 *
 * Exit status: 0, 64 usage, 69 mail system down / queue unreadable, 77 not authorized.
 */
#include "cmd/commands.h"
#include "global/mail_conf.h"
#include "global/name_list.h"

#include "global/mail_trigger.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "queue/queue_dir.h"
#include "queue/showq.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#define QMGR_TRIGGER_FLUSH 'F'    /* scan deferred/, ignoring next-attempt times */
#define QMGR_TRIGGER_DEFERRED 'D' /* scan deferred/ for messages that are due */

static void usage(void)
{
    fprintf(stderr, "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | "
                    "postqueue -s site\n");
    exit(EX_USAGE);
}

/* ---- authorization ---- */

static void require_authorized(const char *param, const char *what)
{
    uid_t uid = getuid();
    struct passwd *owner = getpwnam(cfg_str("mail_owner"));
    if (uid == 0 || (owner && owner->pw_uid == uid))
        return;
    struct passwd *pw = getpwuid(uid);
    const char *user = pw && pw->pw_name ? pw->pw_name : "";
    if (!name_list_allows(cfg_str(param), user, NAME_LIST_FOLD_CASE))
        log_fatal_status(EX_NOPERM, "User %s(%ld) is not allowed to %s", user[0] ? user : "unknown",
                     (long)uid, what);
}

/* ---- listing ---- */

typedef struct listing {
    int json;
    int long_ids;
    unsigned long messages;
    unsigned long total_size;
    strbuf out;
} listing;

static int list_one(const showq_entry *e, void *ctx)
{
    listing *l = ctx;
    strbuf_reset(&l->out);
    if (l->json) {
        showq_format_json(&l->out, e);
    } else {
        if (l->messages == 0)
            showq_format_heading(&l->out, l->long_ids);
        else
            strbuf_append_str(&l->out, "\n");
        showq_format_message(&l->out, e, l->long_ids);
    }
    l->messages++;
    l->total_size += e->size > 0 ? (unsigned long)e->size : 0;
    if (l->out.len && fwrite(l->out.data, 1, l->out.len, stdout) != l->out.len)
        return errno == EPIPE ? 1 : -1;
    return 0;
}

static void require_readable_queue(const char *queue_dir)
{
    static const char *const dirs[] = {"active", "incoming", "deferred", "hold"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char path[PATH_MAX]; /* queue_dir is at most QUEUE_DIR_MAX (mail_conf_start) */
        if (fixed_printf(path, sizeof(path), "%s/%s", queue_dir, dirs[i]) < 0)
            log_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - %s/%s: %s", queue_dir,
                             dirs[i], strerror(errno));
        if (access(path, F_OK) == 0 && access(path, R_OK | X_OK) != 0)
            log_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - cannot read %s: %s", path,
                         strerror(errno));
    }
}

static int show_queue(int json)
{
    require_authorized("authorized_mailq_users", "view the mail queue");
    const char *queue_dir = cfg_str("queue_directory");
    require_readable_queue(queue_dir);
    listing l = {json, cfg_bool("enable_long_queue_ids"), 0, 0, {0}};
    strbuf_init(&l.out, 0);
    int rc = showq_walk(queue_dir, cfg_str("empty_address_recipient"), list_one, &l);
    if (!json && rc == 0) {
        strbuf_reset(&l.out);
        showq_format_summary(&l.out, l.messages, l.total_size);
        fwrite(l.out.data, 1, l.out.len, stdout);
    }
    strbuf_free(&l.out);
    if (fflush(stdout) != 0 && errno != EPIPE)
        log_fatal_status(EX_IOERR, "output write error: %s", strerror(errno));
    return rc < 0 ? EX_IOERR : 0;
}

/* ---- flushing ---- */

/* Makes a deferred message due now: the queue manager takes deferred files whose time has come. */
static void make_due(const char *queue_dir, const char *id)
{
    char path[PATH_MAX];
    if (queue_path(path, sizeof(path), queue_dir, "deferred", id, 0) != 0)
        return;
    if (utimes(path, NULL) < 0 && errno != ENOENT && errno != EPERM && errno != EACCES)
        log_warning("set time of deferred/%s: %s", id, strerror(errno));
}

typedef struct flush_filter {
    const char *queue_dir;
    const char *site;
} flush_filter;

static int rcpt_in_site(const char *address, const char *site)
{
    const char *at = strrchr(address, '@');
    return at != NULL && strcasecmp(at + 1, site) == 0;
}

static int flush_one(const showq_entry *e, void *ctx)
{
    flush_filter *f = ctx;
    if (strcmp(e->queue_name, "deferred") != 0)
        return 0;
    int match = 0;
    for (size_t i = 0; i < e->nrcpt && !match; i++)
        match = rcpt_in_site(e->rcpts[i].address, f->site);
    if (match)
        make_due(f->queue_dir, e->queue_id);
    return 0;
}

static void wake_qmgr(const char *queue_dir, char code)
{
    if (mail_trigger(queue_dir, "public/qmgr", code) < 0)
        log_fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - mail system is down");
}

static int flush_queue(const char *site, const char *id)
{
    require_authorized("authorized_flush_users", "flush the mail queue");
    const char *queue_dir = cfg_str("queue_directory");
    if (id != NULL) {
        if (!queue_id_valid(id))
            log_fatal_status(EX_USAGE, "invalid queue ID: %s", id);
        make_due(queue_dir, id);
        wake_qmgr(queue_dir, QMGR_TRIGGER_DEFERRED);
    } else if (site != NULL) {
        if (site[0] == '\0' || strchr(site, '/') != NULL)
            log_fatal_status(EX_USAGE, "invalid site name: %s", site);
        flush_filter f = {queue_dir, site};
        showq_walk(queue_dir, cfg_str("empty_address_recipient"), flush_one, &f);
        wake_qmgr(queue_dir, QMGR_TRIGGER_DEFERRED);
    } else {
        wake_qmgr(queue_dir, QMGR_TRIGGER_FLUSH);
    }
    return 0;
}

int postqueue_main(int argc, char **argv)
{
    const char *config_dir = NULL, *site = NULL, *id = NULL;
    char mode = 0;
    log_init("postqueue");
    log_set_stderr(1);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt(argc, argv, "+c:fi:jps:v")) != -1) {
        switch (c) {
        case 'c':
            config_dir = optarg;
            break;
        case 'v':
            break;
        case 'i':
            id = optarg; /* FALLTHROUGH */
        case 'f':
        case 'j':
        case 'p':
        case 's':
            if (mode != 0 && mode != c)
                usage();
            mode = (char)c;
            if (c == 's')
                site = optarg;
            break;
        default:
            usage();
        }
    }
    if (mode == 0 || optind < argc)
        usage();
    config *cfg = mail_conf_start(config_dir, EX_CONFIG);
    int status;
    switch (mode) {
    case 'p':
        status = show_queue(0);
        break;
    case 'j':
        status = show_queue(1);
        break;
    case 'f':
        status = flush_queue(NULL, NULL);
        break;
    case 's':
        status = flush_queue(site, NULL);
        break;
    default:
        status = flush_queue(NULL, id);
        break;
    }
    config_free(cfg);
    return status;
}

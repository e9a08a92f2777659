/*
 * postdrop.c: the setgid helper that writes a submission into queue_directory/maildrop.
 *
 *   postdrop [-r] [-c config_dir] [-v]
 *
 * Installed setgid setgid_group (maildrop is mode 0730, group setgid_group), so that users who
 * cannot write maildrop themselves can still submit. sendmail sends the message on stdin as a
 * record stream: each record is one type byte, the data length in 7-bit groups (low group first,
 * high bit = more follows) and the data. Accepted, in this order:
 *   A name=value (only full_name, extract_recipients, envelope_id, dsn_ret; others are dropped),
 *   S sender (once), n DSN NOTIFY bits for the next R, R recipient, M start of content,
 *   N content line / L piece of a line, E end.
 * Input that breaks these rules, ends without E, or is larger than message_size_limit leaves no
 * file behind. On success the file is committed (fsync'd, marked complete), made readable by
 * pickup, and pickup is woken. Running privileged (setgid) and not as root, postdrop ignores
 * $MAIL_CONFIG and accepts -c only for a directory listed in the default main.cf's
 * alternate_config_directories, as Postfix's setgid commands do.
 *
 * Exit status: 0 queued, 64 usage or malformed input, 69 too big, 75 temporary failure,
 * 77 not authorized.
 */
#include "cmd/commands.h"
#include "global/mail_conf.h"
#include "global/name_list.h"

#include "global/mail_trigger.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#define POSTDROP_ENVELOPE_LIMIT (64 * 1024)
#define POSTDROP_CONTENT_DEFAULT_LIMIT (64L * 1024 * 1024) /* message_size_limit = 0 */

/* ---- authorization ---- */

/* A setgid postdrop must not let a user point it at a configuration of their own. */
static const char *choose_config_dir(const char *requested)
{
    int privileged = getuid() != 0 && (getegid() != getgid() || geteuid() != getuid());
    if (!privileged)
        return requested;
    if (requested == NULL || strcmp(requested, CONFIG_DEFAULT_DIR) == 0)
        return CONFIG_DEFAULT_DIR;
    strbuf err;
    strbuf_init(&err, 0);
    config *defaults = config_load(CONFIG_DEFAULT_DIR, &err);
    strbuf_free(&err);
    int ok = defaults != NULL &&
             name_list_allows(config_get(defaults, "alternate_config_directories"), requested,
                              NAME_LIST_EXACT);
    config_free(defaults);
    if (!ok)
        log_fatal_status(EX_USAGE, "-c %s: not listed in alternate_config_directories of %s/main.cf",
                     requested, CONFIG_DEFAULT_DIR);
    return requested;
}

/* ---- the record stream ---- */

typedef struct drop_input {
    FILE *in;
    queue_writer *qw;
    strbuf data;
    strbuf line; /* a line assembled from L pieces */
    long content_size;
    long content_limit;
    int state; /* 0 envelope, 1 content, 2 done */
    int have_sender;
    int pending_notify;
    long uid;
} drop_input;

/* 1 record read (type returned in *type), 0 clean EOF, -1 malformed, -2 over limit. */
static int read_record(drop_input *d, int *type, size_t limit)
{
    int c = getc(d->in);
    if (c == EOF)
        return 0;
    *type = c;
    size_t len = 0;
    for (int shift = 0;; shift += 7) {
        int b = getc(d->in);
        if (b == EOF || shift > 35)
            return -1;
        len |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    if (len > limit)
        return -2;
    strbuf_reset(&d->data);
    char buf[8192];
    while (len > 0) {
        size_t want = len < sizeof(buf) ? len : sizeof(buf);
        if (fread(buf, 1, want, d->in) != want || strbuf_append(&d->data, buf, want) < 0)
            return -1;
        len -= want;
    }
    if (d->data.data == NULL)
        strbuf_append(&d->data, "", 0);
    return 1;
}

static int envelope_attr(drop_input *d, const char *text)
{
    static const char *const allowed[] = {"full_name", "extract_recipients", "envelope_id",
                                          "dsn_ret", NULL};
    const char *eq = strchr(text, '=');
    if (eq == NULL || eq == text)
        return -1;
    for (int i = 0; allowed[i]; i++) {
        size_t n = strlen(allowed[i]);
        if ((size_t)(eq - text) == n && strncmp(text, allowed[i], n) == 0) {
            char *name = xstrndup(text, n);
            int rc = queue_writer_attr(d->qw, name, eq + 1);
            free(name);
            return rc < 0 ? -2 : 0;
        }
    }
    return 0; /* not ours to set: dropped */
}

/* Returns 0, -1 malformed, -2 write error, -3 too big. */
static int envelope_record(drop_input *d, int type)
{
    const char *text = d->data.data;
    if (memchr(text, '\0', d->data.len) != NULL)
        return -1;
    switch (type) {
    case REC_ATTR:
        return envelope_attr(d, text);
    case REC_SENDER:
        if (d->have_sender++)
            return -1;
        return queue_writer_sender(d->qw, text) < 0 ? -2 : 0;
    case REC_DSN_NOTIFY: {
        char *end;
        long bits = strtol(text, &end, 10);
        if (*end || bits < 0 || bits > 15)
            return -1;
        d->pending_notify = (int)bits;
        return 0;
    }
    case REC_RCPT: {
        int rc = queue_writer_recipient(d->qw, text, NULL, d->pending_notify, NULL);
        d->pending_notify = 0;
        return rc < 0 ? -2 : 0;
    }
    case REC_MESSAGE:
        if (!d->have_sender)
            return -1;
        d->state = 1;
        return queue_writer_content_start(d->qw) < 0 ? -2 : 0;
    default:
        return -1;
    }
}

static int content_record(drop_input *d, int type)
{
    switch (type) {
    case REC_CONT:
    case REC_NORM:
        d->content_size += (long)d->data.len + (type == REC_NORM ? 1 : 0);
        if (d->content_limit > 0 && d->content_size > d->content_limit)
            return -3;
        if (type == REC_CONT || d->line.len > 0) {
            if (strbuf_append(&d->line, d->data.data, d->data.len) < 0)
                return -3;
            if (type == REC_CONT)
                return 0;
            int rc = queue_writer_line(d->qw, d->line.data, d->line.len);
            strbuf_reset(&d->line);
            return rc < 0 ? -2 : 0;
        }
        return queue_writer_line(d->qw, d->data.data, d->data.len) < 0 ? -2 : 0;
    case REC_END:
        if (d->line.len > 0)
            return -1;
        d->state = 2;
        return 0;
    default:
        return -1;
    }
}

/* Reads the whole stream into the writer; returns 0 or a negative status as above. */
static int copy_stream(drop_input *d)
{
    while (d->state != 2) {
        int type = 0;
        size_t limit = d->state == 0
                           ? POSTDROP_ENVELOPE_LIMIT
                           : (size_t)(d->content_limit > 0 ? d->content_limit + 2
                                                           : POSTDROP_CONTENT_DEFAULT_LIMIT);
        int rc = read_record(d, &type, limit);
        if (rc == 0)
            return -4; /* the submitter gave up (or died) before the end */
        if (rc < 0)
            return rc == -2 && d->state == 1 ? -3 : -1;
        rc = d->state == 0 ? envelope_record(d, type) : content_record(d, type);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void wake_pickup(const char *queue_dir)
{
    char path[PATH_MAX]; /* queue_dir is at most QUEUE_DIR_MAX (mail_conf_start) */
    if (fixed_printf(path, sizeof(path), "%s/public/pickup", queue_dir) < 0 ||
        access(path, F_OK) != 0)
        log_warning("unable to look up public/pickup: %s", strerror(errno));
    else if (mail_trigger(queue_dir, "public/pickup", 'W') < 0)
        log_warning("unable to wake up the pickup service: %s", strerror(errno));
}

static int drop(const char *queue_dir)
{
    drop_input d;
    memset(&d, 0, sizeof(d));
    d.in = stdin;
    d.uid = (long)getuid();
    long long limit = cfg_size("message_size_limit");
    d.content_limit = limit > 0 && limit < LONG_MAX - 2 ? (long)limit : 0;
    strbuf_init(&d.data, 0);
    strbuf_init(&d.line, (size_t)(d.content_limit > 0 ? d.content_limit + 2
                                                      : POSTDROP_CONTENT_DEFAULT_LIMIT));
    strbuf err;
    strbuf_init(&err, 0);
    d.qw = queue_writer_create(queue_dir, "maildrop", &err);
    if (d.qw == NULL)
        log_fatal_status(EX_TEMPFAIL, "uid=%ld: %s", d.uid, err.data ? err.data : "cannot create file");
    char *path = xstrdup(queue_writer_path(d.qw)); /* for messages after the writer is gone */
    int rc = copy_stream(&d);
    strbuf_free(&d.data);
    strbuf_free(&d.line);
    if (rc != 0) {
        queue_writer_abort(d.qw);
        switch (rc) {
        case -2:
            log_fatal_status(EX_TEMPFAIL, "uid=%ld: error writing %s: %s", d.uid, path,
                         strerror(errno));
        case -3:
            log_warning("uid=%ld: File too large", d.uid);
            exit(EX_UNAVAILABLE);
        case -4:
            log_fatal_status(EX_TEMPFAIL, "uid=%ld: premature end of input", d.uid);
        default:
            log_fatal_status(EX_USAGE, "uid=%ld: malformed input", d.uid);
        }
    }
    if (queue_writer_commit(d.qw, &err) != 0)
        log_fatal_status(EX_TEMPFAIL, "uid=%ld: %s", d.uid, err.data ? err.data : "commit failed");
    strbuf_free(&err);
    /* pickup runs as mail_owner and must read a file owned by the submitting user. */
    if (chmod(path, 0744) < 0 && errno != ENOENT)
        log_warning("chmod %s: %s", path, strerror(errno));
    free(path);
    wake_pickup(queue_dir);
    return 0;
}

int postdrop_main(int argc, char **argv)
{
    const char *requested_dir = NULL;
    log_init("postdrop");
    log_set_stderr(1);
    signal(SIGPIPE, SIG_IGN);
    umask(077);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt(argc, argv, "+c:rv")) != -1) {
        switch (c) {
        case 'c':
            requested_dir = optarg;
            break;
        case 'r':
        case 'v':
            break;
        default:
            fprintf(stderr, "usage: postdrop [-r] [-c config_dir] [-v]\n");
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "usage: postdrop [-r] [-c config_dir] [-v]\n");
        return EX_USAGE;
    }
    const char *dir = choose_config_dir(requested_dir);
    config *cfg = mail_conf_start(dir, EX_CONFIG);

    struct passwd *pw = getpwuid(getuid());
    const char *user = pw && pw->pw_name ? pw->pw_name : "";
    if (getuid() != 0 && !name_list_allows(cfg_str("authorized_submit_users"), user, NAME_LIST_FOLD_CASE))
        log_fatal_status(EX_NOPERM, "User %s(%ld) is not allowed to submit mail", user, (long)getuid());
    int status = drop(cfg_str("queue_directory"));
    config_free(cfg);
    return status;
}

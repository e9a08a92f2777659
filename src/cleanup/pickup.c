/*
 * pickup.c: the pickup daemon, which moves maildrop submissions into the queue.
 *
 * Started by the master (master.cf "pickup ... fifo" or "unix", unprivileged, wakeup 60 s) with
 * its trigger endpoint on fd 3: a FIFO or a listening UNIX socket. Any byte wakes it (postdrop
 * and sendmail write 'W', the master writes 'W' every wakeup period); it also scans at start and
 * every PICKUP_RESCAN seconds on its own.
 *
 * Each complete file in maildrop/ (owner-execute bit set) goes through one cleanup with
 * rewrite_context=local, as a local submission. A maildrop file is written by any local user, so
 * only its sender, recipients (with DSN NOTIFY), content and the attributes full_name,
 * extract_recipients (sendmail -t), envelope_id and dsn_ret are used. With full_name and no From:
 * header, pickup adds "From: Full Name <sender>" at the end of the headers (cleanup adds a plain
 * From: otherwise). Logs "ID: uid=UID from=<sender>" with the new queue id, as Postfix's pickup.
 *
 * The maildrop file is removed only after the new queue file is committed: a crash in between
 * means the message is queued twice. A duplicate is better than a loss. A file that does not
 * parse, or that cleanup rejects for good (too big, no recipients, ...), is moved to corrupt/
 * with a warning; a temporary failure (disk full) leaves it for a scan PICKUP_RETRY_RESCAN
 * seconds later.
 */

#include "cleanup/cleanup.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "master/mail_server.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PICKUP_RESCAN 60      /* seconds between scans without a trigger */
#define PICKUP_RETRY_RESCAN 5 /* seconds to the next scan after a temporary failure (disk full) */
#define PICKUP_LINE_DEFAULT (64L * 1024 * 1024) /* line bound when message_size_limit = 0 */
#define PICKUP_BATCH_LIMIT 10000                /* files per scan, so triggers are not starved */
#define QMGR_TRIGGER_INCOMING 'I'

typedef enum { PICKUP_OK, PICKUP_SKIP, PICKUP_CORRUPT, PICKUP_RETRY } pickup_result;

/* ---- copying the content, adding From: when needed ---- */

typedef struct content_copy {
    cleanup *c;
    strbuf line;      /* a line assembled from pieces */
    int in_headers;   /* still in the header section */
    int saw_from;     /* a From: header was seen */
    const char *from; /* "From: ..." to add at the end of the headers, or NULL */
    int failed;
} content_copy;

/* Length of the field name when line starts a header field ("Name:"), else 0. */
static size_t header_name_length(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] != ':' && (unsigned char)line[i] > ' ' && line[i] != 0x7f)
        i++;
    return i > 0 && i < len && line[i] == ':' ? i : 0;
}

static void copy_line(content_copy *cc, const char *line, size_t len)
{
    if (cc->in_headers) {
        size_t name_len = header_name_length(line, len);
        int continuation = len > 0 && (line[0] == ' ' || line[0] == '\t');
        if (name_len == 4 && strncasecmp(line, "From", 4) == 0)
            cc->saw_from = 1;
        if (name_len == 0 && !continuation) {
            cc->in_headers = 0;
            if (cc->from && !cc->saw_from)
                cleanup_line(cc->c, cc->from, strlen(cc->from));
        }
    }
    cleanup_line(cc->c, line, len);
}

static int content_piece(const char *data, size_t len, int partial, void *ctx)
{
    content_copy *cc = ctx;
    if (!partial && cc->line.len == 0) {
        copy_line(cc, data, len);
        return 0;
    }
    if (strbuf_append(&cc->line, data, len) < 0) {
        cc->failed = 1; /* larger than any message cleanup would accept */
        return 1;
    }
    if (!partial) {
        copy_line(cc, cc->line.data, cc->line.len);
        strbuf_reset(&cc->line);
    }
    return 0;
}

/* "Full Name" quoted as an RFC 5322 phrase when it holds specials. */
static void format_from(strbuf *out, const char *full_name, const char *sender)
{
    int needs_quotes = 0;
    for (const char *p = full_name; *p; p++)
        if (strchr("()<>[]:;@\\,.\"", *p) != NULL)
            needs_quotes = 1;
    strbuf_append_str(out, "From: ");
    if (needs_quotes) {
        strbuf_append_char(out, '"');
        for (const char *p = full_name; *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_append_char(out, '\\');
            strbuf_append_char(out, *p);
        }
        strbuf_append_char(out, '"');
    } else {
        strbuf_append_str(out, full_name);
    }
    /* cleanup qualifies the envelope; the header gets the same $myorigin form. */
    if (sender[0] && strchr(sender, '@') == NULL && mail_params_current()->append_at_myorigin)
        strbuf_printf(out, " <%s@%s>", sender, mail_params_current()->myorigin);
    else
        strbuf_printf(out, " <%s>", sender);
    for (size_t i = 0; i < out->len; i++) /* a header is one line */
        if (out->data[i] == '\r' || out->data[i] == '\n')
            out->data[i] = ' ';
}

/* ---- one maildrop file ---- */

static int truthy(const char *value)
{
    return value && (strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0 ||
                     strcasecmp(value, "true") == 0);
}

/* Feeds one parsed maildrop file through cleanup. */
static pickup_result copy_to_cleanup(int fd, const queue_envelope *env, uid_t uid, const char *id)
{
    strbuf err;
    strbuf_init(&err, 0);
    cleanup *c = cleanup_open("incoming", &err);
    if (c == NULL) {
        log_warning("maildrop/%s: cannot create a queue file: %s", id, err.data ? err.data : "");
        strbuf_free(&err);
        return PICKUP_RETRY;
    }
    strbuf_free(&err);
    const char *sender = env->sender ? env->sender : "";
    log_info("%s: uid=%ld from=<%s>", cleanup_queue_id(c), (long)uid, sender);

    cleanup_attr(c, "rewrite_context", "local");
    const char *envid = queue_envelope_attr(env, "envelope_id");
    if (envid && envid[0])
        cleanup_attr(c, "envelope_id", envid);
    const char *ret = queue_envelope_attr(env, "dsn_ret");
    if (ret && (strcmp(ret, "1") == 0 || strcmp(ret, "2") == 0))
        cleanup_attr(c, "dsn_ret", ret);
    cleanup_sender(c, sender);
    for (size_t i = 0; i < env->nrcpt; i++)
        if (!env->rcpts[i].done && env->rcpts[i].address)
            cleanup_recipient(c, env->rcpts[i].address, env->rcpts[i].orig, env->rcpts[i].notify,
                              env->rcpts[i].dsn_orcpt);
    if (truthy(queue_envelope_attr(env, "extract_recipients")))
        cleanup_extract_recipients(c, 1);

    strbuf from;
    strbuf_init(&from, 0);
    const char *full_name = queue_envelope_attr(env, "full_name");
    if (full_name && full_name[0])
        format_from(&from, full_name, sender);
    long long size_limit = mail_params_current()->message_size_limit;
    content_copy cc = {c, {0}, 1, 0, from.len ? from.data : NULL, 0};
    strbuf_init(&cc.line, size_limit > 0 && size_limit < PICKUP_LINE_DEFAULT
                              ? (size_t)size_limit + 2
                              : (size_t)PICKUP_LINE_DEFAULT);
    int rc = queue_content_each(fd, env, content_piece, &cc);
    if (rc == 0 && cc.line.len > 0) /* a last piece without its end: keep it */
        copy_line(&cc, cc.line.data, cc.line.len);
    if (rc == 0 && cc.in_headers && cc.from && !cc.saw_from)
        cleanup_line(c, cc.from, strlen(cc.from));
    strbuf_free(&cc.line);
    strbuf_free(&from);
    if (rc < 0) {
        log_warning("maildrop/%s: malformed content", id);
        cleanup_abort(c);
        return PICKUP_CORRUPT;
    }
    if (cc.failed) {
        log_warning("maildrop/%s: line too long", id);
        cleanup_abort(c);
        return PICKUP_CORRUPT;
    }
    int status = cleanup_close(c);
    if (status == CLEANUP_STAT_OK)
        return PICKUP_OK;
    if (status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_BAD | CLEANUP_STAT_DEFER)) {
        log_warning("maildrop/%s: %s -- will retry", id, cleanup_status_reply(status));
        return PICKUP_RETRY;
    }
    log_warning("maildrop/%s: message rejected: %s", id, cleanup_status_reply(status));
    return PICKUP_CORRUPT;
}

static pickup_result pickup_path(const char *path, const char *id)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != EACCES) /* EACCES: not yet made readable */
            log_warning("open maildrop/%s: %s", id, strerror(errno));
        return PICKUP_SKIP;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
        close(fd); /* not complete yet, or not a file at all */
        return PICKUP_SKIP;
    }
    if (st.st_nlink > 1) {
        log_warning("maildrop/%s: file has %lu links -- skipped", id, (unsigned long)st.st_nlink);
        close(fd);
        return PICKUP_CORRUPT;
    }
    queue_envelope env;
    memset(&env, 0, sizeof(env));
    strbuf err;
    strbuf_init(&err, 0);
    pickup_result result;
    if (queue_envelope_read(fd, &env, &err) != 0) {
        log_warning("maildrop/%s: %s", id, err.data ? err.data : "malformed file");
        result = PICKUP_CORRUPT;
    } else {
        result = copy_to_cleanup(fd, &env, st.st_uid, id);
    }
    queue_envelope_free(&env);
    strbuf_free(&err);
    close(fd);
    if (result == PICKUP_OK && unlink(path) < 0 && errno != ENOENT)
        log_warning("remove maildrop/%s: %s", id, strerror(errno));
    return result;
}

static pickup_result pickup_file(const char *queue_dir, const char *id)
{
    strbuf path;
    strbuf_path_init(&path);
    pickup_result r = PICKUP_SKIP;
    if (strbuf_path_printf(&path, "%s/maildrop/%s", queue_dir, id) < 0)
        log_warning("maildrop/%s: %s: %s/maildrop", id, strerror(errno), queue_dir);
    else
        r = pickup_path(path.data, id);
    strbuf_free(&path);
    return r;
}

static void move_to_corrupt(const char *queue_dir, const char *id)
{
    strbuf err;
    strbuf_init(&err, 0);
    if (queue_move(queue_dir, id, "maildrop", "corrupt", &err) != 0) {
        log_warning("maildrop/%s: cannot move to corrupt: %s", id, err.data ? err.data : "");
    } else {
        log_warning("maildrop/%s: moved to corrupt", id);
    }
    strbuf_free(&err);
}

/* Returns the number of messages queued; *retry is set when a file was left for a temporary
 * failure (Postfix waits for the next wake-up, up to 60 s; pickup looks again in 5 s). */
static int scan_maildrop(const char *queue_dir, int *retry)
{
    *retry = 0;
    strbuf dir_path;
    strbuf_path_init(&dir_path);
    DIR *dir =
        strbuf_path_printf(&dir_path, "%s/maildrop", queue_dir) < 0 ? NULL : opendir(dir_path.data);
    if (dir == NULL && errno != ENOENT)
        log_warning("open %s/maildrop: %s", queue_dir, strerror(errno));
    strbuf_free(&dir_path);
    if (dir == NULL)
        return 0;
    int queued = 0, seen = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL && seen < PICKUP_BATCH_LIMIT) {
        if (de->d_name[0] == '.' || !queue_id_valid(de->d_name))
            continue;
        seen++;
        pickup_result r = pickup_file(queue_dir, de->d_name);
        if (r == PICKUP_OK)
            queued++;
        else if (r == PICKUP_CORRUPT)
            move_to_corrupt(queue_dir, de->d_name);
        else if (r == PICKUP_RETRY) {
            *retry = 1; /* likely out of space: try again soon */
            break;
        }
    }
    closedir(dir);
    if (queued > 0)
        mail_trigger(queue_dir, "public/qmgr", QMGR_TRIGGER_INCOMING);
    return queued;
}

/* ---- the trigger loop ---- */

/* Reads whatever wake-up bytes are waiting on the endpoint. */
static void drain_trigger(int fd)
{
    struct stat st;
    char buf[256];
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn < 0)
            return;
        /* The client writes its byte right after connecting; wait briefly for it. */
        struct pollfd p = {conn, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) {
            ssize_t n = read(conn, buf, sizeof(buf));
            (void)n;
        }
        close(conn);
        return;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

int pickup_main(int argc, char **argv)
{
    mail_server srv;
    mail_server_init(&srv, "pickup", argc, argv);
    const char *queue_dir = mail_params_current()->queue_directory;
    char *queue_dir_copy = xstrdup(queue_dir);

    int retry;
    mail_server_busy(&srv);
    scan_maildrop(queue_dir_copy, &retry);
    mail_server_idle(&srv);
    for (;;) {
        struct pollfd fds[2];
        nfds_t n = 0;
        if (srv.listen_fd >= 0)
            fds[n++] = (struct pollfd){srv.listen_fd, POLLIN, 0};
        if (srv.status_fd >= 0) /* the master went away: so do we */
            fds[n++] = (struct pollfd){srv.status_fd, 0, 0};
        int ready = poll(fds, n, (retry ? PICKUP_RETRY_RESCAN : PICKUP_RESCAN) * 1000);
        if (ready < 0 && errno != EINTR) {
            log_warning("poll: %s", strerror(errno));
            sleep(1);
            continue;
        }
        if (srv.status_fd >= 0 && (fds[n - 1].revents & (POLLERR | POLLHUP)))
            break;
        mail_server_busy(&srv);
        if (ready > 0 && srv.listen_fd >= 0 && (fds[0].revents & POLLIN))
            drain_trigger(srv.listen_fd);
        scan_maildrop(queue_dir_copy, &retry);
        mail_server_idle(&srv);
    }
    free(queue_dir_copy);
    return 0;
}

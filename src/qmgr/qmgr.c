/*
 * qmgr.c: the qmgr program, Postern's queue manager.
 *
 * One event-driven process started by the master with the listening socket public/qmgr on
 * fd 3. Whoever queues mail connects and writes one byte: 'A' or 'I' (scan incoming), 'D'
 * (scan deferred), 'F' (flush: scan deferred ignoring next-attempt times), 'W' (the master's
 * periodic wakeup). Deferred mail is also scanned every queue_run_delay. A scan moves each
 * complete file (owner-execute bit set) to active/ and hands it to qmgr_message.c; files not
 * yet complete are left alone. At most qmgr_message_active_limit messages are active at once.
 *
 * On start, files left in active/ by a crash go back to incoming/ (as Postfix does) and are
 * delivered again; recipients already marked done in the file are not.
 */
#include "global/mail_date.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/master_cf.h"
#include "qmgr/qmgr.h"
#include "queue/queue_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define QMGR_MAX_TRIGGER_CONNS 256
#define QMGR_STOP_WAIT_SECONDS 30
#define QMGR_CLOCK_SLACK 10 /* seconds of a deferred file's time beyond maximal_backoff_time */

static void scan_now(event_loop *loop, void *ctx);

void qmgr_request_scan(qmgr *q, int incoming, int deferred, int flush)
{
    q->want_incoming |= incoming;
    q->want_deferred |= deferred;
    q->want_flush |= flush;
    if (!q->scan_scheduled) {
        q->scan_scheduled = 1;
        event_timer_add(q->loop, 0, scan_now, q); /* coalesces a burst of triggers */
    }
}

/* Queue ids found by a scan, activated together. */
typedef struct found_ids {
    char **ids;
    size_t n, cap;
} found_ids;

/* Whether the deferred file id (at path) is due at now; one whose next attempt time lies
 * beyond any backoff, set while the clock was ahead, is due now and its time is reset. */
static int deferred_due(const char *id, const char *path, const struct stat *st, time_t now)
{
    if (!qmgr_retry_due(now, st->st_mtime, mail_params_current()->maximal_backoff_time,
                        QMGR_CLOCK_SLACK))
        return 0;
    if (st->st_mtime > now) {
        log_info("%s: next attempt time is %lds ahead, beyond maximal_backoff_time (the clock "
                 "was ahead when it was set); due now",
                 id, (long)(st->st_mtime - now));
        struct utimbuf tb = {.actime = now, .modtime = now};
        if (utime(path, &tb) < 0)
            log_warning("%s: cannot reset the next attempt time: %s", id, strerror(errno));
    }
    return 1;
}

/* Collects each complete queue file under dir (descending into hash subdirectories). */
static void walk_queue(qmgr *q, found_ids *found, const char *dir, int depth, int due_only,
                       time_t now)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno != ENOENT)
            log_warning("cannot open %s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (q->nactive + found->n >= q->active_limit) {
            q->scan_more = 1;
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 4 && strlen(de->d_name) == 1)
                walk_queue(q, found, path, depth + 1, due_only, now);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !queue_id_valid(de->d_name))
            continue;
        if (!(st.st_mode & S_IXUSR))
            continue; /* still being written, or abandoned: never delivered, never deleted */
        if (due_only && !deferred_due(de->d_name, path, &st, now))
            continue;
        if (found->n == found->cap) {
            found->cap = found->cap ? found->cap * 2 : 64;
            found->ids = xrealloc(found->ids, found->cap * sizeof(*found->ids));
        }
        found->ids[found->n++] = xstrdup(de->d_name);
    }
    closedir(d);
}

/* fsyncs the active/ directories (one unless active is hashed) that now hold ids. */
static int sync_active_dirs(qmgr *q, char **ids, size_t n)
{
    char last[4096] = "";
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        if (queue_path(path, sizeof(path), q->queue_dir, "active", ids[i], 0) < 0)
            continue;
        char *slash = strrchr(path, '/');
        if (slash == NULL)
            continue;
        *slash = '\0';
        if (strcmp(path, last) == 0)
            continue;
        if (fsync_dir(path) < 0) {
            log_warning("cannot fsync %s: %s", path, strerror(errno));
            return -1;
        }
        if (fixed_copy(last, sizeof(last), path) < 0) /* cannot happen: same size as path */
            last[0] = '\0';
    }
    return 0;
}

/* Moves what a scan found to active/ with one directory fsync for all of them (the moves must
 * be durable before deliveries are recorded in the files), then starts each. */
static void scan_queue(qmgr *q, const char *queue_name, int due_only)
{
    char dir[QUEUE_DIR_MAX + 64]; /* queue_dir is at most QUEUE_DIR_MAX (mail_params_check) */
    if (fixed_printf(dir, sizeof(dir), "%s/%s", q->queue_dir, queue_name) < 0) {
        log_warning("cannot scan %s/%s: %s", q->queue_dir, queue_name, strerror(errno));
        return;
    }
    found_ids found = {NULL, 0, 0};
    walk_queue(q, &found, dir, 0, due_only, time(NULL));
    size_t moved = 0;
    strbuf err;
    strbuf_init(&err, 4096);
    for (size_t i = 0; i < found.n; i++) {
        strbuf_reset(&err);
        if (queue_rename(q->queue_dir, found.ids[i], queue_name, "active", &err) < 0) {
            log_warning("%s: cannot move from %s to active: %s", found.ids[i], queue_name,
                        err.data);
            free(found.ids[i]);
            continue;
        }
        found.ids[moved++] = found.ids[i];
    }
    strbuf_free(&err);
    /* Without the fsync the moves may not survive a crash: then nothing is delivered now, and
     * the files wait in active/ for the next start (recover_active), as after a failed move. */
    int synced = moved == 0 || sync_active_dirs(q, found.ids, moved) == 0;
    for (size_t i = 0; i < moved; i++) {
        if (synced)
            qmgr_message_activate(q, found.ids[i]);
        free(found.ids[i]);
    }
    free(found.ids);
}

static void scan_now(event_loop *loop, void *ctx)
{
    (void)loop;
    qmgr *q = ctx;
    q->scan_scheduled = 0;
    if (q->stopping)
        return;
    int incoming = q->want_incoming, deferred = q->want_deferred, flush = q->want_flush;
    q->want_incoming = q->want_deferred = q->want_flush = 0;
    q->scan_more = 0;
    if (incoming)
        scan_queue(q, "incoming", 0);
    if (deferred || flush)
        scan_queue(q, "deferred", !flush);
}

/* A reload or stop (SIGHUP) arrived: take no new mail, let deliveries in flight finish (so
 * their results are recorded), then exit; the master starts a fresh queue manager. */
static void check_stop(event_loop *loop, void *ctx)
{
    qmgr *q = ctx;
    if (mail_server_stop_requested()) {
        if (q->stopping == 0)
            q->stopping = mail_time_steady();
        if (q->nactive == 0 || mail_time_steady() - q->stopping > QMGR_STOP_WAIT_SECONDS) {
            event_loop_stop(loop);
            return;
        }
    }
    event_timer_add(loop, 200, check_stop, q);
}

static void periodic_deferred(event_loop *loop, void *ctx)
{
    qmgr *q = ctx;
    qmgr_request_scan(q, 1, 1, 0);
    long delay = mail_params_current()->queue_run_delay;
    event_timer_add(loop, (delay > 0 ? delay : 300) * 1000, periodic_deferred, q);
}

static void trigger_read(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)events;
    qmgr *q = ctx;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    for (ssize_t i = 0; i < n; i++) {
        switch (buf[i]) {
        case 'F':
            qmgr_request_scan(q, 1, 1, 1);
            break;
        case 'D':
            qmgr_request_scan(q, 0, 1, 0);
            break;
        default: /* 'A', 'I', 'W' and anything else: look at incoming */
            qmgr_request_scan(q, 1, 0, 0);
            break;
        }
    }
    if (n <= 0) {
        event_remove(loop, fd);
        close(fd);
        q->trigger_conns--;
    }
}

static void trigger_accept(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)events;
    qmgr *q = ctx;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        if (q->trigger_conns >= QMGR_MAX_TRIGGER_CONNS ||
            event_add(loop, c, EVENT_READ, trigger_read, q) < 0) {
            close(c); /* still counts as a wakeup */
            qmgr_request_scan(q, 1, 0, 0);
            continue;
        }
        q->trigger_conns++;
    }
}

/* Puts files a crashed queue manager left in active/ back into incoming/. */
static void recover_active(qmgr *q)
{
    char dir[QUEUE_DIR_MAX + 64]; /* queue_dir is at most QUEUE_DIR_MAX (mail_params_check) */
    if (fixed_printf(dir, sizeof(dir), "%s/active", q->queue_dir) < 0) {
        log_warning("cannot recover %s/active: %s", q->queue_dir, strerror(errno));
        return;
    }
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    strbuf err;
    strbuf_init(&err, 4096);
    while ((de = readdir(d)) != NULL) {
        if (!queue_id_valid(de->d_name))
            continue;
        strbuf_reset(&err);
        if (queue_move(q->queue_dir, de->d_name, "active", "incoming", &err) < 0)
            log_warning("%s: cannot move from active to incoming: %s", de->d_name, err.data);
    }
    strbuf_free(&err);
    closedir(d);
}

int qmgr_main(int argc, char **argv)
{
    mail_server srv;
    mail_server_init(&srv, "qmgr", argc, argv);
    if (srv.listen_fd < 0)
        log_fatal("qmgr: must be started by the master (no endpoint on fd %d)",
                  MASTER_LISTEN_FD);
    qmgr q;
    memset(&q, 0, sizeof(q));
    q.srv = &srv;
    q.clock_base = mail_time_now() - mail_time_steady();
    const char *queue_dir = mail_params_current()->queue_directory;
    memcpy(q.queue_dir, queue_dir, strlen(queue_dir) + 1); /* length checked at start */
    if (queue_recycler_init(&q.recycler, q.queue_dir) < 0)
        log_warning("queue_directory too long to recycle queue files: %s", q.queue_dir);
    long limit = mail_params_current()->qmgr_message_active_limit;
    q.active_limit = limit > 0 ? (size_t)limit : 20000;
    q.loop = event_loop_new();
    if (q.loop == NULL)
        log_fatal("cannot create event loop: %s", strerror(errno));
    strbuf err;
    strbuf_init(&err, 4096);
    q.res = resolver_open(&err);
    if (q.res == NULL)
        log_fatal("address resolver: %s", err.data);
    strbuf_reset(&err);
    q.master_cf = master_cf_load(srv.cfg, &err);
    if (q.master_cf == NULL)
        log_warning("master.cf: %s; using default process limits", err.data);
    strbuf_free(&err);

    int flags = fcntl(srv.listen_fd, F_GETFL);
    if (flags >= 0)
        fcntl(srv.listen_fd, F_SETFL, flags | O_NONBLOCK);
    if (event_add(q.loop, srv.listen_fd, EVENT_READ, trigger_accept, &q) < 0)
        log_fatal("cannot watch the trigger endpoint: %s", strerror(errno));

    recover_active(&q);
    qmgr_request_scan(&q, 1, 1, 0);
    long delay = mail_params_current()->queue_run_delay;
    event_timer_add(q.loop, (delay > 0 ? delay : 300) * 1000, periodic_deferred, &q);
    /* Always "busy" for the master: a SIGHUP only sets a flag, which check_stop() acts on. */
    mail_server_busy(&srv);
    event_timer_add(q.loop, 200, check_stop, &q);
    int rc = event_loop_run(q.loop);

    qmgr_transport_free_all(&q);
    qmgr_message_free_all(&q);
    resolver_close(q.res);
    if (q.master_cf)
        master_cf_free(q.master_cf);
    event_loop_free(q.loop);
    return rc < 0 ? 1 : 0;
}

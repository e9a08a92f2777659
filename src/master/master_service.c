/*
 * master_service.c: the master's service table: opening endpoints (inet listeners, unix
 * sockets, FIFOs), taking them over across a reload, deciding when to watch an endpoint,
 * throttling after failures and periodic wake-ups (see master.h).
 */
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/mail_server.h"
#include "master/master.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char *format_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format_text(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = strbuf_vformat(0, fmt, ap);
    va_end(ap);
    return text;
}

static int open_inet(const char *addr, int port, int *fd_out, strbuf *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        len = sizeof(*sin6);
    } else {
        strbuf_printf(err, "bad address %s", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        strbuf_printf(err, "socket for %s port %d: %s", addr, port, strerror(errno));
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        strbuf_printf(err, "bind %s port %d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static int open_unix(const char *path, int type, mode_t mode, int *fd_out, strbuf *err)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (fixed_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
        strbuf_printf(err, "socket path longer than %zu bytes: %s", sizeof(sun.sun_path) - 1, path);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && unlink(path) < 0) {
        strbuf_printf(err, "remove %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        strbuf_printf(err, "socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
        strbuf_printf(err, "bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    chmod(path, mode);
    *fd_out = fd;
    return 0;
}

static int open_fifo(const char *path, mode_t mode, int *fd_out, strbuf *err)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode) && unlink(path) < 0) {
        strbuf_printf(err, "remove %s: %s", path, strerror(errno));
        return -1;
    }
    if (mkfifo(path, mode) < 0 && errno != EEXIST) {
        strbuf_printf(err, "mkfifo %s: %s", path, strerror(errno));
        return -1;
    }
    chmod(path, mode);
    /* Read-write, so the master's own descriptor keeps the FIFO from ever reading EOF. */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        strbuf_printf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static int open_endpoint_raw(master_service *svc, strbuf *err);

/* Opens the service's endpoint; an error names master.cf and the service's line. */
static int open_endpoint(master_service *svc, strbuf *err)
{
    strbuf why;
    strbuf_init(&why, 0);
    int rc = open_endpoint_raw(svc, &why);
    if (rc < 0)
        strbuf_printf(err, "%s/master.cf, line %d: service %s: %s", svc->master->config_dir,
                      svc->entry->line, svc->entry->name, why.data);
    strbuf_free(&why);
    return rc;
}

static int open_endpoint_raw(master_service *svc, strbuf *err)
{
    const master_cf_entry *e = svc->entry;
    mode_t mode = 0666; /* private/ itself is mode 0700: the directory guards private sockets */
    switch (e->type) {
    case MASTER_TYPE_INET: {
        /* The label is the address; the port is in the entry. */
        char *addr = xstrdup(svc->key + strlen("inet:"));
        char *colon = strrchr(addr, ':');
        *colon = '\0';
        int rc = open_inet(addr, e->port, &svc->listen_fd, err);
        free(addr);
        return rc;
    }
    case MASTER_TYPE_UNIX:
    case MASTER_TYPE_PASS:
        return open_unix(svc->path, SOCK_STREAM, mode, &svc->listen_fd, err);
    case MASTER_TYPE_UNIX_DGRAM:
        return open_unix(svc->path, SOCK_DGRAM, mode, &svc->listen_fd, err);
    case MASTER_TYPE_FIFO:
        return open_fifo(svc->path, e->private_ ? 0600 : 0622, &svc->listen_fd, err);
    }
    return -1;
}

static master_service *service_new(master_state *m, const master_cf_entry *e, const char *addr)
{
    master_service *svc = xcalloc(1, sizeof(*svc));
    svc->master = m;
    svc->entry = e;
    svc->listen_fd = -1;
    svc->status_read = svc->status_write = -1;
    if (e->type == MASTER_TYPE_INET) {
        svc->key = format_text("inet:%s:%d", addr, e->port);
        svc->label = strchr(addr, ':') ? format_text("[%s]:%d", addr, e->port)
                                       : format_text("%s:%d", addr, e->port);
    } else {
        const char *dir = e->private_ ? "private" : "public";
        svc->path = format_text("%s/%s/%s", m->queue_dir, dir, e->name);
        svc->key = format_text("%s:%s", e->type_name, svc->path);
        svc->label = format_text("%s/%s", dir, e->name);
    }
    return svc;
}

static master_service *find_key(master_service *list, const char *key)
{
    for (master_service *s = list; s; s = s->next)
        if (s->listen_fd >= 0 && strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

static void free_list(master_service *list, int remove)
{
    while (list) {
        master_service *next = list->next;
        master_service_free(list, remove);
        list = next;
    }
}

int master_services_build(master_state *m, const master_cf *mcf, master_service *old,
                          master_service **out, strbuf *err)
{
    master_service *head = NULL, **tail = &head;
    for (size_t i = 0; i < mcf->count; i++) {
        const master_cf_entry *e = &mcf->entries[i];
        if (e->skipped)
            continue;
        size_t n = e->type == MASTER_TYPE_INET ? e->naddrs : 1;
        for (size_t a = 0; a < n; a++) {
            const char *addr = e->type == MASTER_TYPE_INET ? e->addrs[a] : NULL;
            master_service *svc = service_new(m, e, addr);
            *tail = svc;
            tail = &svc->next;
        }
    }
    /* Open what is new; take nothing from old until everything has opened. */
    for (master_service *svc = head; svc; svc = svc->next) {
        if (find_key(old, svc->key))
            continue;
        if (open_endpoint(svc, err) < 0) {
            free_list(head, 1); /* also removes the unix/fifo paths just created */
            return -1;
        }
    }
    for (master_service *svc = head; svc; svc = svc->next) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
            strbuf_printf(err, "status pipe: %s", strerror(errno));
            free_list(head, 1); /* also removes the unix/fifo paths just created */
            return -1;
        }
        svc->status_read = fds[0];
        svc->status_write = fds[1];
    }
    for (master_service *svc = head; svc; svc = svc->next) {
        master_service *prev = svc->listen_fd < 0 ? find_key(old, svc->key) : NULL;
        if (prev) {
            event_remove(m->loop, prev->listen_fd); /* its callback context is prev */
            master_transfer_children(m, prev, svc);
            svc->listen_fd = prev->listen_fd;
            prev->listen_fd = -1;
            free(prev->path); /* the path now belongs to svc: never unlink it */
            prev->path = NULL;
        }
    }
    *out = head;
    return 0;
}

static void on_status(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)fd;
    (void)events;
    master_read_status(ctx);
}

static void on_endpoint(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)fd;
    (void)events;
    master_service *svc = ctx;
    const master_cf_entry *e = svc->entry;
    if (!svc->master->stopping && !svc->throttled && svc->nidle == 0 &&
        (e->maxproc == 0 || svc->nchildren < e->maxproc))
        master_spawn(svc);
    master_service_update_watch(svc);
}

void master_service_update_watch(master_service *svc)
{
    if (svc->listen_fd < 0)
        return;
    const master_cf_entry *e = svc->entry;
    int want = !svc->master->stopping && !svc->throttled && svc->nidle == 0 &&
               (e->maxproc == 0 || svc->nchildren < e->maxproc);
    event_loop *loop = svc->master->loop;
    if (!event_watching(loop, svc->listen_fd)) {
        if (event_add(loop, svc->listen_fd, want ? EVENT_READ : 0, on_endpoint, svc) < 0)
            log_warning("watch %s: %s", svc->label, strerror(errno));
    } else {
        event_modify(loop, svc->listen_fd, want ? EVENT_READ : 0);
    }
}

static void start_if_wanted(master_service *svc)
{
    const master_cf_entry *e = svc->entry;
    if (e->wakeup > 0 && !e->wakeup_if_used && svc->nchildren == 0 && !svc->throttled &&
        !svc->master->stopping)
        master_spawn(svc);
}

static void on_wakeup(event_loop *loop, void *ctx)
{
    master_service *svc = ctx;
    const master_cf_entry *e = svc->entry;
    svc->wakeup_timer = event_timer_add(loop, (long)e->wakeup * 1000, on_wakeup, svc);
    if (svc->master->stopping || e->type == MASTER_TYPE_INET)
        return;
    if (e->wakeup_if_used && !svc->used && svc->nchildren == 0)
        return;
    svc->used = 0;
    if (mail_trigger(svc->master->queue_dir, svc->label, 'W') < 0 && errno != ENOENT)
        log_warning("wake up %s: %s", svc->label, strerror(errno));
}

static void on_unthrottle(event_loop *loop, void *ctx)
{
    (void)loop;
    master_service *svc = ctx;
    svc->throttle_timer = 0;
    svc->throttled = 0;
    start_if_wanted(svc);
    master_service_update_watch(svc);
}

void master_service_throttle(master_service *svc, int at_startup)
{
    if (svc->throttled)
        return;
    long delay = config_get_time(svc->master->cfg, "service_throttle_time");
    if (at_startup)
        log_warning("%s/%s: bad command startup -- throttling", svc->master->daemon_dir,
                    svc->entry->program);
    else
        log_warning("%s/%s: service %s: process failed -- throttling for %lds",
                    svc->master->daemon_dir, svc->entry->program, svc->label, delay);
    svc->throttled = 1;
    svc->throttle_timer =
        event_timer_add(svc->master->loop, delay > 0 ? delay * 1000 : 0, on_unthrottle, svc);
    master_service_update_watch(svc);
}

void master_service_child_exited(master_service *svc, int failed, int at_startup)
{
    if (failed)
        master_service_throttle(svc, at_startup);
    else
        start_if_wanted(svc);
    master_service_update_watch(svc);
}

void master_service_start(master_service *svc)
{
    event_loop *loop = svc->master->loop;
    if (event_add(loop, svc->status_read, EVENT_READ, on_status, svc) < 0)
        log_warning("watch status pipe of %s: %s", svc->label, strerror(errno));
    if (svc->entry->wakeup > 0)
        svc->wakeup_timer = event_timer_add(loop, (long)svc->entry->wakeup * 1000, on_wakeup, svc);
    start_if_wanted(svc);
    master_service_update_watch(svc);
}

void master_service_free(master_service *svc, int remove)
{
    master_state *m = svc->master;
    master_detach_children(m, svc);
    event_timer_cancel(m->loop, svc->throttle_timer);
    event_timer_cancel(m->loop, svc->wakeup_timer);
    if (svc->listen_fd >= 0) {
        event_remove(m->loop, svc->listen_fd);
        if (remove && svc->entry->type == MASTER_TYPE_INET)
            shutdown(svc->listen_fd, SHUT_RDWR); /* children share it: stop listening for all */
        close(svc->listen_fd);
        if (remove && svc->path)
            unlink(svc->path);
    }
    if (svc->status_read >= 0) {
        event_remove(m->loop, svc->status_read);
        close(svc->status_read);
    }
    if (svc->status_write >= 0)
        close(svc->status_write);
    free(svc->key);
    free(svc->label);
    free(svc->path);
    free(svc);
}

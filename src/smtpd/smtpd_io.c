/*
 * smtpd_io.c: the SMTP server's I/O: one epoll loop (lib/event.h) for the listener, every
 * client connection, their timers and the master's signals; and the blocking loop of the
 * stand-alone mode (smtpd -S on stdin/stdout).
 *
 * Reads are large (SMTPD_READ_SIZE) and each batch of input is processed completely before the
 * replies go out in one write (RFC 2920 flush policy); a client that does not read its replies
 * stops being read once SMTPD_OUTPUT_HIGH_WATER bytes wait. Every session has an idle timer
 * (smtpd_timeout, reset by any progress) and, when it makes too many errors, a pause timer
 * (smtpd_error_sleep_time) that delays only its own replies.
 *
 * Queue file commits: the fsyncs run on a few worker threads (queue_sync.h); their eventfd is
 * in the loop, and each batch of finished commits resumes its sessions and wakes qmgr once.
 * The threads also keep spare queue files ready, so the loop never waits for a create.
 *
 * The process serves up to session_capacity clients (the descriptor limit minus a reserve);
 * only when it reaches that does it tell the master it is busy and stop accepting, so the master
 * starts a second smtpd only when this one is full. SIGHUP (master reload): stop accepting,
 * finish the open sessions, exit. SIGTERM: exit at once (open transactions are abandoned; their
 * incomplete queue files are removed).
 */
#include "lib/log.h"
#include "lib/worker_pool.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Reads per readiness event, so one busy client cannot starve the others. */
#define READS_PER_EVENT 8

/* Numeric peer address; IPv4-mapped IPv6 addresses are shown as IPv4, as Postfix does. Any
 * inet_ntop() text fits out (SMTPD_ADDR_TEXT_MAX bytes, see smtpd.h). */
static void peer_address(const struct sockaddr_storage *ss, char out[SMTPD_ADDR_TEXT_MAX])
{
    char buf[INET6_ADDRSTRLEN];
    const char *text = "unknown";
    if (ss->ss_family == AF_INET) {
        text = inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, sizeof(buf));
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            text = inet_ntop(AF_INET, &a6->s6_addr[12], buf, sizeof(buf));
        else
            text = inet_ntop(AF_INET6, a6, buf, sizeof(buf));
    } else if (ss->ss_family == AF_UNIX) {
        text = "127.0.0.1"; /* a local socket is as local as loopback */
    }
    if (text == NULL)
        text = "unknown";
    memcpy(out, text, strlen(text) + 1); /* at most INET6_ADDRSTRLEN bytes */
}

/* ---- sessions in the event loop ---- */

static void on_client(event_loop *loop, int fd, unsigned events, void *ctx);
static void listener_watch(smtpd_server *srv, int on);

static void session_link(smtpd_server *srv, smtpd_session *s)
{
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->session_count++;
}

static void session_unlink(smtpd_server *srv, smtpd_session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->session_count--;
}

static void update_busy(smtpd_server *srv)
{
    int full = srv->session_count >= srv->session_capacity;
    if (full && !srv->busy_reported) {
        srv->busy_reported = 1;
        if (srv->ms)
            mail_server_busy(srv->ms);
    } else if (!full && srv->busy_reported) {
        srv->busy_reported = 0;
        if (srv->ms)
            mail_server_idle(srv->ms);
    }
    listener_watch(srv, !full && !srv->stopping);
}

static void session_destroy(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    if (s->watching)
        event_remove(srv->loop, s->in_fd);
    if (s->idle_timer)
        event_timer_cancel(srv->loop, s->idle_timer);
    if (s->sleep_timer)
        event_timer_cancel(srv->loop, s->sleep_timer);
    if (s->pending_timer)
        event_timer_cancel(srv->loop, s->pending_timer);
    smtpd_tls_end(s);
    close(s->in_fd);
    session_unlink(srv, s);
    smtpd_session_free(s);
    update_busy(srv);
    if (srv->stopping && srv->session_count == 0)
        event_loop_stop(srv->loop);
}

/* Writes queued output. 1 all written, 0 some left (wait for EVENT_WRITE), -1 error. */
static int flush_output(smtpd_session *s)
{
    size_t off = 0;
    int rc = 1;
    while (off < s->out.len) {
        if (s->tls_active) {
            ssize_t n = smtpd_tls_write(s, s->out.data + off, s->out.len - off);
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            rc = n == SMTPD_TLS_AGAIN ? 0 : -1;
            break;
        }
        ssize_t n = send(s->out_fd, s->out.data + off, s->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(s->out_fd, s->out.data + off, s->out.len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        rc = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        break;
    }
    if (off > 0) {
        s->last_io_ms = event_now_ms();
        memmove(s->out.data, s->out.data + off, s->out.len - off);
        strbuf_truncate(&s->out, s->out.len - off);
    }
    return rc;
}

static void on_resume(event_loop *loop, void *ctx);
static void session_next(smtpd_session *s, smtpd_next next);

/* Runs the TLS handshake as far as the socket allows; the loop calls again when it is ready. */
static void drive_handshake(smtpd_session *s)
{
    int rc = smtpd_tls_handshake(s);
    if (rc == SMTPD_TLS_AGAIN) {
        event_modify(s->server->loop, s->in_fd, s->tls_want);
        return;
    }
    if (rc < 0) {
        smtpd_session_lost(s, 0);
        session_destroy(s);
        return;
    }
    s->last_io_ms = event_now_ms();
    session_next(s, smtpd_session_tls_started(s));
}

/* The 220 to STARTTLS (if any) is out: hand the socket to OpenSSL. */
static void on_idle_timer(event_loop *loop, void *ctx);

static void start_tls(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    if (s->idle_timer) /* the handshake runs on smtpd_starttls_timeout */
        event_timer_cancel(srv->loop, s->idle_timer);
    s->last_io_ms = event_now_ms();
    long limit = srv->starttls_timeout_ms < srv->timeout_ms ? srv->starttls_timeout_ms
                                                            : srv->timeout_ms;
    s->idle_timer = event_timer_add(srv->loop, limit, on_idle_timer, s);
    if (smtpd_tls_begin(s) < 0) {
        smtpd_session_lost(s, 0);
        session_destroy(s);
        return;
    }
    drive_handshake(s);
}

/* Acts on what the session wants after processing input. */
static void session_next(smtpd_session *s, smtpd_next next)
{
    smtpd_server *srv = s->server;
    for (;;) {
        int flushed = flush_output(s);
        if (flushed < 0) {
            smtpd_session_lost(s, 0);
            session_destroy(s);
            return;
        }
        if (next == SMTPD_NEXT_CLOSE) {
            if (flushed) {
                session_destroy(s);
                return;
            }
            event_modify(srv->loop, s->in_fd, EVENT_WRITE);
            return;
        }
        if (next == SMTPD_NEXT_FLUSH && flushed) {
            next = smtpd_session_process(s);
            continue;
        }
        if (next == SMTPD_NEXT_STARTTLS) {
            if (flushed)
                start_tls(s);
            else
                event_modify(srv->loop, s->in_fd, EVENT_WRITE);
            return;
        }
        unsigned interest = 0;
        if (!flushed)
            interest |= EVENT_WRITE;
        if (next == SMTPD_NEXT_READ && s->out.len < SMTPD_OUTPUT_HIGH_WATER)
            interest |= EVENT_READ;
        if (next == SMTPD_NEXT_PAUSE && s->sleep_timer == 0)
            s->sleep_timer = event_timer_add(srv->loop, srv->error_sleep_ms, on_resume, s);
        event_modify(srv->loop, s->in_fd, interest);
        return;
    }
}

void smtpd_io_resume(smtpd_session *s)
{
    session_next(s, smtpd_session_process(s));
}

void smtpd_io_next(smtpd_session *s, smtpd_next next)
{
    session_next(s, next);
}

static void on_resume(event_loop *loop, void *ctx)
{
    (void)loop;
    smtpd_session *s = ctx;
    s->sleep_timer = 0;
    smtpd_session_resume(s);
    session_next(s, smtpd_session_process(s));
}

void smtpd_io_wake(void *ctx)
{
    smtpd_session *s = ctx;
    s->check_waiting = 0;
    if (s->server->loop) /* the stand-alone mode never waits */
        session_next(s, smtpd_session_process(s));
}

static void on_idle_timer(event_loop *loop, void *ctx)
{
    smtpd_session *s = ctx;
    smtpd_server *srv = s->server;
    s->idle_timer = 0;
    long long idle = event_now_ms() - s->last_io_ms;
    long limit = s->tls_handshaking ? srv->starttls_timeout_ms : srv->timeout_ms;
    if (limit > srv->timeout_ms)
        limit = srv->timeout_ms; /* the timer runs on smtpd_timeout; never longer */
    if (idle < limit) {
        s->idle_timer = event_timer_add(loop, (long)(limit - idle), on_idle_timer, s);
        return;
    }
    smtpd_session_lost(s, 1);
    flush_output(s); /* best effort: the 421 */
    session_destroy(s);
}

static void on_pending(event_loop *loop, void *ctx);

static void session_read(smtpd_session *s)
{
    smtpd_next next = SMTPD_NEXT_READ;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        smtpd_session_size_input(s);
        size_t space = s->in_cap - s->in_len;
        if (space == 0)
            break;
        if (s->tls_active) {
            ssize_t n = smtpd_tls_read(s, s->in + s->in_len, space);
            if (n == SMTPD_TLS_AGAIN)
                break;
            if (n <= 0) {
                smtpd_session_lost(s, 0);
                flush_output(s);
                session_destroy(s);
                return;
            }
            s->in_len += (size_t)n;
            s->last_io_ms = event_now_ms();
            next = smtpd_session_process(s);
            if (next != SMTPD_NEXT_READ)
                break;
            continue; /* a TLS record is at most 16 KiB: read until OpenSSL waits */
        }
        ssize_t n = read(s->in_fd, s->in + s->in_len, space);
        if (n > 0) {
            s->in_len += (size_t)n;
            s->last_io_ms = event_now_ms();
            next = smtpd_session_process(s);
            /* A short read means the socket is drained for now: skip the read that would
             * only say EAGAIN (epoll reports the socket again when more arrives). */
            if (next != SMTPD_NEXT_READ || (size_t)n < space)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* End of file or error: replies already queued still get a try. */
        smtpd_session_lost(s, 0);
        flush_output(s);
        session_destroy(s);
        return;
    }
    /* Decrypted bytes left inside OpenSSL make the socket look idle: come back for them. */
    if (next == SMTPD_NEXT_READ && s->pending_timer == 0 && smtpd_tls_pending(s) > 0)
        s->pending_timer = event_timer_add(s->server->loop, 0, on_pending, s);
    session_next(s, next);
}

static void on_pending(event_loop *loop, void *ctx)
{
    (void)loop;
    smtpd_session *s = ctx;
    s->pending_timer = 0;
    if (!s->closing && !s->paused && !s->commit && !s->tls_pending && !s->check_waiting &&
        !s->sasl_busy)
        session_read(s);
}

/* ---- commits finishing on the worker threads ---- */

static void on_commit_done(void *ctx, int err, void *arg)
{
    smtpd_server *srv = arg;
    int queued = 0;
    smtpd_session *s = smtpd_session_commit_done(ctx, err, &queued);
    if (queued)
        srv->queued_in_batch = 1;
    if (s)
        session_next(s, smtpd_session_process(s));
}

/* One qmgr wake-up for every commit that completed together. */
static void collect_commits(smtpd_server *srv)
{
    srv->queued_in_batch = 0;
    queue_sync_collect(srv->sync, on_commit_done, srv);
    if (srv->queued_in_batch)
        mail_trigger(srv->queue_directory, "public/qmgr", 'A');
}

static void on_sync(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)fd;
    (void)events;
    collect_commits(ctx);
}

static void on_client(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)fd;
    smtpd_session *s = ctx;
    if (s->tls_handshaking) {
        drive_handshake(s);
        return;
    }
    if (s->tls_active && s->tls_want == EVENT_WRITE && (events & EVENT_WRITE) &&
        s->out.len == 0 && !s->closing) {
        s->tls_want = 0; /* a read that waited to write (TLS key update) */
        session_read(s);
        return;
    }
    if (events & EVENT_WRITE) {
        int flushed = flush_output(s);
        if (flushed < 0) {
            smtpd_session_lost(s, 0);
            session_destroy(s);
            return;
        }
        if (!flushed)
            return;
        if (s->closing) {
            session_destroy(s);
            return;
        }
        if (s->tls_pending) {
            start_tls(s);
            return;
        }
        /* Output drained: go on with input that waited behind it. */
        session_next(s, s->paused ? SMTPD_NEXT_PAUSE : smtpd_session_process(s));
        return;
    }
    if (events & (EVENT_READ | EVENT_ERROR)) {
        if (s->closing || s->paused || s->commit || s->check_waiting || s->sasl_busy ||
            s->name_pending) {
            /* Hangup while we wait: nothing more to say. */
            smtpd_session_lost(s, 0);
            session_destroy(s);
            return;
        }
        session_read(s);
    }
}

static void start_session(smtpd_server *srv, int fd, const char *addr)
{
    smtpd_session *s = smtpd_session_new(srv, fd, fd, addr);
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        peer_address(&local, s->local_addr);
    session_link(srv, s);
    s->last_io_ms = event_now_ms();
    if (event_add(srv->loop, fd, EVENT_READ, on_client, s) < 0) {
        log_warning("cannot watch connection from %s: %m", s->namaddr);
        session_destroy(s);
        return;
    }
    s->watching = 1;
    s->idle_timer = event_timer_add(srv->loop, srv->timeout_ms, on_idle_timer, s);
    update_busy(srv);
    session_next(s, smtpd_session_start(s));
}

static void on_accept(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)loop;
    (void)events;
    smtpd_server *srv = ctx;
    while (srv->accepting && srv->session_count < srv->session_capacity) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warning("accept: %m");
            return;
        }
        if (cfd >= EVENT_MAX_FD) {
            close(cfd);
            continue;
        }
        char addr[SMTPD_ADDR_TEXT_MAX];
        peer_address(&ss, addr);
        start_session(srv, cfd, addr);
    }
}

static void listener_watch(smtpd_server *srv, int on)
{
    if (srv->ms == NULL || srv->ms->listen_fd < 0 || on == srv->accepting)
        return;
    if (on) {
        if (event_add(srv->loop, srv->ms->listen_fd, EVENT_READ, on_accept, srv) == 0)
            srv->accepting = 1;
    } else {
        event_remove(srv->loop, srv->ms->listen_fd);
        srv->accepting = 0;
    }
}

/* ---- signals ---- */

static void on_signal(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)events;
    smtpd_server *srv = ctx;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            /* Reload or stop by the master: finish what is open, then go. */
            srv->stopping = 1;
            listener_watch(srv, 0);
            if (srv->session_count == 0)
                event_loop_stop(loop);
        } else if (si.ssi_signo == SIGTERM) {
            srv->stopping = 1;
            while (srv->sessions) {
                smtpd_session_abort(srv->sessions);
                session_destroy(srv->sessions);
            }
            event_loop_stop(loop);
        }
    }
}

static size_t session_capacity(void)
{
    struct rlimit rl;
    size_t cap = 1000;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        /* Raise the soft limit as far as allowed: each session needs one descriptor. */
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max > EVENT_MAX_FD ? EVENT_MAX_FD : rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        cap = rl.rlim_cur > 64 ? (size_t)rl.rlim_cur - 48 : 16;
    }
    if (cap > EVENT_MAX_FD - 64)
        cap = EVENT_MAX_FD - 64;
    return cap;
}

int smtpd_io_run(smtpd_server *srv)
{
    /* Block the master's signals before any thread starts: threads inherit the mask, and a
     * SIGHUP delivered to a worker thread that does not block it would kill the process (its
     * default action) instead of reaching the signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    srv->loop = event_loop_new();
    if (srv->loop == NULL)
        log_fatal("cannot create event loop: %m");
    srv->async_env.loop = srv->loop;
    strbuf dns_err;
    strbuf_init(&dns_err, 0);
    srv->async_env.dns = dns_resolver_new(srv->loop, srv->dns_servers, &dns_err);
    if (srv->async_env.dns == NULL)
        log_fatal("smtpd_dns_resolver_address: %s", dns_err.data);
    strbuf_free(&dns_err);
    /* Threads for blocking jobs of waiting restrictions (password hashes, SQL). */
    srv->async_env.workers = worker_pool_new(srv->loop, SMTPD_WORKER_THREADS);
    if (srv->async_env.workers == NULL)
        log_fatal("cannot start worker threads: %m");
    srv->session_capacity = session_capacity();
    int lfd = srv->ms->listen_fd;
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        log_fatal("signalfd: %m");
    event_add(srv->loop, sfd, EVENT_READ, on_signal, srv);
    srv->sync = queue_sync_new(SMTPD_SYNC_THREADS);
    if (srv->sync == NULL)
        log_warning("cannot start the queue file sync threads: %m; committing in line");
    else
        event_add(srv->loop, queue_sync_event_fd(srv->sync), EVENT_READ, on_sync, srv);
    if (srv->sync) {
        strbuf incoming;
        strbuf_path_init(&incoming);
        if (strbuf_path_printf(&incoming, "%s/incoming", srv->queue_directory) < 0 ||
            queue_sync_spares(srv->sync, incoming.data, SMTPD_SPARE_FILES) < 0)
            log_warning("queue_directory too long to keep spare queue files: %s",
                        srv->queue_directory);
        strbuf_free(&incoming);
        if (queue_sync_recycle(srv->sync, srv->queue_directory) < 0)
            log_warning("queue_directory too long to recycle queue files: %s",
                        srv->queue_directory);
    }
    smtpd_sasl_start(srv);
    listener_watch(srv, 1);
    int rc = event_loop_run(srv->loop);
    while (srv->sessions) {
        smtpd_session_abort(srv->sessions);
        session_destroy(srv->sessions);
    }
    if (srv->sync) {
        /* Commits under way finish (their sessions are gone): a file whose fsyncs failed is
         * removed, the others are queued. */
        queue_sync_drain(srv->sync);
        collect_commits(srv);
        event_remove(srv->loop, queue_sync_event_fd(srv->sync));
        queue_sync_free(srv->sync);
        srv->sync = NULL;
    }
    event_remove(srv->loop, sfd);
    close(sfd);
    smtpd_sasl_unload(srv);
    worker_pool_free(srv->async_env.workers);
    srv->async_env.workers = NULL;
    dns_resolver_free(srv->async_env.dns);
    srv->async_env.dns = NULL;
    event_loop_free(srv->loop);
    srv->loop = NULL;
    srv->async_env.loop = NULL;
    return rc < 0 ? 1 : 0;
}

/* ---- stand-alone mode ---- */

static int write_all(int fd, strbuf *out)
{
    size_t off = 0;
    while (off < out->len) {
        ssize_t n = write(fd, out->data + off, out->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    strbuf_reset(out);
    return 0;
}

int smtpd_io_run_standalone(smtpd_server *srv)
{
    smtpd_session *s = smtpd_session_new(srv, STDIN_FILENO, STDOUT_FILENO, "127.0.0.1");
    smtpd_next next = smtpd_session_start(s);
    for (;;) {
        if (write_all(s->out_fd, &s->out) < 0) {
            smtpd_session_lost(s, 0);
            break;
        }
        if (next == SMTPD_NEXT_CLOSE)
            break;
        if (next == SMTPD_NEXT_PAUSE) {
            struct timespec ts = {srv->error_sleep_ms / 1000, (srv->error_sleep_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
            smtpd_session_resume(s);
            next = smtpd_session_process(s);
            continue;
        }
        if (next == SMTPD_NEXT_FLUSH) {
            next = smtpd_session_process(s);
            continue;
        }
        struct pollfd pfd = {.fd = s->in_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)srv->timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            smtpd_session_lost(s, 1);
            write_all(s->out_fd, &s->out);
            break;
        }
        smtpd_session_size_input(s);
        ssize_t n = read(s->in_fd, s->in + s->in_len, s->in_cap - s->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            smtpd_session_lost(s, 0);
            break;
        }
        s->in_len += (size_t)n;
        next = smtpd_session_process(s);
    }
    smtpd_session_free(s);
    return 0;
}

/* deliver_server.c: accept loop and request/reply cycle of a delivery agent (see the header). */
#include "deliver/deliver_server.h"
#include "global/mail_date.h"
#include "lib/config.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits for fd to become readable. 1 ready, 0 timeout, -1 error. */
static int wait_readable(int fd, long timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, timeout_ms > 0 ? (int)timeout_ms : -1);
        if (n < 0 && errno == EINTR) {
            if (mail_server_stop_requested())
                return -1;
            continue;
        }
        return n < 0 ? -1 : n > 0;
    }
}

/* Serves requests on one connection until the peer closes it. Returns the requests served. */
static void serve_connection(int fd, deliver_fn fn, void *ctx)
{
    strbuf out, err;
    strbuf_init(&out, 0);
    strbuf_init(&err, 0);
    attr_put(&out, "protocol", DELIVER_PROTOCOL);
    attr_end(&out);
    if (attr_write_all(fd, out.data, out.len) < 0) {
        strbuf_free(&out);
        strbuf_free(&err);
        return;
    }
    attr_reader rd;
    attr_reader_init(&rd, fd, DELIVER_RECORD_LIMIT);
    attr_record rec;
    attr_record_init(&rec);
    long timeout_ms = cfg_time("ipc_timeout") * 1000;
    for (;;) {
        strbuf_reset(&err);
        int got = attr_reader_buffered(&rd, &rec, &err);
        while (got == 0) {
            int ready = wait_readable(fd, timeout_ms);
            if (ready <= 0) {
                got = -1;
                break;
            }
            got = attr_reader_next(&rd, &rec, &err);
        }
        if (got < 0) {
            if (!rd.eof && err.len)
                log_warning("delivery request: %s", err.data);
            break;
        }
        deliver_request req;
        deliver_request_init(&req);
        if (deliver_request_decode(&rec, &req, &err) < 0) {
            log_warning("bad delivery request: %s", err.data);
            deliver_request_free(&req);
            break;
        }
        req.receive_time = mail_time_now();
        fn(&req, ctx);
        strbuf_reset(&out);
        deliver_reply_encode(&req, &out);
        deliver_request_free(&req);
        if (attr_write_all(fd, out.data, out.len) < 0) {
            log_warning("cannot send delivery reply: %s", strerror(errno));
            break;
        }
    }
    attr_record_free(&rec);
    attr_reader_free(&rd);
    strbuf_free(&out);
    strbuf_free(&err);
}

int deliver_server_run(mail_server *srv, deliver_fn fn, void *ctx)
{
    if (srv->listen_fd < 0)
        log_fatal("%s: must be started by the master (no endpoint on fd %d)", srv->program,
                  MASTER_LISTEN_FD);
    int flags = fcntl(srv->listen_fd, F_GETFL);
    if (flags >= 0)
        fcntl(srv->listen_fd, F_SETFL, flags | O_NONBLOCK);
    long max_idle = cfg_time("max_idle");
    long max_use = cfg_int("max_use");
    long used = 0;
    while (max_use <= 0 || used < max_use) {
        int ready = wait_readable(srv->listen_fd, max_idle > 0 ? max_idle * 1000 : -1);
        if (ready <= 0)
            break;
        int fd = accept(srv->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                continue;
            log_warning("accept: %s", strerror(errno));
            break;
        }
        int cflags = fcntl(fd, F_GETFL);
        if (cflags >= 0)
            fcntl(fd, F_SETFL, cflags & ~O_NONBLOCK);
        mail_server_busy(srv);
        /* As in Postfix, max_use counts connections: a connection is served until the queue
         * manager closes it, so an agent never walks away between two requests of one. */
        serve_connection(fd, fn, ctx);
        used++;
        close(fd);
        mail_server_idle(srv);
    }
    return 0;
}

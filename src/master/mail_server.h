/*
 * mail_server.h: what every daemon started by the master shares.
 *
 * The master starts a daemon by executing the postern binary under the daemon's program name:
 *   PROGRAM -c CONFIG_DIR -n SERVICE_NAME -t TYPE [-u] [-o name=value]... [-- master.cf args]
 * with these descriptors already open:
 *   fd 3 (MASTER_LISTEN_FD)  the service's endpoint: a listening socket for inet and unix
 *                            services, the FIFO (opened read-write) for fifo services.
 *   fd 4 (MASTER_STATUS_FD)  a pipe to the master; the daemon writes one master_status record
 *                            when it becomes busy and one when it is idle again, so the master
 *                            knows when to start another process (up to maxproc).
 * -u means master.cf said unpriv = y: a daemon started by root drops to mail_owner. Daemons
 * that deliver to mailboxes (local, virtual) run with unpriv = n and change identity per delivery.
 *
 * Run without fd 3 (for example from a test), a daemon finds listen_fd = -1. The endpoint is
 * non-blocking and shared by every process of the service: accept() may fail with EAGAIN when
 * another process took the connection. mail_server_init() marks fds 3 and 4 close-on-exec so
 * commands a daemon runs do not inherit them.
 *
 * Signals from the master:
 *   SIGTERM  exit now (default action); the master uses it at "postfix stop".
 *   SIGHUP   finish current work, then exit (the master sends it after a reload). The handler
 *            installed by mail_server_init() exits at once (status 0) when the daemon is idle;
 *            when it is busy it only sets a flag: mail_server_stop_requested() becomes non-zero,
 *            the daemon should stop accepting new work, and the next mail_server_idle() exits.
 *            A daemon that is in the middle of work it must not abandon calls
 *            mail_server_busy() first. The handler does not use SA_RESTART, so a blocking call
 *            returns EINTR and the daemon can look at the flag.
 * A busy daemon that got SIGHUP should close fd 3 so its copy stops accepting. When a reload
 * removes an inet service, the master shuts its listener down for every process: accept()
 * then fails (EINVAL) and epoll reports a hangup; stop watching fd 3 then.
 * The master also arranges SIGTERM for its children when it dies (Linux parent-death signal),
 * so a killed master leaves no daemons behind.
 */
#ifndef POSTERN_MAIL_SERVER_H
#define POSTERN_MAIL_SERVER_H

#include "global/mail_trigger.h" /* every daemon wakes qmgr or pickup */
#include "lib/config.h"

#include <sys/types.h>

#define MASTER_LISTEN_FD 3
#define MASTER_STATUS_FD 4

typedef struct master_status {
    pid_t pid;
    char status; /* MASTER_STATUS_BUSY or MASTER_STATUS_IDLE */
} master_status;

#define MASTER_STATUS_BUSY 'b'
#define MASTER_STATUS_IDLE 'i'

typedef struct mail_server {
    const char *program; /* "smtpd" */
    const char *service; /* master.cf service name, e.g. "127.0.0.1:2525" or "qmgr" */
    const char *type;    /* "inet", "unix", "fifo", "pass" */
    config *cfg;         /* also the current configuration */
    int listen_fd;       /* -1 when not started by the master */
    int status_fd;       /* -1 when not started by the master */
    int unprivileged;    /* -u given */
    int argc;            /* master.cf arguments after the options */
    char **argv;
} mail_server;

/* The daemons the master can start (NULL-terminated program names) and their entry points;
 * cmd/commands.c puts them in the multicall binary's table (a unit test keeps both in step). */
extern const char *const mail_server_programs[];
int smtpd_main(int argc, char **argv);
int qmgr_main(int argc, char **argv);
int pickup_main(int argc, char **argv);
int local_main(int argc, char **argv);
int virtual_main(int argc, char **argv);
int smtp_main(int argc, char **argv); /* also lmtp */

/* Parses the options above, loads main.cf (fatal with a clear message on error), applies -o
 * overrides, sets up logging as PROGRAM, and drops privileges to mail_owner when running as root
 * with -u. Exits 64 on bad usage. */
void mail_server_init(mail_server *srv, const char *program, int argc, char **argv);
/* The same, calling before_drop(srv, ctx) once the configuration is loaded and before
 * privileges are dropped: files only root may read (password tables, keys) are opened there,
 * as Postfix's daemons open them before they drop privileges. */
void mail_server_init_with(mail_server *srv, const char *program, int argc, char **argv,
                           void (*before_drop)(mail_server *srv, void *ctx), void *ctx);
/* Tell the master this process is busy / idle again. mail_server_idle() does not return when
 * a SIGHUP asked the process to stop (it exits with status 0). */
void mail_server_busy(mail_server *srv);
void mail_server_idle(mail_server *srv);
/* Non-zero once SIGHUP asked the process to finish its work and exit. */
int mail_server_stop_requested(void);
/* Switches to mail_owner (uid and gid and supplementary groups) when running as root. */
int mail_server_drop_privileges(const char *user, strbuf *err);

#endif

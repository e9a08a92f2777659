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
 * Run without fd 3 (for example from a test), a daemon finds listen_fd = -1.
 */
#ifndef POSTERN_MAIL_SERVER_H
#define POSTERN_MAIL_SERVER_H

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

/* Parses the options above, loads main.cf (fatal with a clear message on error), applies -o
 * overrides, sets up logging as PROGRAM, and drops privileges to mail_owner when running as root
 * with -u. Exits 64 on bad usage. */
void mail_server_init(mail_server *srv, const char *program, int argc, char **argv);
void mail_server_busy(mail_server *srv);
void mail_server_idle(mail_server *srv);
/* Switches to mail_owner (uid and gid and supplementary groups) when running as root. */
int mail_server_drop_privileges(const char *user, strbuf *err);

/* Wakes a trigger service (qmgr, pickup) under queue_directory: path like "public/qmgr" is a
 * FIFO or a UNIX socket; writes one byte without blocking. Returns 0, or -1 when nobody listens. */
int mail_trigger(const char *queue_dir, const char *path, char code);

#endif

/*
 * mail_server.c: the daemon side of the master protocol (see mail_server.h): options,
 * configuration, logging, privileges, busy/idle records, and SIGHUP handling.
 */
#include "master/mail_server.h"
#include "global/mail_params.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

const char *const mail_server_programs[] = {"smtpd", "qmgr",    "pickup", "local",
                                            "virtual", "smtp", "lmtp",   NULL};

/* Shared with the SIGHUP handler, hence process-wide: whether the daemon said it is busy, and
 * whether a stop was requested while it was. */
static volatile sig_atomic_t server_busy;
static volatile sig_atomic_t server_stop_requested;

static void on_sighup(int sig)
{
    (void)sig;
    server_stop_requested = 1;
    if (!server_busy)
        _exit(0);
}

int mail_server_stop_requested(void)
{
    return server_stop_requested != 0;
}

static void usage_exit(const char *program)
{
    fprintf(stderr,
            "usage: %s [-c config_dir] [-n service] [-t type] [-u] [-o name=value]... "
            "[-- args]\n",
            program);
    exit(EX_USAGE);
}

/* Returns fd when it is open (and marks it close-on-exec), else -1. */
static int inherited_fd(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -1;
    fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    return fd;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_sighup; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGHUP);
    sigaddset(&unblock, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
}

void mail_server_init(mail_server *srv, const char *program, int argc, char **argv)
{
    mail_server_init_with(srv, program, argc, argv, NULL, NULL);
}

void mail_server_init_with(mail_server *srv, const char *program, int argc, char **argv,
                           void (*before_drop)(mail_server *srv, void *ctx), void *ctx)
{
    const char *dir = NULL;
    memset(srv, 0, sizeof(*srv));
    srv->program = program;
    srv->service = program;
    srv->type = "unix";
    log_init(program);
    prctl(PR_SET_NAME, program); /* ps and pgrep show "smtpd", not "exe" */

    /* -o values are applied after main.cf is loaded; remember where they are. */
    int nover = 0;
    char **overrides = xcalloc((size_t)argc + 1, sizeof(*overrides));
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt(argc, argv, "+c:n:t:uo:vDS")) != -1) {
        switch (opt) {
        case 'c':
            dir = optarg;
            break;
        case 'n':
            srv->service = optarg;
            break;
        case 't':
            srv->type = optarg;
            break;
        case 'u':
            srv->unprivileged = 1;
            break;
        case 'o':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                fprintf(stderr, "%s: bad -o argument \"%s\": want name=value\n", program, optarg);
                exit(EX_USAGE);
            }
            overrides[nover++] = optarg;
            break;
        case 'v':
        case 'D':
        case 'S':
            break; /* Postfix daemon options Postern accepts and ignores */
        default:
            usage_exit(program);
        }
    }
    srv->argc = argc - optind;
    srv->argv = argv + optind;

    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(dir, &err);
    if (cfg == NULL)
        log_fatal("%s", err.data);
    /* As in Postfix, -o values may say $service_name and $process_name. */
    config_override(cfg, "service_name", srv->service);
    config_override(cfg, "process_name", program);
    for (int i = 0; i < nover; i++) {
        char *eq = strchr(overrides[i], '=');
        char *name = xstrndup(overrides[i], (size_t)(eq - overrides[i]));
        config_override(cfg, name, eq + 1);
        free(name);
    }
    free(overrides);
    config_set_current(cfg);
    srv->cfg = cfg;
    log_configure();
    strbuf bad;
    strbuf_init(&bad, 0);
    if (mail_params_check(mail_params_current(), &bad) < 0)
        log_fatal("file %s: %s", config_main_cf(cfg), bad.data);
    strbuf_free(&bad);

    srv->listen_fd = inherited_fd(MASTER_LISTEN_FD);
    srv->status_fd = inherited_fd(MASTER_STATUS_FD);
    install_signals();

    if (before_drop)
        before_drop(srv, ctx);
    if (srv->unprivileged && geteuid() == 0) {
        strbuf_reset(&err);
        if (mail_server_drop_privileges(config_get(cfg, "mail_owner"), &err) < 0)
            log_fatal("%s", err.data);
        /* Changing identity clears the parent-death signal; ask for it again. */
        if (srv->status_fd >= 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() == 1)
                exit(0);
        }
    }
    strbuf_free(&err);
}

static void write_status(mail_server *srv, char status)
{
    if (srv->status_fd < 0)
        return;
    master_status rec;
    memset(&rec, 0, sizeof(rec));
    rec.pid = getpid();
    rec.status = status;
    ssize_t n;
    do
        n = write(srv->status_fd, &rec, sizeof(rec));
    while (n < 0 && errno == EINTR);
}

void mail_server_busy(mail_server *srv)
{
    server_busy = 1;
    write_status(srv, MASTER_STATUS_BUSY);
}

void mail_server_idle(mail_server *srv)
{
    if (server_stop_requested)
        exit(0);
    write_status(srv, MASTER_STATUS_IDLE);
    server_busy = 0;
    if (server_stop_requested) /* SIGHUP arrived between the check and here */
        exit(0);
}

int mail_server_drop_privileges(const char *user, strbuf *err)
{
    if (geteuid() != 0)
        return 0; /* a normal user runs everything as itself */
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        strbuf_printf(err, "unknown mail_owner user name: \"%s\"", user);
        return -1;
    }
    /* The primary group only, as Postfix's set_ugid(): no supplementary groups of the account
     * (least privilege), and no walk over every group database that initgroups() would make
     * (it loads each NSS module, some 700 KB of RSS in every daemon). */
    gid_t gid = pw->pw_gid;
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0) {
        strbuf_printf(err, "cannot change to user %s (uid %ld): %s", user, (long)pw->pw_uid,
                      strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        strbuf_printf(err, "privileges could not be dropped to user %s", user);
        return -1;
    }
    return 0;
}

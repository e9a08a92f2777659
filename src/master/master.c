/*
 * master.c: the master program, Postern's process supervisor.
 *
 *   master [-c config_dir] [-w] [-t]
 *
 * Loads main.cf and master.cf, creates the queue directories, locks and writes
 * queue_directory/pid/master.pid (pid right-aligned in 10 columns, as Postfix), opens every
 * service endpoint and then starts daemons on demand (master.h). Signals:
 *   SIGHUP           reload main.cf and master.cf; a broken file is logged and the old
 *                    configuration kept. Endpoints of services that still exist stay open;
 *                    old processes get SIGHUP (finish, then exit).
 *   SIGTERM, SIGINT  stop: children get SIGTERM, stragglers SIGKILL after 10 seconds; the pid
 *                    file is removed.
 *   SIGQUIT          abort: children get SIGKILL at once.
 * -w runs the master in the background and waits until it has opened every endpoint: exit 0
 * then, or print why it failed (one line) and exit 1. Without -w the master runs in the
 * foreground. -t only tests: exit 0 when no master runs for this configuration, 1 when one does.
 */
#include "master/master.h"
#include "global/mail_owner.h"
#include "global/mail_params.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/config_audit.h"
#include "queue/queue_dir.h"
#include "queue/queue_recycle.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What startup needs to undo or report when it fails. */
typedef struct startup {
    int ready_fd;   /* -w: pipe to the waiting foreground process, else -1 */
    char *pid_path; /* set once this process holds the lock */
    int pid_fd;
} startup;

static void report_ready(startup *st, const char *text)
{
    if (st->ready_fd < 0)
        return;
    ssize_t w = write(st->ready_fd, text, strlen(text));
    (void)w;
    close(st->ready_fd);
    st->ready_fd = -1;
}

static void startup_fail(startup *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void startup_fail(startup *st, const char *fmt, ...)
{
    strbuf line;
    strbuf_init(&line, 0);
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&line, fmt, ap);
    va_end(ap);
    strbuf_append_char(&line, '\n');
    report_ready(st, line.data);
    if (st->pid_path)
        unlink(st->pid_path);
    strbuf_truncate(&line, line.len - 1);
    log_fatal("%s", line.data);
}

/* Says on stderr why the background master did not start (reason "" = it just exited). */
static int report_failure(pid_t child, const char *reason)
{
    if (reason[0] == '\0') {
        int status;
        waitpid(child, &status, WNOHANG);
        fprintf(stderr, "postern/master: fatal: the master process exited during startup; "
                        "see the mail log\n");
    } else {
        fprintf(stderr, "postern/master: fatal: %s\n", reason);
    }
    return 1;
}

/* -w: the foreground half waits for the background master to say "ok" or why not. */
static int wait_for_master(int fd, pid_t child)
{
    strbuf reply; /* "ok" or the reason, whole: a configuration error can quote long values */
    strbuf_init(&reply, 0);
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || strbuf_append(&reply, chunk, (size_t)n) < 0)
            break;
    }
    close(fd);
    int ok = strncmp(reply.data, "ok", 2) == 0;
    strbuf_truncate(&reply, strcspn(reply.data, "\n"));
    int rc = ok ? 0 : report_failure(child, reply.data);
    strbuf_free(&reply);
    return rc;
}

/* Forks; the parent waits and exits, the child continues as a session leader. */
static int detach_and_wait(startup *st)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "postern/master: fatal: pipe: %s\n", strerror(errno));
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "postern/master: fatal: fork: %s\n", strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        close(fds[1]);
        exit(wait_for_master(fds[0], pid));
    }
    close(fds[0]);
    st->ready_fd = fds[1];
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    log_set_stderr(0);
    return 0;
}

/* In the background, stderr (of the master and every daemon) goes to maillog_file when one is
 * set, so a sanitizer report or a crash message is not lost; otherwise it stays /dev/null. */
static unsigned maillog_mode(config *cfg)
{
    unsigned mode = 0600;
    log_file_mode(config_get(cfg, "maillog_file_permissions"), &mode); /* checked at start */
    return mode;
}

static void stderr_to_maillog(config *cfg)
{
    const char *path = config_get(cfg, "maillog_file");
    if (path[0] == '\0' || strncmp(path, "/dev/", 5) == 0)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, (mode_t)maillog_mode(cfg));
    if (fd < 0)
        return;
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Every daemon appends to maillog_file with one write per line, and the unprivileged ones run as
 * mail_owner: a root master makes the file theirs, as the queue is. The mode is
 * maillog_file_permissions (0600: the log shows every address, so no other user reads it;
 * 0640 lets the group read it, e.g. for a log analyser), also for a file that already exists. */
static void maillog_give_to_owner(config *cfg, uid_t owner, gid_t group)
{
    const char *path = config_get(cfg, "maillog_file");
    if (path[0] == '\0' || strncmp(path, "/dev/", 5) == 0)
        return;
    mode_t mode = (mode_t)maillog_mode(cfg);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        log_warning("open %s: %m", path);
        return;
    }
    if ((owner != (uid_t)-1 && fchown(fd, owner, group) < 0) || fchmod(fd, mode) < 0)
        log_warning("set owner and mode of %s: %m", path);
    close(fd);
}

static int lookup_owner(config *cfg, uid_t *uid, gid_t *gid, strbuf *err)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (geteuid() != 0)
        return 0; /* a normal user runs everything as itself */
    strbuf warning;
    strbuf_init(&warning, 0);
    int rc = mail_owner_ids(cfg, uid, gid, err, &warning);
    if (warning.len)
        log_warning("%s", warning.data);
    strbuf_free(&warning);
    return rc;
}

char *master_pid_path(config *cfg)
{
    strbuf path;
    strbuf_init(&path, 0);
    const char *piddir = config_get(cfg, "process_id_directory");
    if (piddir[0] == '/')
        strbuf_printf(&path, "%s/master.pid", piddir);
    else
        strbuf_printf(&path, "%s/%s/master.pid", config_get(cfg, "queue_directory"), piddir);
    return strbuf_detach(&path);
}

/* Locks and writes the pid file; fails when another master holds it. */
static void write_pid_file(master_state *m, startup *st)
{
    char *path = master_pid_path(m->cfg);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        startup_fail(st, "open lock file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            startup_fail(st, "the Postern mail system is already running");
        startup_fail(st, "lock file %s: %s", path, strerror(errno));
    }
    st->pid_fd = fd;
    st->pid_path = path;
    char text[32]; /* a pid has at most 19 digits */
    if (fixed_printf(text, sizeof(text), "%10ld\n", (long)getpid()) < 0 || ftruncate(fd, 0) < 0 ||
        pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text))
        startup_fail(st, "write lock file %s: %s", st->pid_path, strerror(errno));
}

static char *absolute_dir(const char *dir)
{
    char buf[PATH_MAX];
    if (realpath(dir, buf) == NULL)
        return xstrdup(dir);
    return xstrdup(buf);
}

/* Files a crash left half-written in incoming/ (a transaction in progress, never answered with
 * 250) would stay for good: no scanner opens an incomplete file. No daemon runs yet, so none
 * is being written; the grace only spares files of a dead master's children still exiting. */
static void purge_incomplete(master_state *m)
{
    int n = queue_incomplete_purge(m->queue_dir, "incoming", MASTER_INCOMPLETE_GRACE, time(NULL));
    if (n < 0)
        log_warning("cannot read %s/incoming: %s", m->queue_dir, strerror(errno));
    else if (n > 0)
        log_info("removed %d incomplete queue file%s older than %ds from incoming", n,
                 n == 1 ? "" : "s", MASTER_INCOMPLETE_GRACE);
}

static int block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Logs the fail-closed audit of a configuration (config_audit.h); non-zero when it refuses. */
static int audit_refuses(config *cfg, const master_cf *mcf)
{
    config_audit audit;
    config_audit_run(cfg, mcf, &audit);
    config_audit_log(&audit);
    int refused = audit.refusals > 0;
    config_audit_free(&audit);
    return refused;
}

static void reload(master_state *m)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(m->config_dir, &err);
    master_cf *mcf = NULL;
    master_service *services = NULL;
    if (cfg == NULL) {
        log_error("%s; keeping old configuration", err.data);
        goto done;
    }
    mcf = master_cf_load(cfg, &err);
    if (mcf == NULL) {
        log_error("%s; keeping old configuration", err.data);
        goto done;
    }
    if (audit_refuses(cfg, mcf)) {
        log_error("refusing the new configuration; keeping old configuration");
        goto done;
    }
    if (strcmp(config_get(cfg, "queue_directory"), m->queue_dir) != 0)
        log_warning("queue_directory changed: restart the mail system to use %s",
                    config_get(cfg, "queue_directory"));
    if (master_services_build(m, mcf, m->services, &services, &err) < 0) {
        log_error("%s; keeping old configuration", err.data);
        goto done;
    }
    /* Every process started before the reload finishes its work and exits; endpoints that
     * were not taken over close. */
    master_signal_children(m, NULL, SIGHUP);
    for (master_service *old = m->services; old;) {
        master_service *next = old->next;
        master_service_free(old, 1);
        old = next;
    }
    m->services = services;
    config_set_current(cfg);
    config_free(m->cfg);
    m->cfg = cfg;
    cfg = NULL;
    master_cf_free(m->mcf);
    m->mcf = mcf;
    mcf = NULL;
    log_configure();
    log_info("reload -- version %s, configuration %s", MASTER_VERSION_TEXT, m->config_dir);
    for (master_service *svc = m->services; svc; svc = svc->next)
        master_service_start(svc);
done:
    master_cf_free(mcf);
    config_free(cfg);
    strbuf_free(&err);
}

/* Stops every service and waits for the children (SIGKILL after the grace period). */
static void shutdown_children(master_state *m, int sig)
{
    m->stopping = 1;
    for (master_service *svc = m->services; svc; svc = svc->next)
        master_service_update_watch(svc);
    master_signal_children(m, NULL, sig);
    long long deadline = event_now_ms() + MASTER_STOP_GRACE_MS;
    while (m->children && event_now_ms() < deadline) {
        master_reap_children(m);
        if (m->children)
            usleep(20000);
    }
    if (m->children) {
        master_signal_children(m, NULL, SIGKILL);
        while (m->children) {
            master_reap_children(m);
            if (m->children)
                usleep(10000);
        }
    }
}

static void on_signal(event_loop *loop, int fd, unsigned events, void *ctx)
{
    (void)events;
    master_state *m = ctx;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            master_reap_children(m);
            break;
        case SIGHUP:
            reload(m);
            break;
        case SIGTERM:
        case SIGINT:
            log_info("terminating on signal %u", si.ssi_signo);
            shutdown_children(m, SIGTERM);
            event_loop_stop(loop);
            return;
        case SIGQUIT:
            log_info("aborting on signal %u", si.ssi_signo);
            shutdown_children(m, SIGKILL);
            event_loop_stop(loop);
            return;
        default:
            break;
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: master [-c config_dir] [-w] [-t]\n");
    exit(EX_USAGE);
}

/* -t: exit 0 when no master holds the lock, 1 when one does. */
static int test_running(const char *dir)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(dir, &err);
    strbuf_free(&err);
    if (cfg == NULL)
        return 0;
    char *path = master_pid_path(cfg);
    int running = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        running = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
        close(fd);
    }
    free(path);
    config_free(cfg);
    return running;
}

static void free_state(master_state *m)
{
    while (m->services) {
        master_service *next = m->services->next;
        master_service_free(m->services, 0);
        m->services = next;
    }
    while (m->children) {
        master_child *next = m->children->next;
        free(m->children);
        m->children = next;
    }
    master_cf_free(m->mcf);
    config_set_current(NULL);
    config_free(m->cfg);
    event_loop_free(m->loop);
    free(m->config_dir);
    free(m->queue_dir);
    free(m->daemon_dir);
}

int master_main(int argc, char **argv)
{
    const char *dir = NULL;
    int wait_mode = 0, test_mode = 0, opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "c:wtd")) != -1) {
        switch (opt) {
        case 'c':
            dir = optarg;
            break;
        case 'w':
            wait_mode = 1;
            break;
        case 't':
            test_mode = 1;
            break;
        case 'd':
            break; /* Postfix's "stay in the foreground": Postern's default */
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (test_mode)
        return test_running(dir);

    startup st = {.ready_fd = -1, .pid_fd = -1};
    master_state m = {0};
    m.config_dir = absolute_dir(config_choose_dir(dir));
    log_init("master");
    prctl(PR_SET_NAME, "master");
    umask(022);
    if (wait_mode)
        detach_and_wait(&st);

    strbuf err;
    strbuf_init(&err, 0);
    m.cfg = config_load(m.config_dir, &err);
    if (m.cfg == NULL)
        startup_fail(&st, "%s", err.data);
    config_set_current(m.cfg);
    log_configure();
    if (wait_mode)
        stderr_to_maillog(m.cfg);
    unsigned log_mode;
    if (log_file_mode(config_get(m.cfg, "maillog_file_permissions"), &log_mode) < 0)
        startup_fail(&st, "file %s: parameter maillog_file_permissions: bad value: %s "
                          "(want 0600 or 0640)",
                     config_main_cf(m.cfg), config_get(m.cfg, "maillog_file_permissions"));
    m.queue_dir = xstrdup(config_get(m.cfg, "queue_directory"));
    m.daemon_dir = xstrdup(config_get(m.cfg, "daemon_directory"));
    if (m.queue_dir[0] != '/')
        startup_fail(&st, "file %s: parameter queue_directory: value must be an absolute path: %s",
                     config_main_cf(m.cfg), m.queue_dir);
    if (mail_params_check(mail_params_current(), &err) < 0)
        startup_fail(&st, "file %s: %s", config_main_cf(m.cfg), err.data);
    uid_t owner;
    gid_t group;
    if (lookup_owner(m.cfg, &owner, &group, &err) < 0)
        startup_fail(&st, "%s", err.data);
    if (queue_dirs_create(m.queue_dir, owner, group, &err) < 0)
        startup_fail(&st, "%s", err.data);
    maillog_give_to_owner(m.cfg, owner, group);
    if (chdir(m.queue_dir) < 0)
        startup_fail(&st, "chdir %s: %s", m.queue_dir, strerror(errno));
    write_pid_file(&m, &st);
    /* No daemon runs yet: spares that smtpd processes had claimed before a crash go. */
    if (queue_recycle_purge(m.queue_dir) < 0)
        log_warning("cannot empty %s/%s: %s", m.queue_dir, QUEUE_RECYCLE_DIR, strerror(errno));
    purge_incomplete(&m);

    m.mcf = master_cf_load(m.cfg, &err);
    if (m.mcf == NULL)
        startup_fail(&st, "%s", err.data);
    config_audit audit;
    config_audit_run(m.cfg, m.mcf, &audit);
    config_audit_log(&audit);
    if (audit.refusals > 0)
        startup_fail(&st, "%s", config_audit_first_refusal(&audit));
    config_audit_free(&audit);

    int sigfd = block_signals();
    m.loop = event_loop_new();
    if (sigfd < 0 || m.loop == NULL)
        startup_fail(&st, "signalfd/epoll: %s", strerror(errno));
    event_add(m.loop, sigfd, EVENT_READ, on_signal, &m);
    if (master_services_build(&m, m.mcf, NULL, &m.services, &err) < 0)
        startup_fail(&st, "%s", err.data);
    log_info("daemon started -- version %s, configuration %s", MASTER_VERSION_TEXT, m.config_dir);
    for (master_service *svc = m.services; svc; svc = svc->next)
        master_service_start(svc);
    report_ready(&st, "ok\n");

    int rc = event_loop_run(m.loop) < 0 ? 1 : 0;
    if (rc != 0) {
        log_error("event loop: %s", strerror(errno));
        shutdown_children(&m, SIGTERM);
    }
    unlink(st.pid_path);
    free(st.pid_path);
    close(st.pid_fd);
    event_remove(m.loop, sigfd);
    close(sigfd);
    free_state(&m);
    strbuf_free(&err);
    return rc;
}

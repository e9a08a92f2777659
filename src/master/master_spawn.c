/*
 * master_spawn.c: the master's child processes: starting a daemon with its endpoint on fd 3 and
 * the status pipe on fd 4, busy/idle bookkeeping from master_status records, reaping, and the
 * log lines Postfix's master writes when a process fails (see master.h, mail_server.h).
 */
#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/mail_server.h"
#include "master/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_HIGH_FD 64 /* temporary home for the two descriptors while they move to 3 and 4 */

/* argv for a daemon: PROGRAM -c DIR -n NAME -t TYPE [-u] [-o n=v]... [-- args...] */
static char **build_argv(const master_service *svc)
{
    const master_cf_entry *e = svc->entry;
    size_t n = 8 + 2 * e->noverrides + 1 + e->nargs + 1;
    char **argv = xcalloc(n, sizeof(*argv));
    size_t i = 0;
    argv[i++] = xstrdup(e->program);
    argv[i++] = xstrdup("-c");
    argv[i++] = xstrdup(svc->master->config_dir);
    argv[i++] = xstrdup("-n");
    argv[i++] = xstrdup(e->name);
    argv[i++] = xstrdup("-t");
    argv[i++] = xstrdup(e->type_name);
    if (e->unpriv)
        argv[i++] = xstrdup("-u");
    for (size_t o = 0; o < e->noverrides; o++) {
        strbuf sb;
        strbuf_init(&sb, 0);
        strbuf_printf(&sb, "%s=%s", e->overrides[o].name, e->overrides[o].value);
        argv[i++] = xstrdup("-o");
        argv[i++] = strbuf_detach(&sb);
    }
    if (e->nargs > 0) {
        argv[i++] = xstrdup("--");
        for (size_t a = 0; a < e->nargs; a++)
            argv[i++] = xstrdup(e->args[a]);
    }
    argv[i] = NULL;
    return argv;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* In the child: restore signal defaults, put the endpoint on 3 and the status pipe on 4. */
static void child_setup(const master_service *svc, pid_t master_pid)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master_pid)
        _exit(0);
    int listen_fd = fcntl(svc->listen_fd, F_DUPFD, SPAWN_HIGH_FD);
    int status_fd = fcntl(svc->status_write, F_DUPFD, SPAWN_HIGH_FD);
    if (listen_fd < 0 || status_fd < 0 || dup2(listen_fd, MASTER_LISTEN_FD) < 0 ||
        dup2(status_fd, MASTER_STATUS_FD) < 0)
        _exit(126);
    close(listen_fd);
    close(status_fd);
    /* The master's descriptors are all close-on-exec; 3 and 4 are not after dup2. */
}

int master_spawn(master_service *svc)
{
    master_state *m = svc->master;
    char **argv = build_argv(svc);
    pid_t master_pid = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_warning("fork: %s", strerror(errno));
        free_argv(argv);
        master_service_throttle(svc, 1);
        return -1;
    }
    if (pid == 0) {
        child_setup(svc, master_pid);
        execv("/proc/self/exe", argv);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free_argv(argv);
    master_child *child = xcalloc(1, sizeof(*child));
    child->pid = pid;
    child->service = svc;
    child->idle = 1; /* a fresh process is available until it says it is busy */
    child->counted = 1;
    child->next = m->children;
    m->children = child;
    svc->nchildren++;
    svc->nidle++;
    svc->used = 1;
    master_service_update_watch(svc);
    return 0;
}

static master_child *find_child(master_state *m, pid_t pid)
{
    for (master_child *c = m->children; c; c = c->next)
        if (c->pid == pid)
            return c;
    return NULL;
}

static void apply_status(master_service *svc, const master_status *rec)
{
    master_child *c = find_child(svc->master, rec->pid);
    if (c == NULL || c->service != svc || c->retired)
        return; /* unknown or retired: its state does not matter */
    c->reported = 1;
    if (rec->status == MASTER_STATUS_BUSY && c->idle) {
        c->idle = 0;
        svc->nidle--;
    } else if (rec->status == MASTER_STATUS_IDLE && !c->idle) {
        c->idle = 1;
        svc->nidle++;
    }
}

void master_read_status(master_service *svc)
{
    for (;;) {
        ssize_t n = read(svc->status_read, svc->status_buf + svc->status_len,
                         sizeof(svc->status_buf) - svc->status_len);
        if (n <= 0)
            break; /* EAGAIN, or no writer (n == 0 cannot happen: the master holds one) */
        svc->status_len += (size_t)n;
        size_t off = 0;
        while (svc->status_len - off >= sizeof(master_status)) {
            master_status rec;
            memcpy(&rec, svc->status_buf + off, sizeof(rec));
            apply_status(svc, &rec);
            off += sizeof(rec);
        }
        memmove(svc->status_buf, svc->status_buf + off, svc->status_len - off);
        svc->status_len -= off;
    }
    master_service_update_watch(svc);
}

static void unlink_child(master_state *m, master_child *dead)
{
    for (master_child **pp = &m->children; *pp; pp = &(*pp)->next) {
        if (*pp == dead) {
            *pp = dead->next;
            return;
        }
    }
}

/* Takes c out of its service's counts; each count is undone only if it was made. */
static void detach(master_child *c)
{
    master_service *svc = c->service;
    if (svc == NULL)
        return;
    if (c->counted)
        svc->nchildren--;
    if (c->idle)
        svc->nidle--;
    c->counted = 0;
    c->idle = 0;
    c->service = NULL;
    /* Cannot happen; if it ever does, a negative count would stop the service for good (no
     * process is started while nidle != 0), so say so and repair rather than stall. */
    if (svc->nchildren < 0 || svc->nidle < 0) {
        log_error("service %s: process accounting error (processes %d, idle %d); reset to 0",
                  svc->label, svc->nchildren, svc->nidle);
        svc->nchildren = svc->nchildren < 0 ? 0 : svc->nchildren;
        svc->nidle = svc->nidle < 0 ? 0 : svc->nidle;
    }
}

void master_reap_children(master_state *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        master_child *c = find_child(m, pid);
        if (c == NULL)
            continue;
        unlink_child(m, c);
        master_service *svc = c->service;
        const char *program = svc ? svc->entry->program : "daemon";
        int failed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
        failed = failed && !c->signalled && !m->stopping;
        if (failed) {
            if (WIFSIGNALED(status))
                log_warning("process %s/%s pid %ld killed by signal %d", m->daemon_dir, program,
                            (long)pid, WTERMSIG(status));
            else
                log_warning("process %s/%s pid %ld exit status %d", m->daemon_dir, program,
                            (long)pid, WEXITSTATUS(status));
        }
        int at_startup = !c->reported;
        detach(c);
        free(c);
        if (svc)
            master_service_child_exited(svc, failed, at_startup);
    }
}

void master_signal_children(master_state *m, master_service *svc, int sig)
{
    for (master_child *c = m->children; c; c = c->next) {
        if (svc && c->service != svc)
            continue;
        c->signalled = 1;
        kill(c->pid, sig);
    }
}

void master_detach_children(master_state *m, master_service *svc)
{
    for (master_child *c = m->children; c; c = c->next)
        if (c->service == svc)
            detach(c);
}

void master_transfer_children(master_state *m, master_service *from, master_service *to)
{
    for (master_child *c = m->children; c; c = c->next) {
        if (c->service != from)
            continue;
        detach(c);
        c->service = to;
        c->retired = 1;
        c->counted = to->entry->type != MASTER_TYPE_INET;
        if (c->counted)
            to->nchildren++;
    }
}


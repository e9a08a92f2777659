/*
 * postfix.c: the postfix command, which starts, stops and checks the mail system.
 *
 *   postfix [-c config_dir] [-Dv] start|start-fg|stop|abort|reload|status|check
 *
 * start     validates main.cf and master.cf and runs "master -w": returns once every
 *           endpoint is open (exit 0), or prints why the master could not start (exit 1).
 * start-fg  runs the master in the foreground (for systemd and "make run").
 * stop      SIGTERM to the master, then waits until the master and its processes are gone
 *           (SIGKILL to the whole process group after STOP_WAIT_SECONDS).
 * abort     SIGQUIT to the master: processes are killed at once; waits like stop.
 * reload    validates the configuration, then SIGHUP to the master.
 * status    "the Postern mail system is running: PID: N" (exit 0) or "... is not running"
 *           (exit 1).
 * check     validates main.cf and master.cf, creates missing queue directories (as Postfix
 *           does) and reports ownership and permission problems; exit 1 on errors.
 * check, start and reload refuse a configuration that asks for something Postern does not do
 * (config_audit.h: "fatal: FILE, line N: NAME = VALUE: not implemented by Postern; refusing to
 * run without it"); reload then leaves the running master alone.
 * Messages go to stderr as "SYSLOG_NAME/postfix-script: text" and to the mail log, like
 * Postfix's postfix-script. Bad usage exits 64.
 */
#include "cmd/commands.h"
#include "global/mail_owner.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/config_audit.h"
#include "master/master.h"
#include "master/master_cf.h"
#include "queue/queue_dir.h"
#include "smtpd/smtpd_check.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_WAIT_SECONDS 30

enum { SAY_INFO, SAY_WARNING, SAY_ERROR, SAY_FATAL };

/* Prints "NAME/postfix-script: [level: ]text" on stderr and logs the same text. */
static void say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(int level, const char *fmt, ...)
{
    static const char *prefixes[] = {"", "warning: ", "error: ", "fatal: "};
    strbuf buf;
    strbuf_init(&buf, 0);
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&buf, fmt, ap);
    va_end(ap);
    const char *text = buf.data;
    const char *name = config_current() ? cfg_str("syslog_name") : "postern";
    fprintf(stderr, "%s/postfix-script: %s%s\n", name, prefixes[level], text);
    switch (level) {
    case SAY_INFO:
        log_info("%s", text);
        break;
    case SAY_WARNING:
        log_warning("%s", text);
        break;
    default:
        log_error("%s", text);
        break; /* a command's fatal is not the server's */
    }
    strbuf_free(&buf);
}

static void usage(void)
{
    fprintf(stderr, "usage: postfix [-c config_dir] [-Dv] "
                    "start|start-fg|stop|abort|reload|status|check\n");
    exit(EX_USAGE_CODE);
}

/* The running master's pid and an open descriptor on its pid file, or 0 when none runs. */
static pid_t running_master(config *cfg, int *fd_out)
{
    char *path = master_pid_path(cfg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
        close(fd);
        return 0;
    }
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    long pid = strtol(buf, NULL, 10);
    if (pid <= 1) {
        close(fd);
        return 0;
    }
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    return (pid_t)pid;
}

/* Compiles main.cf's smtpd restriction lists as smtpd will (the audit does this and each
 * service's -o overrides when master.cf loads): unknown and unimplemented restriction names are
 * fatal here, not at RCPT time. */
static int restrictions_valid(config *cfg)
{
    strbuf err;
    strbuf_init(&err, 0);
    int ok = smtpd_checker_validate(cfg, &err) == 0;
    if (!ok)
        say(SAY_FATAL, "%s", err.data);
    strbuf_free(&err);
    return ok;
}

/* Prints the fail-closed audit (config_audit.h): every refusal as fatal, warnings only when
 * asked (check; start and reload leave them to the master's log). Returns the refusal count. */
static size_t say_audit(config *cfg, const master_cf *mcf, int warnings)
{
    config_audit audit;
    config_audit_run(cfg, mcf, &audit);
    for (size_t i = 0; i < audit.count; i++) {
        if (audit.items[i].refused)
            say(SAY_FATAL, "%s", audit.items[i].text);
        else if (warnings)
            say(SAY_WARNING, "%s", audit.items[i].text);
    }
    size_t refusals = audit.refusals;
    config_audit_free(&audit);
    return refusals;
}

/* Loads master.cf to see that it is valid and audits the configuration; prints the errors. */
static int master_cf_valid(config *cfg)
{
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = master_cf_load(cfg, &err);
    int ok = mcf != NULL;
    if (mcf == NULL)
        say(SAY_FATAL, "%s", err.data);
    if (mcf == NULL)
        restrictions_valid(cfg);
    else
        ok = say_audit(cfg, mcf, 0) == 0;
    master_cf_free(mcf);
    strbuf_free(&err);
    return ok;
}

static int run_master(config *cfg, int background)
{
    const char *exe = "/proc/self/exe";
    char *argv[] = {"master", "-c", (char *)config_directory(cfg), background ? "-w" : NULL, NULL};
    if (!background) {
        fflush(NULL);
        execv(exe, argv);
        say(SAY_FATAL, "execute master: %s", strerror(errno));
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        say(SAY_FATAL, "fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execv(exe, argv);
        fprintf(stderr, "postfix: execute master: %s\n", strerror(errno));
        _exit(1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int cmd_start(config *cfg, int foreground)
{
    if (!master_cf_valid(cfg))
        return 1;
    if (running_master(cfg, NULL)) {
        say(SAY_FATAL, "the Postern mail system is already running");
        return 1;
    }
    say(SAY_INFO, "starting the Postern mail system");
    return run_master(cfg, !foreground);
}

/* Waits until the master's lock is free (it exits after its children). */
static int wait_for_exit(int fd, long seconds)
{
    struct timespec pause = {0, 50 * 1000 * 1000};
    for (long i = 0; i < seconds * 20; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        nanosleep(&pause, NULL);
    }
    return -1;
}

static int cmd_stop(config *cfg, int sig)
{
    int fd = -1;
    pid_t pid = running_master(cfg, &fd);
    if (pid == 0) {
        say(SAY_FATAL, "the Postern mail system is not running");
        return 1;
    }
    say(SAY_INFO,
        sig == SIGQUIT ? "aborting the Postern mail system" : "stopping the Postern mail system");
    if (kill(pid, sig) < 0) {
        say(SAY_FATAL, "cannot signal the master (pid %ld): %s", (long)pid, strerror(errno));
        close(fd);
        return 1;
    }
    if (wait_for_exit(fd, STOP_WAIT_SECONDS) < 0) {
        say(SAY_WARNING, "stopping the Postern mail system with force");
        kill(-pid, SIGKILL); /* the master leads its own process group */
        kill(pid, SIGKILL);
        wait_for_exit(fd, 5);
    }
    close(fd);
    return 0;
}

static int cmd_reload(config *cfg)
{
    if (!master_cf_valid(cfg))
        return 1;
    pid_t pid = running_master(cfg, NULL);
    if (pid == 0) {
        say(SAY_FATAL, "the Postern mail system is not running");
        return 1;
    }
    say(SAY_INFO, "refreshing the Postern mail system");
    if (kill(pid, SIGHUP) < 0) {
        say(SAY_FATAL, "cannot signal the master (pid %ld): %s", (long)pid, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_status(config *cfg)
{
    pid_t pid = running_master(cfg, NULL);
    if (pid == 0) {
        say(SAY_INFO, "the Postern mail system is not running");
        return 1;
    }
    say(SAY_INFO, "the Postern mail system is running: PID: %ld", (long)pid);
    return 0;
}

/* check: one queue directory's owner and mode. */
static int check_queue_subdir(const char *queue_dir, const char *name, uid_t owner)
{
    char path[4096]; /* queue_dir is at most QUEUE_DIR_MAX (mail_params_check) */
    struct stat st;
    if (fixed_printf(path, sizeof(path), "%s/%s", queue_dir, name) < 0) {
        say(SAY_ERROR, "queue directory %s/%s: %s", queue_dir, name, strerror(errno));
        return 1;
    }
    if (lstat(path, &st) < 0) {
        say(SAY_ERROR, "queue directory %s: %s", path, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        say(SAY_ERROR, "%s is not a directory", path);
        return 1;
    }
    if (owner != (uid_t)-1 && st.st_uid != owner)
        say(SAY_WARNING, "not owned by mail_owner (uid %ld): %s", (long)owner, path);
    mode_t group_ok = strcmp(name, "maildrop") == 0 ? S_IWGRP : 0;
    if (st.st_mode & S_IWOTH)
        say(SAY_WARNING, "world-writable directory: %s", path);
    else if ((st.st_mode & S_IWGRP) && !group_ok)
        say(SAY_WARNING, "group-writable directory: %s", path);
    return 0;
}

static int cmd_check(config *cfg)
{
    int errors = 0;
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = master_cf_load(cfg, &err);
    if (mcf == NULL) {
        say(SAY_ERROR, "%s", err.data);
        errors++;
        errors += restrictions_valid(cfg) ? 0 : 1;
    } else {
        errors += say_audit(cfg, mcf, 1) > 0;
        master_cf_free(mcf);
    }

    uid_t owner = (uid_t)-1;
    gid_t group = (gid_t)-1;
    if (geteuid() == 0) {
        strbuf warning;
        strbuf_init(&warning, 0);
        strbuf_reset(&err);
        if (mail_owner_ids(cfg, &owner, &group, &err, &warning) < 0) {
            say(SAY_ERROR, "%s", err.data);
            errors++;
        } else if (owner == 0) {
            say(SAY_WARNING, "mail_owner %s is the super-user: daemons keep root privileges",
                cfg_str("mail_owner"));
        }
        if (warning.len)
            say(SAY_WARNING, "%s", warning.data);
        strbuf_free(&warning);
    }

    const char *queue_dir = cfg_str("queue_directory");
    struct stat st;
    strbuf_reset(&err);
    if (mail_params_check(mail_params_current(), &err) < 0) {
        say(SAY_ERROR, "file %s: %s", config_main_cf(cfg), err.data);
        errors++;
    } else if (queue_dir[0] != '/') {
        say(SAY_ERROR, "parameter queue_directory: not an absolute path: %s", queue_dir);
        errors++;
    } else if (stat(queue_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        say(SAY_ERROR, "queue_directory %s is not a directory", queue_dir);
        errors++;
    } else {
        strbuf_reset(&err);
        if (queue_dirs_create(queue_dir, owner, group, &err) < 0) {
            say(SAY_ERROR, "%s", err.data);
            errors++;
        } else {
            if (stat(queue_dir, &st) == 0 && (st.st_mode & S_IWOTH))
                say(SAY_WARNING, "world-writable directory: %s", queue_dir);
            for (size_t i = 0; queue_names[i]; i++)
                errors += check_queue_subdir(queue_dir, queue_names[i], owner);
        }
    }
    strbuf_free(&err);
    return errors ? 1 : 0;
}

/* For stop, abort and status with a broken main.cf: defaults plus every line that looks like
 * "name = value", so the running master can still be found and stopped. */
static config *load_lenient(const char *dir)
{
    config *cfg = config_defaults(dir);
    strbuf err;
    strbuf_init(&err, 0);
    char *text = config_read_file(config_main_cf(cfg), CONFIG_MAX_FILE_SIZE, &err);
    strbuf_free(&err);
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) { /* whole lines: a long one is not split */
        char *eq = strchr(line, '=');
        if (line[0] == '#' || line[0] == ' ' || line[0] == '\t' || eq == NULL)
            continue;
        char *name = line, *value = eq + 1;
        char *end = eq;
        while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        value += strspn(value, " \t");
        value[strcspn(value, "\r\n")] = '\0';
        if (name[0] && strcspn(name, " \t") == strlen(name))
            config_override(cfg, name, value);
    }
    free(text);
    return cfg;
}

int postfix_main(int argc, char **argv)
{
    const char *dir = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt(argc, argv, "+c:Dv")) != -1) {
        switch (opt) {
        case 'c':
            dir = optarg;
            break;
        case 'D':
        case 'v':
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 1)
        usage();
    static const char *const known[] = {"start",  "start-fg", "stop",  "abort",
                                        "reload", "status",   "check", NULL};
    const char *what = argv[optind];
    int ok = 0;
    for (size_t i = 0; known[i]; i++)
        ok |= strcmp(known[i], what) == 0;
    if (!ok)
        usage();

    log_init("postfix-script");
    log_set_stderr(0); /* say() prints; the log gets the same text once */
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(dir, &err);
    int read_only =
        strcmp(what, "stop") == 0 || strcmp(what, "abort") == 0 || strcmp(what, "status") == 0;
    if (cfg == NULL && read_only) {
        say(SAY_WARNING, "%s", err.data);
        cfg = load_lenient(dir);
    } else if (cfg == NULL) {
        say(SAY_FATAL, "%s", err.data);
        strbuf_free(&err);
        return 1;
    }
    strbuf_free(&err);
    config_set_current(cfg);
    log_configure();

    int rc;
    if (strcmp(what, "start") == 0)
        rc = cmd_start(cfg, 0);
    else if (strcmp(what, "start-fg") == 0)
        rc = cmd_start(cfg, 1);
    else if (strcmp(what, "stop") == 0)
        rc = cmd_stop(cfg, SIGTERM);
    else if (strcmp(what, "abort") == 0)
        rc = cmd_stop(cfg, SIGQUIT);
    else if (strcmp(what, "reload") == 0)
        rc = cmd_reload(cfg);
    else if (strcmp(what, "status") == 0)
        rc = cmd_status(cfg);
    else
        rc = cmd_check(cfg);
    config_set_current(NULL);
    config_free(cfg);
    return rc;
}

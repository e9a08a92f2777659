/*
 * log.c: Postfix-format log lines to maillog_file or syslog (see log.h).
 */
#include "lib/log.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* A log line holds at most LOG_LINE_MAX bytes: longer text ends in LOG_CUT_MARK, never a
 * silent cut (syslog daemons cut long lines too; the start says what happened). */
#define LOG_LINE_MAX 4096
#define LOG_CUT_MARK "...(cut)"

enum { LEVEL_INFO, LEVEL_WARNING, LEVEL_ERROR, LEVEL_FATAL };

/* A service or job name ("smtpd", "cleanup") is one of Postern's program names, never input:
 * LOG_NAME_MAX bounds it, and log_info_as() keeps that much room after the ident's slash. */
#define LOG_NAME_MAX 64

/* Logging state: set once at start and on reload, like the configuration it mirrors. The texts
 * that come from the configuration live on the heap, so no value is ever cut. */
static struct {
    char service[LOG_NAME_MAX];
    char *ident;       /* syslog_name/service, with LOG_NAME_MAX bytes of room after the '/' */
    char *path;        /* maillog_file, NULL or "" = syslog */
    char *host;        /* myhostname up to its first dot; NULL = gethostname() */
    int to_stderr;
    int syslog_open;
    int fd;            /* maillog_file, kept open; -1 = closed */
    unsigned mode;     /* maillog_file_permissions for a file this process creates */
    time_t checked_at; /* when the path was last compared with the open file (rotation) */
} logstate = {.service = "postern", .to_stderr = -1, .fd = -1, .mode = 0600};

/* Replaces the ident with NAME/service; syslog keeps a pointer to the old one, so the caller
 * closes syslog first. */
static void set_ident(const char *name)
{
    size_t n = strlen(name);
    char *ident = xmalloc(n + 1 + LOG_NAME_MAX);
    memcpy(ident, name, n);
    ident[n] = '/';
    memcpy(ident + n + 1, logstate.service, strlen(logstate.service) + 1);
    free(logstate.ident);
    logstate.ident = ident;
}

void log_init(const char *service)
{
    if (fixed_copy(logstate.service, sizeof(logstate.service), service) < 0)
        memcpy(logstate.service, "postern", sizeof("postern")); /* not a program name */
    if (!logstate.syslog_open)
        set_ident("postern");
    if (logstate.to_stderr < 0)
        logstate.to_stderr = isatty(STDERR_FILENO);
}

void log_set_stderr(int on)
{
    logstate.to_stderr = on;
}

static int facility_code(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } table[] = {{"mail", LOG_MAIL},     {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
                 {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
                 {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
                 {"user", LOG_USER},     {"daemon", LOG_DAEMON}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].code;
    return LOG_MAIL;
}

int log_file_mode(const char *text, unsigned *mode)
{
    /* Only the owner writes, the owner reads, and the group may read: anything wider would
     * show every address to other local users. */
    if (strcmp(text, "0600") == 0 || strcmp(text, "600") == 0)
        *mode = 0600;
    else if (strcmp(text, "0640") == 0 || strcmp(text, "640") == 0)
        *mode = 0640;
    else
        return -1;
    return 0;
}

void log_configure(void)
{
    if (config_current() == NULL)
        return;
    if (logstate.syslog_open)
        closelog();
    logstate.syslog_open = 0;
    set_ident(cfg_str("syslog_name"));
    free(logstate.path);
    logstate.path = xstrdup(cfg_str("maillog_file"));
    if (log_file_mode(cfg_str("maillog_file_permissions"), &logstate.mode) < 0)
        logstate.mode = 0600; /* the master refuses to start with a bad value */
    free(logstate.host);
    /* syslog shows the short host name */
    logstate.host = xstrndup(cfg_str("myhostname"), strcspn(cfg_str("myhostname"), "."));
    if (logstate.fd >= 0)
        close(logstate.fd);
    logstate.fd = -1;
    if (logstate.path[0] == '\0') {
        openlog(logstate.ident, LOG_PID | LOG_NDELAY, facility_code(cfg_str("syslog_facility")));
        logstate.syslog_open = 1;
    }
}

size_t log_format_line(char *buf, size_t len, long when, const char *host, const char *ident,
                       const char *service, long pid, const char *prefix, const char *text)
{
    (void)service;
    time_t t = (time_t)when;
    struct tm tm;
    localtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
    int n = snprintf(buf, len, "%s %s %s[%ld]: %s%s\n", stamp, host, ident, pid, prefix, text);
    if (n < 0)
        return 0;
    if ((size_t)n >= len && len > sizeof(LOG_CUT_MARK)) { /* mark the cut, keep the newline */
        memcpy(buf + len - sizeof(LOG_CUT_MARK) - 1, LOG_CUT_MARK, sizeof(LOG_CUT_MARK) - 1);
        buf[len - 2] = '\n';
        buf[len - 1] = '\0';
        return len - 1;
    }
    return (size_t)n;
}

/* Returns the maillog descriptor, reopening it when the file was renamed or removed (rotated);
 * the path is compared at most once a second, so a busy process pays no stat() per line. */
static int maillog_fd(void)
{
    time_t now = time(NULL);
    if (logstate.fd >= 0 && now == logstate.checked_at)
        return logstate.fd;
    logstate.checked_at = now;
    if (logstate.fd >= 0) {
        struct stat open_st, path_st;
        if (fstat(logstate.fd, &open_st) == 0 && stat(logstate.path, &path_st) == 0 &&
            open_st.st_ino == path_st.st_ino && open_st.st_dev == path_st.st_dev)
            return logstate.fd;
        close(logstate.fd);
        logstate.fd = -1;
    }
    if (strcmp(logstate.path, "/dev/stdout") == 0)
        logstate.fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    else
        logstate.fd = open(logstate.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                           (mode_t)logstate.mode);
    return logstate.fd;
}

static void write_maillog(const char *prefix, const char *text)
{
    char line[LOG_LINE_MAX];
    if (logstate.host == NULL) {
        char host[HOST_NAME_MAX + 1] = "localhost";
        if (gethostname(host, sizeof(host)) != 0 || memchr(host, '\0', sizeof(host)) == NULL)
            memcpy(host, "localhost", sizeof("localhost"));
        logstate.host = xstrndup(host, strcspn(host, "."));
    }
    size_t n = log_format_line(line, sizeof(line), (long)time(NULL), logstate.host, logstate.ident,
                               logstate.service, (long)getpid(), prefix, text);
    int fd = maillog_fd();
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, n); /* O_APPEND: one write per line never interleaves */
    (void)w;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    static const char *prefixes[] = {"", "warning: ", "error: ", "fatal: "};
    static const int priorities[] = {LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT};
    int saved_errno = errno;
    char text[LOG_LINE_MAX];
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    if (n >= (int)sizeof(text)) /* a longer line is cut where everyone can see it */
        memcpy(text + sizeof(text) - sizeof(LOG_CUT_MARK), LOG_CUT_MARK, sizeof(LOG_CUT_MARK));
    for (char *p = text; *p; p++) /* one event, one line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (logstate.to_stderr > 0)
        fprintf(stderr, "%s: %s%s\n", logstate.service, prefixes[level], text);
    if (logstate.path && logstate.path[0])
        write_maillog(prefixes[level], text);
    else if (logstate.syslog_open)
        syslog(priorities[level], "%s%s", prefixes[level], text);
    errno = saved_errno;
}

#define LOG_FN(fn, level)                                                                          \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vmsg(level, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    }

LOG_FN(log_info, LEVEL_INFO)
LOG_FN(log_warning, LEVEL_WARNING)
LOG_FN(log_error, LEVEL_ERROR)

/* The program name of a log line follows Postfix's job names (docs/design.md): the job's
 * name replaces the last part of the ident for one line. syslog keeps a pointer to ident, so
 * changing the buffer in place serves both outputs. */
void log_info_as(const char *job, const char *fmt, ...)
{
    char saved[LOG_NAME_MAX];
    char *slash = logstate.ident ? strrchr(logstate.ident, '/') : NULL;
    int swap = slash && strlen(job) < LOG_NAME_MAX; /* set_ident() left that much room */
    if (swap) {
        memcpy(saved, slash + 1, strlen(slash + 1) + 1);
        memcpy(slash + 1, job, strlen(job) + 1);
    }
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LEVEL_INFO, fmt, ap);
    va_end(ap);
    if (swap)
        memcpy(slash + 1, saved, strlen(saved) + 1);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LEVEL_FATAL, fmt, ap);
    va_end(ap);
    exit(1);
}

void log_fatal_status(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LEVEL_FATAL, fmt, ap);
    va_end(ap);
    exit(status);
}

/*
 * log.h: Postfix-format logging.
 *
 * Lines look exactly like Postfix's so pflogsumm, fail2ban and logwatch read them unchanged:
 *   "Mon DD HH:MM:SS host SYSLOG_NAME/SERVICE[PID]: text"
 * with "warning: ", "error: ", "fatal: " or "panic: " before the text for those levels. Output goes
 * to maillog_file when it is set (appended with one write per line, so concurrent processes never
 * interleave), else to syslog with syslog_name and syslog_facility. Commands run from a terminal
 * also print "NAME: text" on stderr, as Postfix's do.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* service: "smtpd", "qmgr", "postconf", ... Safe to call before a configuration is loaded. */
void log_init(const char *service);
/* Re-reads syslog_name, syslog_facility and maillog_file from the current configuration. */
void log_configure(void);
/* maillog_file_permissions: "0600" (the default) or "0640" (group may read), as an octal
 * mode; 0 with *mode set, or -1 for any other value. */
int log_file_mode(const char *text, unsigned *mode);
/* Also print on stderr (commands) or not (daemons). Default: when stderr is a terminal. */
void log_set_stderr(int on);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An info line under another job's program name ("cleanup" when smtpd does cleanup's job), so
 * log tools that key on Postfix's program names see what they expect. */
void log_info_as(const char *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Logs a fatal error and exits with status (commands use sysexits codes: 64, 69, 75, 77 ...). */
void log_fatal_status(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void log_vmsg(int level, const char *fmt, va_list ap);

/* Formats a line as Postfix's maillog does; exposed for unit tests. */
size_t log_format_line(char *buf, size_t len, long when, const char *host, const char *ident,
                       const char *service, long pid, const char *prefix, const char *text);

#endif

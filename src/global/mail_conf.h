/*
 * mail_conf.h: the start of a mail command: main.cf loaded, made the current configuration, and
 * logging set up from it (syslog_name, maillog_file, ...).
 *
 * mail_conf_start() loads main.cf from dir (NULL: the default directory). When main.cf cannot be
 * loaded it logs the reason as fatal and exits with fail_status, as Postfix's commands do.
 */
#ifndef POSTERN_MAIL_CONF_H
#define POSTERN_MAIL_CONF_H

#include "lib/config.h"

config *mail_conf_start(const char *dir, int fail_status);

#endif

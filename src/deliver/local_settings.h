/*
 * local_settings.h: the main.cf parameters the local delivery agent uses per recipient, read and
 * typed once per configuration load (as global/mail_params.h and deliver/smtp_settings.h).
 *
 * local_settings_current() is re-read when the configuration object or its -o overrides change
 * (config_version); local_settings_check() is the agent's start-up check, naming the parameter.
 * Strings point into the configuration.
 */
#ifndef POSTERN_LOCAL_SETTINGS_H
#define POSTERN_LOCAL_SETTINGS_H

#include "lib/config.h"
#include "lib/strbuf.h"

typedef struct local_settings {
    const config *cfg;     /* the configuration these were read from */
    unsigned long version; /* config_version() then */
    const char *default_privs, *mailbox_command, *home_mailbox, *mail_spool_directory;
    const char *alias_maps, *allow_mail_to_files, *allow_mail_to_commands;
    int mailbox_lock_methods; /* mailbox_delivery_lock as MBOX_LOCK_* bits */
    long command_time_limit;
    int owner_request_special;
} local_settings;

const local_settings *local_settings_current(void);
/* Reads the settings of cfg into s (postfix check audits a configuration that is not current). */
void local_settings_load(local_settings *s, config *cfg);
/* 0, or -1 with "parameter NAME: ..." in err. */
int local_settings_check(const local_settings *s, strbuf *err);

#endif

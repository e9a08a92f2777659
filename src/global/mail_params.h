/*
 * mail_params.h: the main.cf parameters that library code of the mail programs uses (delivery
 * agents, qmgr, cleanup, bounce), read and typed once per configuration load.
 *
 * mail_params_current() returns the settings of the current configuration (config_set_current): they
 * are read the first time they are asked for after the configuration changed, so a reload that
 * installs a new configuration object gets new settings, and nothing deep in a library looks a
 * parameter up by its name at the point of use. Typed values were checked by config_load()
 * (a malformed value in main.cf is an error there, with file and line); mail_params_check()
 * adds the range checks Postern relies on, for daemons to refuse a bad configuration at start.
 * Strings point into the configuration and stay valid while it is current.
 */
#ifndef POSTERN_MAIL_PARAMS_H
#define POSTERN_MAIL_PARAMS_H

#include "lib/config.h"
#include "lib/strbuf.h"

typedef struct mail_params {
    const config *cfg;     /* the configuration these were read from */
    unsigned long version; /* config_version() then */
    const char *myhostname, *myorigin, *mydestination, *queue_directory, *recipient_delimiter;
    /* myorigin = /file (Debian's Postfix, /etc/mailname): myorigin points at the file's first
     * line, kept here; myorigin_errno says why it could not be read (mail_params_check). */
    const char *myorigin_setting; /* the value in main.cf */
    char myorigin_file[256];
    int myorigin_errno;
    const char *mail_name, *mail_owner, *inet_protocols;
    int soft_bounce, append_at_myorigin, always_add_missing_headers;
    const char *message_drop_headers; /* header names cleanup removes from every message */
    long hopcount_limit, header_size_limit;
    long long message_size_limit, mailbox_size_limit, bounce_size_limit;
    /* mailbox locking */
    long deliver_lock_attempts, deliver_lock_delay, stale_lock_time;
    /* queue manager */
    long maximal_queue_lifetime, minimal_backoff_time, maximal_backoff_time;
    long delay_warning_time, queue_run_delay, transport_retry_time, qmgr_ipc_timeout;
    long qmgr_message_active_limit, default_process_limit;
    /* address resolution and rewriting */
    const char *relayhost, *transport_maps, *defer_transports;
    const char *virtual_alias_maps, *propagate_unmatched_extensions;
    /* notifications */
    const char *notify_classes, *double_bounce_sender, *bounce_notice_recipient;
    const char *double_bounce_notice_recipient; /* 2bounce_notice_recipient */
    const char *delay_notice_recipient;
} mail_params;

const mail_params *mail_params_current(void);
/* Range checks; 0, or -1 with the offending parameter and value in err. */
int mail_params_check(const mail_params *p, strbuf *err);

#endif

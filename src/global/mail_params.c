/* mail_params.c: main.cf parameters typed once per configuration load (see mail_params.h). */
#include "global/mail_params.h"

#include "lib/fixed_str.h"
#include "lib/xalloc.h"
#include "queue/queue_dir.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The settings of the configuration that is current: part of the loaded configuration, the one
 * piece of process-wide state Postern keeps (docs/design.md, "Process-wide state"). */
static mail_params loaded;

/* myorigin = /path, as Debian's Postfix reads it (/etc/mailname): the first line of that
 * file, blanks trimmed. */
static void load_myorigin(mail_params *p, config *cfg)
{
    p->myorigin = p->myorigin_setting = config_get(cfg, "myorigin");
    p->myorigin_errno = 0;
    if (p->myorigin[0] != '/')
        return;
    FILE *f = fopen(p->myorigin, "re");
    char line[sizeof(p->myorigin_file) + 2];
    int got = f != NULL && fgets(line, sizeof(line), f) != NULL;
    int err = f == NULL ? errno : 0;
    if (f)
        fclose(f);
    if (!got) {
        p->myorigin_errno = err ? err : ENODATA;
        return;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *start = line + strspn(line, " \t");
    size_t n = strlen(start);
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        start[--n] = '\0';
    if (n == 0)
        p->myorigin_errno = ENODATA;
    else if (fixed_copy(p->myorigin_file, sizeof(p->myorigin_file), start) < 0)
        p->myorigin_errno = ENAMETOOLONG; /* a line of 256 bytes or more: no domain */
    else
        p->myorigin = p->myorigin_file;
}

static void load(mail_params *p, config *cfg)
{
    p->cfg = cfg;
    p->version = config_version(cfg);
    p->myhostname = config_get(cfg, "myhostname");
    load_myorigin(p, cfg);
    p->mydestination = config_get(cfg, "mydestination");
    p->queue_directory = config_get(cfg, "queue_directory");
    p->recipient_delimiter = config_get(cfg, "recipient_delimiter");
    p->mail_name = config_get(cfg, "mail_name");
    p->mail_owner = config_get(cfg, "mail_owner");
    p->inet_protocols = config_get(cfg, "inet_protocols");
    p->soft_bounce = config_get_bool(cfg, "soft_bounce");
    p->append_at_myorigin = config_get_bool(cfg, "append_at_myorigin");
    p->always_add_missing_headers = config_get_bool(cfg, "always_add_missing_headers");
    p->message_drop_headers = config_get(cfg, "message_drop_headers");
    p->hopcount_limit = config_get_int(cfg, "hopcount_limit");
    p->header_size_limit = config_get_int(cfg, "header_size_limit");
    p->message_size_limit = config_get_size(cfg, "message_size_limit");
    p->mailbox_size_limit = config_get_size(cfg, "mailbox_size_limit");
    p->bounce_size_limit = config_get_size(cfg, "bounce_size_limit");
    p->deliver_lock_attempts = config_get_int(cfg, "deliver_lock_attempts");
    p->deliver_lock_delay = config_get_time(cfg, "deliver_lock_delay");
    p->stale_lock_time = config_get_time(cfg, "stale_lock_time");
    p->maximal_queue_lifetime = config_get_time(cfg, "maximal_queue_lifetime");
    p->minimal_backoff_time = config_get_time(cfg, "minimal_backoff_time");
    p->maximal_backoff_time = config_get_time(cfg, "maximal_backoff_time");
    p->delay_warning_time = config_get_time(cfg, "delay_warning_time");
    p->queue_run_delay = config_get_time(cfg, "queue_run_delay");
    p->transport_retry_time = config_get_time(cfg, "transport_retry_time");
    p->qmgr_ipc_timeout = config_get_time(cfg, "qmgr_ipc_timeout");
    p->qmgr_message_active_limit = config_get_int(cfg, "qmgr_message_active_limit");
    p->default_process_limit = config_get_int(cfg, "default_process_limit");
    p->relayhost = config_get(cfg, "relayhost");
    p->transport_maps = config_get(cfg, "transport_maps");
    p->defer_transports = config_get(cfg, "defer_transports");
    p->virtual_alias_maps = config_get(cfg, "virtual_alias_maps");
    p->propagate_unmatched_extensions = config_get(cfg, "propagate_unmatched_extensions");
    p->notify_classes = config_get(cfg, "notify_classes");
    p->double_bounce_sender = config_get(cfg, "double_bounce_sender");
    p->bounce_notice_recipient = config_get(cfg, "bounce_notice_recipient");
    p->double_bounce_notice_recipient = config_get(cfg, "2bounce_notice_recipient");
    p->delay_notice_recipient = config_get(cfg, "delay_notice_recipient");
}

const mail_params *mail_params_current(void)
{
    config *cfg = config_current();
    if (loaded.cfg != cfg || loaded.version != config_version(cfg))
        load(&loaded, cfg);
    return &loaded;
}

/* A count that must be at least min. */
static int at_least(const char *name, long long value, long long min, strbuf *err)
{
    if (value >= min)
        return 0;
    strbuf_printf(err, "parameter %s: value %lld is below %lld", name, value, min);
    return -1;
}

/* inet_protocols: "all", or "ipv4" and/or "ipv6", as Postfix takes it. */
static int protocols_ok(const char *value, strbuf *err)
{
    char *copy = xstrdup(value);
    int words = 0, ok = 1;
    for (char *save = NULL, *w = strtok_r(copy, " \t,", &save); w && ok;
         w = strtok_r(NULL, " \t,", &save), words++)
        ok = strcmp(w, "all") == 0 || strcmp(w, "ipv4") == 0 || strcmp(w, "ipv6") == 0;
    free(copy);
    if (ok && words > 0)
        return 0;
    strbuf_printf(err, "parameter inet_protocols: bad value \"%s\" (want all, ipv4, ipv6)", value);
    return -1;
}

int mail_params_check(const mail_params *p, strbuf *err)
{
    if (p->myorigin_errno != 0) {
        strbuf_printf(err, "parameter myorigin: cannot take the domain from %s: %s",
                      p->myorigin_setting,
                      p->myorigin_errno == ENODATA        ? "its first line is empty"
                      : p->myorigin_errno == ENAMETOOLONG ? "its first line is longer than a domain"
                                                          : strerror(p->myorigin_errno));
        return -1;
    }
    if (protocols_ok(p->inet_protocols, err) < 0)
        return -1;
    if (strlen(p->queue_directory) > QUEUE_DIR_MAX) {
        strbuf_printf(err, "parameter queue_directory: longer than %d bytes", QUEUE_DIR_MAX);
        return -1;
    }
    return at_least("hopcount_limit", p->hopcount_limit, 1, err) < 0 ||
                   at_least("header_size_limit", p->header_size_limit, 1, err) < 0 ||
                   at_least("message_size_limit", p->message_size_limit, 0, err) < 0 ||
                   at_least("mailbox_size_limit", p->mailbox_size_limit, 0, err) < 0 ||
                   at_least("deliver_lock_attempts", p->deliver_lock_attempts, 0, err) < 0 ||
                   at_least("qmgr_message_active_limit", p->qmgr_message_active_limit, 1, err) <
                       0 ||
                   at_least("default_process_limit", p->default_process_limit, 1, err) < 0 ||
                   at_least("queue_run_delay", p->queue_run_delay, 1, err) < 0 ||
                   at_least("minimal_backoff_time", p->minimal_backoff_time, 1, err) < 0 ||
                   at_least("maximal_backoff_time", p->maximal_backoff_time, 1, err) < 0 ||
                   at_least("transport_retry_time", p->transport_retry_time, 1, err) < 0
               ? -1
               : 0;
}

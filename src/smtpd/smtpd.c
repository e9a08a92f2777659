/*
 * smtpd.c: the smtpd program: Postern's SMTP server (RFC 5321 ESMTP).
 *
 *   smtpd -c CONFIG_DIR -n SERVICE -t inet [-o name=value]...   (started by the master)
 *   smtpd -S [-c CONFIG_DIR]                                     (one session on stdin/stdout)
 *
 * Started by the master, one event-driven process serves every connection of its listener
 * (fd 3); see smtpd_io.c. With -S it runs a single session on stdin/stdout for
 * "sendmail -bs": the client is localhost[127.0.0.1] and the access restrictions are not
 * applied (as Postfix's stand-alone mode). Settings are read once at start; the master's
 * SIGHUP after a reload makes the process finish its sessions and exit, and the next one reads
 * the new configuration.
 *
 * Client host names are looked up before the greeting without blocking the event loop
 * (smtpd_peer.c, with forward confirmation as Postfix; smtpd_peername_lookup); 127.0.0.1
 * and ::1 are "localhost" without a lookup. Restriction lists are compiled here, once
 * (smtpd_check.h): a bad one is fatal before the first connection.
 */
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtpd/smtpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long positive_or(long long value, long long fallback)
{
    return value > 0 ? value : fallback;
}

static match_list *optional_net_list(const char *param)
{
    const char *value = cfg_str(param);
    if (*value == '\0')
        return NULL;
    strbuf err;
    strbuf_init(&err, 0);
    match_list *ml = net_list_open(value, &err);
    if (ml == NULL) /* postfix check refuses it first (smtpd_settings_check) */
        log_fatal("parameter %s: %s", param, err.data);
    strbuf_free(&err);
    return ml;
}

static void load_settings(smtpd_server *srv)
{
    srv->peername_lookup = cfg_bool("smtpd_peername_lookup");
    srv->dns_servers = xstrdup(cfg_str("smtpd_dns_resolver_address"));
    /* Lengths were checked with the restriction lists (smtpd_checker_validate): no cap here. */
    srv->myhostname = xstrdup(cfg_str("myhostname"));
    srv->banner = xstrdup(cfg_str("smtpd_banner"));
    srv->mail_name = xstrdup(cfg_str("mail_name"));
    srv->queue_directory = xstrdup(cfg_str("queue_directory"));
    long long line_limit = positive_or(cfg_int("line_length_limit"), 2048);
    srv->line_limit = (size_t)(line_limit < 512 ? 512 : line_limit > 1 << 20 ? 1 << 20 : line_limit);
    srv->message_size_limit = cfg_size("message_size_limit");
    if (srv->message_size_limit < 0)
        srv->message_size_limit = 0;
    srv->queue_minfree = cfg_size("queue_minfree");
    srv->recipient_limit = cfg_int("smtpd_recipient_limit");
    srv->timeout_ms = (long)positive_or(cfg_time("smtpd_timeout"), 300) * 1000;
    srv->soft_error_limit = cfg_int("smtpd_soft_error_limit");
    srv->hard_error_limit = cfg_int("smtpd_hard_error_limit");
    srv->error_sleep_ms = cfg_time("smtpd_error_sleep_time") * 1000;
    if (srv->error_sleep_ms < 0)
        srv->error_sleep_ms = 0;
    srv->connection_count_limit = cfg_int("smtpd_client_connection_count_limit");
    srv->disable_vrfy = cfg_bool("disable_vrfy_command");
    srv->helo_required = cfg_bool("smtpd_helo_required");
    srv->strict_rfc821 = cfg_bool("strict_rfc821_envelopes");
    srv->delay_reject = cfg_bool("smtpd_delay_reject");
    srv->soft_bounce = cfg_bool("soft_bounce");
    int mode = smtpd_bare_lf_mode_parse(cfg_str("smtpd_forbid_bare_newline"));
    if (mode < 0) /* postfix check refuses it first (smtpd_settings_check) */
        log_fatal("parameter smtpd_forbid_bare_newline: invalid value \"%s\"",
                  cfg_str("smtpd_forbid_bare_newline"));
    srv->bare_lf_mode = (smtpd_bare_lf_mode)mode;
    long code = cfg_int("smtpd_forbid_bare_newline_reject_code");
    srv->bare_lf_reject_code = code >= 400 && code <= 599 ? (int)code : 550;
    srv->bare_lf_exclusions = optional_net_list("smtpd_forbid_bare_newline_exclusions");
    srv->event_limit_exceptions = optional_net_list("smtpd_client_event_limit_exceptions");
    srv->connections_per_addr = strmap_new();
    local_addrs_collect(&srv->local);
}

static void free_settings(smtpd_server *srv)
{
    match_list_close(srv->bare_lf_exclusions);
    match_list_close(srv->event_limit_exceptions);
    strmap_free(srv->connections_per_addr, NULL);
    smtpd_checker_close(srv->checker);
    free(srv->dns_servers);
    free(srv->myhostname);
    free(srv->banner);
    free(srv->mail_name);
    free(srv->queue_directory);
    smtpd_tls_unload(srv);
    smtpd_sasl_unload(srv);
    local_addrs_free(&srv->local);
}

int smtpd_main(int argc, char **argv)
{
    int standalone = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-S") == 0)
            standalone = 1;
    mail_server ms;
    mail_server_init(&ms, "smtpd", argc, argv);
    if (!standalone && ms.listen_fd < 0)
        log_fatal("no listening socket on fd %d: smtpd is started by the master, or run "
                  "\"smtpd -S\" for one session on stdin/stdout",
                  MASTER_LISTEN_FD);
    smtpd_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.ms = standalone ? NULL : &ms;
    srv.standalone = standalone;
    load_settings(&srv);
    smtpd_tls_load(&srv);
    smtpd_sasl_load(&srv);
    if (!standalone) {
        strbuf err;
        strbuf_init(&err, 0);
        srv.checker = smtpd_checker_open(&srv.async_env, &err);
        if (srv.checker == NULL)
            log_fatal("%s", err.data);
        strbuf_free(&err);
    }
    int rc = standalone ? smtpd_io_run_standalone(&srv) : smtpd_io_run(&srv);
    free_settings(&srv);
    return rc;
}

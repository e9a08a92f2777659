/*
 * config_params.c: Postern's parameter table with Postfix's names and defaults.
 *
 * The table must stay sorted by name (param_table_check in the unit tests enforces it). Defaults
 * that differ from Postfix on purpose are listed in docs/parameters.md. Every name here is
 * IMPLEMENTED in param_class.def and the other way round (test_param_class checks it): a
 * parameter Postern does not honour is not listed here, so postconf -d never shows it.
 */
#include "lib/config_params.h"
#include "lib/config.h"
#include "lib/strbuf.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void compute_myhostname(struct config *cfg, strbuf *out)
{
    (void)cfg;
    char host[HOST_NAME_MAX + 1]; /* gethostname() never returns more than HOST_NAME_MAX */
    if (gethostname(host, sizeof(host)) != 0 || memchr(host, '\0', sizeof(host)) == NULL ||
        host[0] == '\0')
        memcpy(host, "localhost", sizeof("localhost"));
    strbuf_printf(out, "%s%s", host, strchr(host, '.') ? "" : ".localdomain");
}

static void compute_mydomain(struct config *cfg, strbuf *out)
{
    const char *host = config_get(cfg, "myhostname");
    const char *dot = host ? strchr(host, '.') : NULL;
    strbuf_append_str(out, dot && dot[1] ? dot + 1 : "localdomain");
}

/* Appends net to the space-separated list in out unless it is already there. */
static void append_net(strbuf *out, const char *net)
{
    for (const char *p = out->data; (p = strstr(p, net)) != NULL; p++) {
        size_t n = strlen(net);
        if ((p == out->data || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return;
    }
    strbuf_printf(out, "%s%s", out->len ? " " : "", net);
}

/* One IPv4 interface address as a network: the host (/32) or its subnet. */
static void append_if_net(strbuf *out, const struct ifaddrs *i, int subnet)
{
    struct in_addr a = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
    struct in_addr m = ((const struct sockaddr_in *)i->ifa_netmask)->sin_addr;
    if ((ntohl(a.s_addr) >> 24) == 127)
        return;
    int bits = subnet ? __builtin_popcount(m.s_addr) : 32;
    if (subnet)
        a.s_addr &= m.s_addr;
    char buf[INET_ADDRSTRLEN]; /* inet_ntop() fails rather than cut */
    if (inet_ntop(AF_INET, &a, buf, sizeof(buf)) == NULL)
        return;
    strbuf net;
    strbuf_init(&net, 0);
    strbuf_printf(&net, "%s/%d", buf, bits);
    append_net(out, net.data);
    strbuf_free(&net);
}

/* mynetworks from mynetworks_style: host = this machine's addresses, subnet = its subnets. */
static void compute_mynetworks(struct config *cfg, strbuf *out)
{
    const char *style = config_get(cfg, "mynetworks_style");
    int subnet = style && strcmp(style, "subnet") == 0;
    append_net(out, "127.0.0.0/8");
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
            if (i->ifa_addr && i->ifa_netmask && i->ifa_addr->sa_family == AF_INET)
                append_if_net(out, i, subnet);
        freeifaddrs(ifs);
    }
    append_net(out, "[::ffff:127.0.0.0]/104");
    append_net(out, "[::1]/128");
}

static void compute_config_directory(struct config *cfg, strbuf *out)
{
    strbuf_append_str(out, config_directory(cfg));
}

#define S(n, d) {n, d, PARAM_STR, 0, NULL}
#define R(n, d) {n, d, PARAM_RAW, 0, NULL}
#define I(n, d) {n, d, PARAM_INT, 0, NULL}
#define B(n, d) {n, d, PARAM_BOOL, 0, NULL}
#define T(n, d, u) {n, d, PARAM_TIME, u, NULL}
#define Z(n, d) {n, d, PARAM_SIZE, 0, NULL}
#define C(n, f) {n, NULL, PARAM_STR, 0, f}

static const param_def params[] = {
    S("2bounce_notice_recipient", "postmaster"),
    I("access_map_defer_code", "450"),
    I("access_map_reject_code", "554"),
    S("alias_database", "hash:/etc/aliases"),
    S("alias_maps", "hash:/etc/aliases"),
    S("allow_mail_to_commands", "alias, forward"),
    S("allow_mail_to_files", "alias, forward"),
    B("allow_percent_hack", "no"), /* Postfix: yes; Postern does not rewrite user%domain@local */
    S("alternate_config_directories", ""),
    B("always_add_missing_headers", "no"),
    T("anvil_rate_time_unit", "60s", 's'),
    B("append_at_myorigin", "yes"),
    B("append_dot_mydomain", "no"),
    S("authorized_flush_users", "static:anyone"),
    S("authorized_mailq_users", "static:anyone"),
    S("authorized_submit_users", "static:anyone"),
    S("bounce_notice_recipient", "postmaster"),
    T("bounce_queue_lifetime", "5d", 'd'),
    Z("bounce_size_limit", "50000"),
    B("broken_sasl_auth_clients", "no"),
    S("command_directory", "/usr/sbin"),
    T("command_time_limit", "1000s", 's'),
    C("config_directory", compute_config_directory),
    S("daemon_directory", "/usr/libexec/postern"),
    T("daemon_timeout", "18000s", 's'),
    S("data_directory", "/var/lib/postern"),
    S("default_database_type", "hash"),
    I("default_destination_concurrency_limit", "20"),
    I("default_destination_recipient_limit", "50"),
    S("default_privs", "nobody"),
    I("default_process_limit", "100"),
    S("default_transport", "smtp"),
    I("defer_code", "450"),
    S("defer_transports", ""),
    S("delay_notice_recipient", "postmaster"),
    T("delay_warning_time", "0h", 'h'),
    I("deliver_lock_attempts", "20"),
    T("deliver_lock_delay", "1s", 's'),
    B("disable_mime_output_conversion", "no"),
    B("disable_vrfy_command", "no"),
    S("double_bounce_sender", "double-bounce"),
    S("empty_address_recipient", "MAILER-DAEMON"),
    B("enable_long_queue_ids", "no"),
    S("error_notice_recipient", "postmaster"),
    I("hash_queue_depth", "1"),
    S("hash_queue_names", "deferred, defer"),
    Z("header_size_limit", "102400"),
    S("home_mailbox", ""),
    I("hopcount_limit", "50"),
    S("import_environment",
      "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE "
      "POSTLOG_HOSTNAME"),
    S("inet_interfaces", "all"),
    S("inet_protocols", "all"),
    I("initial_destination_concurrency", "5"),
    I("invalid_hostname_reject_code", "501"),
    T("ipc_timeout", "3600s", 's'),
    I("line_length_limit", "2048"),
    B("lmtp_enforce_tls", "no"),
    S("lmtp_lhlo_name", "$myhostname"),
    B("lmtp_sasl_auth_enable", "no"),
    B("lmtp_sasl_auth_soft_bounce", "yes"),
    S("lmtp_sasl_mechanism_filter", ""),
    S("lmtp_sasl_password_maps", ""),
    S("lmtp_sasl_security_options", "noplaintext, noanonymous"),
    S("lmtp_sasl_tls_security_options", "$lmtp_sasl_security_options"),
    S("lmtp_sasl_tls_verified_security_options", "$lmtp_sasl_tls_security_options"),
    B("lmtp_sender_dependent_authentication", "no"),
    T("lmtp_starttls_timeout", "300s", 's'),
    S("lmtp_tls_CAfile", ""),
    S("lmtp_tls_CApath", ""),
    S("lmtp_tls_cert_file", ""),
    S("lmtp_tls_ciphers", "medium"),
    B("lmtp_tls_connection_reuse", "no"),
    B("lmtp_tls_enforce_peername", "yes"),
    S("lmtp_tls_exclude_ciphers", ""),
    S("lmtp_tls_fingerprint_cert_match", ""),
    S("lmtp_tls_fingerprint_digest", "sha256"),
    S("lmtp_tls_key_file", "$lmtp_tls_cert_file"),
    I("lmtp_tls_loglevel", "0"),
    S("lmtp_tls_mandatory_ciphers", "medium"),
    S("lmtp_tls_mandatory_exclude_ciphers", ""),
    S("lmtp_tls_mandatory_protocols", ">=TLSv1"),
    S("lmtp_tls_policy_maps", ""),
    S("lmtp_tls_protocols", ">=TLSv1"),
    I("lmtp_tls_scert_verifydepth", "9"),
    S("lmtp_tls_secure_cert_match", "nexthop"),
    S("lmtp_tls_security_level", ""),
    S("lmtp_tls_servername", ""),
    S("lmtp_tls_session_cache_database", ""),
    T("lmtp_tls_session_cache_timeout", "3600s", 's'),
    S("lmtp_tls_trust_anchor_file", ""),
    S("lmtp_tls_verify_cert_match", "hostname"),
    B("lmtp_tls_wrappermode", "no"),
    B("lmtp_use_tls", "no"),
    I("local_destination_concurrency_limit", "2"),
    I("local_destination_recipient_limit", "1"),
    S("local_recipient_maps", "unix:passwd.byname $alias_maps"),
    S("local_transport", "local:$myhostname"),
    S("mail_name", "Postern"),
    S("mail_owner", "postfix"),
    S("mail_spool_directory", "/var/mail"),
    S("mail_version", "0.1.0"),
    R("mailbox_command", ""),
    S("mailbox_delivery_lock", "fcntl, dotlock"),
    Z("mailbox_size_limit", "51200000"),
    S("maillog_file", ""),
    S("maillog_file_permissions", "0600"),
    I("maps_rbl_reject_code", "554"),
    T("max_idle", "100s", 's'),
    I("max_use", "100"),
    T("maximal_backoff_time", "4000s", 's'),
    T("maximal_queue_lifetime", "5d", 'd'),
    S("message_drop_headers", "bcc, content-length, resent-bcc, return-path"),
    Z("message_size_limit", "10240000"),
    T("minimal_backoff_time", "300s", 's'),
    S("mydestination", "$myhostname, localhost.$mydomain, localhost"),
    C("mydomain", compute_mydomain),
    C("myhostname", compute_myhostname),
    C("mynetworks", compute_mynetworks),
    S("mynetworks_style", "host"),
    S("myorigin", "$myhostname"),
    I("non_fqdn_reject_code", "504"),
    S("notify_classes", "resource, software"),
    B("owner_request_special", "yes"),
    T("postern_sasl_failure_delay", "1s", 's'),
    S("postern_unimplemented_action", "refuse"),
    S("process_id_directory", "pid"),
    S("propagate_unmatched_extensions", "canonical, virtual"),
    T("qmgr_ipc_timeout", "60s", 's'),
    I("qmgr_message_active_limit", "20000"),
    S("queue_directory", "/var/spool/postern"),
    Z("queue_minfree", "0"),
    T("queue_run_delay", "300s", 's'),
    S("recipient_delimiter", ""),
    I("reject_code", "554"),
    S("relay_clientcerts", ""),
    S("relay_domains", ""),
    I("relay_domains_reject_code", "554"),
    S("relay_transport", "relay"),
    S("relayhost", ""),
    T("service_throttle_time", "60s", 's'),
    S("setgid_group", "postdrop"),
    T("smtp_connect_timeout", "30s", 's'),
    B("smtp_connection_cache_on_demand", "yes"),
    T("smtp_connection_reuse_time_limit", "300s", 's'),
    T("smtp_data_done_timeout", "600s", 's'),
    T("smtp_data_init_timeout", "120s", 's'),
    T("smtp_data_xfer_timeout", "180s", 's'),
    S("smtp_destination_concurrency_limit", "$default_destination_concurrency_limit"),
    S("smtp_destination_recipient_limit", "$default_destination_recipient_limit"),
    S("smtp_dns_resolver_address", ""),
    S("smtp_dns_support_level", ""),
    B("smtp_enforce_tls", "no"),
    S("smtp_helo_name", "$myhostname"),
    T("smtp_helo_timeout", "300s", 's'),
    I("smtp_line_length_limit", "998"),
    T("smtp_mail_timeout", "300s", 's'),
    I("smtp_mx_address_limit", "5"),
    I("smtp_mx_session_limit", "2"),
    T("smtp_quit_timeout", "300s", 's'),
    T("smtp_rcpt_timeout", "300s", 's'),
    T("smtp_rset_timeout", "20s", 's'),
    B("smtp_sasl_auth_enable", "no"),
    B("smtp_sasl_auth_soft_bounce", "yes"),
    S("smtp_sasl_mechanism_filter", ""),
    S("smtp_sasl_password_maps", ""),
    S("smtp_sasl_security_options", "noplaintext, noanonymous"),
    S("smtp_sasl_tls_security_options", "$smtp_sasl_security_options"),
    S("smtp_sasl_tls_verified_security_options", "$smtp_sasl_tls_security_options"),
    B("smtp_sender_dependent_authentication", "no"),
    B("smtp_skip_5xx_greeting", "yes"),
    T("smtp_starttls_timeout", "300s", 's'),
    S("smtp_tls_CAfile", ""),
    S("smtp_tls_CApath", ""),
    S("smtp_tls_cert_file", ""),
    S("smtp_tls_ciphers", "medium"),
    B("smtp_tls_connection_reuse", "no"),
    S("smtp_tls_dane_insecure_mx_policy", ""),
    B("smtp_tls_enforce_peername", "yes"),
    S("smtp_tls_exclude_ciphers", ""),
    S("smtp_tls_fingerprint_cert_match", ""),
    S("smtp_tls_fingerprint_digest", "sha256"),
    S("smtp_tls_key_file", "$smtp_tls_cert_file"),
    I("smtp_tls_loglevel", "0"),
    S("smtp_tls_mandatory_ciphers", "medium"),
    S("smtp_tls_mandatory_exclude_ciphers", ""),
    S("smtp_tls_mandatory_protocols", ">=TLSv1"),
    S("smtp_tls_policy_maps", ""),
    S("smtp_tls_protocols", ">=TLSv1"),
    I("smtp_tls_scert_verifydepth", "9"),
    S("smtp_tls_secure_cert_match", "nexthop, dot-nexthop"),
    S("smtp_tls_security_level", ""),
    S("smtp_tls_servername", ""),
    S("smtp_tls_session_cache_database", ""),
    T("smtp_tls_session_cache_timeout", "3600s", 's'),
    S("smtp_tls_trust_anchor_file", ""),
    S("smtp_tls_verify_cert_match", "hostname"),
    B("smtp_tls_wrappermode", "no"),
    B("smtp_use_tls", "no"),
    S("smtpd_banner", "$myhostname ESMTP $mail_name"),
    I("smtpd_client_auth_rate_limit", "0"),
    I("smtpd_client_connection_count_limit", "50"),
    S("smtpd_client_event_limit_exceptions", "${smtpd_client_connection_limit_exceptions:$mynetworks}"),
    S("smtpd_client_restrictions", ""),
    S("smtpd_data_restrictions", ""),
    B("smtpd_delay_reject", "yes"),
    S("smtpd_dns_resolver_address", ""),
    B("smtpd_enforce_tls", "no"),
    T("smtpd_error_sleep_time", "1s", 's'),
    S("smtpd_forbid_bare_newline", "normalize"),
    S("smtpd_forbid_bare_newline_exclusions", "$mynetworks"),
    I("smtpd_forbid_bare_newline_reject_code", "550"),
    I("smtpd_hard_error_limit", "20"),
    B("smtpd_helo_required", "no"),
    S("smtpd_helo_restrictions", ""),
    S("smtpd_null_access_lookup_key", "<>"),
    B("smtpd_peername_lookup", "yes"),
    S("smtpd_policy_service_default_action", "451 4.3.5 Server configuration problem"),
    T("smtpd_policy_service_max_idle", "300s", 's'),
    T("smtpd_policy_service_max_ttl", "1000s", 's'),
    S("smtpd_policy_service_policy_context", ""),
    I("smtpd_policy_service_request_limit", "0"),
    T("smtpd_policy_service_timeout", "100s", 's'),
    I("smtpd_policy_service_try_limit", "2"),
    I("smtpd_recipient_limit", "1000"),
    S("smtpd_recipient_restrictions", ""),
    B("smtpd_reject_unlisted_recipient", "yes"),
    B("smtpd_reject_unlisted_sender", "no"),
    S("smtpd_relay_restrictions",
      "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"),
    S("smtpd_restriction_classes", ""),
    B("smtpd_sasl_auth_enable", "no"),
    B("smtpd_sasl_authenticated_header", "no"),
    S("smtpd_sasl_exceptions_networks", ""),
    S("smtpd_sasl_local_domain", ""),
    S("smtpd_sasl_password_maps", ""),
    S("smtpd_sasl_path", "smtpd"),
    S("smtpd_sasl_security_options", "noanonymous"),
    S("smtpd_sasl_service", "smtp"),
    S("smtpd_sasl_tls_security_options", "$smtpd_sasl_security_options"),
    S("smtpd_sasl_type", "postern"),
    S("smtpd_sender_login_maps", ""),
    S("smtpd_sender_restrictions", ""),
    I("smtpd_soft_error_limit", "10"),
    T("smtpd_starttls_timeout", "300s", 's'),
    T("smtpd_timeout", "300s", 's'),
    S("smtpd_tls_CAfile", ""),
    S("smtpd_tls_CApath", ""),
    B("smtpd_tls_ask_ccert", "no"),
    B("smtpd_tls_auth_only", "no"),
    S("smtpd_tls_cert_file", ""),
    S("smtpd_tls_chain_files", ""),
    S("smtpd_tls_ciphers", "medium"),
    S("smtpd_tls_dcert_file", ""),
    S("smtpd_tls_dh1024_param_file", ""),
    S("smtpd_tls_dkey_file", "$smtpd_tls_dcert_file"),
    S("smtpd_tls_eccert_file", ""),
    S("smtpd_tls_eckey_file", "$smtpd_tls_eccert_file"),
    S("smtpd_tls_exclude_ciphers", ""),
    S("smtpd_tls_key_file", "$smtpd_tls_cert_file"),
    I("smtpd_tls_loglevel", "0"),
    S("smtpd_tls_mandatory_ciphers", "medium"),
    S("smtpd_tls_mandatory_exclude_ciphers", ""),
    S("smtpd_tls_mandatory_protocols", ">=TLSv1"),
    S("smtpd_tls_protocols", ">=TLSv1"),
    B("smtpd_tls_received_header", "no"),
    S("smtpd_tls_security_level", ""),
    T("smtpd_tls_session_cache_timeout", "3600s", 's'),
    B("smtpd_tls_wrappermode", "no"),
    B("smtpd_use_tls", "no"),
    B("soft_bounce", "no"),
    T("stale_lock_time", "500s", 's'),
    B("strict_rfc821_envelopes", "no"),
    S("syslog_facility", "mail"),
    S("syslog_name", "postern"),
    S("tls_export_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH"),
    S("tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH"),
    S("tls_low_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH"),
    S("tls_medium_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH"),
    S("tls_null_cipherlist", "eNULL:!aNULL"),
    S("tls_server_sni_maps", ""),
    S("transport_maps", ""),
    T("transport_retry_time", "60s", 's'),
    T("trigger_timeout", "10s", 's'),
    I("unknown_address_reject_code", "450"),
    I("unknown_client_reject_code", "450"),
    I("unknown_hostname_reject_code", "450"),
    I("unknown_local_recipient_reject_code", "550"),
    I("unknown_virtual_alias_reject_code", "550"),
    I("unknown_virtual_mailbox_reject_code", "550"),
    S("virtual_alias_domains", "$virtual_alias_maps"),
    I("virtual_alias_expansion_limit", "1000"),
    S("virtual_alias_maps", ""),
    I("virtual_alias_recursion_limit", "1000"),
    S("virtual_gid_maps", ""),
    S("virtual_mailbox_base", ""),
    S("virtual_mailbox_domains", "$virtual_mailbox_maps"),
    Z("virtual_mailbox_limit", "51200000"),
    S("virtual_mailbox_lock", "fcntl, dotlock"),
    S("virtual_mailbox_maps", ""),
    I("virtual_minimum_uid", "100"),
    S("virtual_transport", "virtual"),
    S("virtual_uid_maps", ""),
};

static int compare_name(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const param_def *)elem)->name);
}

const param_def *param_lookup(const char *name)
{
    return bsearch(name, params, sizeof(params) / sizeof(params[0]), sizeof(params[0]),
                   compare_name);
}

const param_def *param_table(size_t *count)
{
    *count = sizeof(params) / sizeof(params[0]);
    return params;
}

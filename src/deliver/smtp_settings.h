/*
 * smtp_settings.h: the main.cf parameters the smtp/lmtp delivery agent uses per session and per
 * message, read and typed once per configuration load (as global/mail_params.h does for the
 * mail programs' library code).
 *
 * smtp_settings_current() returns the settings of the current configuration; they are read
 * again when the configuration object or its -o overrides change (config_version), so a
 * master.cf "-o smtp_helo_timeout=..." applies. smtp_settings_check() is the agent's start-up
 * check: a value Postern cannot work with is refused there, naming the parameter, instead of
 * being met in the middle of a delivery. Strings point into the configuration.
 * Parameters read once when the agent starts (TLS, SASL, wrapper mode) stay with the modules
 * that set those up.
 */
#ifndef POSTERN_SMTP_SETTINGS_H
#define POSTERN_SMTP_SETTINGS_H

#include "lib/config.h"
#include "lib/strbuf.h"

typedef struct smtp_settings {
    const config *cfg;     /* the configuration these were read from */
    unsigned long version; /* config_version() then */
    const char *myhostname, *helo_name, *lhlo_name;
    long connect_timeout, helo_timeout, mail_timeout, rcpt_timeout, data_init_timeout;
    long data_xfer_timeout, data_done_timeout, rset_timeout, quit_timeout;
    long line_length_limit;      /* line_length_limit: longest reply line read */
    long smtp_line_length_limit; /* smtp_line_length_limit: longest line sent */
    int skip_5xx_greeting, disable_mime_output_conversion, connection_cache_on_demand;
    long connection_reuse_time_limit, mx_session_limit, mx_address_limit;
    int want_v4, want_v6;             /* inet_protocols */
    const char *dns_resolver_address; /* smtp_dns_resolver_address */
    const char *dns_support_level;    /* smtp_dns_support_level */
    int dnssec;                       /* smtp_dns_support_level = dnssec */
    const char *dane_insecure_mx_policy;
} smtp_settings;

const smtp_settings *smtp_settings_current(void);
/* Reads the settings of cfg into s (postfix check audits a configuration that is not current). */
void smtp_settings_load(smtp_settings *s, config *cfg);
/* 0, or -1 with "parameter NAME: ..." in err. */
int smtp_settings_check(const smtp_settings *s, strbuf *err);
/* Everything the smtp (or, with lmtp, the lmtp) agent checks when it starts, on cfg: the typed
 * settings, the TLS engine (levels, protocols, ciphers, policy tables, certificates, trust
 * anchors) and the SASL client (password tables), for postfix check/start/reload. 0, or -1
 * with the reason in err. */
int smtp_agent_check(config *cfg, int lmtp, strbuf *err);

#endif

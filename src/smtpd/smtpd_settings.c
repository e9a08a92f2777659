/*
 * smtpd_settings.c: smtpd's start-up settings checked without starting smtpd (see
 * smtpd_settings.h).
 */
#include "smtpd/smtpd_settings.h"
#include "global/mail_params.h"
#include "maps/match_list.h"
#include "smtpd/smtpd_data.h"
#include "smtpd/smtpd_sasl.h"
#include "smtpd/smtpd_tls.h"
#include "tls/tls_server.h"

#include <string.h>

/* A whole number of at least min (config_load checked that it is a number). */
static int at_least(config *cfg, const char *name, long min, strbuf *err)
{
    long v = config_get_int(cfg, name);
    if (v >= min)
        return 0;
    strbuf_printf(err, "parameter %s: value %ld is below %ld", name, v, min);
    return -1;
}

static int net_list_ok(config *cfg, const char *name, strbuf *err)
{
    const char *value = config_get(cfg, name);
    if (value[0] == '\0')
        return 0;
    strbuf why;
    strbuf_init(&why, 0);
    match_list *ml = net_list_open(value, &why);
    if (ml == NULL)
        strbuf_printf(err, "parameter %s: %s", name, why.data);
    match_list_close(ml);
    strbuf_free(&why);
    return ml ? 0 : -1;
}

static int bare_newline_ok(config *cfg, strbuf *err)
{
    const char *mode = config_get(cfg, "smtpd_forbid_bare_newline");
    if (smtpd_bare_lf_mode_parse(mode) < 0) {
        strbuf_printf(err, "parameter smtpd_forbid_bare_newline: invalid value \"%s\"", mode);
        return -1;
    }
    long code = config_get_int(cfg, "smtpd_forbid_bare_newline_reject_code");
    if (code < 400 || code > 599) {
        strbuf_printf(err,
                      "parameter smtpd_forbid_bare_newline_reject_code: %ld is not a 4XX or 5XX "
                      "reply code",
                      code);
        return -1;
    }
    return net_list_ok(cfg, "smtpd_forbid_bare_newline_exclusions", err);
}

static int sasl_ok(config *cfg, strbuf *err)
{
    if (!config_get_bool(cfg, "smtpd_sasl_auth_enable"))
        return 0;
    const char *type = config_get(cfg, "smtpd_sasl_type");
    if (strcmp(type, "postern") != 0 && strcmp(type, "dovecot") != 0) {
        strbuf_printf(
            err, "parameter smtpd_sasl_type: %s is not supported (use postern or dovecot)", type);
        return -1;
    }
    static const char *const options[] = {"smtpd_sasl_security_options",
                                          "smtpd_sasl_tls_security_options"};
    for (size_t i = 0; i < 2; i++) {
        int plaintext_ok;
        if (smtpd_sasl_options_parse(options[i], config_get(cfg, options[i]), &plaintext_ok, err) <
            0)
            return -1;
    }
    const char *delay = config_get(cfg, "postern_sasl_failure_delay");
    if (config_parse_time(delay, 's') < 0) {
        strbuf_printf(err, "parameter postern_sasl_failure_delay: bad time value \"%s\"", delay);
        return -1;
    }
    return net_list_ok(cfg, "smtpd_sasl_exceptions_networks", err);
}

/* The certificates and TLS policy, loaded as smtpd will load them. tls_server_open() reads
 * settings through the current configuration, so cfg is current meanwhile. */
static int tls_ok(config *cfg, strbuf *err, strbuf *warn)
{
    smtpd_tls_level lv;
    if (smtpd_tls_level_of(cfg, &lv, err) < 0)
        return -1;
    if (lv == SMTPD_TLS_NONE)
        return 0;
    config *saved = config_current();
    config_set_current(cfg);
    tls_server_config tc = {.get = cfg_str,
                            .mandatory = lv == SMTPD_TLS_ENCRYPT,
                            .ticket_timeout =
                                config_get_time(cfg, "smtpd_tls_session_cache_timeout"),
                            .ask_ccert = config_get_bool(cfg, "smtpd_tls_ask_ccert")};
    strbuf why;
    strbuf_init(&why, 0);
    tls_server *ts = tls_server_open(&tc, &why);
    config_set_current(saved);
    if (saved != NULL)
        (void)mail_params_current(); /* the typed view followed cfg meanwhile: point it back */
    int rc = 0;
    if (ts == NULL && lv == SMTPD_TLS_ENCRYPT) {
        strbuf_printf(
            err, "TLS is required (smtpd_tls_security_level = encrypt) but cannot be set up: %s",
            why.data);
        rc = -1;
    } else if (ts == NULL) {
        strbuf_printf(warn, "cannot set up TLS: %s; STARTTLS will not be offered", why.data);
    }
    tls_server_close(ts);
    strbuf_free(&why);
    return rc;
}

int smtpd_settings_check(config *cfg, strbuf *err, strbuf *warn)
{
    if (config_get_time(cfg, "smtpd_timeout") <= 0) {
        strbuf_printf(err, "parameter smtpd_timeout: must be above 0");
        return -1;
    }
    if (at_least(cfg, "smtpd_recipient_limit", 1, err) < 0 ||
        at_least(cfg, "line_length_limit", 512, err) < 0)
        return -1;
    if (net_list_ok(cfg, "mynetworks", err) < 0 || bare_newline_ok(cfg, err) < 0 ||
        net_list_ok(cfg, "smtpd_client_event_limit_exceptions", err) < 0 || sasl_ok(cfg, err) < 0)
        return -1;
    return tls_ok(cfg, err, warn);
}

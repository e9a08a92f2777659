/* smtp_settings.c: the smtp/lmtp agent's parameters typed once per load (see smtp_settings.h). */
#include "deliver/smtp_settings.h"

#include "deliver/smtp_connect.h"
#include "deliver/smtp_dns.h"
#include "deliver/smtp_sasl.h"
#include "deliver/smtp_tls.h"
#include "global/mail_params.h"

#include <string.h>

/* Part of the loaded configuration, as global/mail_params.c's (docs/design.md, "Process-wide
 * state"). */
static smtp_settings loaded;

static void families(smtp_settings *s, const char *protos)
{
    int all = strstr(protos, "all") != NULL;
    s->want_v4 = all || strstr(protos, "ipv4") != NULL;
    s->want_v6 = all || strstr(protos, "ipv6") != NULL;
    if (!s->want_v4 && !s->want_v6)
        s->want_v4 = 1;
}

void smtp_settings_load(smtp_settings *s, config *cfg)
{
    s->cfg = cfg;
    s->version = config_version(cfg);
    s->myhostname = config_get(cfg, "myhostname");
    s->helo_name = config_get(cfg, "smtp_helo_name");
    s->lhlo_name = config_get(cfg, "lmtp_lhlo_name");
    s->connect_timeout = config_get_time(cfg, "smtp_connect_timeout");
    s->helo_timeout = config_get_time(cfg, "smtp_helo_timeout");
    s->mail_timeout = config_get_time(cfg, "smtp_mail_timeout");
    s->rcpt_timeout = config_get_time(cfg, "smtp_rcpt_timeout");
    s->data_init_timeout = config_get_time(cfg, "smtp_data_init_timeout");
    s->data_xfer_timeout = config_get_time(cfg, "smtp_data_xfer_timeout");
    s->data_done_timeout = config_get_time(cfg, "smtp_data_done_timeout");
    s->rset_timeout = config_get_time(cfg, "smtp_rset_timeout");
    s->quit_timeout = config_get_time(cfg, "smtp_quit_timeout");
    s->line_length_limit = config_get_int(cfg, "line_length_limit");
    s->smtp_line_length_limit = config_get_int(cfg, "smtp_line_length_limit");
    s->skip_5xx_greeting = config_get_bool(cfg, "smtp_skip_5xx_greeting");
    s->disable_mime_output_conversion = config_get_bool(cfg, "disable_mime_output_conversion");
    s->connection_cache_on_demand = config_get_bool(cfg, "smtp_connection_cache_on_demand");
    s->connection_reuse_time_limit = config_get_time(cfg, "smtp_connection_reuse_time_limit");
    s->mx_session_limit = config_get_int(cfg, "smtp_mx_session_limit");
    s->mx_address_limit = config_get_int(cfg, "smtp_mx_address_limit");
    families(s, config_get(cfg, "inet_protocols"));
    s->dns_resolver_address = config_get(cfg, "smtp_dns_resolver_address");
    s->dns_support_level = config_get(cfg, "smtp_dns_support_level");
    s->dnssec = strcmp(s->dns_support_level, "dnssec") == 0;
    s->dane_insecure_mx_policy = config_get(cfg, "smtp_tls_dane_insecure_mx_policy");
}

const smtp_settings *smtp_settings_current(void)
{
    config *cfg = config_current();
    if (loaded.cfg != cfg || loaded.version != config_version(cfg))
        smtp_settings_load(&loaded, cfg);
    return &loaded;
}

static int positive(const char *name, long value, strbuf *err)
{
    if (value > 0)
        return 0;
    strbuf_printf(err, "parameter %s: value %ld is not above 0", name, value);
    return -1;
}

int smtp_settings_check(const smtp_settings *s, strbuf *err)
{
    if (strlen(s->myhostname) >= SMTP_HOST_MAX) {
        /* it names LMTP socket peers and goes out in HELO: a host name, never longer */
        strbuf_printf(err, "parameter myhostname: longer than a host name can be (%d bytes): %s",
                      SMTP_HOST_MAX - 1, s->myhostname);
        return -1;
    }
    const struct {
        const char *name;
        long value;
    } timeouts[] = {
        {"smtp_connect_timeout", s->connect_timeout}, {"smtp_helo_timeout", s->helo_timeout},
        {"smtp_mail_timeout", s->mail_timeout},       {"smtp_rcpt_timeout", s->rcpt_timeout},
        {"smtp_data_init_timeout", s->data_init_timeout},
        {"smtp_data_xfer_timeout", s->data_xfer_timeout},
        {"smtp_data_done_timeout", s->data_done_timeout},
        {"smtp_rset_timeout", s->rset_timeout},       {"smtp_quit_timeout", s->quit_timeout},
    };
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
        if (positive(timeouts[i].name, timeouts[i].value, err) < 0)
            return -1;
    if (s->mx_session_limit < 0 || s->mx_address_limit < 0 || s->smtp_line_length_limit < 0) {
        strbuf_printf(err, "parameter %s: negative value",
                      s->mx_session_limit < 0   ? "smtp_mx_session_limit"
                      : s->mx_address_limit < 0 ? "smtp_mx_address_limit"
                                                : "smtp_line_length_limit");
        return -1;
    }
    struct sockaddr_in resolver;
    if (s->dns_resolver_address[0] != '\0' &&
        smtp_dns_resolver_parse(s->dns_resolver_address, &resolver, err) < 0)
        return -1;
    return 0;
}

int smtp_agent_check(config *cfg, int lmtp, strbuf *err)
{
    smtp_settings s;
    smtp_settings_load(&s, cfg);
    if (smtp_settings_check(&s, err) < 0)
        return -1;
    /* The TLS engine and SASL client read their settings through the current configuration
     * (as the agent does), so cfg is current while they are set up once and freed. */
    config *saved = config_current();
    config_set_current(cfg);
    const char *prefix = lmtp ? "lmtp" : "smtp";
    smtp_tls_engine *tls = smtp_tls_engine_create(prefix, lmtp, err);
    smtp_sasl *sasl = tls ? smtp_sasl_create(prefix, err) : NULL;
    config_set_current(saved);
    /* the typed views followed cfg meanwhile; point them back before cfg can go away */
    if (saved != NULL) {
        (void)mail_params_current();
        (void)smtp_settings_current();
    }
    int rc = tls && sasl ? 0 : -1;
    smtp_sasl_free(sasl);
    smtp_tls_engine_free(tls);
    return rc;
}

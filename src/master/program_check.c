/*
 * program_check.c: each program's own start-up check, run on a configuration (see
 * program_check.h).
 */
#include "master/program_check.h"
#include "deliver/local_settings.h"
#include "deliver/smtp_settings.h"
#include "lib/dns.h"
#include "smtpd/smtpd_settings.h"

#include <string.h>

static int wants(const char *program, const char *name)
{
    return program == NULL || strcmp(program, name) == 0;
}

static int check_smtpd(config *cfg, strbuf *err, strbuf *warn)
{
    const char *servers = config_get(cfg, "smtpd_dns_resolver_address");
    strbuf why;
    strbuf_init(&why, 0);
    int rc = 0;
    if (servers[0] != '\0' && dns_servers_check(servers, &why) < 0) {
        strbuf_printf(err, "parameter smtpd_dns_resolver_address: %s", why.data);
        rc = -1;
    }
    strbuf_free(&why);
    return rc < 0 ? -1 : smtpd_settings_check(cfg, err, warn);
}

static int check_local(config *cfg, strbuf *err)
{
    local_settings s;
    local_settings_load(&s, cfg);
    return local_settings_check(&s, err);
}

int program_check_run(config *cfg, const char *program, strbuf *err, strbuf *warn)
{
    int lmtp = program != NULL && strcmp(program, "lmtp") == 0;
    if (wants(program, "smtpd") && check_smtpd(cfg, err, warn) < 0)
        return -1;
    if ((wants(program, "smtp") || lmtp) && smtp_agent_check(cfg, lmtp, err) < 0)
        return -1;
    if (wants(program, "local") && check_local(cfg, err) < 0)
        return -1;
    return 0;
}

/* test_config_audit.c: the fail-closed audit of main.cf and master.cf settings and services. */
#include "lib/config.h"
#include "master/config_audit.h"
#include "master/master_cf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_MASTER_CF                                                                             \
    "127.0.0.1:2525 inet n - n - - smtpd\n"                                                        \
    "qmgr unix n - n 300 1 qmgr\n"                                                                 \
    "smtp unix - - n - - smtp\n"                                                                   \
    "virtual unix - n n - - virtual\n"

/* Audits main.cf text and master.cf text; returns the items joined by newlines (free it). */
static char *audit(const char *main_cf, const char *master_cf_text, size_t *refusals)
{
    strbuf err, all;
    strbuf_init(&err, 0);
    strbuf_init(&all, 0);
    config *cfg = config_load_text("/etc/postern", main_cf, strlen(main_cf), &err);
    CHECK(cfg != NULL);
    master_cf *mcf =
        cfg ? master_cf_parse(cfg, "/etc/postern/master.cf", master_cf_text, &err) : NULL;
    CHECK(mcf != NULL);
    *refusals = 0;
    if (mcf) {
        config_audit a;
        config_audit_run(cfg, mcf, &a);
        for (size_t i = 0; i < a.count; i++)
            strbuf_printf(&all, "%s%s\n", a.items[i].refused ? "REFUSE " : "WARN ",
                          a.items[i].text);
        *refusals = a.refusals;
        config_audit_free(&a);
    }
    master_cf_free(mcf);
    config_free(cfg);
    strbuf_free(&err);
    return strbuf_detach(&all);
}

#define HAS(text, needle)                                                                          \
    do {                                                                                           \
        if (strstr(text, needle) == NULL) {                                                        \
            fprintf(stderr, "  missing \"%s\" in:\n%s", needle, text);                             \
            CHECK(0);                                                                              \
        }                                                                                          \
    } while (0)

TEST(clean_configuration)
{
    size_t n;
    char *t = audit("myhostname = mx.example\nsmtpd_client_message_rate_limit = 0\ncontent_filter =\n",
                    BASE_MASTER_CF, &n);
    CHECK_INT(n, 0);
    CHECK_STR(t, "");
    free(t);
}

TEST(required_main_cf)
{
    size_t n;
    char *t = audit("myhostname = mx.example\ncontent_filter = amavis:[127.0.0.1]:10024\n"
                    "always_bcc = archive@example.com\n",
                    BASE_MASTER_CF, &n);
    CHECK_INT(n, 2);
    HAS(t, "REFUSE /etc/postern/main.cf, line 2: content_filter = amavis:[127.0.0.1]:10024: "
           "not implemented by Postern; refusing to run without it\n");
    HAS(t, "REFUSE /etc/postern/main.cf, line 3: always_bcc = archive@example.com: not "
           "implemented by Postern; refusing to run without it\n");
    free(t);
}

TEST(inert)
{
    size_t n;
    char *t = audit("biff = no\nreadme_directory = /x\n", BASE_MASTER_CF, &n);
    CHECK_INT(n, 0);
    HAS(t, "WARN /etc/postern/main.cf, line 1: biff = no: not implemented by Postern; no effect "
           "on mail flow\n");
    HAS(t, "WARN /etc/postern/main.cf, line 2: readme_directory = /x:");
    free(t);
}

TEST(expansion_to_default_is_fine)
{
    size_t n;
    char *t = audit("off = 0\nsmtpd_client_message_rate_limit = $off\n", BASE_MASTER_CF, &n);
    CHECK_INT(n, 0);
    free(t);
}

TEST(master_cf_overrides)
{
    size_t n;
    char *t = audit("biff = no\n",
                    BASE_MASTER_CF "submission inet n - n - - smtpd\n"
                                   "  -o syslog_name=postfix/submission\n"
                                   "  -o receive_override_options=no_address_mappings\n"
                                   "  -o biff=yes\n",
                    &n);
    CHECK_INT(n, 1);
    HAS(t, "REFUSE /etc/postern/master.cf, line 5: receive_override_options = no_address_mappings: not "
           "implemented by Postern; refusing to run without it\n");
    CHECK(strstr(t, "biff = yes") == NULL); /* one warning per name */
    free(t);
}

TEST(table_types)
{
    size_t n;
    char *t = audit("virtual_alias_maps = hash:/x, mysql:/etc/postern/valias.cf\n"
                    "smtpd_recipient_restrictions = check_recipient_access ldap:/etc/x.cf, "
                    "permit_mynetworks, reject_unauth_destination\n"
                    "transport_maps = proxy:pgsql:/etc/t.cf\n"
                    "alias_maps = proxy:unix:passwd.byname texthash:/etc/aliases\n"
                    "smtp_tls_session_cache_database = btree:/var/lib/postern/smtp_scache\n",
                    BASE_MASTER_CF, &n);
    CHECK_INT(n, 3);
    HAS(t, "REFUSE /etc/postern/main.cf, line 1: virtual_alias_maps = hash:/x, "
           "mysql:/etc/postern/valias.cf: lookup table type \"mysql\" is not implemented by "
           "Postern; refusing to run without it\n");
    HAS(t, "main.cf, line 2: smtpd_recipient_restrictions = ");
    HAS(t, "type \"ldap\"");
    HAS(t, "main.cf, line 3: transport_maps = proxy:pgsql:/etc/t.cf");
    free(t);
}

TEST(services)
{
    size_t n;
    char *t = audit("virtual_transport = dovecot\n",
                    BASE_MASTER_CF "tlsmgr unix - - y 1000? 1 tlsmgr\n"
                                   "smtp2 inet n - y - 1 postscreen\n"
                                   "dovecot unix - n n - - pipe flags=DRhu user=vmail argv=/x\n"
                                   "maildrop unix - n n - - pipe flags=DRhu argv=/y\n"
                                   "error unix - - y - - error\n",
                    &n);
    CHECK_INT(n, 2);
    HAS(t, "WARN /etc/postern/master.cf, line 5: service tlsmgr: program tlsmgr is not "
           "implemented by Postern; no effect on mail flow\n");
    HAS(t, "REFUSE /etc/postern/master.cf, line 6: service smtp2: program postscreen is not "
           "implemented by Postern, and the service listens on the network; refusing to run "
           "without it\n");
    HAS(t, "REFUSE /etc/postern/master.cf, line 7: service dovecot: program pipe is not "
           "implemented by Postern, and virtual_transport names this transport;");
    HAS(t, "WARN /etc/postern/master.cf, line 8: service maildrop:");
    HAS(t, "WARN /etc/postern/master.cf, line 9: service error:");
    free(t);
}

TEST(warn_action)
{
    size_t n;
    char *t = audit("postern_unimplemented_action = warn\ncontent_filter = amavis:x\n",
                    BASE_MASTER_CF "smtp2 inet n - y - 1 postscreen\n", &n);
    CHECK_INT(n, 0);
    HAS(t, "WARN /etc/postern/main.cf, line 2: content_filter = amavis:x: not implemented by "
           "Postern; running without it (postern_unimplemented_action = warn)\n");
    HAS(t, "WARN /etc/postern/master.cf, line 5: service smtp2:");
    free(t);
    t = audit("postern_unimplemented_action = maybe\n", BASE_MASTER_CF, &n);
    CHECK_INT(n, 1);
    HAS(t, "postern_unimplemented_action = maybe: want refuse or warn;");
    free(t);
}

/* Long names are judged and quoted whole: a transport name of 300 bytes still makes its pipe
 * service a refusal (it was ignored past 255), and a long program name is not cut. */
TEST(long_names_are_not_cut)
{
    char name[301], program[601], main_cf[400], master[1400], want[1000];
    memset(name, 't', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memset(program, 'p', sizeof(program) - 1);
    program[sizeof(program) - 1] = '\0';
    snprintf(main_cf, sizeof(main_cf), "virtual_transport = %s\n", name);
    snprintf(master, sizeof(master),
             BASE_MASTER_CF "%s unix - n n - - pipe argv=/x\nsmtp2 inet n - y - 1 %s\n", name,
             program);
    size_t n;
    char *t = audit(main_cf, master, &n);
    CHECK_INT(n, 2);
    snprintf(want, sizeof(want),
             "REFUSE /etc/postern/master.cf, line 5: service %s: program pipe is not implemented "
             "by Postern, and virtual_transport names this transport;",
             name);
    HAS(t, want);
    snprintf(want, sizeof(want),
             "service smtp2: program %s is not implemented by Postern, and the service listens "
             "on the network; refusing to run without it\n",
             program);
    HAS(t, want);
    free(t);
}

int main(void)
{
    RUN(clean_configuration);
    RUN(required_main_cf);
    RUN(inert);
    RUN(expansion_to_default_is_fine);
    RUN(master_cf_overrides);
    RUN(table_types);
    RUN(services);
    RUN(warn_action);
    RUN(long_names_are_not_cut);
    UNIT_MAIN_END("test_config_audit");
}

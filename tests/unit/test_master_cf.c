/* test_master_cf.c: master.cf parsing: fields, defaults, continuation lines, -o forms, inet
 * addresses, errors with line numbers, and a stock Debian Postfix master.cf. */
#include "cmd/commands.h"
#include "lib/config.h"
#include "master/mail_server.h"
#include "master/master_cf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

/* A stock Debian master.cf as shipped with Postfix 3.7 (comment block shortened). */
static const char stock_master_cf[] =
    "#\n"
    "# Postfix master process configuration file.  For details on the format\n"
    "# of the file, see the master(5) manual page (command: \"man 5 master\" or\n"
    "# on-line: https://www.postfix.org/master.5.html).\n"
    "#\n"
    "# Do not forget to execute \"postfix reload\" after editing this file.\n"
    "#\n"
    "# ==========================================================================\n"
    "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
    "#               (yes)   (yes)   (no)    (never) (100)\n"
    "# ==========================================================================\n"
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "#smtp      inet  n       -       y       -       1       postscreen\n"
    "#smtpd     pass  -       -       y       -       -       smtpd\n"
    "#dnsblog   unix  -       -       y       -       0       dnsblog\n"
    "#tlsproxy  unix  -       -       y       -       0       tlsproxy\n"
    "# Choose one: enable submission for loopback clients only, or for any client.\n"
    "#127.0.0.1:submission inet n -   y       -       -       smtpd\n"
    "#submission inet n       -       y       -       -       smtpd\n"
    "#  -o syslog_name=postfix/submission\n"
    "#  -o smtpd_tls_security_level=encrypt\n"
    "#  -o smtpd_sasl_auth_enable=yes\n"
    "#  -o smtpd_client_restrictions=$mua_client_restrictions\n"
    "#628       inet  n       -       y       -       -       qmqpd\n"
    "pickup    unix  n       -       y       60      1       pickup\n"
    "cleanup   unix  n       -       y       -       0       cleanup\n"
    "qmgr      unix  n       -       n       300     1       qmgr\n"
    "#qmgr     unix  n       -       n       300     1       oqmgr\n"
    "tlsmgr    unix  -       -       y       1000?   1       tlsmgr\n"
    "rewrite   unix  -       -       y       -       -       trivial-rewrite\n"
    "bounce    unix  -       -       y       -       0       bounce\n"
    "defer     unix  -       -       y       -       0       bounce\n"
    "trace     unix  -       -       y       -       0       bounce\n"
    "verify    unix  -       -       y       -       1       verify\n"
    "flush     unix  n       -       y       1000?   0       flush\n"
    "proxymap  unix  -       -       n       -       -       proxymap\n"
    "proxywrite unix -       -       n       -       1       proxymap\n"
    "smtp      unix  -       -       y       -       -       smtp\n"
    "relay     unix  -       -       y       -       -       smtp\n"
    "        -o syslog_name=postfix/$service_name\n"
    "#       -o smtp_helo_timeout=5 -o smtp_connect_timeout=5\n"
    "showq     unix  n       -       y       -       -       showq\n"
    "error     unix  -       -       y       -       -       error\n"
    "retry     unix  -       -       y       -       -       error\n"
    "discard   unix  -       -       y       -       -       discard\n"
    "local     unix  -       n       n       -       -       local\n"
    "virtual   unix  -       n       n       -       -       virtual\n"
    "lmtp      unix  -       -       y       -       -       lmtp\n"
    "anvil     unix  -       -       y       -       1       anvil\n"
    "scache    unix  -       -       y       -       1       scache\n"
    "postlog   unix-dgram n  -       n       -       1       postlogd\n"
    "#\n"
    "# Interfaces to non-Postfix software.\n"
    "#\n"
    "maildrop  unix  -       n       n       -       -       pipe\n"
    "  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}\n"
    "uucp      unix  -       n       n       -       -       pipe\n"
    "  flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)\n"
    "ifmail    unix  -       n       n       -       -       pipe\n"
    "  flags=F user=ftn argv=/usr/lib/ifmail/ifmail -r $nexthop ($recipient)\n"
    "bsmtp     unix  -       n       n       -       -       pipe\n"
    "  flags=Fq. user=bsmtp argv=/usr/lib/bsmtp/bsmtp -t$nexthop -f$sender $recipient\n"
    "scalemail-backend unix -       n       n       -       2       pipe\n"
    "  flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store ${nexthop} ${user} "
    "${extension}\n"
    "mailman   unix  -       n       n       -       -       pipe\n"
    "  flags=FRX user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py\n"
    "  ${nexthop} ${user}\n";

static config *make_config(const char *main_cf)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs(main_cf, fp);
    fclose(fp);
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(tmpdir, &err);
    if (cfg == NULL)
        fprintf(stderr, "  config: %s\n", err.data);
    strbuf_free(&err);
    return cfg;
}

static master_cf *parse(config *cfg, const char *text, strbuf *err)
{
    strbuf_reset(err);
    return master_cf_parse(cfg, "/etc/postern/master.cf", text, err);
}

static const master_cf_entry *find(const master_cf *mcf, const char *name, const char *type)
{
    for (size_t i = 0; i < mcf->count; i++)
        if (strcmp(mcf->entries[i].name, name) == 0 && strcmp(mcf->entries[i].type_name, type) == 0)
            return &mcf->entries[i];
    return NULL;
}

TEST(fields_and_defaults)
{
    config *cfg = make_config("default_process_limit = 42\ninet_interfaces = all\n");
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = parse(cfg,
                           "# comment\n\n"
                           "smtp inet n - y - - smtpd\n"
                           "qmgr unix n - n 300 1 qmgr\n"
                           "flushy fifo y n n 1000? 0 pickup\n",
                           &err);
    CHECK(mcf != NULL);
    if (mcf) {
        CHECK_INT(mcf->count, 3);
        const master_cf_entry *e = find(mcf, "smtp", "inet");
        CHECK(e != NULL);
        if (e) {
            CHECK_INT(e->line, 3);
            CHECK_INT(e->private_, 0);
            CHECK_INT(e->unpriv, 1);
            CHECK_INT(e->chroot, 1);
            CHECK_INT(e->wakeup, 0);
            CHECK_INT(e->maxproc, 42);
            CHECK_STR(e->program, "smtpd");
            CHECK_INT(e->skipped, 0);
            CHECK_INT(e->port, 25);
            CHECK_INT(e->naddrs, 1);
            if (e->naddrs)
                CHECK_STR(e->addrs[0], "0.0.0.0");
        }
        e = find(mcf, "qmgr", "unix");
        CHECK(e != NULL);
        if (e) {
            CHECK_INT(e->wakeup, 300);
            CHECK_INT(e->wakeup_if_used, 0);
            CHECK_INT(e->maxproc, 1);
        }
        e = find(mcf, "flushy", "fifo");
        CHECK(e != NULL);
        if (e) {
            CHECK_INT(e->type, MASTER_TYPE_FIFO);
            CHECK_INT(e->private_, 1);
            CHECK_INT(e->unpriv, 0);
            CHECK_INT(e->wakeup, 1000);
            CHECK_INT(e->wakeup_if_used, 1);
            CHECK_INT(e->maxproc, 0);
        }
    }
    master_cf_free(mcf);
    strbuf_free(&err);
    config_free(cfg);
}

TEST(continuation_and_overrides)
{
    config *cfg = make_config("inet_interfaces = loopback-only\n");
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = parse(cfg,
                           "submission inet n - n - - smtpd\n"
                           "  -o syslog_name=postfix/submission\n"
                           "# a comment inside the entry\n"
                           "  -o { smtpd_client_restrictions = permit_mynetworks, reject }\n"
                           "\t-osmtpd_tls_security_level=encrypt -o empty= -v\n"
                           "  { some arg with spaces }\n"
                           "local unix - n n - - local\n",
                           &err);
    CHECK(mcf != NULL);
    if (mcf) {
        CHECK_INT(mcf->count, 2);
        const master_cf_entry *e = find(mcf, "submission", "inet");
        CHECK(e != NULL);
        if (e) {
            CHECK_INT(e->port, 587);
            CHECK_INT(e->naddrs, 1);
            if (e->naddrs)
                CHECK_STR(e->addrs[0], "127.0.0.1");
            CHECK_INT(e->noverrides, 4);
            if (e->noverrides == 4) {
                CHECK_STR(e->overrides[0].name, "syslog_name");
                CHECK_STR(e->overrides[0].value, "postfix/submission");
                CHECK_STR(e->overrides[1].name, "smtpd_client_restrictions");
                CHECK_STR(e->overrides[1].value, "permit_mynetworks, reject");
                CHECK_STR(e->overrides[2].name, "smtpd_tls_security_level");
                CHECK_STR(e->overrides[2].value, "encrypt");
                CHECK_STR(e->overrides[3].name, "empty");
                CHECK_STR(e->overrides[3].value, "");
            }
            CHECK_INT(e->nargs, 2);
            if (e->nargs == 2) {
                CHECK_STR(e->args[0], "-v");
                CHECK_STR(e->args[1], "some arg with spaces");
            }
        }
        e = find(mcf, "local", "unix");
        CHECK(e != NULL);
        if (e)
            CHECK_INT(e->line, 7);
    }
    master_cf_free(mcf);
    strbuf_free(&err);
    config_free(cfg);
}

TEST(inet_names)
{
    config *cfg = make_config("inet_interfaces = 127.0.0.1, [::1]\n");
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = parse(cfg,
                           "127.0.0.1:2525 inet n - n - - smtpd\n"
                           "[::1]:2526 inet n - n - - smtpd\n"
                           "smtps inet n - n - - smtpd\n"
                           "submissions inet n - n - - smtpd\n"
                           "10025 inet n - n - - smtpd\n",
                           &err);
    CHECK(mcf != NULL);
    if (mcf) {
        const master_cf_entry *e = find(mcf, "127.0.0.1:2525", "inet");
        CHECK(e && e->port == 2525 && e->naddrs == 1 && strcmp(e->addrs[0], "127.0.0.1") == 0);
        e = find(mcf, "[::1]:2526", "inet");
        CHECK(e && e->port == 2526 && e->naddrs == 1 && strcmp(e->addrs[0], "::1") == 0);
        e = find(mcf, "smtps", "inet");
        CHECK(e && e->port == 465);
        e = find(mcf, "submissions", "inet");
        CHECK(e && e->port == 465);
        e = find(mcf, "10025", "inet");
        CHECK(e && e->port == 10025 && e->naddrs == 2);
        if (e && e->naddrs == 2) {
            CHECK_STR(e->addrs[0], "127.0.0.1");
            CHECK_STR(e->addrs[1], "::1");
        }
    }
    master_cf_free(mcf);
    CHECK_INT(master_cf_port("smtp"), 25);
    CHECK_INT(master_cf_port("submission"), 587);
    CHECK_INT(master_cf_port("0"), -1);
    CHECK_INT(master_cf_port("65536"), -1);
    CHECK_INT(master_cf_port("no-such-service-name"), -1);
    CHECK(master_cf_program_implemented("smtpd"));
    CHECK(!master_cf_program_implemented("master"));
    CHECK(!master_cf_program_implemented("postfix"));
    CHECK(!master_cf_program_implemented("cleanup"));
    strbuf_free(&err);
    config_free(cfg);
}

TEST(errors_name_file_and_line)
{
    config *cfg = make_config("inet_interfaces = 127.0.0.1\n");
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf =
        parse(cfg, "# c\nqmgr unix n - n 300 1 qmgr\nfoo bogus n - n - - smtpd\n", &err);
    CHECK(mcf == NULL);
    CHECK(strstr(err.data, "/etc/postern/master.cf, line 3") != NULL);
    CHECK(strstr(err.data, "unknown service type \"bogus\"") != NULL);
    master_cf_free(mcf);

    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"smtp inet n - n - smtpd\n", "line 1: want at least 8 fields"},
        {"\n\nsmtp inet x - n - - smtpd\n", "line 3: field \"private\""},
        {"smtp unix n - n abc - smtp\n", "field \"wakeup\""},
        {"smtp unix n - n - 1x smtp\n", "field \"maxproc\""},
        {"nosuchport inet n - n - - smtpd\n", "unknown port \"nosuchport\""},
        {"smtp inet n - n - - smtpd -o\n", "-o needs"},
        {"smtp inet n - n - - smtpd -o novalue\n", "bad -o argument"},
        {"smtp inet n - n - - smtpd -o { a = b\n", "missing '}'"},
        {"  smtp inet n - n - - smtpd\n", "line 1: continuation line"},
        {"smtp unix - - n - - smtp\nsmtp unix - - n - - smtp\n", "line 2: duplicate service"},
        {"::1:25 inet n - n - - smtpd\n", "[address]:port"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mcf = parse(cfg, bad[i].text, &err);
        CHECK(mcf == NULL);
        if (strstr(err.data, bad[i].want) == NULL)
            fprintf(stderr, "  case %zu: got \"%s\", want \"%s\"\n", i, err.data, bad[i].want);
        CHECK(strstr(err.data, bad[i].want) != NULL);
        master_cf_free(mcf);
    }
    strbuf_free(&err);
    config_free(cfg);
}

TEST(stock_debian_master_cf_loads)
{
    config *cfg = make_config("inet_interfaces = loopback-only\n");
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = parse(cfg, stock_master_cf, &err);
    CHECK(mcf != NULL);
    if (mcf == NULL)
        fprintf(stderr, "  %s\n", err.data);
    if (mcf) {
        const master_cf_entry *e = find(mcf, "smtp", "inet");
        CHECK(e && !e->skipped && e->port == 25);
        e = find(mcf, "relay", "unix");
        CHECK(e && !e->skipped && strcmp(e->program, "smtp") == 0);
        if (e && e->noverrides == 1) {
            CHECK_STR(e->overrides[0].name, "syslog_name");
            CHECK_STR(e->overrides[0].value, "postfix/$service_name");
        } else {
            CHECK(0);
        }
        e = find(mcf, "tlsmgr", "unix");
        CHECK(e && e->skipped && e->wakeup == 1000 && e->wakeup_if_used);
        e = find(mcf, "cleanup", "unix");
        CHECK(e && e->skipped);
        e = find(mcf, "postlog", "unix-dgram");
        CHECK(e && e->skipped && e->type == MASTER_TYPE_UNIX_DGRAM);
        e = find(mcf, "mailman", "unix");
        CHECK(e && e->skipped && strcmp(e->program, "pipe") == 0);
        const char *implemented[] = {"smtp", "pickup", "qmgr", "local", "virtual", "lmtp", NULL};
        size_t n_impl = 0;
        for (size_t i = 0; i < mcf->count; i++)
            n_impl += !mcf->entries[i].skipped;
        CHECK_INT(n_impl, 8); /* smtp inet, pickup, qmgr, smtp, relay, lmtp, local, virtual */
        for (size_t i = 0; implemented[i]; i++)
            CHECK(find(mcf, implemented[i], "unix") || find(mcf, implemented[i], "inet"));
        e = find(mcf, "cleanup", "unix");
        CHECK(e && e->skipped && e->line == 26);
    }
    master_cf_free(mcf);
    strbuf_free(&err);
    config_free(cfg);
}

TEST(load_from_config_directory)
{
    config *cfg = make_config("inet_interfaces = 127.0.0.1\n");
    char path[300];
    snprintf(path, sizeof(path), "%s/master.cf", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs("127.0.0.1:2525 inet n - n - 5 smtpd\n", fp);
    fclose(fp);
    strbuf err;
    strbuf_init(&err, 0);
    master_cf *mcf = master_cf_load(cfg, &err);
    CHECK(mcf != NULL);
    if (mcf) {
        CHECK_INT(mcf->count, 1);
        CHECK_INT(mcf->entries[0].maxproc, 5);
        CHECK(strstr(mcf->path, "/master.cf") != NULL);
    }
    master_cf_free(mcf);
    unlink(path);
    mcf = master_cf_load(cfg, &err);
    CHECK(mcf == NULL);
    CHECK(strstr(err.data, "master.cf") != NULL);
    strbuf_free(&err);
    config_free(cfg);
}

/* The master's list of daemons and the multicall table name the same programs. */
TEST(daemon_programs_match_the_command_table)
{
    int n = 0;
    for (const char *const *p = mail_server_programs; *p; p++, n++) {
        const command *cmd = command_lookup(*p);
        CHECK(cmd != NULL && cmd->is_daemon);
        CHECK(master_cf_program_implemented(*p));
    }
    CHECK_INT(n, 7);
    CHECK(!master_cf_program_implemented("master"));
    CHECK(!master_cf_program_implemented("postqueue"));
    CHECK(!master_cf_program_implemented("anvil"));
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_master_cf.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    RUN(fields_and_defaults);
    RUN(continuation_and_overrides);
    RUN(inet_names);
    RUN(errors_name_file_and_line);
    RUN(stock_debian_master_cf_loads);
    RUN(load_from_config_directory);
    RUN(daemon_programs_match_the_command_table);
    char path[300];
    snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    UNIT_MAIN_END("test_master_cf");
}

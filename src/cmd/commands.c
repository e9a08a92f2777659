/* commands.c: the multicall binary's program table (see commands.h). */
#include "cmd/commands.h"

#include <string.h>

static const command commands[] = {
    {"postfix", postfix_main, 0, "start, stop, reload, check the mail system"},
    {"postconf", postconf_main, 0, "show or edit main.cf parameters"},
    {"postqueue", postqueue_main, 0, "list or flush the queue"},
    {"postcat", postcat_main, 0, "show a queue file"},
    {"postsuper", postsuper_main, 0, "delete, hold, requeue queue files"},
    {"postmap", postmap_main, 0, "build or query lookup tables"},
    {"postern-passwd", postern_passwd_main, 0, "make a password hash for smtpd_sasl_password_maps"},
    {"postdrop", postdrop_main, 0, "setgid helper that writes into maildrop"},
    {"sendmail", sendmail_main, 0, "Sendmail-compatible submission"},
    {"mailq", mailq_main, 0, "list the queue (postqueue -p)"},
    {"newaliases", newaliases_main, 0, "rebuild the aliases database"},
    {"master", master_main, 1, "process supervisor driven by master.cf"},
    {"smtpd", smtpd_main, 1, "SMTP server"},
    {"qmgr", qmgr_main, 1, "queue manager"},
    {"pickup", pickup_main, 1, "moves maildrop submissions into the queue"},
    {"local", local_main, 1, "local delivery: mailboxes, aliases, .forward"},
    {"virtual", virtual_main, 1, "virtual mailbox delivery"},
    {"smtp", smtp_main, 1, "SMTP client delivery"},
    {"lmtp", smtp_main, 1, "LMTP client delivery"},
};

const command *command_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void commands_usage(FILE *fp)
{
    fprintf(fp, "usage: postern COMMAND [options]  (or run it through a link named COMMAND)\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(fp, "  %-11s %s%s\n", commands[i].name, commands[i].summary,
                commands[i].is_daemon ? " (daemon)" : "");
}

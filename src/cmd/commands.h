/*
 * commands.h: the table of every program the multicall binary contains.
 *
 * Each program has a main-like entry point; commands (postconf, postqueue, ...) run from the
 * shell, daemons (smtpd, qmgr, ...) are started by the master as listed in master.cf.
 */
#ifndef POSTERN_COMMANDS_H
#define POSTERN_COMMANDS_H

#include "master/mail_server.h"
#include "master/master.h"

#include <stdio.h>

typedef struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    int is_daemon;
    const char *summary;
} command;

const command *command_lookup(const char *name);
void commands_usage(FILE *fp);

/* Exit status for bad usage, as sysexits.h and Postfix's commands use. */
#define EX_USAGE_CODE 64

int postfix_main(int argc, char **argv);
int postconf_main(int argc, char **argv);
int postqueue_main(int argc, char **argv);
int postcat_main(int argc, char **argv);
int postsuper_main(int argc, char **argv);
int postmap_main(int argc, char **argv);
int postdrop_main(int argc, char **argv);
int sendmail_main(int argc, char **argv);
int mailq_main(int argc, char **argv);
int newaliases_main(int argc, char **argv);
int postern_passwd_main(int argc, char **argv);

/* The daemons' entry points are declared where they live: master/master.h and
 * master/mail_server.h (daemons never include this file: layers only point down). */

#endif

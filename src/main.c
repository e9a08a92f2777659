/*
 * main.c: the multicall entry point.
 *
 * One binary, build/bin/postern, answers to the Postfix command names (postfix, postconf,
 * postqueue, postcat, postsuper, postmap, postdrop, sendmail, mailq, newaliases) through links, and
 * to the daemon names (master, smtpd, qmgr, pickup, local, virtual, smtp, ...) that master.cf
 * starts. "postern NAME args..." does the same as calling it through a link named NAME.
 */
#include "cmd/commands.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *self = argc > 0 && argv[0] ? argv[0] : "postern";
    const char *base = strrchr(self, '/');
    base = base ? base + 1 : self;
    if (strcmp(base, "postern") == 0) {
        if (argc < 2 || argv[1][0] == '-') {
            commands_usage(stderr);
            return 64;
        }
        argv++;
        argc--;
        base = argv[0];
    }
    const command *cmd = command_lookup(base);
    if (cmd == NULL) {
        fprintf(stderr, "postern: unknown command or service: %s\n", base);
        commands_usage(stderr);
        return 64;
    }
    return cmd->main(argc, argv);
}

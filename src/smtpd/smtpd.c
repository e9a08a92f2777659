/* smtpd.c: the smtpd program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int smtpd_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtpd: not implemented yet\n");
    return 1;
}

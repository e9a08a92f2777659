/* postconf.c: the postconf program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postconf_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postconf: not implemented yet\n");
    return 1;
}

/* master.c: the master program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int master_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "master: not implemented yet\n");
    return 1;
}

/* local.c: the local program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int local_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "local: not implemented yet\n");
    return 1;
}

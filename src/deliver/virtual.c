/* virtual.c: the virtual program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int virtual_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "virtual: not implemented yet\n");
    return 1;
}

/* postdrop.c: the postdrop program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postdrop_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postdrop: not implemented yet\n");
    return 1;
}

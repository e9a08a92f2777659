/* postcat.c: the postcat program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postcat_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postcat: not implemented yet\n");
    return 1;
}

/* postsuper.c: the postsuper program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postsuper_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postsuper: not implemented yet\n");
    return 1;
}

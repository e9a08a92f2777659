/* postmap.c: the postmap program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postmap_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postmap: not implemented yet\n");
    return 1;
}

/* newaliases.c: the newaliases program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int newaliases_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "newaliases: not implemented yet\n");
    return 1;
}

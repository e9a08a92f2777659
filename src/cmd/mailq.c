/* mailq.c: the mailq program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int mailq_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mailq: not implemented yet\n");
    return 1;
}

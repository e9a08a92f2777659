/* postqueue.c: the postqueue program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postqueue_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postqueue: not implemented yet\n");
    return 1;
}

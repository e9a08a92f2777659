/* qmgr.c: the qmgr program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int qmgr_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qmgr: not implemented yet\n");
    return 1;
}

/* postfix.c: the postfix program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int postfix_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postfix: not implemented yet\n");
    return 1;
}

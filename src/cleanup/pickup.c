/* pickup.c: the pickup program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int pickup_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pickup: not implemented yet\n");
    return 1;
}

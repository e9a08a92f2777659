/* smtp_client.c: the smtp program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int smtp_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smtp: not implemented yet\n");
    return 1;
}

/* sendmail.c: the sendmail program (not implemented yet; see the issue tracker). */
#include "cmd/commands.h"

#include <stdio.h>

int sendmail_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "sendmail: not implemented yet\n");
    return 1;
}

/*
 * mailq.c: the Sendmail mailq command, which is postqueue -p (as Postfix's mailq = sendmail -bp).
 *
 *   mailq [-C|-c config] [-v]
 *
 * Other Sendmail mailq options are not supported and give a usage error.
 */
#include "cmd/commands.h"

#include <stdio.h>
#include <unistd.h>

int mailq_main(int argc, char **argv)
{
    const char *config_dir = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt(argc, argv, "+C:c:v")) != -1) {
        switch (c) {
        case 'C':
        case 'c':
            config_dir = optarg;
            break;
        case 'v':
            break;
        default:
            fprintf(stderr, "usage: mailq [-C config_dir] [-v]\n");
            return EX_USAGE_CODE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "usage: mailq [-C config_dir] [-v]\n");
        return EX_USAGE_CODE;
    }
    char *args[5];
    int n = 0;
    args[n++] = "postqueue";
    if (config_dir) {
        args[n++] = "-c";
        args[n++] = (char *)config_dir;
    }
    args[n++] = "-p";
    args[n] = NULL;
    return postqueue_main(n, args);
}

/*
 * unit_queue.h: the temporary queue directory that queue-level unit tests run in.
 *
 * unit_queue_dirs(qdir)    creates every queue directory under qdir with the caller's owner and
 *                          group; 0, or -1 after saying why on stderr
 * unit_remove_tree(dir)    removes the test's temporary folder and everything in it
 */
#ifndef POSTERN_UNIT_QUEUE_H
#define POSTERN_UNIT_QUEUE_H

#include "lib/strbuf.h"
#include "queue/queue_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

static inline int unit_queue_dirs(const char *qdir)
{
    strbuf err;
    strbuf_init(&err, 0);
    int rc = queue_dirs_create(qdir, (uid_t)-1, (gid_t)-1, &err);
    if (rc < 0)
        fprintf(stderr, "queue_dirs_create: %s\n", err.data);
    strbuf_free(&err);
    return rc;
}

static inline void unit_remove_tree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif

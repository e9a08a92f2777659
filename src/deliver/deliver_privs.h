/*
 * deliver_privs.h: running a delivery with the recipient's identity.
 *
 * A delivery agent started by root writes each mailbox with the owner's uid and gid:
 * deliver_privs_enter() sets the effective gid (and the supplementary groups to that gid) and
 * uid, deliver_privs_leave() returns to root. Started as a normal user, both do nothing and the
 * delivery runs as that user (the `make run` instance). Nesting is not supported.
 */
#ifndef POSTERN_DELIVER_PRIVS_H
#define POSTERN_DELIVER_PRIVS_H

#include "lib/strbuf.h"

#include <sys/types.h>

/* Non-zero when the process can change identity (its real uid is root). */
int deliver_privs_root(void);
/* 0, or -1 with a reason in why. */
int deliver_privs_enter(uid_t uid, gid_t gid, strbuf *why);
void deliver_privs_leave(void);

#endif

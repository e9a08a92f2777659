/*
 * mail_owner.h: the mail_owner account and setgid_group group, looked up once for the master
 * (which creates the queue) and postfix check (which reports on it).
 *
 * mail_owner_ids() gives mail_owner's uid and the gid queue directories get: setgid_group's,
 * else mail_owner's primary group. Returns -1 with "file main.cf: parameter mail_owner: unknown
 * user name value: NAME" in err; an unknown setgid_group is not fatal: *warning gets its text.
 */
#ifndef POSTERN_MAIL_OWNER_H
#define POSTERN_MAIL_OWNER_H

#include "lib/config.h"
#include "lib/strbuf.h"

#include <sys/types.h>

int mail_owner_ids(config *cfg, uid_t *uid, gid_t *gid, strbuf *err, strbuf *warning);

#endif

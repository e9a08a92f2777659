/* deliver_privs.c: temporary identity changes for deliveries (see deliver_privs.h). */
#include "deliver/deliver_privs.h"
#include "lib/log.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

int deliver_privs_root(void)
{
    return getuid() == 0;
}

int deliver_privs_enter(uid_t uid, gid_t gid, strbuf *why)
{
    if (!deliver_privs_root())
        return 0;
    if (setgroups(1, &gid) < 0 || setegid(gid) < 0 || seteuid(uid) < 0) {
        strbuf_printf(why, "cannot change to uid %ld gid %ld: %s", (long)uid, (long)gid,
                      strerror(errno));
        deliver_privs_leave();
        return -1;
    }
    return 0;
}

void deliver_privs_leave(void)
{
    if (!deliver_privs_root())
        return;
    if (seteuid(0) < 0 || setegid(0) < 0)
        log_fatal("cannot restore root privileges: %s", strerror(errno));
    gid_t none = 0;
    setgroups(1, &none);
}

/* mail_owner.c: mail_owner and setgid_group ids (see mail_owner.h). */
#include "global/mail_owner.h"

#include <grp.h>
#include <pwd.h>

int mail_owner_ids(config *cfg, uid_t *uid, gid_t *gid, strbuf *err, strbuf *warning)
{
    const char *owner = config_get(cfg, "mail_owner");
    struct passwd *pw = getpwnam(owner);
    if (pw == NULL) {
        strbuf_printf(err, "file %s: parameter mail_owner: unknown user name value: %s",
                      config_main_cf(cfg), owner);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    const char *group = config_get(cfg, "setgid_group");
    struct group *gr = getgrnam(group);
    if (gr != NULL)
        *gid = gr->gr_gid;
    else
        strbuf_printf(warning, "file %s: parameter setgid_group: unknown group name: %s",
                      config_main_cf(cfg), group);
    return 0;
}

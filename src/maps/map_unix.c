/*
 * map_unix.c: unix:passwd.byname and unix:group.byname, the system user and group databases
 * (Postfix's unix: type). A passwd lookup returns the passwd(5) line
 * "name:passwd:uid:gid:gecos:dir:shell"; a group lookup returns "name:passwd:gid:member,...".
 * Keys are lowercased by map_lookup, as Postfix does for this type.
 */
#include "lib/xalloc.h"
#include "maps/map.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#define UNIX_BUF_START 4096
#define UNIX_BUF_MAX (1024 * 1024)

typedef enum { UNIX_PASSWD, UNIX_GROUP } unix_kind;

static const unix_kind unix_passwd = UNIX_PASSWD, unix_group = UNIX_GROUP;

static void *unix_open(const char *name, strbuf *err)
{
    if (strcmp(name, "passwd.byname") == 0)
        return (void *)&unix_passwd;
    if (strcmp(name, "group.byname") == 0)
        return (void *)&unix_group;
    strbuf_printf(err, "unknown table: unix:%s", name);
    return NULL;
}

static int passwd_lookup(const char *key, strbuf *result)
{
    size_t size = UNIX_BUF_START;
    for (;;) {
        char *buf = xmalloc(size);
        struct passwd pw, *found = NULL;
        int rc = getpwnam_r(key, &pw, buf, size, &found);
        if (rc == ERANGE && size < UNIX_BUF_MAX) {
            free(buf);
            size *= 2;
            continue;
        }
        int status;
        if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
            strbuf_printf(result, "unix:passwd.byname: lookup %s: %s", key, strerror(rc));
            status = -1;
        } else if (found == NULL) {
            status = 0;
        } else {
            strbuf_printf(result, "%s:%s:%ld:%ld:%s:%s:%s", pw.pw_name, pw.pw_passwd,
                          (long)pw.pw_uid, (long)pw.pw_gid, pw.pw_gecos, pw.pw_dir, pw.pw_shell);
            status = 1;
        }
        free(buf);
        return status;
    }
}

static int group_lookup(const char *key, strbuf *result)
{
    size_t size = UNIX_BUF_START;
    for (;;) {
        char *buf = xmalloc(size);
        struct group gr, *found = NULL;
        int rc = getgrnam_r(key, &gr, buf, size, &found);
        if (rc == ERANGE && size < UNIX_BUF_MAX) {
            free(buf);
            size *= 2;
            continue;
        }
        int status;
        if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
            strbuf_printf(result, "unix:group.byname: lookup %s: %s", key, strerror(rc));
            status = -1;
        } else if (found == NULL) {
            status = 0;
        } else {
            strbuf_printf(result, "%s:%s:%ld:", gr.gr_name, gr.gr_passwd, (long)gr.gr_gid);
            for (char **m = gr.gr_mem; m && *m; m++)
                strbuf_printf(result, "%s%s", m == gr.gr_mem ? "" : ",", *m);
            status = 1;
        }
        free(buf);
        return status;
    }
}

static int unix_lookup(void *handle, const char *key, strbuf *result)
{
    if (*key == '\0')
        return 0;
    return *(const unix_kind *)handle == UNIX_PASSWD ? passwd_lookup(key, result)
                                                     : group_lookup(key, result);
}

static void unix_close(void *handle)
{
    (void)handle;
}

const map_ops map_unix_ops = {"unix", unix_open, unix_lookup, unix_close};

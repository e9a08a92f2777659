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

/* One system database: how to fetch an entry into a caller's buffer and how to print it. */
typedef union {
    struct passwd pw;
    struct group gr;
} unix_entry;

typedef struct {
    const char *table;
    int (*fetch)(const char *key, unix_entry *ent, char *buf, size_t size, int *found);
    void (*format)(const unix_entry *ent, strbuf *result);
} unix_db;

static int passwd_fetch(const char *key, unix_entry *ent, char *buf, size_t size, int *found)
{
    struct passwd *res = NULL;
    int rc = getpwnam_r(key, &ent->pw, buf, size, &res);
    *found = res != NULL;
    return rc;
}

static int group_fetch(const char *key, unix_entry *ent, char *buf, size_t size, int *found)
{
    struct group *res = NULL;
    int rc = getgrnam_r(key, &ent->gr, buf, size, &res);
    *found = res != NULL;
    return rc;
}

static void passwd_format(const unix_entry *ent, strbuf *result)
{
    const struct passwd *pw = &ent->pw;
    strbuf_printf(result, "%s:%s:%ld:%ld:%s:%s:%s", pw->pw_name, pw->pw_passwd, (long)pw->pw_uid,
                  (long)pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
}

static void group_format(const unix_entry *ent, strbuf *result)
{
    const struct group *gr = &ent->gr;
    strbuf_printf(result, "%s:%s:%ld:", gr->gr_name, gr->gr_passwd, (long)gr->gr_gid);
    for (char **m = gr->gr_mem; m && *m; m++)
        strbuf_printf(result, "%s%s", m == gr->gr_mem ? "" : ",", *m);
}

static const unix_db unix_passwd = {"passwd.byname", passwd_fetch, passwd_format};
static const unix_db unix_group = {"group.byname", group_fetch, group_format};

static void *unix_open(const char *name, strbuf *err)
{
    if (strcmp(name, unix_passwd.table) == 0)
        return (void *)&unix_passwd;
    if (strcmp(name, unix_group.table) == 0)
        return (void *)&unix_group;
    strbuf_printf(err, "unknown table: unix:%s", name);
    return NULL;
}

/* Fetches with a buffer that grows on ERANGE up to UNIX_BUF_MAX; "not found" errors are misses. */
static int unix_lookup(void *handle, const char *key, strbuf *result)
{
    const unix_db *db = handle;
    if (*key == '\0')
        return 0;
    size_t size = UNIX_BUF_START;
    for (;;) {
        char *buf = xmalloc(size);
        unix_entry ent;
        int found = 0;
        int rc = db->fetch(key, &ent, buf, size, &found);
        if (rc == ERANGE && size < UNIX_BUF_MAX) {
            free(buf);
            size *= 2;
            continue;
        }
        int status;
        if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
            strbuf_printf(result, "unix:%s: lookup %s: %s", db->table, key, strerror(rc));
            status = -1;
        } else if (!found) {
            status = 0;
        } else {
            db->format(&ent, result);
            status = 1;
        }
        free(buf);
        return status;
    }
}

static void unix_close(void *handle)
{
    (void)handle;
}

const map_ops map_unix_ops = {"unix", unix_open, unix_lookup, unix_close};

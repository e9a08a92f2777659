/* maildir.c: Maildir delivery (see maildir.h). */
#include "deliver/maildir.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "queue/queue_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

void maildir_unique_name(strbuf *out, long sec, long usec, long pid, unsigned long count,
                         const char *host)
{
    strbuf_reset(out);
    strbuf_printf(out, "%ld.M%06ldP%ldQ%lu.", sec, usec, pid, count);
    for (const char *p = host; *p; p++) {
        if (*p == '/')
            strbuf_append_str(out, "\\057");
        else if (*p == ':')
            strbuf_append_str(out, "\\072");
        else
            strbuf_append_char(out, *p);
    }
}

int maildir_make_dirs(const char *path, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -1;
        buf[i] = saved;
    }
    return 0;
}

/* Creates base/tmp, base/new and base/cur (and base) where missing. */
static int make_maildir(const char *base, strbuf *why)
{
    const char *subdirs[] = {"tmp", "new", "cur"};
    strbuf sub;
    strbuf_path_init(&sub);
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (strbuf_path_printf(&sub, "%s/%s", base, subdirs[i]) < 0 ||
            maildir_make_dirs(sub.data, 0700) < 0) {
            strbuf_printf(why, "create maildir directory %s/%s: %s", base, subdirs[i],
                          strerror(errno));
            rc = -1;
        }
    }
    strbuf_free(&sub);
    return rc;
}

/* The paths of one delivery, all below the Maildir (no trailing '/'). */
typedef struct maildir_paths {
    strbuf base, tmp, new_dir, new_file;
} maildir_paths;

static void paths_free(maildir_paths *p)
{
    strbuf_free(&p->base);
    strbuf_free(&p->tmp);
    strbuf_free(&p->new_dir);
    strbuf_free(&p->new_file);
}

/* 0, or -1 with errno = ENAMETOOLONG when a path would exceed PATH_MAX: never a cut path. */
static int paths_build(maildir_paths *p, const char *dir)
{
    static unsigned long counter; /* per-process sequence for unique names */
    strbuf_path_init(&p->base);
    strbuf_path_init(&p->tmp);
    strbuf_path_init(&p->new_dir);
    strbuf_path_init(&p->new_file);
    if (strbuf_path_printf(&p->base, "%s", dir) < 0)
        return -1;
    while (p->base.len > 1 && p->base.data[p->base.len - 1] == '/')
        strbuf_truncate(&p->base, p->base.len - 1);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    strbuf unique;
    strbuf_init(&unique, 0);
    maildir_unique_name(&unique, (long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), ++counter,
                        mail_params_current()->myhostname);
    int rc = strbuf_path_printf(&p->tmp, "%s/tmp/%s", p->base.data, unique.data) < 0 ||
                     strbuf_path_printf(&p->new_dir, "%s/new", p->base.data) < 0 ||
                     strbuf_path_printf(&p->new_file, "%s/new/%s", p->base.data, unique.data) < 0
                 ? -1
                 : 0;
    strbuf_free(&unique);
    return rc;
}

/* Writes the message into tmp/, fsyncs it, links it into new/ and fsyncs new/. */
static int maildir_write(maildir_paths *p, mail_source *src, const char *sender,
                         const char *delivered_to, long long size_limit, char dsn[DSN_MAX],
                         strbuf *why)
{
    const char *tmp_path = p->tmp.data, *new_path = p->new_file.data;
    const char *new_dir = p->new_dir.data, *base = p->base.data;
    /* The Maildir is made when the first delivery finds it missing, not checked every time:
     * that would be a dozen mkdir() calls per message. */
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == ENOENT) {
        if (make_maildir(base, why) < 0) {
            dsn_set(dsn, DSN_MAX, "4.2.0");
            return -1;
        }
        fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (fd < 0) {
        dsn_set(dsn, DSN_MAX, "4.2.0");
        strbuf_printf(why, "create maildir file %s: %s", tmp_path, strerror(errno));
        return -1;
    }
    mail_copy_opts opts = {.return_path = 1, .delivered_to = delivered_to,
                           .size_limit = size_limit, .sync = 1};
    strbuf copy_why;
    strbuf_init(&copy_why, 0);
    int rc = mail_copy(src, sender, fd, &opts, NULL, &copy_why);
    int saved = errno;
    if (close(fd) < 0 && rc == MAIL_COPY_OK) {
        rc = MAIL_COPY_WRITE_ERROR;
        saved = errno;
        strbuf_printf(&copy_why, "%s", strerror(saved));
    }
    if (rc != MAIL_COPY_OK) {
        unlink(tmp_path);
        dsn_set(dsn, DSN_MAX, mail_copy_dsn(rc, saved));
        strbuf_printf(why, "maildir delivery failed: %s", copy_why.data);
        strbuf_free(&copy_why);
        return -1;
    }
    strbuf_free(&copy_why);
    /* link() never replaces an existing file; rename() is the fallback where links fail. */
    int moved = link(tmp_path, new_path) == 0 ? unlink(tmp_path), 0 : -1;
    if (moved < 0 && errno == ENOENT && make_maildir(base, why) == 0) /* new/ went away */
        moved = link(tmp_path, new_path) == 0 ? unlink(tmp_path), 0 : -1;
    if (moved < 0 && errno != EEXIST)
        moved = rename(tmp_path, new_path);
    if (moved < 0) {
        saved = errno;
        unlink(tmp_path);
        dsn_set(dsn, DSN_MAX, "4.2.0");
        strbuf_printf(why, "maildir delivery failed: rename %s: %s", new_path, strerror(saved));
        return -1;
    }
    if (fsync_dir(new_dir) < 0) {
        dsn_set(dsn, DSN_MAX, "4.2.0");
        strbuf_printf(why, "maildir delivery failed: fsync %s: %s", new_dir, strerror(errno));
        return -1;
    }
    return 0;
}

int maildir_deliver(const char *dir, mail_source *src, const char *sender,
                    const char *delivered_to, long long size_limit, char dsn[DSN_MAX],
                    strbuf *why)
{
    maildir_paths paths;
    if (paths_build(&paths, dir) < 0) {
        dsn_set(dsn, DSN_MAX, "4.3.5");
        strbuf_printf(why, "maildir delivery failed: maildir %s: %s", dir, strerror(errno));
        paths_free(&paths);
        return -1;
    }
    int rc = maildir_write(&paths, src, sender, delivered_to, size_limit, dsn, why);
    paths_free(&paths);
    return rc;
}

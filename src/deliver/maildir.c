/* maildir.c: Maildir delivery (see maildir.h). */
#include "deliver/maildir.h"
#include "lib/config.h"
#include "queue/queue_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

void maildir_unique_name(char *buf, size_t len, long sec, long usec, long pid,
                         unsigned long count, const char *host)
{
    char safe_host[256];
    size_t o = 0;
    for (const char *p = host; *p && o + 5 < sizeof(safe_host); p++) {
        if (*p == '/') {
            memcpy(safe_host + o, "\\057", 4);
            o += 4;
        } else if (*p == ':') {
            memcpy(safe_host + o, "\\072", 4);
            o += 4;
        } else {
            safe_host[o++] = *p;
        }
    }
    safe_host[o] = '\0';
    snprintf(buf, len, "%ld.M%06ldP%ldQ%lu.%s", sec, usec, pid, count, safe_host);
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
    for (int i = 0; i < 3; i++) {
        char sub[4200];
        snprintf(sub, sizeof(sub), "%s/%s", base, subdirs[i]);
        if (maildir_make_dirs(sub, 0700) < 0) {
            strbuf_printf(why, "create maildir file %s: %s", sub, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int maildir_deliver(const char *dir, mail_source *src, const char *sender,
                    const char *delivered_to, long long size_limit, char dsn[DSN_MAX],
                    strbuf *why)
{
    static unsigned long counter; /* per-process sequence for unique names */
    char base[4096], tmp_path[4400], new_path[4400], new_dir[4200];
    snprintf(base, sizeof(base), "%s", dir);
    size_t blen = strlen(base);
    while (blen > 1 && base[blen - 1] == '/')
        base[--blen] = '\0';
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char unique[512];
    maildir_unique_name(unique, sizeof(unique), (long)tv.tv_sec, (long)tv.tv_usec,
                        (long)getpid(), ++counter, cfg_str("myhostname"));
    snprintf(tmp_path, sizeof(tmp_path), "%s/tmp/%s", base, unique);
    snprintf(new_dir, sizeof(new_dir), "%s/new", base);
    snprintf(new_path, sizeof(new_path), "%s/new/%s", base, unique);
    /* The Maildir is made when the first delivery finds it missing, not checked every time:
     * that would be a dozen mkdir() calls per message. */
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == ENOENT) {
        if (make_maildir(base, why) < 0) {
            snprintf(dsn, DSN_MAX, "4.2.0");
            return -1;
        }
        fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (fd < 0) {
        snprintf(dsn, DSN_MAX, "4.2.0");
        strbuf_printf(why, "create maildir file %s: %s", tmp_path, strerror(errno));
        return -1;
    }
    mail_copy_opts opts = {.return_path = 1, .delivered_to = delivered_to,
                           .size_limit = size_limit};
    strbuf copy_why;
    strbuf_init(&copy_why, 4096);
    int rc = mail_copy(src, sender, fd, &opts, NULL, &copy_why);
    int saved = errno;
    if (rc == MAIL_COPY_OK && fsync(fd) < 0) {
        rc = MAIL_COPY_WRITE_ERROR;
        saved = errno;
        strbuf_reset(&copy_why);
        strbuf_printf(&copy_why, "%s", strerror(saved));
    }
    if (close(fd) < 0 && rc == MAIL_COPY_OK) {
        rc = MAIL_COPY_WRITE_ERROR;
        saved = errno;
        strbuf_printf(&copy_why, "%s", strerror(saved));
    }
    if (rc != MAIL_COPY_OK) {
        unlink(tmp_path);
        snprintf(dsn, DSN_MAX, "%s", mail_copy_dsn(rc, saved));
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
        snprintf(dsn, DSN_MAX, "4.2.0");
        strbuf_printf(why, "maildir delivery failed: rename %s: %s", new_path, strerror(saved));
        return -1;
    }
    if (fsync_dir(new_dir) < 0) {
        snprintf(dsn, DSN_MAX, "4.2.0");
        strbuf_printf(why, "maildir delivery failed: fsync %s: %s", new_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* mbox.c: UNIX mbox delivery with fcntl/flock/dot locks (see mbox.h). */
#include "deliver/mbox.h"
#include "deliver/deliver_privs.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mbox_lock_methods(const char *list)
{
    int bits = 0;
    const char *p = list;
    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]) && p[n] != ',')
            n++;
        if (n == 0)
            break;
        if (n == 5 && strncmp(p, "fcntl", n) == 0)
            bits |= MBOX_LOCK_FCNTL;
        else if (n == 5 && strncmp(p, "flock", n) == 0)
            bits |= MBOX_LOCK_FLOCK;
        else if (n == 7 && strncmp(p, "dotlock", n) == 0)
            bits |= MBOX_LOCK_DOTLOCK;
        else
            log_warning("unknown mailbox lock method \"%.*s\" ignored", (int)n, p);
        p += n;
    }
    return bits;
}

static int dotlock_acquire(const char *path, const char *lock_path, strbuf *why);
static void dotlock_release(const char *lock_path);

static int dotlock_try(const char *lock_path)
{
    int fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int mbox_dotlock_acquire(const char *path, strbuf *why)
{
    strbuf lock;
    strbuf_path_init(&lock);
    int rc = strbuf_path_printf(&lock, "%s.lock", path);
    if (rc < 0)
        strbuf_printf(why, "cannot create lock file %s.lock: %s", path, strerror(errno));
    else
        rc = dotlock_acquire(path, lock.data, why);
    strbuf_free(&lock);
    return rc;
}

static int dotlock_acquire(const char *path, const char *lock_path, strbuf *why)
{
    long attempts = mail_params_current()->deliver_lock_attempts;
    long delay = mail_params_current()->deliver_lock_delay;
    long stale = mail_params_current()->stale_lock_time;
    if (attempts < 1)
        attempts = 1;
    for (long i = 0; i < attempts; i++) {
        if (dotlock_try(lock_path) == 0)
            return 0;
        if (errno == EACCES && deliver_privs_root() && geteuid() != 0) {
            /* The spool directory is writable by root only: lock as root. */
            uid_t uid = geteuid();
            gid_t gid = getegid();
            deliver_privs_leave();
            int rc = dotlock_try(lock_path);
            int saved = errno;
            strbuf ignore;
            strbuf_init(&ignore, 256);
            deliver_privs_enter(uid, gid, &ignore);
            strbuf_free(&ignore);
            if (rc == 0)
                return 0;
            errno = saved;
        }
        if (errno != EEXIST) {
            strbuf_printf(why, "cannot create lock file %s: %s", lock_path, strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(lock_path, &st) == 0 && time(NULL) - st.st_mtime > stale) {
            log_warning("removing stale lock file %s", lock_path);
            unlink(lock_path);
            continue;
        }
        if (i + 1 < attempts && delay > 0)
            sleep((unsigned)delay);
    }
    strbuf_printf(why, "unable to lock %s: lock file %s exists", path, lock_path);
    return -1;
}

void mbox_dotlock_release(const char *path)
{
    strbuf lock;
    strbuf_path_init(&lock);
    if (strbuf_path_printf(&lock, "%s.lock", path) == 0) /* else acquire failed too */
        dotlock_release(lock.data);
    strbuf_free(&lock);
}

static void dotlock_release(const char *lock_path)
{
    if (unlink(lock_path) < 0 && errno == EACCES && deliver_privs_root() && geteuid() != 0) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        deliver_privs_leave();
        unlink(lock_path);
        strbuf ignore;
        strbuf_init(&ignore, 256);
        deliver_privs_enter(uid, gid, &ignore);
        strbuf_free(&ignore);
    }
}

/* Takes a kernel lock, retrying like the dotlock. 0 or -1. */
static int kernel_lock(int fd, int method, strbuf *why)
{
    long attempts = mail_params_current()->deliver_lock_attempts;
    long delay = mail_params_current()->deliver_lock_delay;
    if (attempts < 1)
        attempts = 1;
    for (long i = 0; i < attempts; i++) {
        int rc;
        if (method == MBOX_LOCK_FCNTL) {
            struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
            rc = fcntl(fd, F_SETLK, &fl);
        } else {
            rc = flock(fd, LOCK_EX | LOCK_NB);
        }
        if (rc == 0)
            return 0;
        if (errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK && errno != EINTR) {
            strbuf_printf(why, "cannot lock mailbox: %s", strerror(errno));
            return -1;
        }
        if (i + 1 < attempts && delay > 0)
            sleep((unsigned)delay);
    }
    strbuf_printf(why, "unable to lock mailbox: locked by another process");
    return -1;
}

/* Opens the mailbox; on failure *permanent says whether retrying cannot help. */
static int open_mailbox(const char *path, int *permanent, strbuf *why)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        *permanent = errno == ELOOP || errno == EISDIR;
        strbuf_printf(why, "cannot open file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1) {
        *permanent = 1;
        strbuf_printf(why, "destination %s is not a regular file with one link", path);
        close(fd);
        return -1;
    }
    return fd;
}

int mbox_deliver(const char *path, mail_source *src, const char *sender,
                 const char *delivered_to, long long size_limit, int lock_methods,
                 char dsn[DSN_MAX], strbuf *why)
{
    int dotlocked = 0;
    if ((lock_methods & MBOX_LOCK_DOTLOCK) && mbox_dotlock_acquire(path, why) < 0) {
        dsn_set(dsn, DSN_MAX, "4.2.0");
        return -1;
    }
    dotlocked = (lock_methods & MBOX_LOCK_DOTLOCK) != 0;
    int permanent = 0;
    int fd = open_mailbox(path, &permanent, why);
    if (fd < 0) {
        if (dotlocked)
            mbox_dotlock_release(path);
        dsn_set(dsn, DSN_MAX, permanent ? "5.2.0" : "4.2.0");
        return -1;
    }
    int rc = 0;
    if (((lock_methods & MBOX_LOCK_FCNTL) && kernel_lock(fd, MBOX_LOCK_FCNTL, why) < 0) ||
        ((lock_methods & MBOX_LOCK_FLOCK) && kernel_lock(fd, MBOX_LOCK_FLOCK, why) < 0)) {
        dsn_set(dsn, DSN_MAX, "4.2.0");
        rc = -1;
    }
    off_t old_size = 0;
    if (rc == 0) {
        struct stat st;
        old_size = fstat(fd, &st) == 0 ? st.st_size : lseek(fd, 0, SEEK_END);
        long long room = 0;
        if (size_limit > 0) {
            room = size_limit - (long long)old_size;
            if (room <= 0) {
                dsn_set(dsn, DSN_MAX, "5.2.2");
                strbuf_printf(why, "cannot update mailbox %s: mailbox full", path);
                rc = -1;
            }
        }
        if (rc == 0) {
            mail_copy_opts opts = {.from_line = 1, .quote_from = 1, .blank_line = 1,
                                   .return_path = 1, .delivered_to = delivered_to,
                                   .size_limit = room, .sync = 1};
            strbuf copy_why;
            strbuf_init(&copy_why, 0);
            int cr = mail_copy(src, sender, fd, &opts, NULL, &copy_why);
            int saved = errno;
            if (cr != MAIL_COPY_OK) {
                if (ftruncate(fd, old_size) < 0)
                    log_warning("cannot truncate %s after a failed delivery: %s", path,
                                strerror(errno));
                dsn_set(dsn, DSN_MAX, mail_copy_dsn(cr, saved));
                strbuf_printf(why, "cannot update mailbox %s: %s", path, copy_why.data);
                rc = -1;
            }
            strbuf_free(&copy_why);
        }
    }
    close(fd); /* releases the fcntl and flock locks */
    if (dotlocked)
        mbox_dotlock_release(path);
    return rc;
}

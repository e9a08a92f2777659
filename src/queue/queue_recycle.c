/*
 * queue_recycle.c: reuse of finished queue files (see queue_recycle.h).
 */
#include "queue/queue_recycle.h"
#include "lib/fixed_str.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAKE_TRIES 2     /* slots a take tries after the one it expects */
#define RESYNC_MISSES 16 /* fruitless takes before a look at the directory */

int queue_recycler_init(queue_recycler *r, const char *queue_dir)
{
    int n = snprintf(r->dir, sizeof(r->dir), "%s/%s", queue_dir, QUEUE_RECYCLE_DIR);
    atomic_init(&r->next, 0);
    atomic_init(&r->claims, 0);
    atomic_init(&r->misses, 0);
    if (n < 0 || (size_t)n >= sizeof(r->dir) - 32) {
        r->dir[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* buf has room for r->dir and 16 more bytes, and the slot number has at most 10 digits. */
static int slot_path(const queue_recycler *r, unsigned slot, char *buf, size_t len)
{
    return fixed_printf(buf, len, "%s/%u", r->dir, slot % QUEUE_RECYCLE_SLOTS);
}

int queue_recycle_put(queue_recycler *r, const char *path)
{
    char slot[sizeof(r->dir) + 16];
    unsigned n = atomic_load(&r->next);
    if (r->dir[0] != '\0' && slot_path(r, n, slot, sizeof(slot)) == 0) {
        int rc = renameat2(AT_FDCWD, path, AT_FDCWD, slot, RENAME_NOREPLACE);
        /* EEXIST: the ring is full (nobody takes), or this filler restarted behind the taker:
         * the next put tries the next slot. Other errors: no recycle/ or no renameat2. */
        if (rc == 0 || errno == EEXIST)
            atomic_store(&r->next, n + 1);
        if (rc == 0)
            return 0;
    }
    return unlink(path);
}

/* Opens a claimed file and makes it an empty spare; removes it when it is not fit. */
static int open_claimed(const char *claim)
{
    int fd = open(claim, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    /* One link only: a name that also stands in a queue (after a crash repaired by fsck) is
     * somebody's mail, not ours to empty. */
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
        st.st_uid == geteuid() && ftruncate(fd, 0) == 0 && fchmod(fd, 0600) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    unlink(claim);
    return -1;
}

/* Points the ring at a slot that holds a file, after the filler and the taker lost step. */
static void resync(queue_recycler *r)
{
    DIR *d = opendir(r->dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char *end;
        unsigned long slot = strtoul(e->d_name, &end, 10);
        if (*end == '\0' && slot < QUEUE_RECYCLE_SLOTS) {
            atomic_store(&r->next, (unsigned)slot);
            break;
        }
    }
    closedir(d);
}

int queue_recycle_claim_path(const queue_recycler *r, unsigned claim, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/claim.%ld.%u", r->dir, (long)getpid(), claim);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int queue_recycle_take(queue_recycler *r, unsigned *claim)
{
    if (r->dir[0] == '\0')
        return -1;
    unsigned n = atomic_load(&r->next);
    for (unsigned i = 0; i <= TAKE_TRIES; i++) {
        char slot[sizeof(r->dir) + 16], path[sizeof(r->dir) + 64];
        if (slot_path(r, n + i, slot, sizeof(slot)) < 0)
            return -1;
        *claim = atomic_fetch_add(&r->claims, 1);
        if (queue_recycle_claim_path(r, *claim, path, sizeof(path)) < 0)
            return -1;
        if (renameat2(AT_FDCWD, slot, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
            continue;
        unsigned expected = n;
        atomic_compare_exchange_strong(&r->next, &expected, n + i + 1);
        atomic_store(&r->misses, 0);
        int fd = open_claimed(path);
        if (fd >= 0)
            return fd;
    }
    if (atomic_fetch_add(&r->misses, 1) + 1 >= RESYNC_MISSES) {
        atomic_store(&r->misses, 0);
        resync(r);
    }
    return -1;
}

/* Should a purge remove this entry of recycle/? all: everything; else only claims of a
 * process that is gone. */
static int purgeable(const char *name, int all)
{
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    if (all)
        return 1;
    if (strncmp(name, "claim.", 6) != 0 || !isdigit((unsigned char)name[6]))
        return 0;
    char *end;
    long pid = strtol(name + 6, &end, 10);
    return *end == '.' && pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int purge(const char *queue_dir, int all)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/%s", queue_dir, QUEUE_RECYCLE_DIR);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (purgeable(e->d_name, all) && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int queue_recycle_purge(const char *queue_dir)
{
    return purge(queue_dir, 1);
}

int queue_recycle_purge_stale(const char *queue_dir)
{
    return purge(queue_dir, 0);
}

/*
 * queue_dir.c: queue directories, hashed paths and moves between queues (see queue_dir.h).
 *
 * Durability: a hash subdirectory created on demand is fsync'd into its parent before a file
 * is placed in it, and queue_move() fsyncs the target directory, so a file that has been moved
 * stays moved after a crash.
 */
#include "queue/queue_dir.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/word_list.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_DEPTH_MAX 8

const char *const queue_names[] = {"maildrop", "incoming", "active", "deferred", "hold",
                                   "corrupt",  "bounce",   "defer",  "trace",    "pid",
                                   "public",   "private",  "saved",  "flush",    "recycle",
                                   NULL};

int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Mode and whether the directory gets the setgid group, per queue. */
static mode_t queue_dir_mode(const char *name, int *uses_group)
{
    *uses_group = 0;
    if (strcmp(name, "public") == 0) {
        *uses_group = 1;
        return 0710;
    }
    if (strcmp(name, "maildrop") == 0) {
        *uses_group = 1;
        return 0730;
    }
    if (strcmp(name, "pid") == 0)
        return 0755;
    return 0700;
}

static int make_queue_dir(const char *path, const char *name, uid_t owner, gid_t group, strbuf *err)
{
    int uses_group;
    mode_t mode = queue_dir_mode(name, &uses_group);
    if (mkdir(path, mode) < 0) {
        if (errno == EEXIST)
            return 0;
        strbuf_printf(err, "create directory %s: %s", path, strerror(errno));
        return -1;
    }
    uid_t want_owner = strcmp(name, "pid") == 0 ? (uid_t)-1 : owner;
    gid_t want_group = uses_group ? group : (gid_t)-1;
    if ((want_owner != (uid_t)-1 || want_group != (gid_t)-1) &&
        chown(path, want_owner, want_group) < 0) {
        strbuf_printf(err, "chown %s: %s", path, strerror(errno));
        return -1;
    }
    if (chmod(path, mode) < 0) { /* umask may have removed bits */
        strbuf_printf(err, "chmod %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int queue_dirs_create(const char *queue_dir, uid_t owner, gid_t group, strbuf *err)
{
    if (mkdir(queue_dir, 0755) < 0 && errno != EEXIST) {
        strbuf_printf(err, "create directory %s: %s", queue_dir, strerror(errno));
        return -1;
    }
    char path[4096];
    for (size_t i = 0; queue_names[i] != NULL; i++) {
        int n = snprintf(path, sizeof(path), "%s/%s", queue_dir, queue_names[i]);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            strbuf_printf(err, "queue directory name too long: %s", queue_dir);
            return -1;
        }
        if (make_queue_dir(path, queue_names[i], owner, group, err) < 0)
            return -1;
    }
    return 0;
}

/* Non-zero when queue_name is listed in hash_queue_names (comma/space separated). */
static int queue_is_hashed(const char *queue_name)
{
    const char *list = config_current() ? cfg_str("hash_queue_names") : "deferred, defer";
    return word_list_has(list, queue_name, WORD_LIST_EXACT);
}

static int hash_depth(void)
{
    long depth = config_current() ? cfg_int("hash_queue_depth") : 1;
    if (depth < 0)
        return 0;
    return depth > HASH_DEPTH_MAX ? HASH_DEPTH_MAX : (int)depth;
}

/* mkdir that also makes a new directory's name durable in its parent. */
static int make_hash_dir(const char *path, size_t parent_len)
{
    if (mkdir(path, 0700) < 0)
        return errno == EEXIST ? 0 : -1;
    char parent[4096];
    if (parent_len >= sizeof(parent))
        return -1;
    memcpy(parent, path, parent_len);
    parent[parent_len] = '\0';
    return fsync_dir(parent);
}

int queue_path(char *buf, size_t len, const char *queue_dir, const char *queue_name, const char *id,
               int create)
{
    if (id[0] == '\0' || strchr(id, '/') != NULL || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        errno = EINVAL;
        return -1;
    }
    int n = snprintf(buf, len, "%s/%s", queue_dir, queue_name);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t used = (size_t)n;
    if (queue_is_hashed(queue_name)) {
        int depth = hash_depth();
        size_t idlen = strlen(id);
        for (int i = 0; i < depth && (size_t)i < idlen; i++) {
            if (used + 3 >= len) {
                errno = ENAMETOOLONG;
                return -1;
            }
            size_t parent_len = used;
            buf[used++] = '/';
            buf[used++] = id[i];
            buf[used] = '\0';
            if (create && make_hash_dir(buf, parent_len) < 0)
                return -1;
        }
    }
    n = snprintf(buf + used, len - used, "/%s", id);
    if (n < 0 || (size_t)n >= len - used) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int queue_parent_dir(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return fixed_copy(out, len, slash ? "/" : ".");
    size_t n = (size_t)(slash - path);
    if (n >= len)
        return fixed_copy(out, len, path); /* refused: longer still */
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

/* Renames id from one queue to another; the new path goes into new_dir's buffer. */
static int move_file(const char *queue_dir, const char *id, const char *from, const char *to,
                     char *new_dir, size_t new_dir_len, strbuf *err)
{
    char old_path[4096], new_path[4096];
    if (!queue_id_valid(id)) {
        strbuf_printf(err, "bad queue id: %.100s", id);
        return -1;
    }
    if (queue_path(old_path, sizeof(old_path), queue_dir, from, id, 0) < 0 ||
        queue_path(new_path, sizeof(new_path), queue_dir, to, id, 1) < 0) {
        strbuf_printf(err, "%s: cannot build queue path for %s -> %s: %s", id, from, to,
                      strerror(errno));
        return -1;
    }
    if (rename(old_path, new_path) < 0) {
        strbuf_printf(err, "rename %s to %s: %s", old_path, new_path, strerror(errno));
        return -1;
    }
    _Static_assert(sizeof(new_path) == 4096, "callers' new_dir has room for new_path");
    if (queue_parent_dir(new_path, new_dir, new_dir_len) < 0) {
        strbuf_printf(err, "%s: directory name too long", new_path);
        return -1;
    }
    return 0;
}

int queue_move(const char *queue_dir, const char *id, const char *from, const char *to, strbuf *err)
{
    char new_dir[4096];
    if (move_file(queue_dir, id, from, to, new_dir, sizeof(new_dir), err) < 0)
        return -1;
    if (fsync_dir(new_dir) < 0) {
        strbuf_printf(err, "fsync %s: %s", new_dir, strerror(errno));
        return -1;
    }
    return 0;
}

int queue_rename(const char *queue_dir, const char *id, const char *from, const char *to,
                 strbuf *err)
{
    char new_dir[4096];
    return move_file(queue_dir, id, from, to, new_dir, sizeof(new_dir), err);
}

int queue_incomplete_purge(const char *queue_dir, const char *subdir, long min_age, time_t now)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/%s", queue_dir, subdir);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        return errno == ENOENT ? 0 : -1;
    }
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (!queue_id_valid(de->d_name) ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & S_IXUSR) != 0 || now - st.st_mtime < min_age)
            continue;
        if (unlinkat(dfd, de->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed > 0)
        fsync_dir(dir);
    return removed;
}

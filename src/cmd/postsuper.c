/*
 * postsuper.c: queue maintenance, as Postfix's postsuper(1).
 *
 *   postsuper [-psv] [-c config_dir] [-d queue_id] [-h queue_id] [-H queue_id]
 *             [-r queue_id] [queue...]
 *
 * -d ID   delete the message (and its defer/bounce/trace logs) from the named queues (default
 *         hold, incoming, active, deferred, maildrop); logs "ID: removed".
 * -h ID   put on hold: move from incoming, active, deferred to hold/; "ID: placed on hold".
 * -H ID   release from hold to deferred/, due now; "ID: released from hold".
 * -r ID   requeue: move to maildrop/ so pickup runs it through cleanup again; "ID: requeued".
 *         An ID of "ALL" (upper case) means every message; "-" reads ids from standard input.
 * -s      structure check: files whose name does not match their inode number get a new
 *         name (ID#FIX in a first pass, then the final name), files in the wrong hashed
 *         subdirectory (after a hash_queue_depth / hash_queue_names change) are moved.
 * -p      purge incomplete files (no owner-execute bit) older than a day and non-files, and
 *         recycled files claimed by processes that are gone (queue_recycle.h).
 * Without options: -s -p on every queue. Counts are reported on stderr and in the log as
 * Postfix does ("postsuper: Deleted: 2 messages").
 *
 * Runs as root or as the owner of the queue. Root switches to mail_owner when that user owns
 * the queue, so directories it creates belong to the mail system, as Postfix's does.
 * Exit status: 0; 1 on fatal errors; 64 for bad usage.
 */
#include "cmd/commands.h"

#include "global/mail_conf.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "master/mail_server.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "queue/queue_recycle.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEMP_AGE (24 * 60 * 60) /* Postfix: temporary files older than a day are stale */
#define FIX_SUFFIX "#FIX"
#define FIX_SUFFIX_LEN 4
#define STDIN_ID_MAX 256
#define SCAN_DEPTH_MAX 8

enum {
    ACTION_STRUCT = 1 << 0,
    ACTION_PURGE = 1 << 1,
    ACTION_DELETE_ONE = 1 << 2,
    ACTION_DELETE_ALL = 1 << 3,
    ACTION_REQUEUE_ONE = 1 << 4,
    ACTION_REQUEUE_ALL = 1 << 5,
    ACTION_HOLD_ONE = 1 << 6,
    ACTION_HOLD_ALL = 1 << 7,
    ACTION_RELEASE_ONE = 1 << 8,
    ACTION_RELEASE_ALL = 1 << 9,
};
#define ACTIONS_BY_QUEUE_ID                                                                        \
    (ACTION_DELETE_ONE | ACTION_REQUEUE_ONE | ACTION_HOLD_ONE | ACTION_RELEASE_ONE)
/* Mass moves wait for a second pass when file names had to be fixed first. */
#define ACTIONS_AFTER_INUM_FIX (ACTION_REQUEUE_ALL | ACTION_HOLD_ALL | ACTION_RELEASE_ALL)

typedef struct queue_info {
    const char *name;
    int messages; /* holds message files (else per-message log files) */
    int recurse;  /* may have hash subdirectories */
} queue_info;

static const queue_info queue_table[] = {
    {"maildrop", 1, 0}, {"incoming", 1, 1}, {"active", 1, 1}, {"deferred", 1, 1}, {"hold", 1, 1},
    {"corrupt", 1, 1},  {"trace", 0, 1},    {"defer", 0, 1},  {"bounce", 0, 1},   {"flush", 0, 1},
};

static const char *const log_queues[] = {"bounce", "defer", "trace", NULL};
/* Log directories first: their files must be in place before message files are renamed. */
static const char *const default_queues[] = {"defer",  "bounce",   "trace", "maildrop", "incoming",
                                             "active", "deferred", "hold",  "flush",    NULL};
static const char *const default_hold_queues[] = {"incoming", "active", "deferred", NULL};
static const char *const default_release_queues[] = {"hold", NULL};

typedef struct counts {
    int requeued, held, released, deleted, inode_fixed, inode_mismatch, position_mismatch;
} counts;

typedef struct superintendent {
    const char *queue_dir;
    int action;
    int verbose;
    counts n;
} superintendent;

typedef int (*id_operation)(superintendent *s, const char *const *queues, const char *id);

static void usage(void)
{
    fprintf(stderr, "usage: postsuper [-c config_dir] [-d queue_id (delete)] "
                    "[-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] "
                    "[-r queue_id (requeue)] [-s (structure fix)] [-v (verbose)] [queue...]\n");
    exit(EX_USAGE_CODE);
}

static const queue_info *find_queue(const char *name)
{
    for (size_t i = 0; i < sizeof(queue_table) / sizeof(queue_table[0]); i++)
        if (strcmp(queue_table[i].name, name) == 0)
            return &queue_table[i];
    return NULL;
}

/* ---- file operations ---- */

static void remove_file(superintendent *s, const char *path)
{
    if (unlink(path) < 0) {
        if (errno != ENOENT)
            log_fatal("remove file %s: %s", path, strerror(errno));
    } else if (s->verbose) {
        log_info("removed file %s", path);
    }
}

/* rename() that makes the new name durable. Returns 0, -1 when the file went away (lost a
 * race with the mail system); other errors are fatal, as in Postfix. */
static int move_file(superintendent *s, const char *from, const char *to)
{
    if (rename(from, to) < 0) {
        if (errno == ENOENT)
            return -1;
        log_fatal("rename file %s as %s: %s", from, to, strerror(errno));
    }
    char dir[PATH_MAX];
    if (queue_parent_dir(to, dir, sizeof(dir)) < 0 || fsync_dir(dir) < 0)
        log_warning("fsync %s: %s", dir, strerror(errno));
    if (s->verbose)
        log_info("renamed file %s as %s", from, to);
    return 0;
}

/* Path of name in queue, hash directories created. */
static void wanted_path(superintendent *s, char *buf, size_t len, const char *queue,
                        const char *name)
{
    if (queue_path(buf, len, s->queue_dir, queue, name, 1) < 0)
        log_fatal("%s: cannot build path in %s/%s: %s", name, s->queue_dir, queue, strerror(errno));
}

/* wanted_path() with FIX_SUFFIX appended. */
static void wanted_fix_path(superintendent *s, char *buf, size_t len, const char *queue,
                            const char *name)
{
    wanted_path(s, buf, len, queue, name);
    size_t n = strlen(buf);
    if (fixed_copy(buf + n, len - n, FIX_SUFFIX) < 0)
        log_fatal("%s: cannot build path in %s/%s: %s", name, s->queue_dir, queue, strerror(errno));
}

static void touch_now(const char *path)
{
    if (utimes(path, NULL) < 0)
        log_warning("%s: reset time stamps: %s", path, strerror(errno));
}

/* Non-zero when queue/id is a regular file; its path goes into path. */
static int find_message(superintendent *s, const char *queue, const char *id, char *path,
                        size_t len)
{
    struct stat st;
    return queue_path(path, len, s->queue_dir, queue, id, 0) == 0 && lstat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

/* ---- operations on named messages ---- */

static int check_id(const char *id)
{
    if (queue_id_valid(id))
        return 1;
    log_warning("invalid mail queue id: %s", id);
    return 0;
}

static int delete_one(superintendent *s, const char *const *queues, const char *id)
{
    char path[PATH_MAX], log_path[PATH_MAX];
    if (!check_id(id))
        return 0;
    for (; *queues; queues++) {
        const queue_info *q = find_queue(*queues);
        if (q == NULL || !q->messages || !find_message(s, q->name, id, path, sizeof(path)))
            continue;
        for (const char *const *l = log_queues; *l; l++)
            if (queue_path(log_path, sizeof(log_path), s->queue_dir, *l, id, 0) == 0)
                remove_file(s, log_path);
        if (unlink(path) == 0) {
            log_info("%s: removed", id);
            return 1;
        }
        if (errno != ENOENT)
            log_fatal("remove file %s: %s", path, strerror(errno));
    }
    return 0;
}

/* Moves id from the first of queues that has it into target; skip lists queues not to touch. */
static int move_one(superintendent *s, const char *const *queues, const char *id,
                    const char *target, const char *const *skip, int touch, const char *what)
{
    char path[PATH_MAX], new_path[PATH_MAX];
    if (!check_id(id))
        return 0;
    for (; *queues; queues++) {
        const queue_info *q = find_queue(*queues);
        int skipped = q == NULL || !q->messages;
        for (const char *const *k = skip; *k && !skipped; k++)
            skipped = strcmp(*k, *queues) == 0;
        if (skipped || !find_message(s, q->name, id, path, sizeof(path)))
            continue;
        wanted_path(s, new_path, sizeof(new_path), target, id);
        if (move_file(s, path, new_path) == 0) {
            if (touch)
                touch_now(new_path);
            log_info("%s: %s", id, what);
            return 1;
        }
    }
    return 0;
}

static int requeue_one(superintendent *s, const char *const *queues, const char *id)
{
    static const char *const skip[] = {"maildrop", NULL};
    return move_one(s, queues, id, "maildrop", skip, 1, "requeued");
}

static int hold_one(superintendent *s, const char *const *queues, const char *id)
{
    /* maildrop holds mail not yet checked by cleanup: never mix it with queued mail */
    static const char *const skip[] = {"maildrop", "hold", NULL};
    return move_one(s, queues, id, "hold", skip, 0, "placed on hold");
}

static int release_one(superintendent *s, const char *const *queues, const char *id)
{
    static const char *const skip[] = {"maildrop", "incoming", "active",
                                       "deferred", "corrupt",  NULL};
    return move_one(s, queues, id, "deferred", skip, 1, "released from hold");
}

/* Runs op on each id from standard input, one per line (surrounding blanks ignored). */
static int operate_stdin(superintendent *s, id_operation op, const char *const *queues)
{
    char line[STDIN_ID_MAX];
    int found = 0;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t len = strlen(line);
        int truncated = len > 0 && line[len - 1] != '\n' && !feof(stdin);
        if (truncated) { /* skip the rest of an overlong line */
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n')
                ;
            log_warning("invalid mail queue id: %.40s...", line);
            continue;
        }
        while (len > 0 && strchr(" \t\r\n", line[len - 1]))
            line[--len] = '\0';
        const char *id = line + strspn(line, " \t");
        if (*id)
            found += op(s, queues, id);
    }
    return found;
}

static int operate_names(superintendent *s, id_operation op, const char *const *queues,
                         char **names, size_t n)
{
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "ALL") == 0)
            continue;
        found +=
            strcmp(names[i], "-") == 0 ? operate_stdin(s, op, queues) : op(s, queues, names[i]);
    }
    return found;
}

/* ---- the structure pass over whole queues ---- */

/* Non-zero when the file's owner-execute bit says it is a complete message. */
static int ready_message(const struct stat *st)
{
    return (st->st_mode & S_IXUSR) != 0;
}

/* Inode number encoded in a short queue id (5 hex digits of time, then the inode in hex);
 * -1 when name is not of that form (long ids are left alone). */
static long long id_inode(const char *name)
{
    size_t len = strlen(name);
    if (len <= 5 || len > 5 + 16 || strspn(name, "0123456789ABCDEF") != len)
        return -1;
    return (long long)strtoull(name + 5, NULL, 16);
}

/* Gives a message whose name does not match its inode a new, deterministic name (time digits
 * kept, inode from the file) with FIX_SUFFIX: logs first, the message file last, so an
 * interrupted run can be completed by running again. */
static void fix_queue_id(superintendent *s, const char *path, const char *queue, const char *id,
                         ino_t inode)
{
    char new_id[QUEUE_ID_MAX + FIX_SUFFIX_LEN], old_log[PATH_MAX], new_log[PATH_MAX];
    if (fixed_printf(new_id, sizeof(new_id), "%.5s%llX", id, (unsigned long long)inode) < 0)
        log_fatal("%s: new queue id: %s", id, strerror(errno)); /* cannot happen: 5 + 16 digits */
    for (const char *const *l = log_queues; *l; l++) {
        if (queue_path(old_log, sizeof(old_log), s->queue_dir, *l, id, 0) < 0)
            continue;
        struct stat st;
        if (lstat(old_log, &st) < 0)
            continue;
        wanted_fix_path(s, new_log, sizeof(new_log), *l, new_id);
        move_file(s, old_log, new_log);
    }
    char new_path[PATH_MAX];
    wanted_fix_path(s, new_path, sizeof(new_path), queue, new_id);
    if (move_file(s, path, new_path) == 0)
        log_info("%s: renamed to %s to match its inode number", id, new_id);
}

/* Strips FIX_SUFFIX left by fix_queue_id(): name and path are updated. 0 when the file is
 * now in place, -1 when it must be left alone. */
static int finish_fix(superintendent *s, const queue_info *q, char *path, size_t path_len,
                      char *name, const struct stat *st)
{
    name[strlen(name) - FIX_SUFFIX_LEN] = '\0';
    if (!queue_id_valid(name)) {
        log_warning("bogus file name: %s", path);
        return -1;
    }
    if (q->messages && id_inode(name) != (long long)st->st_ino) {
        log_warning("name/inode mismatch: %s", path);
        return -1;
    }
    char wanted[PATH_MAX];
    wanted_path(s, wanted, sizeof(wanted), q->name, name);
    if (move_file(s, path, wanted) < 0)
        return -1;
    if (q->messages)
        s->n.inode_fixed++;
    return fixed_copy(path, path_len, wanted); /* path_len is PATH_MAX: it fits */
}

/* Moves a file of queue q to target (a mass operation); counts it when done. */
static void mass_move(superintendent *s, const char *path, const char *name, const char *target,
                      int touch, int *count)
{
    char wanted[PATH_MAX];
    wanted_path(s, wanted, sizeof(wanted), target, name);
    if (move_file(s, path, wanted) == 0) {
        if (touch)
            touch_now(wanted);
        (*count)++;
    }
}

static void super_file(superintendent *s, const queue_info *q, const char *dir_path,
                       const char *entry)
{
    char path[PATH_MAX], name[NAME_MAX + 1];
    struct stat st;
    if (fixed_printf(path, sizeof(path), "%s/%s", dir_path, entry) < 0 ||
        fixed_copy(name, sizeof(name), entry) < 0) {
        log_warning("%s/%s: %s", dir_path, entry, strerror(errno));
        return;
    }
    if (lstat(path, &st) < 0)
        return;
    if (s->action & ACTION_DELETE_ALL) {
        if (unlink(path) == 0) {
            if (q->messages && S_ISREG(st.st_mode) && ready_message(&st))
                s->n.deleted++;
        } else if (errno != ENOENT) {
            log_fatal("remove file %s: %s", path, strerror(errno));
        }
        return;
    }
    /* Non-files go; so do stale incomplete message files, never logs for being old. */
    if (!S_ISREG(st.st_mode) || ((s->action & ACTION_PURGE) && q->messages && !ready_message(&st) &&
                                 time(NULL) > st.st_mtime + MAX_TEMP_AGE)) {
        remove_file(s, path);
        return;
    }
    size_t name_len = strlen(name);
    if ((s->action & ACTION_STRUCT) && name_len > FIX_SUFFIX_LEN &&
        strcmp(name + name_len - FIX_SUFFIX_LEN, FIX_SUFFIX) == 0 &&
        finish_fix(s, q, path, sizeof(path), name, &st) < 0)
        return;
    if (!queue_id_valid(name)) {
        if (!q->messages || ready_message(&st)) /* else a file still being written */
            log_warning("bogus file name: %s", path);
        return;
    }
    if ((s->action & ACTION_STRUCT) && q->messages) {
        long long inode = id_inode(name);
        if (inode >= 0 && inode != (long long)st.st_ino) {
            s->n.inode_mismatch++;
            s->action &= ~ACTIONS_AFTER_INUM_FIX;
            fix_queue_id(s, path, q->name, name, st.st_ino);
            return;
        }
    }
    if ((s->action & ACTION_REQUEUE_ALL) && q->messages && strcmp(q->name, "maildrop") != 0) {
        mass_move(s, path, name, "maildrop", 1, &s->n.requeued);
        return;
    }
    if ((s->action & ACTION_HOLD_ALL) && q->messages && strcmp(q->name, "maildrop") != 0 &&
        strcmp(q->name, "hold") != 0) {
        mass_move(s, path, name, "hold", 0, &s->n.held);
        return;
    }
    if ((s->action & ACTION_RELEASE_ALL) && strcmp(q->name, "hold") == 0) {
        mass_move(s, path, name, "deferred", 1, &s->n.released);
        return;
    }
    if (s->action & ACTION_STRUCT) {
        char wanted[PATH_MAX];
        if (queue_path(wanted, sizeof(wanted), s->queue_dir, q->name, name, 0) == 0 &&
            strcmp(wanted, path) != 0) {
            s->n.position_mismatch++;
            wanted_path(s, wanted, sizeof(wanted), q->name, name);
            move_file(s, path, wanted);
        }
    }
}

/* Names in a directory (without . and ..), read before anything in it changes. */
static char **read_names(const char *dir_path, size_t *count)
{
    *count = 0;
    DIR *d = opendir(dir_path);
    if (d == NULL) {
        if (errno != ENOENT)
            log_warning("open directory %s: %s", dir_path, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[(*count)++] = xstrdup(e->d_name);
    }
    closedir(d);
    return names;
}

static void super_dir(superintendent *s, const queue_info *q, const char *dir_path, int depth,
                      int wanted_depth)
{
    size_t count;
    char **names = read_names(dir_path, &count);
    for (size_t i = 0; i < count; i++) {
        char path[PATH_MAX];
        struct stat st;
        if (fixed_printf(path, sizeof(path), "%s/%s", dir_path, names[i]) < 0) {
            log_warning("%s/%s: %s", dir_path, names[i], strerror(errno));
        } else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (strlen(names[i]) == 1 && q->recurse && depth < SCAN_DEPTH_MAX) {
                super_dir(s, q, path, depth + 1, wanted_depth);
                if (depth + 1 > wanted_depth && rmdir(path) < 0 && errno != ENOENT &&
                    errno != ENOTEMPTY && errno != EEXIST)
                    log_warning("remove subdirectory %s: %s", path, strerror(errno));
            } else if (rmdir(path) < 0 && errno != ENOENT) { /* alien directory */
                log_warning("remove subdirectory %s: %s", path, strerror(errno));
            }
        } else {
            super_file(s, q, dir_path, names[i]);
        }
        free(names[i]);
    }
    free(names);
}

static int queue_hashed(const char *queue)
{
    const char *p = cfg_str("hash_queue_names");
    size_t want = strlen(queue);
    while (*p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ", \t\r\n");
        if (n == want && strncmp(p, queue, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static void super(superintendent *s, const char *const *queues)
{
    long depth = cfg_int("hash_queue_depth");
    for (; *queues; queues++) {
        const queue_info *q = find_queue(*queues);
        if (q == NULL)
            log_fatal("invalid directory name: %s", *queues);
        int wanted_depth = queue_hashed(q->name) ? (int)(depth < 0 ? 0 : depth) : 0;
        if (wanted_depth > 0 && !q->recurse)
            log_fatal("%s queue must not be hashed", q->name);
        if (s->verbose)
            log_info("queue: %s", q->name);
        char dir_path[PATH_MAX]; /* queue_dir is at most QUEUE_DIR_MAX (mail_conf_start) */
        if (fixed_printf(dir_path, sizeof(dir_path), "%s/%s", s->queue_dir, q->name) < 0)
            log_fatal("%s/%s: %s", s->queue_dir, q->name, strerror(errno));
        super_dir(s, q, dir_path, 0, wanted_depth);
    }
}

/* ---- who may run it ---- */

static void require_privileges(const char *queue_dir)
{
    const char *owner_name = cfg_str("mail_owner");
    struct passwd *owner = getpwnam(owner_name);
    struct stat st;
    if (stat(queue_dir, &st) < 0)
        log_fatal("queue directory %s: %s", queue_dir, strerror(errno));
    uid_t uid = getuid();
    if (uid == 0) {
        if (owner != NULL && owner->pw_uid != 0 && st.st_uid == owner->pw_uid) {
            strbuf err;
            strbuf_init(&err, 0);
            if (mail_server_drop_privileges(owner_name, &err) < 0)
                log_fatal("%s", err.data ? err.data : "cannot change to mail_owner");
            strbuf_free(&err);
        }
        return;
    }
    if ((owner != NULL && owner->pw_uid == uid) || st.st_uid == uid)
        return;
    log_fatal("use of this command is reserved for the superuser");
}

/* ---- main ---- */

typedef struct id_list {
    char **names;
    size_t n;
} id_list;

static int add_name(id_list *l, char *name)
{
    l->names = xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
    l->names[l->n++] = name;
    return strcmp(name, "ALL") == 0;
}

static void drop_one_if_all(superintendent *s, int all, int one, const char *opt)
{
    if ((s->action & all) && (s->action & one)) {
        log_warning("option \"-%s ALL\" will ignore other command line queue IDs", opt);
        s->action &= ~one;
    }
}

static void report(const char *what, int count)
{
    if (count > 0)
        log_info("%s: %d message%s", what, count, count > 1 ? "s" : "");
}

int postsuper_main(int argc, char **argv)
{
    const char *config_dir = NULL;
    superintendent s = {0};
    id_list deletes = {0}, requeues = {0}, holds = {0}, releases = {0};
    log_init("postsuper");
    log_set_stderr(1);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt(argc, argv, "+c:d:h:H:pr:sv")) != -1) {
        switch (c) {
        case 'c':
            config_dir = optarg;
            break;
        case 'd':
            s.action |= add_name(&deletes, optarg) ? ACTION_DELETE_ALL : ACTION_DELETE_ONE;
            break;
        case 'h':
            s.action |= add_name(&holds, optarg) ? ACTION_HOLD_ALL : ACTION_HOLD_ONE;
            break;
        case 'H':
            s.action |= add_name(&releases, optarg) ? ACTION_RELEASE_ALL : ACTION_RELEASE_ONE;
            break;
        case 'p':
            s.action |= ACTION_PURGE;
            break;
        case 'r':
            s.action |= add_name(&requeues, optarg) ? ACTION_REQUEUE_ALL : ACTION_REQUEUE_ONE;
            break;
        case 's':
            s.action |= ACTION_STRUCT;
            break;
        case 'v':
            s.verbose++;
            break;
        default:
            usage();
        }
    }
    for (int i = optind; i < argc; i++)
        if (find_queue(argv[i]) == NULL)
            log_fatal("invalid directory name: %s", argv[i]);
    config *cfg = mail_conf_start(config_dir, EXIT_FAILURE);
    s.queue_dir = cfg_str("queue_directory");
    require_privileges(s.queue_dir);
    umask(022);

    drop_one_if_all(&s, ACTION_DELETE_ALL, ACTION_DELETE_ONE, "d");
    drop_one_if_all(&s, ACTION_REQUEUE_ALL, ACTION_REQUEUE_ONE, "r");
    drop_one_if_all(&s, ACTION_HOLD_ALL, ACTION_HOLD_ONE, "h");
    drop_one_if_all(&s, ACTION_RELEASE_ALL, ACTION_RELEASE_ONE, "H");
    if (s.action == 0)
        s.action = ACTION_STRUCT | ACTION_PURGE;

    const char *const *named = optind < argc ? (const char *const *)argv + optind : NULL;
    const char *const *queues = named                            ? named
                                : s.action == ACTION_HOLD_ALL    ? default_hold_queues
                                : s.action == ACTION_RELEASE_ALL ? default_release_queues
                                                                 : default_queues;
    if (s.action & ~ACTIONS_BY_QUEUE_ID) {
        super(&s, queues);
        if (s.n.inode_mismatch > 0) /* second pass: strip #FIX, finish postponed moves */
            super(&s, queues);
    }
    /* Spares a killed smtpd had claimed for reuse (queue_recycle.h); never mail. */
    if ((s.action & ACTION_PURGE) && queue_recycle_purge_stale(s.queue_dir) < 0 && errno != ENOENT)
        log_warning("cannot read %s/%s: %s", s.queue_dir, QUEUE_RECYCLE_DIR, strerror(errno));
    if ((s.action & ACTIONS_BY_QUEUE_ID) && (s.n.inode_mismatch > 0 || s.n.inode_fixed > 0)) {
        log_error("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS");
        log_fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND");
    }
    if (s.action & ACTION_DELETE_ONE)
        s.n.deleted +=
            operate_names(&s, delete_one, named ? named : default_queues, deletes.names, deletes.n);
    if (s.action & ACTION_REQUEUE_ONE)
        s.n.requeued += operate_names(&s, requeue_one, named ? named : default_queues,
                                      requeues.names, requeues.n);
    if (s.action & ACTION_HOLD_ONE)
        s.n.held +=
            operate_names(&s, hold_one, named ? named : default_hold_queues, holds.names, holds.n);
    if (s.action & ACTION_RELEASE_ONE)
        s.n.released += operate_names(&s, release_one, named ? named : default_release_queues,
                                      releases.names, releases.n);

    report("Requeued", s.n.requeued);
    report("Deleted", s.n.deleted);
    report("Placed on hold", s.n.held);
    report("Released from hold", s.n.released);
    report("Renamed to match inode number", s.n.inode_fixed);
    if (s.n.inode_mismatch > 0 || s.n.inode_fixed > 0)
        log_warning("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS");
    if (s.n.position_mismatch > 0 && s.verbose)
        log_info("Moved to the right subdirectory: %d file%s", s.n.position_mismatch,
                 s.n.position_mismatch > 1 ? "s" : "");
    free(deletes.names);
    free(requeues.names);
    free(holds.names);
    free(releases.names);
    config_set_current(NULL);
    config_free(cfg);
    return 0;
}

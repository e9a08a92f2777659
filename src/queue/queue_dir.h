/*
 * queue_dir.h: the queue directories and moving files between them.
 *
 * Under queue_directory, as in Postfix: maildrop incoming active deferred hold corrupt bounce
 * defer trace, plus pid/, public/ and private/ for the master's endpoints. Directories named in
 * hash_queue_names (default "deferred, defer") are hashed hash_queue_depth levels deep by the
 * first characters of the queue id: deferred/9/9DF7520804A.
 */
#ifndef POSTERN_QUEUE_DIR_H
#define POSTERN_QUEUE_DIR_H

#include "lib/strbuf.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The longest queue_directory: a longer one is a configuration error (mail_params_check), so
 * that every path below it (queue, hash levels, id, a suffix) fits in PATH_MAX. */
#define QUEUE_DIR_MAX 3840

extern const char *const queue_names[]; /* NULL-terminated: "maildrop", "incoming", ... */

/* Creates every queue directory that is missing (mode 0700, public 0710 group setgid_group,
 * maildrop 0730 group setgid_group); owner/group -1 keeps the caller's. */
int queue_dirs_create(const char *queue_dir, uid_t owner, gid_t group, strbuf *err);
/* Path of id in queue_name, with hashing applied; creates hash subdirectories when create != 0. */
int queue_path(char *buf, size_t len, const char *queue_dir, const char *queue_name,
               const char *id, int create);
/* The directory part of path into out: "." when path has no slash, "/" for "/name". 0, or -1
 * with errno = ENAMETOOLONG when it needs len bytes or more (out is then ""). */
int queue_parent_dir(const char *path, char *out, size_t len);
/* Renames id from one queue to another and fsyncs the target directory. */
int queue_move(const char *queue_dir, const char *id, const char *from, const char *to,
               strbuf *err);
/* The same rename without the directory fsync, for moves whose both ends are scanned after a
 * crash (incoming or deferred to active): rename is atomic, so the file is in one of them. */
int queue_rename(const char *queue_dir, const char *id, const char *from, const char *to,
                 strbuf *err);
/* Non-zero when id looks like a queue id (hex or long form, no slashes or dots). */
int queue_id_valid(const char *id);
/* Removes the incomplete files (owner-execute bit clear: their writer never finished, so no 250
 * was given for them) in queue_dir/subdir whose last change is at least min_age seconds before
 * now. Only for when no writer can be running (master start). Returns how many were removed,
 * or -1 with errno when the directory cannot be read. */
int queue_incomplete_purge(const char *queue_dir, const char *subdir, long min_age, time_t now);
/* fsync()s a directory by path. */
int fsync_dir(const char *path);

#endif

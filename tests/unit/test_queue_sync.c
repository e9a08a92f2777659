/* test_queue_sync.c: fsync worker threads (group commit), spare files, and the two-step commit
 * of queue files and cleanup that smtpd runs on them. */
#include "cleanup/cleanup.h"
#include "lib/config.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"
#include "queue/queue_recycle.h"
#include "queue/queue_sync.h"
#include "unit.h"
#include "unit_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char qdir[300];
static char incoming[320];
static config *cfg;

typedef struct outcome {
    int seen;
    int err;
} outcome;

static void record(void *ctx, int err, void *arg)
{
    outcome *o = ctx;
    int *calls = arg;
    o->seen++;
    o->err = err;
    (*calls)++;
}

/* Collects until want completions arrived (or 10 s passed); returns how many did. */
static int collect_until(queue_sync *qs, int want)
{
    int calls = 0;
    for (int waited = 0; calls < want && waited < 100; waited++) {
        struct pollfd pfd = {.fd = queue_sync_event_fd(qs), .events = POLLIN};
        if (poll(&pfd, 1, 100) > 0)
            queue_sync_collect(qs, record, &calls);
    }
    return calls;
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

TEST(many_requests_complete_with_their_context)
{
    queue_sync *qs = queue_sync_new(4);
    CHECK(qs != NULL);
    if (qs == NULL)
        return;
    enum { N = 40 };
    int fds[N];
    outcome out[N];
    memset(out, 0, sizeof(out));
    for (int i = 0; i < N; i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/sync-test-%d", incoming, i);
        fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        CHECK(fds[i] >= 0);
        CHECK(write(fds[i], "x", 1) == 1);
        CHECK_INT(queue_sync_submit(qs, fds[i], incoming, &out[i]), 0);
    }
    CHECK_INT(collect_until(qs, N), N);
    CHECK_INT(queue_sync_pending(qs), 0);
    for (int i = 0; i < N; i++) {
        CHECK_INT(out[i].seen, 1);
        CHECK_INT(out[i].err, 0);
        char path[400];
        snprintf(path, sizeof(path), "%s/sync-test-%d", incoming, i);
        close(fds[i]);
        unlink(path);
    }
    queue_sync_free(qs);
}

TEST(failures_are_reported_per_request)
{
    queue_sync *qs = queue_sync_new(2);
    outcome bad_fd = {0, 0}, bad_dir = {0, 0};
    CHECK_INT(queue_sync_submit(qs, -1, incoming, &bad_fd), 0);
    char path[400];
    snprintf(path, sizeof(path), "%s/sync-test-dir", incoming);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/no-such-directory", tmpdir);
    CHECK_INT(queue_sync_submit(qs, fd, missing, &bad_dir), 0);
    CHECK_INT(collect_until(qs, 2), 2);
    CHECK_INT(bad_fd.err, EBADF);
    CHECK_INT(bad_dir.err, ENOENT);
    close(fd);
    unlink(path);
    queue_sync_free(qs);
}

TEST(free_finishes_requests_still_queued)
{
    queue_sync *qs = queue_sync_new(1);
    char path[400];
    snprintf(path, sizeof(path), "%s/sync-test-drain", incoming);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    outcome o[5];
    memset(o, 0, sizeof(o));
    for (int i = 0; i < 5; i++)
        queue_sync_submit(qs, fd, incoming, &o[i]);
    queue_sync_drain(qs);
    int calls = 0;
    queue_sync_collect(qs, record, &calls);
    CHECK_INT(calls, 5);
    queue_sync_free(qs);
    close(fd);
    unlink(path);
}

TEST(spares_are_nameless_until_adopted)
{
    queue_sync *qs = queue_sync_new(2);
    CHECK_INT(queue_sync_spares(qs, incoming, 3), 0);
    char name[4200];
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++) {
        fd = queue_sync_take_spare(qs, name, sizeof(name));
        if (fd < 0)
            usleep(10000);
    }
    CHECK(fd >= 0);
    struct stat st;
    CHECK_INT(fstat(fd, &st), 0);
    CHECK_INT(st.st_size, 0);
    CHECK_INT(count_entries(incoming, ""), 2); /* . and .. only: spares have no name */
    CHECK_STR(name, "");
    /* The taken spare becomes a queue file named by its id (inode in the name). */
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_adopt(qdir, "incoming", fd, NULL, &err);
    CHECK(qw != NULL);
    if (qw) {
        struct stat named;
        CHECK_INT(stat(queue_writer_path(qw), &named), 0);
        CHECK_INT(named.st_ino, st.st_ino);
        queue_writer_abort(qw);
    }
    strbuf_free(&err);
    CHECK_INT(count_entries(incoming, ""), 2);
    queue_sync_free(qs);
}

TEST(recycled_spares_become_queue_files)
{
    char active_file[400];
    snprintf(active_file, sizeof(active_file), "%s/active/FINISHED", qdir);
    int old = open(active_file, O_CREAT | O_WRONLY, 0700);
    CHECK(old >= 0);
    CHECK(write(old, "old content", 11) == 11);
    struct stat finished;
    CHECK_INT(fstat(old, &finished), 0);
    close(old);
    queue_recycler qmgr_side;
    queue_recycler_init(&qmgr_side, qdir);
    CHECK_INT(queue_recycle_put(&qmgr_side, active_file), 0);

    queue_sync *qs = queue_sync_new(1);
    CHECK_INT(queue_sync_recycle(qs, qdir), 0);
    CHECK_INT(queue_sync_spares(qs, incoming, 2), 0);
    /* Of the first two spares, one is the recycled file and the other nameless. */
    char name[4200], other[4200];
    int fd = -1, fd2 = -1;
    for (int i = 0; i < 200 && fd < 0; i++)
        if ((fd = queue_sync_take_spare(qs, name, sizeof(name))) < 0)
            usleep(10000);
    for (int i = 0; i < 200 && fd2 < 0; i++)
        if ((fd2 = queue_sync_take_spare(qs, other, sizeof(other))) < 0)
            usleep(10000);
    CHECK(fd >= 0 && fd2 >= 0);
    if (name[0] == '\0') {
        int t = fd;
        fd = fd2;
        fd2 = t;
        memcpy(name, other, sizeof(name));
    }
    close(fd2);
    CHECK(strstr(name, "/recycle/claim.") != NULL);
    struct stat st;
    CHECK_INT(fstat(fd, &st), 0);
    CHECK_INT(st.st_ino, finished.st_ino);
    CHECK_INT(st.st_size, 0);
    strbuf err;
    strbuf_init(&err, 0);
    queue_writer *qw = queue_writer_adopt(qdir, "incoming", fd, name, &err);
    CHECK(qw != NULL);
    if (qw) {
        struct stat named;
        CHECK_INT(stat(queue_writer_path(qw), &named), 0);
        CHECK_INT(named.st_ino, finished.st_ino);
        CHECK_INT(access(name, F_OK), -1); /* renamed away from recycle/ */
        queue_writer_abort(qw);
    }
    strbuf_free(&err);
    /* The second spare is nameless (nothing more to recycle); freeing leaves nothing behind. */
    queue_sync_free(qs);
    char recycle[400];
    snprintf(recycle, sizeof(recycle), "%s/recycle", qdir);
    CHECK_INT(count_entries(recycle, "claim."), 0);
    CHECK_INT(count_entries(incoming, ""), 2);
}

TEST(adopting_a_file_that_is_not_empty_fails)
{
    int fd = open(incoming, O_TMPFILE | O_RDWR, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "junk", 4) == 4);
    strbuf err;
    strbuf_init(&err, 0);
    CHECK(queue_writer_adopt(qdir, "incoming", fd, NULL, &err) == NULL);
    CHECK(strstr(err.data, "not empty") != NULL);
    strbuf_free(&err);
    CHECK_INT(count_entries(incoming, ""), 2);
}

TEST(spares_in_a_missing_directory_fail_quietly)
{
    queue_sync *qs = queue_sync_new(1);
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/no-such-directory", tmpdir);
    queue_sync_spares(qs, missing, 2);
    usleep(50000);
    char name[4200];
    CHECK_INT(queue_sync_take_spare(qs, name, sizeof(name)), -1);
    queue_sync_free(qs);
}

/* A cleanup whose commit runs in steps; fails the fsync when sync_errno is set. */
static int commit_in_steps(int sync_errno, char *id, size_t idlen)
{
    strbuf err;
    strbuf_init(&err, 0);
    cleanup *c = cleanup_open("incoming", &err);
    strbuf_free(&err);
    if (c == NULL)
        return -1;
    snprintf(id, idlen, "%s", cleanup_queue_id(c));
    cleanup_sender(c, "a@example.test");
    cleanup_recipient(c, "b@example.test", NULL, 0, NULL);
    cleanup_line(c, "Subject: steps", 14);
    cleanup_line(c, "", 0);
    cleanup_line(c, "body", 4);
    int status = cleanup_close_prepare(c);
    if (status != CLEANUP_STAT_OK)
        return status;
    int e = sync_errno;
    if (e == 0 && (fsync(cleanup_sync_fd(c)) < 0 || fsync_dir(cleanup_sync_dir(c)) < 0))
        e = errno;
    return cleanup_close_finish(c, e);
}

TEST(two_step_commit_queues_a_complete_file)
{
    char id[64], path[400];
    CHECK_INT(commit_in_steps(0, id, sizeof(id)), CLEANUP_STAT_OK);
    snprintf(path, sizeof(path), "%s/%s", incoming, id);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(queue_file_is_complete(fd));
    queue_envelope env;
    strbuf err;
    strbuf_init(&err, 0);
    CHECK_INT(queue_envelope_read(fd, &env, &err), 0);
    CHECK_INT(env.nrcpt, 1);
    CHECK_STR(env.sender, "a@example.test");
    queue_envelope_free(&env);
    strbuf_free(&err);
    close(fd);
    unlink(path);
}

TEST(failed_fsync_removes_the_file)
{
    char id[64], path[400];
    CHECK_INT(commit_in_steps(EIO, id, sizeof(id)), CLEANUP_STAT_WRITE);
    snprintf(path, sizeof(path), "%s/%s", incoming, id);
    CHECK(access(path, F_OK) < 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-queue-sync-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    snprintf(incoming, sizeof(incoming), "%s/incoming", qdir);
    cfg = config_defaults(tmpdir);
    config_override(cfg, "queue_directory", qdir);
    config_set_current(cfg);
    if (unit_queue_dirs(qdir) < 0)
        return 1;
    RUN(many_requests_complete_with_their_context);
    RUN(failures_are_reported_per_request);
    RUN(free_finishes_requests_still_queued);
    RUN(spares_are_nameless_until_adopted);
    RUN(recycled_spares_become_queue_files);
    RUN(adopting_a_file_that_is_not_empty_fails);
    RUN(spares_in_a_missing_directory_fail_quietly);
    RUN(two_step_commit_queues_a_complete_file);
    RUN(failed_fsync_removes_the_file);
    config_set_current(NULL);
    config_free(cfg);
    unit_remove_tree(tmpdir);
    UNIT_MAIN_END("test_queue_sync");
}

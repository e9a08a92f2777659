/* test_queue_recycle.c: the ring of finished queue files in recycle/ (queue_recycle.h). */
#include "queue/queue_dir.h"
#include "queue/queue_recycle.h"
#include "unit.h"
#include "unit_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char qdir[300];
static char active[320];
static char recycle[320];

/* Writes a finished "queue file" active/name with some content and the complete mode. */
static void make_file(const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", active, name);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0700);
    if (fd >= 0) {
        if (write(fd, "S\0old message", 13) != 13)
            perror("write");
        close(fd);
    }
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

TEST(put_then_take_reuses_the_inode_emptied)
{
    queue_recycler r;
    CHECK_INT(queue_recycler_init(&r, qdir), 0);
    char path[400], slot[400], claim[4200];
    make_file("A1", path, sizeof(path));
    struct stat before;
    CHECK_INT(stat(path, &before), 0);
    CHECK_INT(queue_recycle_put(&r, path), 0);
    CHECK(!exists(path));
    snprintf(slot, sizeof(slot), "%s/0", recycle);
    CHECK(exists(slot));

    queue_recycler taker; /* another process's view: its own cursor, starting at 0 */
    CHECK_INT(queue_recycler_init(&taker, qdir), 0);
    unsigned n = 99;
    int fd = queue_recycle_take(&taker, &n);
    CHECK(fd >= 0);
    CHECK_INT(queue_recycle_claim_path(&taker, n, claim, sizeof(claim)), 0);
    struct stat st;
    CHECK_INT(fstat(fd, &st), 0);
    CHECK_INT(st.st_ino, before.st_ino);
    CHECK_INT(st.st_size, 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK(exists(claim));
    CHECK(!exists(slot));
    /* Nothing left to take: -1, and the claim stays the caller's. */
    unsigned m;
    CHECK_INT(queue_recycle_take(&taker, &m), -1);
    close(fd);
    unlink(claim);
}

TEST(a_taken_slot_is_refilled_in_order)
{
    queue_recycler r;
    queue_recycler_init(&r, qdir);
    char path[400], want[400];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "B%d", i);
        make_file(name, path, sizeof(path));
        CHECK_INT(queue_recycle_put(&r, path), 0);
        snprintf(want, sizeof(want), "%s/%d", recycle, i);
        CHECK(exists(want));
    }
    CHECK_INT(queue_recycle_purge(qdir), 3);
    CHECK_INT(entries(recycle), 0);
}

TEST(a_full_slot_means_unlink)
{
    queue_recycler r;
    queue_recycler_init(&r, qdir);
    char first[400], second[400];
    make_file("C1", first, sizeof(first));
    make_file("C2", second, sizeof(second));
    CHECK_INT(queue_recycle_put(&r, first), 0);
    atomic_store(&r.next, 0); /* as after a restart while slot 0 is still full */
    CHECK_INT(queue_recycle_put(&r, second), 0);
    CHECK(!exists(second));
    CHECK_INT(entries(recycle), 1); /* the file in slot 0 was not replaced */
    /* The filler moved on: the next finished file takes slot 1. */
    char third[400], slot1[400];
    make_file("C3", third, sizeof(third));
    CHECK_INT(queue_recycle_put(&r, third), 0);
    snprintf(slot1, sizeof(slot1), "%s/1", recycle);
    CHECK(exists(slot1));
    CHECK_INT(queue_recycle_purge(qdir), 2);
}

TEST(a_file_with_another_link_is_never_emptied)
{
    queue_recycler r;
    queue_recycler_init(&r, qdir);
    char path[400], keep[400];
    make_file("D1", path, sizeof(path));
    snprintf(keep, sizeof(keep), "%s/D1-still-queued", active);
    CHECK_INT(link(path, keep), 0);
    CHECK_INT(queue_recycle_put(&r, path), 0);
    unsigned n;
    queue_recycler taker;
    queue_recycler_init(&taker, qdir);
    CHECK_INT(queue_recycle_take(&taker, &n), -1);
    struct stat st;
    CHECK_INT(stat(keep, &st), 0);
    CHECK_INT(st.st_size, 13); /* content intact */
    CHECK_INT(st.st_nlink, 1); /* the recycled name was dropped */
    CHECK_INT(entries(recycle), 0);
    unlink(keep);
}

TEST(a_taker_out_of_step_finds_the_files)
{
    queue_recycler r;
    queue_recycler_init(&r, qdir);
    atomic_store(&r.next, 100);
    char path[400];
    make_file("E1", path, sizeof(path));
    CHECK_INT(queue_recycle_put(&r, path), 0); /* slot 100 */
    queue_recycler taker;
    queue_recycler_init(&taker, qdir);
    int fd = -1;
    unsigned n = 0;
    for (int i = 0; i < 40 && fd < 0; i++)
        fd = queue_recycle_take(&taker, &n);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    queue_recycle_purge(qdir);
}

TEST(without_a_recycle_directory_put_unlinks)
{
    char other[400], sub[420], path[400];
    snprintf(other, sizeof(other), "%s/no-recycle", tmpdir);
    mkdir(other, 0700);
    queue_recycler r;
    CHECK_INT(queue_recycler_init(&r, other), 0);
    make_file("F1", path, sizeof(path));
    CHECK_INT(queue_recycle_put(&r, path), 0);
    CHECK(!exists(path));
    snprintf(sub, sizeof(sub), "%s/recycle", other);
    CHECK(!exists(sub));
    CHECK_INT(queue_recycle_purge(other), 0);
    unsigned n;
    CHECK_INT(queue_recycle_take(&r, &n), -1);
}

TEST(stale_claims_go_live_claims_and_slots_stay)
{
    char stale[400], live[400], slot[400];
    /* A pid that cannot exist (above the kernel's pid_max limit of 2^22). */
    snprintf(stale, sizeof(stale), "%s/claim.%d.7", recycle, 9999999);
    snprintf(live, sizeof(live), "%s/claim.%ld.8", recycle, (long)getpid());
    snprintf(slot, sizeof(slot), "%s/5", recycle);
    const char *names[] = {stale, live, slot};
    for (int i = 0; i < 3; i++) {
        int fd = open(names[i], O_CREAT | O_WRONLY, 0600);
        CHECK(fd >= 0);
        if (fd >= 0)
            close(fd);
    }
    CHECK_INT(queue_recycle_purge_stale(qdir), 1);
    CHECK(!exists(stale));
    CHECK(exists(live));
    CHECK(exists(slot));
    CHECK_INT(queue_recycle_purge(qdir), 2);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-recycle-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    snprintf(active, sizeof(active), "%s/active", qdir);
    snprintf(recycle, sizeof(recycle), "%s/recycle", qdir);
    if (unit_queue_dirs(qdir) < 0)
        return 1;
    RUN(put_then_take_reuses_the_inode_emptied);
    RUN(a_taken_slot_is_refilled_in_order);
    RUN(a_full_slot_means_unlink);
    RUN(a_file_with_another_link_is_never_emptied);
    RUN(a_taker_out_of_step_finds_the_files);
    RUN(without_a_recycle_directory_put_unlinks);
    RUN(stale_claims_go_live_claims_and_slots_stay);
    unit_remove_tree(tmpdir);
    UNIT_MAIN_END("test_queue_recycle");
}

/*
 * test_worker_pool.c: jobs run on threads, every done() runs once on the loop, cancelled jobs
 * say so, and freeing the pool settles what is still owed.
 */
#include "lib/event.h"
#include "lib/worker_pool.h"
#include "unit.h"

#include <unistd.h>

typedef struct item {
    int ran, done, cancelled;
} item;

static int finished;

static void job(void *arg)
{
    item *it = arg;
    usleep(2000);
    it->ran++;
}

static void done(void *arg, int cancelled)
{
    item *it = arg;
    it->done++;
    it->cancelled = cancelled;
    finished++;
}

TEST(jobs_complete_on_the_loop)
{
    event_loop *loop = event_loop_new();
    worker_pool *p = worker_pool_new(loop, 3);
    CHECK(p != NULL);
    item items[20] = {{0}};
    finished = 0;
    for (int i = 0; i < 20; i++)
        worker_pool_submit(p, job, done, &items[i]);
    for (int i = 0; i < 200 && finished < 20; i++)
        event_loop_once(loop, 100);
    CHECK_INT(finished, 20);
    for (int i = 0; i < 20; i++) {
        CHECK_INT(items[i].ran, 1);
        CHECK_INT(items[i].done, 1);
        CHECK_INT(items[i].cancelled, 0);
    }
    worker_pool_free(p);
    event_loop_free(loop);
}

TEST(cancel_and_free_settle_every_job)
{
    event_loop *loop = event_loop_new();
    worker_pool *p = worker_pool_new(loop, 1);
    item items[10] = {{0}};
    worker_job *jobs[10];
    finished = 0;
    for (int i = 0; i < 10; i++)
        jobs[i] = worker_pool_submit(p, job, done, &items[i]);
    worker_pool_cancel(p, jobs[9]);
    worker_pool_free(p); /* the queued ones are cancelled; every done() runs once */
    CHECK_INT(finished, 10);
    CHECK_INT(items[9].ran, 0);
    CHECK_INT(items[9].cancelled, 1);
    for (int i = 0; i < 10; i++)
        CHECK_INT(items[i].done, 1);
    event_loop_free(loop);
}

int main(void)
{
    RUN(jobs_complete_on_the_loop);
    RUN(cancel_and_free_settle_every_job);
    UNIT_MAIN_END("test_worker_pool");
}

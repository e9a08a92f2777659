/*
 * test_worker_pool.c: jobs run on threads, every done() runs once on the loop, cancelled jobs
 * say so, and freeing the pool settles what is still owed.
 */
#include "lib/event.h"
#include "lib/worker_pool.h"
#include "unit.h"

#include <dirent.h>
#include <pthread.h>
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

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static size_t stack_size;

static void stack_job(void *arg)
{
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstacksize(&attr, &stack_size);
        pthread_attr_destroy(&attr);
    }
    job(arg);
}

TEST(threads_start_with_the_first_job_on_small_stacks)
{
    event_loop *loop = event_loop_new();
    int before = thread_count();
    worker_pool *p = worker_pool_new(loop, 2);
    CHECK_INT(thread_count(), before);
    item it = {0};
    finished = 0;
    worker_pool_submit(p, stack_job, done, &it);
    CHECK_INT(thread_count(), before + 2);
    for (int i = 0; i < 200 && finished < 1; i++)
        event_loop_once(loop, 100);
    CHECK_INT(it.ran, 1);
    CHECK(stack_size >= 16 * 1024 && stack_size <= WORKER_STACK_SIZE);
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
    RUN(threads_start_with_the_first_job_on_small_stacks);
    UNIT_MAIN_END("test_worker_pool");
}

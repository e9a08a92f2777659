/* test_event.c: the epoll event loop: readiness callbacks, interest changes, removal during
 * dispatch, timer order and cancellation, stop. */
#include "lib/event.h"
#include "unit.h"

#include <fcntl.h>
#include <unistd.h>

typedef struct counter {
    int reads;
    int writes;
    int other_fd; /* removed by the callback when >= 0 */
    char got[16];
} counter;

static void on_fd(event_loop *loop, int fd, unsigned events, void *ctx)
{
    counter *c = ctx;
    if (events & EVENT_READ) {
        c->reads++;
        ssize_t n = read(fd, c->got, sizeof(c->got) - 1);
        c->got[n > 0 ? n : 0] = '\0';
    }
    if (events & EVENT_WRITE) {
        c->writes++;
        event_modify(loop, fd, 0);
    }
    if (c->other_fd >= 0)
        event_remove(loop, c->other_fd);
}

TEST(read_write_and_modify)
{
    event_loop *loop = event_loop_new();
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    counter rc = {.other_fd = -1}, wc = {.other_fd = -1};
    CHECK(event_add(loop, p[0], EVENT_READ, on_fd, &rc) == 0);
    CHECK(event_add(loop, p[1], EVENT_WRITE, on_fd, &wc) == 0);
    CHECK(event_watching(loop, p[0]));
    event_loop_once(loop, 100);
    CHECK_INT(wc.writes, 1);
    CHECK_INT(rc.reads, 0);
    CHECK(write(p[1], "hi", 2) == 2);
    event_loop_once(loop, 100);
    CHECK_INT(rc.reads, 1);
    CHECK_STR(rc.got, "hi");
    CHECK_INT(wc.writes, 1); /* interest 0 after the first write callback */
    /* Paused: data waits until the interest comes back. */
    CHECK(event_modify(loop, p[0], 0) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK_INT(event_loop_once(loop, 20), 0);
    CHECK(event_modify(loop, p[0], EVENT_READ) == 0);
    event_loop_once(loop, 100);
    CHECK_INT(rc.reads, 2);
    event_remove(loop, p[0]);
    event_remove(loop, p[1]);
    CHECK(!event_watching(loop, p[0]));
    CHECK(event_add(loop, -1, EVENT_READ, on_fd, &rc) < 0);
    close(p[0]);
    close(p[1]);
    event_loop_free(loop);
}

TEST(removal_during_dispatch_drops_pending_event)
{
    event_loop *loop = event_loop_new();
    int a[2], b[2];
    CHECK(pipe2(a, O_NONBLOCK) == 0 && pipe2(b, O_NONBLOCK) == 0);
    counter ca = {.other_fd = b[0]}, cb = {.other_fd = a[0]};
    event_add(loop, a[0], EVENT_READ, on_fd, &ca);
    event_add(loop, b[0], EVENT_READ, on_fd, &cb);
    CHECK(write(a[1], "1", 1) == 1 && write(b[1], "2", 1) == 1);
    event_loop_once(loop, 100);
    /* Whichever ran first removed the other, so exactly one callback ran. */
    CHECK_INT(ca.reads + cb.reads, 1);
    event_remove(loop, a[0]);
    event_remove(loop, b[0]);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    event_loop_free(loop);
}

static char order[16];

static void mark(event_loop *loop, void *ctx)
{
    size_t n = strlen(order);
    order[n] = *(const char *)ctx;
    order[n + 1] = '\0';
    if (*(const char *)ctx == 'S')
        event_loop_stop(loop);
}

TEST(timers_fire_in_order_and_cancel)
{
    event_loop *loop = event_loop_new();
    order[0] = '\0';
    long long start = event_now_ms();
    event_timer_add(loop, 30, mark, "c");
    event_timer_add(loop, 10, mark, "a");
    event_timer_id b = event_timer_add(loop, 20, mark, "b");
    event_timer_add(loop, 20, mark, "x");
    event_timer_add(loop, 40, mark, "S");
    event_timer_add(loop, 5000, mark, "z");
    CHECK(b != 0);
    event_timer_cancel(loop, b);
    event_timer_cancel(loop, b); /* twice is harmless */
    CHECK(event_loop_run(loop) == 0);
    CHECK_STR(order, "axcS");
    CHECK(event_now_ms() - start >= 40);
    CHECK(event_now_ms() - start < 2000);
    event_loop_free(loop);
}

int main(void)
{
    RUN(read_write_and_modify);
    RUN(removal_during_dispatch_drops_pending_event);
    RUN(timers_fire_in_order_and_cancel);
    UNIT_MAIN_END("test_event");
}

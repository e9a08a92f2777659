/*
 * event.c: epoll descriptors plus a binary heap of one-shot timers (see event.h).
 *
 * Each epoll registration carries the descriptor and a generation number, so an event that was
 * already collected for a descriptor that a callback then removed (and perhaps reused for a new
 * registration) is dropped instead of reaching the wrong callback. Timer ids encode a slot and
 * the slot's generation for the same reason.
 */
#include "lib/event.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EVENT_BATCH 64
#define TIMER_SLOT_BITS 24
#define TIMER_SLOT_MASK ((1ul << TIMER_SLOT_BITS) - 1)

typedef struct fd_watch {
    event_fd_fn fn;
    void *ctx;
    unsigned interest;
    uint32_t generation; /* 0 = not registered */
} fd_watch;

typedef struct timer_slot {
    long long deadline;
    event_timer_fn fn;
    void *ctx;
    unsigned long generation;
    size_t heap_pos; /* SIZE_MAX when free */
    size_t next_free;
} timer_slot;

struct event_loop {
    int epfd;
    int stop;
    uint32_t next_generation;
    fd_watch *fds;
    size_t nfds;
    timer_slot *slots;
    size_t nslots;
    size_t free_slot; /* SIZE_MAX when none */
    size_t *heap;     /* slot indices ordered by deadline */
    size_t heap_len;
    size_t heap_cap;
};

long long event_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

event_loop *event_loop_new(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return NULL;
    event_loop *loop = xcalloc(1, sizeof(*loop));
    loop->epfd = epfd;
    loop->next_generation = 1;
    loop->free_slot = SIZE_MAX;
    return loop;
}

void event_loop_free(event_loop *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop->fds);
    free(loop->slots);
    free(loop->heap);
    free(loop);
}

static uint32_t epoll_bits(unsigned interest)
{
    uint32_t bits = 0;
    if (interest & EVENT_READ)
        bits |= EPOLLIN | EPOLLRDHUP;
    if (interest & EVENT_WRITE)
        bits |= EPOLLOUT;
    return bits;
}

static uint64_t pack_data(int fd, uint32_t generation)
{
    return ((uint64_t)generation << 32) | (uint32_t)fd;
}

int event_add(event_loop *loop, int fd, unsigned interest, event_fd_fn fn, void *ctx)
{
    if (fd < 0 || fd >= EVENT_MAX_FD || fn == NULL) {
        errno = EBADF;
        return -1;
    }
    if ((size_t)fd >= loop->nfds) {
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        loop->fds = xrealloc(loop->fds, n * sizeof(*loop->fds));
        memset(loop->fds + loop->nfds, 0, (n - loop->nfds) * sizeof(*loop->fds));
        loop->nfds = n;
    }
    fd_watch *w = &loop->fds[fd];
    int op = w->generation ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    uint32_t generation = loop->next_generation++;
    if (loop->next_generation == 0)
        loop->next_generation = 1;
    struct epoll_event ev = {.events = epoll_bits(interest), .data.u64 = pack_data(fd, generation)};
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0)
        return -1;
    w->fn = fn;
    w->ctx = ctx;
    w->interest = interest;
    w->generation = generation;
    return 0;
}

int event_modify(event_loop *loop, int fd, unsigned interest)
{
    if (!event_watching(loop, fd)) {
        errno = ENOENT;
        return -1;
    }
    fd_watch *w = &loop->fds[fd];
    if (w->interest == interest)
        return 0;
    struct epoll_event ev = {.events = epoll_bits(interest),
                             .data.u64 = pack_data(fd, w->generation)};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -1;
    w->interest = interest;
    return 0;
}

void event_remove(event_loop *loop, int fd)
{
    if (!event_watching(loop, fd))
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(&loop->fds[fd], 0, sizeof(loop->fds[fd]));
}

int event_watching(const event_loop *loop, int fd)
{
    return fd >= 0 && (size_t)fd < loop->nfds && loop->fds[fd].generation != 0;
}

/* Timer heap. */

static int heap_less(const event_loop *loop, size_t a, size_t b)
{
    return loop->slots[loop->heap[a]].deadline < loop->slots[loop->heap[b]].deadline;
}

static void heap_swap(event_loop *loop, size_t a, size_t b)
{
    size_t t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->slots[loop->heap[a]].heap_pos = a;
    loop->slots[loop->heap[b]].heap_pos = b;
}

static void heap_up(event_loop *loop, size_t i)
{
    while (i > 0 && heap_less(loop, i, (i - 1) / 2)) {
        heap_swap(loop, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(event_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->heap_len && heap_less(loop, l, m))
            m = l;
        if (r < loop->heap_len && heap_less(loop, r, m))
            m = r;
        if (m == i)
            return;
        heap_swap(loop, i, m);
        i = m;
    }
}

static void heap_delete(event_loop *loop, size_t pos)
{
    size_t last = --loop->heap_len;
    if (pos != last) {
        heap_swap(loop, pos, last);
        heap_down(loop, pos);
        heap_up(loop, pos);
    }
}

static void slot_release(event_loop *loop, size_t slot)
{
    timer_slot *s = &loop->slots[slot];
    s->heap_pos = SIZE_MAX;
    s->fn = NULL;
    s->ctx = NULL;
    s->generation++;
    s->next_free = loop->free_slot;
    loop->free_slot = slot;
}

event_timer_id event_timer_add(event_loop *loop, long ms, event_timer_fn fn, void *ctx)
{
    size_t slot = loop->free_slot;
    if (slot != SIZE_MAX) {
        loop->free_slot = loop->slots[slot].next_free;
    } else {
        if (loop->nslots >= TIMER_SLOT_MASK)
            abort(); /* sixteen million live timers is a bug, not a load */
        slot = loop->nslots++;
        loop->slots = xrealloc(loop->slots, loop->nslots * sizeof(*loop->slots));
        loop->slots[slot].generation = 1;
    }
    if (loop->heap_len == loop->heap_cap) {
        loop->heap_cap = loop->heap_cap ? 2 * loop->heap_cap : 16;
        loop->heap = xrealloc(loop->heap, loop->heap_cap * sizeof(*loop->heap));
    }
    timer_slot *s = &loop->slots[slot];
    s->deadline = event_now_ms() + (ms > 0 ? ms : 0);
    s->fn = fn;
    s->ctx = ctx;
    s->heap_pos = loop->heap_len;
    loop->heap[loop->heap_len++] = slot;
    heap_up(loop, s->heap_pos);
    return (s->generation << TIMER_SLOT_BITS) | slot;
}

void event_timer_cancel(event_loop *loop, event_timer_id id)
{
    size_t slot = id & TIMER_SLOT_MASK;
    if (id == 0 || slot >= loop->nslots)
        return;
    timer_slot *s = &loop->slots[slot];
    if (s->heap_pos == SIZE_MAX || s->generation != (id >> TIMER_SLOT_BITS))
        return;
    heap_delete(loop, s->heap_pos);
    slot_release(loop, slot);
}

/* Runs every timer that is due; returns how many ran. */
static int run_due_timers(event_loop *loop)
{
    int ran = 0;
    long long now = event_now_ms();
    while (loop->heap_len > 0 && loop->slots[loop->heap[0]].deadline <= now && !loop->stop) {
        size_t slot = loop->heap[0];
        event_timer_fn fn = loop->slots[slot].fn;
        void *ctx = loop->slots[slot].ctx;
        heap_delete(loop, 0);
        slot_release(loop, slot);
        fn(loop, ctx);
        ran++;
    }
    return ran;
}

static long next_timeout(const event_loop *loop, long max_wait_ms)
{
    if (loop->heap_len == 0)
        return max_wait_ms;
    long long wait = loop->slots[loop->heap[0]].deadline - event_now_ms();
    if (wait < 0)
        wait = 0;
    if (max_wait_ms >= 0 && wait > max_wait_ms)
        wait = max_wait_ms;
    return wait > 86400000 ? 86400000 : (long)wait;
}

int event_loop_once(event_loop *loop, long max_wait_ms)
{
    int ran = run_due_timers(loop);
    if (loop->stop)
        return ran;
    struct epoll_event evs[EVENT_BATCH];
    int n =
        epoll_wait(loop->epfd, evs, EVENT_BATCH, (int)next_timeout(loop, ran ? 0 : max_wait_ms));
    if (n < 0)
        return errno == EINTR ? ran : -1;
    for (int i = 0; i < n && !loop->stop; i++) {
        int fd = (int)(uint32_t)evs[i].data.u64;
        uint32_t generation = (uint32_t)(evs[i].data.u64 >> 32);
        if (!event_watching(loop, fd) || loop->fds[fd].generation != generation)
            continue; /* removed or replaced by an earlier callback in this batch */
        unsigned events = 0;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
            events |= EVENT_READ;
        if (evs[i].events & EPOLLOUT)
            events |= EVENT_WRITE;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            events |= EVENT_ERROR;
        loop->fds[fd].fn(loop, fd, events, loop->fds[fd].ctx);
        ran++;
    }
    return ran + run_due_timers(loop);
}

int event_loop_run(event_loop *loop)
{
    loop->stop = 0;
    while (!loop->stop)
        if (event_loop_once(loop, -1) < 0)
            return -1;
    return 0;
}

void event_loop_stop(event_loop *loop)
{
    loop->stop = 1;
}

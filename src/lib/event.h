/*
 * event.h: a small single-threaded event loop on epoll.
 *
 * An event_loop watches file descriptors and runs one-shot timers:
 *   event_add(loop, fd, EVENT_READ, callback, ctx)   start watching fd (replaces an earlier add)
 *   event_modify(loop, fd, EVENT_READ|EVENT_WRITE)    change the interest; 0 = pause watching
 *   event_remove(loop, fd)                            stop watching (call before close(fd))
 *   event_timer_add(loop, ms, callback, ctx)          run callback once after ms milliseconds
 *   event_timer_cancel(loop, id)                      forget a timer that has not fired
 *   event_loop_run(loop)                              dispatch until event_loop_stop()
 * Watching is level-triggered: a readable descriptor is reported again on every iteration until
 * it is drained or its interest changes. The callback receives EVENT_READ, EVENT_WRITE and/or
 * EVENT_ERROR (hangup or error: try the I/O and see). epoll reports a hangup even while the
 * interest is 0, so remove a descriptor that has hung up rather than pausing it. Callbacks may
 * add, modify and remove any descriptor or
 * timer, including their own, while the loop dispatches. Timers use the monotonic clock; their
 * precision is one millisecond. Limits: descriptors must be below EVENT_MAX_FD.
 */
#ifndef POSTERN_EVENT_H
#define POSTERN_EVENT_H

#define EVENT_READ 1u
#define EVENT_WRITE 2u
#define EVENT_ERROR 4u

#define EVENT_MAX_FD 65536

typedef struct event_loop event_loop;
typedef void (*event_fd_fn)(event_loop *loop, int fd, unsigned events, void *ctx);
typedef void (*event_timer_fn)(event_loop *loop, void *ctx);
typedef unsigned long event_timer_id; /* never 0 */

/* Returns NULL (errno set) when epoll is unavailable. */
event_loop *event_loop_new(void);
/* Frees the loop; descriptors are not closed, pending timers are dropped. */
void event_loop_free(event_loop *loop);

/* Returns 0, or -1 with errno set (bad fd, epoll failure). */
int event_add(event_loop *loop, int fd, unsigned interest, event_fd_fn fn, void *ctx);
int event_modify(event_loop *loop, int fd, unsigned interest);
void event_remove(event_loop *loop, int fd);
/* Non-zero when fd is registered. */
int event_watching(const event_loop *loop, int fd);

event_timer_id event_timer_add(event_loop *loop, long ms, event_timer_fn fn, void *ctx);
void event_timer_cancel(event_loop *loop, event_timer_id id);

/* Waits at most max_wait_ms (-1 = until something happens) and dispatches what is ready, timers
 * first. Returns the number of callbacks run, or -1 on an epoll error other than EINTR. */
int event_loop_once(event_loop *loop, long max_wait_ms);
/* Dispatches until event_loop_stop() is called; returns 0, or -1 on an epoll error. */
int event_loop_run(event_loop *loop);
void event_loop_stop(event_loop *loop);

/* Milliseconds on the monotonic clock, for callers that compute deadlines. */
long long event_now_ms(void);

#endif

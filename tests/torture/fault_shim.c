/*
 * fault_shim.c: an LD_PRELOAD library for the torture suite (tests/torture/torture.py).
 *
 * I/O faults: while the file named by POSTERN_FAULT_SWITCH exists, each fsync, fdatasync,
 * write, pwrite and rename/renameat/renameat2 on a path (or an open regular file) under
 * POSTERN_FAULT_DIR fails with POSTERN_FAULT_ERRNO (EIO or ENOSPC) with probability
 * POSTERN_FAULT_RATE (0..1). Sockets, pipes and files elsewhere (the log) are never touched.
 *
 * Clock jumps: while the file named by POSTERN_CLOCK_FILE exists, its content (a signed number
 * of seconds) is added to what time(), gettimeofday() and clock_gettime(CLOCK_REALTIME...)
 * return. The system clock itself is never changed; CLOCK_MONOTONIC is left alone.
 *
 * Test equipment only: never built into Postern.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static __thread unsigned int seed;

static int switched_on(const char *env)
{
    const char *p = getenv(env);
    struct stat st;
    return p && *p && stat(p, &st) == 0;
}

static int path_in_scope(const char *path)
{
    const char *dir = getenv("POSTERN_FAULT_DIR");
    if (dir == NULL || *dir == '\0' || path == NULL)
        return 0;
    size_t n = strlen(dir);
    if (path[0] != '/') { /* relative: daemons run with the queue directory as cwd */
        char cwd[PATH_MAX];
        return getcwd(cwd, sizeof(cwd)) && strncmp(cwd, dir, n) == 0;
    }
    return strncmp(path, dir, n) == 0;
}

static int fd_in_scope(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return path_in_scope(path);
}

static int should_fail(void)
{
    if (!switched_on("POSTERN_FAULT_SWITCH"))
        return 0;
    const char *r = getenv("POSTERN_FAULT_RATE");
    double rate = r ? atof(r) : 0.0;
    if (seed == 0)
        seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
    return (double)rand_r(&seed) / RAND_MAX < rate;
}

static int fault_errno(void)
{
    const char *e = getenv("POSTERN_FAULT_ERRNO");
    return e && strcmp(e, "ENOSPC") == 0 ? ENOSPC : EIO;
}

#define REAL(name)                                                                         \
    static __typeof__(&name) real_##name;                                                  \
    if (!real_##name)                                                                      \
    real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int fsync(int fd)
{
    REAL(fsync);
    if (fd_in_scope(fd) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (fd_in_scope(fd) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_fdatasync(fd);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(write);
    if (fd > 2 && fd_in_scope(fd) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_write(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    REAL(pwrite);
    if (fd_in_scope(fd) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite(fd, buf, len, off);
}

int rename(const char *from, const char *to)
{
    REAL(rename);
    if (path_in_scope(to) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_rename(from, to);
}

int renameat(int dfd, const char *from, int tfd, const char *to)
{
    REAL(renameat);
    if (path_in_scope(to) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_renameat(dfd, from, tfd, to);
}

int renameat2(int dfd, const char *from, int tfd, const char *to, unsigned flags)
{
    REAL(renameat2);
    if (path_in_scope(to) && should_fail()) {
        errno = fault_errno();
        return -1;
    }
    return real_renameat2(dfd, from, tfd, to, flags);
}

/* ---- clock ---- */

/* The offset, read again at most every 100 ms of monotonic time. */
static long clock_offset(void)
{
    const char *p = getenv("POSTERN_CLOCK_FILE");
    if (p == NULL || *p == '\0')
        return 0;
    static long cached;
    static long long read_at_ms = -1000;
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    long long now_ms = (long long)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
    if (now_ms - read_at_ms < 100)
        return cached;
    read_at_ms = now_ms;
    cached = 0;
    REAL(fopen);
    FILE *f = real_fopen(p, "r");
    if (f == NULL)
        return 0;
    long off = 0;
    if (fscanf(f, "%ld", &off) != 1)
        off = 0;
    fclose(f);
    cached = off;
    return off;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    REAL(clock_gettime);
    int rc = real_clock_gettime(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += clock_offset();
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    REAL(gettimeofday);
    int rc = real_gettimeofday(tv, tz);
    if (rc == 0)
        tv->tv_sec += clock_offset();
    return rc;
}

time_t time(time_t *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}

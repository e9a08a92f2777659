/*
 * queue_space.c: the free-space check before a new message (see queue_space.h).
 */
#include "queue/queue_space.h"

#include <sys/statvfs.h>

int queue_space_rule(double free_bytes, long long minfree, long long size_limit, long long size)
{
    if (minfree > 0 && free_bytes < (double)minfree)
        return 0;
    if (size_limit > 0 && free_bytes < 1.5 * (double)size_limit)
        return 0;
    double room = free_bytes - (double)(minfree > 0 ? minfree : 0);
    if (size > 0 && (double)size >= room / 1.5)
        return 0;
    return 1;
}

int queue_space_enough(const char *queue_dir, long long minfree, long long size_limit,
                       long long size)
{
    struct statvfs v;
    if (statvfs(queue_dir, &v) < 0)
        return 1;
    return queue_space_rule((double)v.f_bavail * (double)v.f_frsize, minfree, size_limit, size);
}

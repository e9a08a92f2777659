/*
 * queue_id.c: queue id formatting and validation (see queue_id.h and queue_dir.h).
 */
#include "queue/queue_id.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"

#include <stdio.h>

int queue_id_format(char *buf, size_t len, long usec, unsigned long long inode)
{
    if (usec < 0 || usec > 0xFFFFF)
        return -1;
    int n = snprintf(buf, len, "%05lX%llX", usec, inode);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int is_id_char(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

int queue_id_valid(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return 0;
    size_t n = 0;
    for (; id[n] != '\0'; n++)
        if (n >= QUEUE_ID_MAX - 1 || !is_id_char((unsigned char)id[n]))
            return 0;
    return 1;
}

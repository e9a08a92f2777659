/* mail_date.c: the clock and the RFC 5322 date of mail (see mail_date.h). */
#include "global/mail_date.h"

#include <sys/time.h>
#include <time.h>

void mail_date_append(strbuf *out, time_t when)
{
    struct tm lt;
    localtime_r(&when, &lt);
    char head[64], zone[64];
    if (strftime(head, sizeof(head), "%a, %e %b %Y %H:%M:%S", &lt) == 0)
        head[0] = '\0'; /* cannot happen: the fields above have fixed widths */
    if (strftime(zone, sizeof(zone), "%Z", &lt) == 0)
        zone[0] = '\0';
    long offset = lt.tm_gmtoff;
    long minutes = (offset < 0 ? -offset : offset) / 60;
    strbuf_printf(out, "%s %c%02ld%02ld (%s)", head, offset < 0 ? '-' : '+', minutes / 60,
                  minutes % 60, zone);
}

double mail_time_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

double mail_time_steady(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

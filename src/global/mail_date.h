/*
 * mail_date.h: the clock and the RFC 5322 date of mail, one formatter for every header and
 * notification that carries a date (Date:, Received:, Arrival-Date:, Last-Attempt-Date:, ...).
 *
 * mail_date_append() appends the local time of when as Postfix's mail_date() writes it:
 * "Mon,  2 Feb 2009 03:06:41 -0800 (PST)" (day padded with a space, numeric offset, zone
 * abbreviation in parentheses, "()" when the zone has none). mail_time_now() is the time of
 * day in seconds with microseconds, for dates, delays logged and times stored in the queue.
 * mail_time_steady() is CLOCK_MONOTONIC in seconds: for intervals measured inside one process
 * (how long a destination stays suspended, a cache entry's age), which a change of the system
 * clock must neither stretch nor cut short.
 */
#ifndef POSTERN_MAIL_DATE_H
#define POSTERN_MAIL_DATE_H

#include "lib/strbuf.h"

#include <time.h>

void mail_date_append(strbuf *out, time_t when);
double mail_time_now(void);
double mail_time_steady(void);

#endif

/*
 * header.c: recognising RFC 5322 header lines (see header.h).
 */
#include "cleanup/header.h"

#include <strings.h>

static int is_name_char(unsigned char ch)
{
    return ch > ' ' && ch < 0x7f && ch != ':';
}

size_t header_name_length(const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && is_name_char((unsigned char)line[n]))
        n++;
    if (n == 0)
        return 0;
    size_t p = n;
    while (p < len && (line[p] == ' ' || line[p] == '\t'))
        p++;
    return p < len && line[p] == ':' ? n : 0;
}

size_t header_value_offset(const char *line, size_t len)
{
    size_t n = header_name_length(line, len);
    if (n == 0)
        return 0;
    while (line[n] != ':')
        n++;
    return n + 1;
}

int header_is_continuation(const char *line, size_t len)
{
    return len > 0 && (line[0] == ' ' || line[0] == '\t');
}

int header_name_is(const char *line, size_t len, const char *name)
{
    size_t n = header_name_length(line, len);
    size_t want = 0;
    while (name[want] != '\0')
        want++;
    return n > 0 && n == want && strncasecmp(line, name, n) == 0;
}

/* str_trim.c: white space removed from both ends of a string (see str_trim.h). */
#include "lib/str_trim.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <string.h>

char *str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

char *str_trim_copy(const char *start, const char *end)
{
    while (start < end && isspace((unsigned char)*start))
        start++;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    return xstrndup(start, (size_t)(end - start));
}

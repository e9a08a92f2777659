/* word_list.c: word membership in comma/space separated lists (see word_list.h). */
#include "lib/word_list.h"

#include <string.h>
#include <strings.h>

int word_list_has(const char *list, const char *word, int fold_case)
{
    static const char separators[] = ", \t\r\n";
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        p += strspn(p, separators);
        size_t len = strcspn(p, separators);
        if (len == n && n > 0 &&
            (fold_case ? strncasecmp(p, word, n) : strncmp(p, word, n)) == 0)
            return 1;
        p += len;
    }
    return 0;
}

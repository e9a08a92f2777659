/* test_str_trim.c: white space cut from both ends, in place and as a copy. */
#include "lib/str_trim.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

TEST(in_place)
{
    char a[] = " \t name = value \r\n";
    CHECK(strcmp(str_trim(a), "name = value") == 0);
    char b[] = "   ";
    CHECK(strcmp(str_trim(b), "") == 0);
    char c[] = "";
    CHECK(strcmp(str_trim(c), "") == 0);
    char d[] = "x";
    CHECK(str_trim(d) == d);
}

TEST(copy_of_range)
{
    const char *text = "  key  =  value  ";
    const char *eq = strchr(text, '=');
    char *key = str_trim_copy(text, eq);
    char *value = str_trim_copy(eq + 1, text + strlen(text));
    CHECK(strcmp(key, "key") == 0);
    CHECK(strcmp(value, "value") == 0);
    char *empty = str_trim_copy(text, text + 2);
    CHECK(strcmp(empty, "") == 0);
    free(key);
    free(value);
    free(empty);
}

int main(void)
{
    RUN(in_place);
    RUN(copy_of_range);
    UNIT_MAIN_END("test_str_trim");
}

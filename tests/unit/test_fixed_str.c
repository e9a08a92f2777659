/* test_fixed_str.c: checked copies into fixed arrays refuse instead of cutting. */
#include "lib/fixed_str.h"
#include "unit.h"

#include <errno.h>

TEST(fits_exactly)
{
    char buf[6];
    CHECK_INT(fixed_printf(buf, sizeof(buf), "%s-%d", "ab", 12), 0);
    CHECK_STR(buf, "ab-12");
    CHECK_INT(fixed_copy(buf, sizeof(buf), "12345"), 0);
    CHECK_STR(buf, "12345");
}

TEST(one_byte_too_long_is_refused_not_cut)
{
    char buf[6] = "xxxxx";
    errno = 0;
    CHECK_INT(fixed_printf(buf, sizeof(buf), "%s", "123456"), -1);
    CHECK_INT(errno, ENAMETOOLONG);
    CHECK_STR(buf, "");
    CHECK_INT(fixed_copy(buf, sizeof(buf), "123456"), -1);
    CHECK_STR(buf, "");
}

int main(void)
{
    RUN(fits_exactly);
    RUN(one_byte_too_long_is_refused_not_cut);
    UNIT_MAIN_END("test_fixed_str");
}

/* test_word_list.c: word membership in comma/space separated parameter values. */
#include "lib/word_list.h"
#include "unit.h"

TEST(separators_and_case)
{
    CHECK(word_list_has("alias, forward", "forward", WORD_LIST_EXACT));
    CHECK(word_list_has("alias,forward\tinclude", "include", WORD_LIST_EXACT));
    CHECK(!word_list_has("alias, forward", "Forward", WORD_LIST_EXACT));
    CHECK(word_list_has("alias, forward", "Forward", WORD_LIST_FOLD_CASE));
    CHECK(!word_list_has("aliases", "alias", WORD_LIST_FOLD_CASE));
    CHECK(!word_list_has("alias", "aliases", WORD_LIST_FOLD_CASE));
    CHECK(!word_list_has("", "alias", WORD_LIST_FOLD_CASE));
    CHECK(!word_list_has(" , ", "", WORD_LIST_FOLD_CASE));
}

int main(void)
{
    RUN(separators_and_case);
    UNIT_MAIN_END("test_word_list");
}

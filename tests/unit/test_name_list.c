/* test_name_list.c: access-control name lists (authorized_*_users, alternate_config_directories). */
#include "global/name_list.h"
#include "unit.h"

TEST(names_fold_case_and_first_match_decides)
{
    CHECK(name_list_allows("alice, bob", "Alice", NAME_LIST_FOLD_CASE));
    CHECK(!name_list_allows("alice, bob", "carol", NAME_LIST_FOLD_CASE));
    CHECK(!name_list_allows("!bob, static:anyone", "bob", NAME_LIST_FOLD_CASE));
    CHECK(name_list_allows("!bob, static:anyone", "carol", NAME_LIST_FOLD_CASE));
    CHECK(!name_list_allows("", "anyone", NAME_LIST_FOLD_CASE));
}

TEST(tables_are_looked_up)
{
    CHECK(name_list_allows("inline:{ dave=ok }", "dave", NAME_LIST_FOLD_CASE));
    CHECK(!name_list_allows("inline:{ dave=ok }", "erin", NAME_LIST_FOLD_CASE));
    CHECK(name_list_allows("static:anyone", "whoever", NAME_LIST_FOLD_CASE));
}

TEST(exact_mode_compares_paths_only)
{
    CHECK(name_list_allows("/etc/postern-out /etc/b", "/etc/postern-out", NAME_LIST_EXACT));
    CHECK(!name_list_allows("/etc/postern-out", "/ETC/postern-out", NAME_LIST_EXACT));
    /* A table is not consulted for paths: "static:anyone" is just a name there. */
    CHECK(!name_list_allows("static:anyone", "/tmp/evil", NAME_LIST_EXACT));
}

int main(void)
{
    RUN(names_fold_case_and_first_match_decides);
    RUN(tables_are_looked_up);
    RUN(exact_mode_compares_paths_only);
    UNIT_MAIN_END("test_name_list");
}

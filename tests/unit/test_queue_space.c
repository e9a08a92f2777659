/* test_queue_space.c: the queue_minfree / SIZE= rule of the free-space check. */
#include "queue/queue_space.h"
#include "unit.h"

#define MB (1024.0 * 1024.0)

TEST(minfree_and_message_size_limit)
{
    CHECK(queue_space_rule(100 * MB, 0, 0, 0));
    CHECK(!queue_space_rule(10 * MB, 20 * 1048576LL, 0, 0)); /* below queue_minfree */
    CHECK(queue_space_rule(30 * MB, 20 * 1048576LL, 0, 0));
    /* Postfix 2.1 and later: free space below 1.5 * message_size_limit refuses MAIL FROM */
    CHECK(!queue_space_rule(14 * MB, 0, 10 * 1048576LL, 0));
    CHECK(queue_space_rule(16 * MB, 0, 10 * 1048576LL, 0));
}

TEST(announced_size_against_free_space)
{
    /* SIZE must be below (free - queue_minfree) / 1.5 */
    CHECK(queue_space_rule(40 * MB, 10 * 1048576LL, 0, 19 * 1048576LL));
    CHECK(!queue_space_rule(40 * MB, 10 * 1048576LL, 0, 20 * 1048576LL));
    CHECK(!queue_space_rule(40 * MB, 0, 0, 27 * 1048576LL));
    CHECK(queue_space_rule(40 * MB, 0, 0, 26 * 1048576LL));
    CHECK(queue_space_enough("/", 0, 0, 1)); /* a real file system with room for one byte */
    CHECK(!queue_space_enough("/", 0, 0, 1LL << 62));
}

int main(void)
{
    RUN(minfree_and_message_size_limit);
    RUN(announced_size_against_free_space);
    UNIT_MAIN_END("test_queue_space");
}

/* test_local_addrs.c: this host's addresses and the loopback rule. */
#include "lib/local_addrs.h"
#include "unit.h"


TEST(loopback_and_interfaces)
{
    local_addrs la;
    local_addrs_collect(&la);
    CHECK(local_addrs_has(&la, "127.0.0.1"));
    CHECK(local_addrs_has(&la, "127.1.2.3"));
    CHECK(local_addrs_has(&la, "::1"));
    CHECK(!local_addrs_has(&la, "192.0.2.77")); /* TEST-NET-1: never an interface here */
    for (size_t i = 0; i < la.n; i++)
        CHECK(local_addrs_has(&la, la.addrs[i]));
    local_addrs_free(&la);
    CHECK(la.n == 0 && la.addrs == NULL);
    local_addrs empty = {0};
    CHECK(!local_addrs_has(&empty, "10.0.0.1"));
    local_addrs_free(&empty);
}

int main(void)
{
    RUN(loopback_and_interfaces);
    UNIT_MAIN_END("test_local_addrs");
}

/* test_mail_params.c: typed settings read once per configuration, again after a change. */
#include "global/mail_params.h"
#include "unit.h"

#include <string.h>

TEST(read_once_and_again_after_override)
{
    const char text[] = "myhostname = mx.example.test\nsoft_bounce = yes\nhopcount_limit = 7\n";
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load_text("/nonexistent", text, strlen(text), &err);
    CHECK(cfg != NULL);
    config_set_current(cfg);
    const mail_params *p = mail_params_current();
    CHECK_STR(p->myhostname, "mx.example.test");
    CHECK_INT(p->soft_bounce, 1);
    CHECK_INT(p->hopcount_limit, 7);
    CHECK_INT(p->maximal_queue_lifetime, 5 * 86400); /* Postfix's default, 5d */
    CHECK(mail_params_current() == p);
    CHECK_INT(mail_params_check(p, &err), 0);
    config_override(cfg, "hopcount_limit", "0");
    p = mail_params_current();
    CHECK_INT(p->hopcount_limit, 0);
    CHECK_INT(mail_params_check(p, &err), -1);
    CHECK_STR(err.data, "parameter hopcount_limit: value 0 is below 1");
    config_set_current(NULL);
    config_free(cfg);
    strbuf_free(&err);
}

int main(void)
{
    RUN(read_once_and_again_after_override);
    UNIT_MAIN_END("test_mail_params");
}

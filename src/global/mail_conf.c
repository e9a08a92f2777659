/* mail_conf.c: main.cf loaded and made current at a command's start (see mail_conf.h). */
#include "global/mail_conf.h"
#include "lib/log.h"
#include "lib/strbuf.h"

config *mail_conf_start(const char *dir, int fail_status)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(dir, &err);
    if (cfg == NULL)
        log_fatal_status(fail_status, "%s", err.data ? err.data : "cannot load main.cf");
    strbuf_free(&err);
    config_set_current(cfg);
    log_configure();
    return cfg;
}

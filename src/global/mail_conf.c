/* mail_conf.c: main.cf loaded and made current at a command's start (see mail_conf.h). */
#include "global/mail_conf.h"
#include "global/mail_params.h"
#include "lib/log.h"
#include "lib/strbuf.h"

config *mail_conf_start(const char *dir, int fail_status)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(dir, &err);
    if (cfg == NULL)
        log_fatal_status(fail_status, "%s", err.data ? err.data : "cannot load main.cf");
    config_set_current(cfg);
    log_configure();
    /* Bad values (a queue_directory too long for any queue path, ...) are refused here, as the
     * daemons refuse them, so no command builds a path from a value it would have to cut. */
    if (mail_params_check(mail_params_current(), &err) < 0)
        log_fatal_status(fail_status, "file %s: %s", config_main_cf(cfg), err.data);
    strbuf_free(&err);
    return cfg;
}

/* local_settings.c: the local agent's parameters typed once per load (see local_settings.h). */
#include "deliver/local_settings.h"

#include "deliver/mbox.h"

/* Part of the loaded configuration, as global/mail_params.c's (docs/design.md, "Process-wide
 * state"). */
static local_settings loaded;

void local_settings_load(local_settings *s, config *cfg)
{
    s->cfg = cfg;
    s->version = config_version(cfg);
    s->default_privs = config_get(cfg, "default_privs");
    s->mailbox_command = config_get(cfg, "mailbox_command");
    s->home_mailbox = config_get(cfg, "home_mailbox");
    s->mail_spool_directory = config_get(cfg, "mail_spool_directory");
    s->alias_maps = config_get(cfg, "alias_maps");
    s->allow_mail_to_files = config_get(cfg, "allow_mail_to_files");
    s->allow_mail_to_commands = config_get(cfg, "allow_mail_to_commands");
    s->mailbox_lock_methods = mbox_lock_methods(config_get(cfg, "mailbox_delivery_lock"));
    s->command_time_limit = config_get_time(cfg, "command_time_limit");
    s->owner_request_special = config_get_bool(cfg, "owner_request_special");
}

const local_settings *local_settings_current(void)
{
    config *cfg = config_current();
    if (loaded.cfg != cfg || loaded.version != config_version(cfg))
        local_settings_load(&loaded, cfg);
    return &loaded;
}

int local_settings_check(const local_settings *s, strbuf *err)
{
    if (s->command_time_limit <= 0) {
        strbuf_printf(err, "parameter command_time_limit: value %ld is not above 0",
                      s->command_time_limit);
        return -1;
    }
    if (s->mailbox_lock_methods == 0) {
        strbuf_printf(err, "parameter mailbox_delivery_lock: no locking method Postern knows");
        return -1;
    }
    return 0;
}

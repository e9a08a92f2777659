/* test_log.c: log settings and computed defaults of any length are used whole, never cut. */
#include "lib/config.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "unit.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/postern-test-log-XXXXXX";

/* A directory path of more than 1100 bytes under tmpdir (made one level at a time). */
static void deep_dir(strbuf *path)
{
    strbuf_reset(path);
    strbuf_append_str(path, tmpdir);
    while (path->len < 1100) {
        strbuf_append_char(path, '/');
        for (int i = 0; i < 200; i++)
            strbuf_append_char(path, 'd');
        mkdir(path->data, 0700);
    }
}

static char *read_all(const char *path)
{
    strbuf err;
    strbuf_init(&err, 0);
    char *text = config_read_file(path, 1 << 20, &err);
    strbuf_free(&err);
    return text;
}

TEST(long_maillog_file_and_syslog_name_are_used_whole)
{
    strbuf dir, log, name, host, want;
    strbuf_init(&dir, 0);
    strbuf_init(&log, 0);
    strbuf_init(&name, 0);
    strbuf_init(&host, 0);
    strbuf_init(&want, 0);
    deep_dir(&dir);
    strbuf_printf(&log, "%s/maillog", dir.data);
    for (int i = 0; i < 300; i++) {
        strbuf_append_char(&name, 'n');
        strbuf_append_char(&host, 'h');
    }
    strbuf_append_str(&host, ".example.test");
    config *cfg = config_defaults(tmpdir);
    config_override(cfg, "maillog_file", log.data);
    config_override(cfg, "syslog_name", name.data);
    config_override(cfg, "myhostname", host.data);
    config_set_current(cfg);
    log_init("test");
    log_set_stderr(0);
    log_configure();
    log_info("hello");
    log_info_as("cleanup", "as cleanup");
    char *text = read_all(log.data);
    CHECK(text != NULL);
    strbuf_printf(&want, " %.300s %s/test[%ld]: hello\n", host.data, name.data, (long)getpid());
    CHECK(text && strstr(text, want.data) != NULL);
    strbuf_reset(&want);
    strbuf_printf(&want, " %s/cleanup[%ld]: as cleanup\n", name.data, (long)getpid());
    CHECK(text && strstr(text, want.data) != NULL);
    free(text);
    config_set_current(NULL);
    log_configure();
    config_free(cfg);
    strbuf_free(&dir);
    strbuf_free(&log);
    strbuf_free(&name);
    strbuf_free(&host);
    strbuf_free(&want);
}

TEST(computed_config_directory_is_not_cut)
{
    strbuf dir;
    strbuf_init(&dir, 0);
    strbuf_append_char(&dir, '/');
    for (int i = 0; i < 5000; i++)
        strbuf_append_char(&dir, 'c');
    config *cfg = config_defaults(dir.data);
    CHECK_STR(config_get_default(cfg, "config_directory"), dir.data);
    const char *nets = config_get_default(cfg, "mynetworks");
    CHECK(strncmp(nets, "127.0.0.0/8 ", 12) == 0);
    CHECK(strstr(nets, " [::1]/128") != NULL);
    config_free(cfg);
    strbuf_free(&dir);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    RUN(long_maillog_file_and_syslog_name_are_used_whole);
    RUN(computed_config_directory_is_not_cut);
    strbuf cmd;
    strbuf_init(&cmd, 0);
    strbuf_printf(&cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd.data) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    strbuf_free(&cmd);
    UNIT_MAIN_END("test_log");
}

/*
 * fuzz_config.c: libFuzzer target for the main.cf parser and $parameter expansion.
 *
 * Parses the input as main.cf text, then expands every parameter it sets and a few that depend on
 * others, which exercises loop detection and the ${name?x}/${name:x} forms.
 */
#include "lib/config.h"
#include "lib/config_params.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load_text("/nonexistent", (const char *)data, size, &err);
    if (cfg) {
        const char **names = config_set_names(cfg);
        for (size_t i = 0; names[i]; i++)
            (void)config_get(cfg, names[i]);
        free(names);
        (void)config_get(cfg, "smtpd_banner");
        (void)config_get_time(cfg, "queue_run_delay");
        (void)config_get_bool(cfg, "soft_bounce");
        config_free(cfg);
    }
    strbuf_free(&err);
    return 0;
}

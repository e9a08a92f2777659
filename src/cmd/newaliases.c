/*
 * newaliases.c: the newaliases program (Sendmail's name for Postfix's "postalias
 * $alias_database").
 *
 *   newaliases [-c config_dir] [-oA[type:]file] [-v]
 *
 * Builds every hash: or lmdb: table listed in alias_database (or given with -oA) from its
 * aliases(5) source file: hash:/etc/aliases is built from /etc/aliases into /etc/aliases.lmdb,
 * through a temporary file renamed into place. Types read directly from their source
 * (texthash:, inline:, ...) need no building and are skipped; unknown types are an error.
 * Exit status 0 when every table was built, 1 otherwise.
 */
#include "cmd/commands.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "maps/alias_file.h"
#include "maps/map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int build_one(const char *entry, void *ctx)
{
    int *failures = ctx;
    const char *spec = entry;
    while (strncmp(spec, "proxy:", 6) == 0)
        spec += 6;
    const char *colon = strchr(spec, ':');
    char *type = colon && colon != spec ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup("");
    const char *name = colon && colon != spec ? colon + 1 : spec;
    if (*type == '\0') {
        free(type);
        const char *def = cfg_str("default_database_type");
        type = xstrdup(def && *def ? def : "hash");
    }
    if (strcmp(type, "hash") == 0 || strcmp(type, "lmdb") == 0) {
        strbuf path, err;
        strbuf_init(&path, 0);
        strbuf_init(&err, 0);
        map_lmdb_file_name(name, &path);
        if (alias_file_build(name, path.data, &err) < 0) {
            log_error("cannot build %s:%s: %s", type, name, err.data);
            (*failures)++;
        }
        strbuf_free(&path);
        strbuf_free(&err);
    } else if (!map_type_supported(type)) {
        log_error("unsupported dictionary type: %s", type);
        (*failures)++;
    }
    free(type);
    return 0;
}

int newaliases_main(int argc, char **argv)
{
    log_init("newaliases");
    log_set_stderr(1);
    const char *config_dir = NULL, *alias_override = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-c") == 0 && i + 1 < argc) {
            config_dir = argv[++i];
        } else if (strncmp(arg, "-oA", 3) == 0) {
            alias_override = arg[3] ? arg + 3 : (i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "-I") == 0 || strcmp(arg, "-bi") == 0) {
            continue;
        } else {
            fprintf(stderr, "usage: newaliases [-c config_dir] [-oA[type:]file] [-v]\n");
            return EX_USAGE_CODE;
        }
    }
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(config_dir, &err);
    if (cfg == NULL) {
        log_error("%s", err.data);
        strbuf_free(&err);
        return 1;
    }
    config_set_current(cfg);
    log_configure();
    const char *databases = alias_override ? alias_override : cfg_str("alias_database");
    int failures = 0;
    strbuf_reset(&err);
    if (map_split_list(databases, build_one, &failures, &err) != 0) {
        log_error("alias_database: %s", err.data);
        failures++;
    }
    strbuf_free(&err);
    config_set_current(NULL);
    config_free(cfg);
    return failures ? 1 : 0;
}

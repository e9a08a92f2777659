/*
 * config.h: main.cf loading and $parameter expansion with Postfix's semantics.
 *
 * config_load() reads DIR/main.cf (DIR from -c, else $MAIL_CONFIG, else CONFIG_DEFAULT_DIR) into a
 * config object: comments, continuation lines and "name = value" entries, last one wins. Values are
 * expanded lazily at use: $name, ${name}, $(name), ${name?text} (text if name is non-empty),
 * ${name:text} (text if name is empty) and $$; an expansion loop is an error that names the file
 * and line. config_load() expands every entry once to report such errors up front, so a server
 * that reloads a broken main.cf can keep its old configuration.
 *
 * The process-wide current configuration (config_set_current) is the only global mutable state
 * Postern has; the cfg_*() shortcuts read from it.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include "lib/strbuf.h"

#define CONFIG_DEFAULT_DIR "/etc/postern"
#define CONFIG_MAX_FILE_SIZE (4u * 1024 * 1024)

typedef struct config config;

/* dir may be NULL: $MAIL_CONFIG, then CONFIG_DEFAULT_DIR. Returns NULL with a message in err. */
config *config_load(const char *dir, strbuf *err);
/* Parses main.cf text held in memory, as config_load does a file (tests, fuzzing). */
config *config_load_text(const char *dir, const char *text, size_t len, strbuf *err);
/* Reads a configuration file (main.cf, master.cf) of at most limit bytes that holds no NUL byte;
 * free() the text. NULL with the reason in err. */
char *config_read_file(const char *path, size_t limit, strbuf *err);
/* A configuration with defaults only (postconf -d). */
config *config_defaults(const char *dir);
void config_free(config *cfg);

void config_set_current(config *cfg);
config *config_current(void);

/* Picks the configuration directory as Postfix does: explicit dir, $MAIL_CONFIG, default. */
const char *config_choose_dir(const char *explicit_dir);
const char *config_directory(const config *cfg);
const char *config_main_cf(const config *cfg);

/* -o name=value: overrides main.cf for this process. Values returned earlier become invalid. */
void config_override(config *cfg, const char *name, const char *value);
/* Changes with every override, so settings typed from cfg know when to be read again. */
unsigned long config_version(const config *cfg);

/* Expanded value; "" for a name that is neither known nor set. Valid until the config changes. */
const char *config_get(config *cfg, const char *name);
/* Unexpanded value: override, else main.cf, else default (computed defaults computed). */
const char *config_get_raw(config *cfg, const char *name);
/* Unexpanded default; NULL when the name is not a known parameter. */
const char *config_get_default(config *cfg, const char *name);
/* Non-zero when main.cf (or an override) sets name. */
int config_is_set(const config *cfg, const char *name);
/* main.cf line of name's entry, 0 when not set there or overridden (-o). */
int config_line(const config *cfg, const char *name);
/* A new configuration with cfg's main.cf entries and overrides (a service's -o applied to a
 * copy, for postfix check); config_free() it. */
config *config_copy(const config *cfg);
/* Sorted names that main.cf sets; free() the array only. */
const char **config_set_names(const config *cfg);

/* Expands arbitrary text against cfg. Returns 0, or -1 with err set (loop, bad syntax). */
int config_expand(config *cfg, const char *text, strbuf *out, strbuf *err);

/* As config_expand, but a $name that is neither a known parameter nor set anywhere is an error
 * ("undefined parameter NAME") instead of nothing; ${name?text} and ${name:text} test names. */
int config_expand_strict(config *cfg, const char *text, strbuf *out, strbuf *err);
/* The names Postfix's stock master.cf uses without defining them (mua_client_restrictions,
 * mua_helo_restrictions, mua_sender_restrictions): empty when undefined, even strictly. */
int config_stock_optional(const char *name);
/* Whether raw, expanded in cfg, is a good value for parameter name's type (a master.cf -o
 * value, which config_load() never saw): 0, or -1 with "bad TYPE value for parameter NAME: ..."
 * in err. */
int config_check_value(config *cfg, const char *name, const char *raw, strbuf *err);

/* Typed accessors; a malformed value logs a warning and falls back to the default. */
long config_get_int(config *cfg, const char *name);
long config_get_time(config *cfg, const char *name); /* seconds */
long long config_get_size(config *cfg, const char *name);
int config_get_bool(config *cfg, const char *name);

/* Parses a Postfix time value ("300s", "5d", bare number in default_unit). -1 when malformed. */
long config_parse_time(const char *value, char default_unit);
/* Parses yes/no (case-insensitive); -1 when neither. */
int config_parse_bool(const char *value);

/* Shortcuts on the current configuration. */
const char *cfg_str(const char *name);
long cfg_int(const char *name);
long cfg_time(const char *name);
long long cfg_size(const char *name);
int cfg_bool(const char *name);

#endif

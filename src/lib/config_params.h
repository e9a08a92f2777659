/*
 * config_params.h: the table of every main.cf parameter Postern implements.
 *
 * Each entry has Postfix's name and default (docs/parameters.md lists where Postern differs and
 * why). A default is either text, expanded lazily like any main.cf value, or computed from the
 * host (myhostname, mydomain, mynetworks). Lookups are by binary search over the sorted table.
 */
#ifndef POSTERN_CONFIG_PARAMS_H
#define POSTERN_CONFIG_PARAMS_H

#include <stddef.h>

struct config;
struct strbuf;

typedef enum {
    PARAM_STR,  /* text, $-expanded at use */
    PARAM_RAW,  /* text, never expanded (e.g. mailbox_command, which expands its own $names) */
    PARAM_INT,  /* decimal integer */
    PARAM_BOOL, /* yes or no */
    PARAM_TIME, /* number with optional unit s, m, h, d, w; default unit in time_unit */
    PARAM_SIZE, /* byte count */
} param_type;

typedef struct param_def {
    const char *name;
    const char *def; /* NULL when computed */
    param_type type;
    char time_unit;  /* for PARAM_TIME: unit of a bare number */
    /* For computed defaults: appends the value to out (a strbuf, so no length cap); the config
     * gives access to other parameters. */
    void (*compute)(struct config *cfg, struct strbuf *out);
} param_def;

const param_def *param_lookup(const char *name);
const param_def *param_table(size_t *count);

#endif

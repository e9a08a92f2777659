/*
 * param_class.h: what Postern does with each Postfix parameter: implemented, inert or required.
 *
 * The data is src/lib/param_class.def (one line per Postfix 3.7 parameter, with Postfix's
 * default; its header says how to move a name when a feature lands). Lookups are by exact name,
 * then by the per-transport suffix rules ("relay_destination_rate_delay").
 *
 * param_class_judge() is the fail-closed rule for one setting (issue 9):
 *   IMPLEMENTED or not a Postfix parameter -> PARAM_VERDICT_OK
 *   INERT                                  -> PARAM_VERDICT_INERT (warn, no effect on mail flow)
 *   REQUIRED, value = Postfix's default    -> PARAM_VERDICT_OK (nothing is asked for)
 *   REQUIRED, any other value              -> PARAM_VERDICT_REFUSE
 * Values compare after folding case and runs of " ,\t\r\n" to one space; "0" equals "0s".
 */
#ifndef POSTERN_PARAM_CLASS_H
#define POSTERN_PARAM_CLASS_H

#include <stddef.h>

typedef enum {
    PARAM_CLASS_UNKNOWN, /* not a Postfix parameter (user-defined, or a typo) */
    PARAM_CLASS_IMPLEMENTED,
    PARAM_CLASS_INERT,
    PARAM_CLASS_REQUIRED,
} param_class;

typedef struct param_class_entry {
    const char *name; /* parameter name, or the suffix for a service rule */
    param_class cls;
    const char *postfix_default; /* NULL for Postern-only parameters and service rules */
} param_class_entry;

typedef enum {
    PARAM_VERDICT_OK,
    PARAM_VERDICT_INERT,
    PARAM_VERDICT_REFUSE,
} param_verdict;

/* Exact PARAM line of name, or NULL. */
const param_class_entry *param_class_lookup(const char *name);
/* Class of name: its PARAM line, else a matching SERVICE_PARAM suffix, else UNKNOWN. */
param_class param_class_of(const char *name);
/* Postfix's default for name (a service parameter gets "$default_<suffix>"), or NULL. */
const char *param_class_postfix_default(const char *name);
/* Every PARAM line, sorted by name. */
const param_class_entry *param_class_table(size_t *count);
/* Every SERVICE_PARAM rule (name holds the suffix without the leading '_'). */
const param_class_entry *param_class_service_rules(size_t *count);
/* "implemented", "inert", "required", "unknown". */
const char *param_class_name(param_class cls);
/* The verdict for name = value (raw or expanded text; callers may try both, see above). */
param_verdict param_class_judge(const char *name, const char *value);
/* Non-zero when a and b are the same setting after the folding described above. */
int param_class_same_value(const char *a, const char *b);

#endif

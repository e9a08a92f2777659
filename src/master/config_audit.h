/*
 * config_audit.h: the fail-closed check of a whole configuration (main.cf and master.cf).
 *
 * Postern honours a setting, or it does not matter for safety and mail flow (a warning), or
 * Postern refuses to run with it (docs/design.md, "Fail closed"; the classes come from
 * src/lib/param_class.def). config_audit_run() looks at:
 *   - every main.cf setting and every master.cf "-o name=value" of a service Postern runs:
 *     inert ones are warned about once per name, required ones that ask for something Postern
 *     does not do are refused;
 *   - every lookup table named in an implemented setting ("mysql:/etc/x.cf" inside a value;
 *     caches such as smtp_tls_session_cache_database aside):
 *     a table type Postern lacks is refused;
 *   - every master.cf service whose program Postern does not run: inert when nothing reaches
 *     it (tlsmgr, scache, flush, ...), refused when it listens on an inet port (postscreen,
 *     tlsproxy, qmqpd), is the queue manager (oqmgr), or is a transport that a parameter names
 *     (virtual_transport = dovecot with a pipe service called dovecot).
 *   - with master.cf given, the smtpd restriction lists (smtpd_check.h), once as main.cf makes
 *     them and once for each smtpd service with -o overrides, on a copy of the configuration
 *     with that service's overrides applied: an unknown restriction, a missing argument or a
 *     list that names an undefined parameter is an error (refused even with the action below)
 *     naming main.cf's or master.cf's file and line;
 * With postern_unimplemented_action = warn every refusal becomes a warning (the services stay
 * skipped). Messages name the file and line:
 *   "/etc/postern/main.cf, line 7: content_filter = amavis:[127.0.0.1]:10024: not implemented
 *    by Postern; refusing to run without it"
 */
#ifndef POSTERN_CONFIG_AUDIT_H
#define POSTERN_CONFIG_AUDIT_H

#include "lib/config.h"
#include "master/master_cf.h"

#include <stddef.h>

typedef struct config_audit_item {
    int refused; /* 1: Postern must not run with this; 0: a warning */
    char *text;
} config_audit_item;

typedef struct config_audit {
    config_audit_item *items;
    size_t count;
    size_t refusals; /* items with refused = 1 */
} config_audit;

/* Audits cfg and mcf (mcf may be NULL: main.cf only). Free out with config_audit_free. */
void config_audit_run(config *cfg, const master_cf *mcf, config_audit *out);
void config_audit_free(config_audit *audit);
/* Logs every item: refusals as errors, the rest as warnings. */
void config_audit_log(const config_audit *audit);
/* Text of the first refusal, or NULL. */
const char *config_audit_first_refusal(const config_audit *audit);

#endif

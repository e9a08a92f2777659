/*
 * master_cf.h: parsing master.cf, the table of services the master runs.
 *
 * Syntax as Postfix's: '#' comments, blank lines, and logical lines continued by lines that start
 * with white space. Each entry has the fields
 *   service type private unpriv chroot wakeup maxproc command [args...]
 * where '-' means the default (private y, unpriv y, chroot y, wakeup 0, maxproc
 * $default_process_limit); wakeup may end in '?' (wake only a service that is in use); maxproc 0
 * means no limit. An argument written as "{ text }" keeps the white space inside the braces
 * (leading and trailing blanks removed), so "-o { name = value }" works as in Postfix 3.0; both
 * "-o name=value" and "-oname=value" are accepted, and white space around '=' is dropped.
 *
 * Types: inet, unix, unix-dgram, fifo, pass. An inet service name is "host:port", "[v6addr]:port"
 * or "port"; a port is a number or a name from /etc/services (a built-in table covers smtp,
 * submission, smtps/submissions when /etc/services lacks them). Without a host the service
 * listens on inet_interfaces: "all" = 0.0.0.0, "loopback-only" = 127.0.0.1, otherwise each
 * listed address (names are resolved), and the master binds one endpoint per address.
 *
 * A service whose program Postern does not implement (cleanup, tlsmgr, postscreen, pipe, ...) is
 * kept in the table with skipped = 1 and never started; whether that is harmless or a reason to
 * refuse the configuration is config_audit.h's decision, not the parser's.
 * Errors (unknown type, missing fields, bad numbers, unknown port, duplicate service) name the
 * file and line.
 */
#ifndef POSTERN_MASTER_CF_H
#define POSTERN_MASTER_CF_H

#include "lib/config.h"
#include "lib/strbuf.h"

#include <stddef.h>

typedef enum {
    MASTER_TYPE_INET,
    MASTER_TYPE_UNIX,
    MASTER_TYPE_UNIX_DGRAM,
    MASTER_TYPE_FIFO,
    MASTER_TYPE_PASS,
} master_service_type;

typedef struct master_cf_override {
    char *name;
    char *value;
} master_cf_override;

typedef struct master_cf_entry {
    int line;   /* first line of the entry in master.cf */
    char *name; /* service field as written: "smtp", "127.0.0.1:2525", "qmgr" */
    master_service_type type;
    const char *type_name;         /* "inet", "unix", ... (static) */
    int private_;                  /* private field: endpoint under private/ (else public/) */
    int unpriv;                    /* run as mail_owner */
    int chroot;                    /* parsed and ignored: Postern does not chroot */
    int wakeup;                    /* seconds, 0 = never */
    int wakeup_if_used;            /* wakeup field ended in '?' */
    int maxproc;                   /* 0 = no limit */
    char *program;                 /* command field: "smtpd" */
    master_cf_override *overrides; /* -o name=value, in order */
    size_t noverrides;
    char **args; /* the other arguments, in order */
    size_t nargs;
    int skipped; /* program not implemented by Postern */
    /* inet only: numeric bind addresses ("0.0.0.0", "::1") and the port. */
    char **addrs;
    size_t naddrs;
    int port;
} master_cf_entry;

typedef struct master_cf {
    char *path;
    master_cf_entry *entries;
    size_t count;
} master_cf;

/* Reads CONFIG_DIR/master.cf (config_directory of cfg). NULL with err set on error. */
master_cf *master_cf_load(config *cfg, strbuf *err);
/* Parses text as if read from path. NULL with err set on error. */
master_cf *master_cf_parse(config *cfg, const char *path, const char *text, strbuf *err);
void master_cf_free(master_cf *mcf);

/* Port number for an inet port field ("25", "smtp"); -1 when unknown. */
int master_cf_port(const char *text);
/* Non-zero when Postern implements program as a daemon. */
int master_cf_program_implemented(const char *program);

#endif

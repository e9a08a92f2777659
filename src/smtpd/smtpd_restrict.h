/*
 * smtpd_restrict.h: restriction lists compiled once per configuration load (as Postfix's
 * smtpd_check_init), so that no session ever splits a parameter value or opens a table.
 *
 * restriction_list_compile() turns a value such as "permit_mynetworks, check_client_access
 * hash:/etc/x, reject_unauth_destination" into an array of restrictions with their arguments
 * bound: tables are opened here (through the table set, which reopens a table whose file
 * changes), asynchronous kinds (policy services, DNS) set up their per-restriction state.
 * There is no limit on the number of words: a list is as long as its value.
 *
 * Names are refused here, never at RCPT time: an unknown name is "unknown restriction", a name
 * Postfix has but Postern does not do is "not implemented by Postern" (fail closed: running
 * without a restriction the administrator asked for would accept mail they meant to refuse).
 * A missing table argument, braces that do not close, smtpd_restriction_classes nested deeper
 * than RESTRICT_MAX_DEPTH (or naming themselves) are errors too.
 *
 * Access-table results that name restrictions (access(5) "restriction...") are compiled at
 * lookup time with the same function; tables they name are opened then and kept in the set.
 */
#ifndef POSTERN_SMTPD_RESTRICT_H
#define POSTERN_SMTPD_RESTRICT_H

#include "lib/config.h"
#include "lib/strbuf.h"
#include "lib/strmap.h"
#include "maps/map.h"

/* smtpd_restriction_classes may name each other; this bounds the nesting. */
#define RESTRICT_MAX_DEPTH 8

typedef enum {
    RESTRICT_PERMIT,
    RESTRICT_REJECT,
    RESTRICT_DEFER,
    RESTRICT_PERMIT_MYNETWORKS,
    RESTRICT_PERMIT_SASL_AUTHENTICATED,
    RESTRICT_REJECT_UNAUTH_DESTINATION,
    RESTRICT_DEFER_UNAUTH_DESTINATION,
    RESTRICT_PERMIT_AUTH_DESTINATION,
    RESTRICT_REJECT_UNLISTED_RECIPIENT,
    RESTRICT_REJECT_UNLISTED_SENDER,
    RESTRICT_REJECT_NON_FQDN_SENDER,
    RESTRICT_REJECT_NON_FQDN_RECIPIENT,
    RESTRICT_REJECT_NON_FQDN_HELO,
    RESTRICT_REJECT_INVALID_HELO,
    RESTRICT_REJECT_UNAUTH_PIPELINING,
    RESTRICT_CHECK_CLIENT_ACCESS,
    RESTRICT_CHECK_HELO_ACCESS,
    RESTRICT_CHECK_SENDER_ACCESS,
    RESTRICT_CHECK_RECIPIENT_ACCESS,
    RESTRICT_CHECK_SASL_ACCESS,
    RESTRICT_CHECK_CCERT_ACCESS,
    RESTRICT_PERMIT_TLS_CLIENTCERTS,
    RESTRICT_PERMIT_TLS_ALL_CLIENTCERTS,
    RESTRICT_REJECT_SENDER_LOGIN_MISMATCH,
    RESTRICT_REJECT_AUTH_SENDER_LOGIN_MISMATCH,
    RESTRICT_REJECT_KNOWN_SENDER_LOGIN_MISMATCH,
    RESTRICT_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH,
    RESTRICT_CLASS,      /* a name from smtpd_restriction_classes */
    RESTRICT_ASYNC,      /* a restriction that waits: see smtpd_async.h */
} restriction_op;

struct smtpd_async_kind;

/* A table a restriction uses, shared by every restriction that names the same spec. */
typedef struct restrict_table {
    char *spec;
    map *m;            /* NULL when it could not be opened: lookups fail temporarily */
    char *open_error;  /* why, for the log */
    long long checked_ms;
} restrict_table;

typedef struct restriction_list restriction_list;

typedef struct restriction {
    restriction_op op;
    const char *name;        /* the canonical name, for logs */
    int warn_if_reject;      /* preceded by warn_if_reject */
    char *arg;               /* the word after the name, when it takes one */
    restrict_table *table;   /* check_*_access */
    restriction_list *sub;   /* RESTRICT_CLASS (owned by the class set) */
    const struct smtpd_async_kind *kind; /* RESTRICT_ASYNC */
    int async_op;            /* which of the kind's restrictions */
    void *async_data;        /* the kind's per-restriction state (service, DNS list name) */
} restriction;

struct restriction_list {
    restriction *items;
    size_t n;
};

/* What a compilation needs: the open tables, the restriction classes, the kinds' shared state. */
typedef struct restrict_set {
    config *cfg;      /* where restriction classes are defined */
    strmap *tables;   /* spec -> restrict_table* */
    strmap *classes;  /* class name -> restriction_list* (compiled on first mention) */
    strmap *class_names; /* names listed in smtpd_restriction_classes */
    void *async_env;  /* handed to the kinds' compile (smtpd_async.h) */
} restrict_set;

/* class_names_value: smtpd_restriction_classes, their definitions read from cfg (an undefined
 * class, or one whose value names an undefined $parameter, is an error when first named).
 * Returns -1 with err set on a bad value. */
int restrict_set_init(restrict_set *set, config *cfg, const char *class_names_value,
                      void *async_env, strbuf *err);
void restrict_set_free(restrict_set *set);

/* Compiles value. param names the parameter for messages ("" for an access-table result).
 * Returns NULL with the reason in err ("unknown restriction \"x\"", ...). */
restriction_list *restriction_list_compile(restrict_set *set, const char *param,
                                           const char *value, strbuf *err);
void restriction_list_free(restriction_list *list);

/* The table's map, reopened first when its file changed (checked at most once a second).
 * NULL when the table cannot be opened (the reason in t->open_error). */
map *restrict_table_get(restrict_table *t, long long now_ms);

/* 1 when name is a restriction Postfix knows (implemented by Postern or not). */
int restriction_name_known(const char *name);

#endif

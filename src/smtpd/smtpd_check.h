/*
 * smtpd_check.h: the SMTP server's access restrictions (smtpd_*_restrictions), as Postfix.
 *
 * A restriction list is evaluated left to right; the first restriction that decides wins:
 * a permit ends the list (the next list still runs), a reject or defer ends the whole check
 * with a reply; when nothing decides, the list's result is "dunno". smtpd_check_rcpt() runs, in
 * order, client, helo and sender restrictions (when smtpd_delay_reject = yes), then
 * smtpd_relay_restrictions and smtpd_recipient_restrictions, then the implicit
 * reject_unlisted_recipient of smtpd_reject_unlisted_recipient = yes (also after a permit, as
 * Postfix does).
 *
 * The checker (one per process) holds every list compiled once at configuration load
 * (smtpd_restrict.h: unknown and unimplemented names are refused there, tables opened there).
 * A check (one per session) is a cursor over those lists: when a restriction must wait for an
 * answer (smtpd_async.h) the check functions return SMTPD_CHECK_WAIT; the session calls the
 * same function again, with the same arguments, after its wake function has run, and the
 * evaluation goes on where it stopped.
 *
 * Implemented restrictions: permit, reject, defer, warn_if_reject, permit_mynetworks,
 * permit_sasl_authenticated, reject_sender_login_mismatch and its authenticated_, known_
 * and unauthenticated_ forms (owners from smtpd_sender_login_maps; keys: the sender address,
 * then "@domain"), check_sasl_access (key: the SASL login name), check_ccert_access (key: the
 * client certificate's SHA-256 fingerprint), permit_tls_clientcerts (a verified certificate
 * whose fingerprint is in relay_clientcerts), permit_tls_all_clientcerts,
 * reject_unauth_destination, defer_unauth_destination,
 * permit_auth_destination, reject_unlisted_recipient (check_recipient_maps),
 * reject_unlisted_sender, reject_non_fqdn_{sender,recipient,helo_hostname},
 * reject_invalid_helo_hostname, reject_unauth_pipelining, check_{client,helo,sender,
 * recipient}_access with access(5) results, smtpd_restriction_classes names, and the waiting
 * kinds listed in smtpd_async.c (check_policy_service, the DNS restrictions).
 */
#ifndef POSTERN_SMTPD_CHECK_H
#define POSTERN_SMTPD_CHECK_H

#include "lib/config.h"
#include "lib/strbuf.h"

typedef struct smtpd_checker smtpd_checker;
typedef struct smtpd_check smtpd_check;
struct smtpd_async_env;

/* Client name lookup outcome, as Postfix's SMTPD_PEER_CODE_*. */
enum { SMTPD_PEER_OK = 2, SMTPD_PEER_TEMP = 4, SMTPD_PEER_PERM = 5, SMTPD_PEER_FORGED = 6 };

/* What the restrictions look at; NULL members are not known yet. Addresses are internal form. */
typedef struct smtpd_check_args {
    const char *client_name;  /* verified name, or "unknown" */
    const char *client_addr;
    const char *reverse_name; /* name from the PTR record, or "unknown" */
    int name_status, reverse_status; /* SMTPD_PEER_*; 0 = not looked up (treated as OK) */
    const char *helo;
    const char *sender; /* "" is the null sender */
    const char *recipient;
    long rcpt_count;    /* recipients accepted so far */
    const char *protocol; /* "SMTP", "ESMTP" */
    const char *stage;    /* "RCPT", ... (policy protocol_state) */
    const char *queue_id; /* or "" */
    long long size;       /* MAIL FROM SIZE=, or 0 */
    int early_input;      /* the client sent more before this command's reply (pipelining) */
    int esmtp;
    const char *sasl_username; /* NULL: not authenticated */
    const char *sasl_method;
    const char *ccert_fingerprint; /* TLS client certificate (SHA-256, "AB:CD:..."), or NULL */
    int ccert_verified;            /* it verified against smtpd_tls_CAfile/CApath */
} smtpd_check_args;

typedef enum {
    SMTPD_CHECK_DUNNO = 0,
    SMTPD_CHECK_OK = 1,
    SMTPD_CHECK_REJECT = 2, /* reply holds "4xx/5xx x.y.z text" */
    SMTPD_CHECK_WAIT = 3,   /* an answer is awaited: call again after the wake function ran */
} smtpd_check_result;

/* Which of the client's statements a restriction is about; it names the reply. */
typedef enum {
    SMTPD_CLASS_CLIENT,
    SMTPD_CLASS_HELO,
    SMTPD_CLASS_SENDER,
    SMTPD_CLASS_RECIPIENT,
    SMTPD_CLASS_DATA,
} smtpd_check_class;

/* Longest smtpd_banner: "220 " + banner + CRLF is one RFC 5321 reply line of 512 octets. */
#define SMTPD_BANNER_MAX (512 - 6)

/* Reads every restriction parameter of the current configuration and compiles the lists,
 * opening their tables. env is the event loop and resolver for waiting restrictions, NULL to
 * validate only (postfix check). NULL with "FILE, line N: param: reason" in err. */
smtpd_checker *smtpd_checker_open(struct smtpd_async_env *env, strbuf *err);
void smtpd_checker_close(smtpd_checker *ck);
/* Validates cfg's restrictions as smtpd would compile them, and the length of smtpd's text
 * settings (smtpd_banner, myhostname, smtpd_sasl_local_domain), for postfix
 * check/start/reload, once for main.cf and once per smtpd service with its -o overrides
 * applied to a copy: 0, or -1 with "FILE, line N: param: reason" in err (no file and line for
 * a -o value). smtpd_checker_open() checks the same. */
int smtpd_checker_validate(config *cfg, strbuf *err);

/* 1 when addr is in $mynetworks (0 also when the list could not be read). */
int smtpd_check_mynetworks(smtpd_checker *ck, const char *addr);

/* A session's evaluation state; wake(ctx) runs on the event loop when an answer came in. */
smtpd_check *smtpd_check_new(smtpd_checker *ck, void (*wake)(void *ctx), void *ctx);
/* Cancels a request still under way. */
void smtpd_check_free(smtpd_check *c);
/* 1 while a request is under way. */
int smtpd_check_waiting(const smtpd_check *c);

/* Each returns SMTPD_CHECK_REJECT with Postfix's reply text, WAIT, else OK or DUNNO. */
smtpd_check_result smtpd_check_helo(smtpd_check *c, const smtpd_check_args *a, strbuf *reply);
smtpd_check_result smtpd_check_sender(smtpd_check *c, const smtpd_check_args *a, strbuf *reply);
smtpd_check_result smtpd_check_rcpt(smtpd_check *c, const smtpd_check_args *a, strbuf *reply);
smtpd_check_result smtpd_check_data(smtpd_check *c, const smtpd_check_args *a, strbuf *reply);
/* VRFY: only the unknown-recipient check. */
smtpd_check_result smtpd_check_vrfy(smtpd_check *c, const smtpd_check_args *a, strbuf *reply);

/* Builds "CODE X.Y.Z <subject>: Xxx rejected: text" for kinds' decide(); text may begin with
 * its own "x.y.z " status. Returns SMTPD_CHECK_REJECT. */
smtpd_check_result smtpd_check_reply(strbuf *reply, int code, const char *dsn, int cls,
                                     const smtpd_check_args *a, const char *text);
/* "451 4.3.0 <what>: Temporary lookup failure". Returns SMTPD_CHECK_REJECT. */
smtpd_check_result smtpd_check_lookup_failure(strbuf *reply, const char *what);

#endif

/*
 * smtpd_check.h: the SMTP server's access restrictions (smtpd_*_restrictions), as Postfix.
 *
 * A restriction list is evaluated left to right; the first restriction that decides wins:
 * a permit ends the list (the next list still runs), a reject or defer ends the whole check
 * with a reply; when nothing decides, the list's result is "dunno". smtpd_check_rcpt() runs, in
 * order, client, helo and sender restrictions (when smtpd_delay_reject = yes), then
 * smtpd_relay_restrictions and smtpd_recipient_restrictions, then the implicit
 * reject_unlisted_recipient of smtpd_reject_unlisted_recipient = yes (also after a permit, as
 * Postfix does). Supported restrictions: permit, reject, defer, permit_mynetworks,
 * reject_unauth_destination, defer_unauth_destination, permit_auth_destination,
 * reject_unlisted_recipient, reject_unlisted_sender, reject_non_fqdn_sender,
 * reject_non_fqdn_recipient, reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname,
 * permit_sasl_authenticated (never matches: no AUTH yet) and check_{client,helo,sender,
 * recipient}_access type:table with access(5) results (OK, REJECT [text], DEFER [text],
 * DUNNO, 4NN/5NN text, or a restriction name). Restrictions that need DNS or external services
 * (reject_unknown_*, reject_rbl_client, check_policy_service, ...) are warned about once and
 * skipped. An unknown name logs a warning and answers "451 4.3.5 Server configuration error".
 *
 * Tables are opened on first use and kept for the life of the checker (one per process).
 */
#ifndef POSTERN_SMTPD_CHECK_H
#define POSTERN_SMTPD_CHECK_H

#include "lib/strbuf.h"

typedef struct smtpd_checker smtpd_checker;

/* What the restrictions look at; NULL members are not known yet. Addresses are internal form. */
typedef struct smtpd_check_args {
    const char *client_name; /* "localhost", "unknown" */
    const char *client_addr;
    const char *helo;
    const char *sender; /* "" is the null sender */
    const char *recipient;
} smtpd_check_args;

typedef enum {
    SMTPD_CHECK_DUNNO = 0,
    SMTPD_CHECK_OK = 1,
    SMTPD_CHECK_REJECT = 2, /* reply holds "4xx/5xx x.y.z text" */
} smtpd_check_result;

/* Reads the restriction parameters and opens the resolver and mynetworks. NULL with a
 * message in err when something cannot be opened. */
smtpd_checker *smtpd_checker_open(strbuf *err);
void smtpd_checker_close(smtpd_checker *ck);

/* 1 when addr is in $mynetworks (0 also when the list could not be read). */
int smtpd_check_mynetworks(smtpd_checker *ck, const char *addr);

/* Each returns SMTPD_CHECK_REJECT with Postfix's reply text, else OK or DUNNO. */
smtpd_check_result smtpd_check_client(smtpd_checker *ck, const smtpd_check_args *a,
                                      strbuf *reply);
smtpd_check_result smtpd_check_helo(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply);
smtpd_check_result smtpd_check_sender(smtpd_checker *ck, const smtpd_check_args *a,
                                      strbuf *reply);
smtpd_check_result smtpd_check_rcpt(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply);
smtpd_check_result smtpd_check_data(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply);
/* VRFY: only the unknown-recipient check. */
smtpd_check_result smtpd_check_vrfy(smtpd_checker *ck, const smtpd_check_args *a, strbuf *reply);

#endif

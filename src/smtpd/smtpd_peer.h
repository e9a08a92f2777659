/*
 * smtpd_peer.h: the client's host name, looked up as Postfix's smtpd_peer does, without
 * blocking the event loop: the address's PTR record gives the reverse name; its A or AAAA
 * records must include the address (forward confirmation) for the name to be used. Otherwise
 * the client is "unknown" (logged "unknown[1.2.3.4]"), with Postfix's warnings:
 *   hostname NAME does not resolve to address ADDR            (no record matches)
 *   hostname NAME does not resolve to address ADDR: REASON    (the forward lookup failed)
 * The outcome codes (SMTPD_PEER_* in smtpd_check.h) drive reject_unknown_client_hostname
 * and reject_unknown_reverse_client_hostname: OK, TEMP (a lookup failed temporarily), PERM
 * (no PTR record) or FORGED (the name does not lead back to the address).
 */
#ifndef POSTERN_SMTPD_PEER_H
#define POSTERN_SMTPD_PEER_H

#include "lib/dns.h"

typedef struct smtpd_peer_result {
    char name[DNS_NAME_MAX + 1];         /* verified name, or "unknown" */
    char reverse_name[DNS_NAME_MAX + 1]; /* PTR name, or "unknown" */
    int name_status, reverse_status;
} smtpd_peer_result;

typedef struct smtpd_peer_lookup smtpd_peer_lookup;
typedef void (*smtpd_peer_done_fn)(void *ctx, const smtpd_peer_result *res);

/* Starts the lookup; done runs once on the loop, never from inside this call. */
smtpd_peer_lookup *smtpd_peer_lookup_start(event_loop *loop, dns_resolver *dns, const char *addr,
                                           smtpd_peer_done_fn done, void *ctx);
/* done will not run. */
void smtpd_peer_lookup_cancel(smtpd_peer_lookup *p);

#endif

/*
 * smtp_session.h: the client side of one SMTP or LMTP connection, in one place.
 *
 * smtp_session_start() reads the greeting (220, else "host X refused to talk to me"), sends
 * EHLO smtp_helo_name (LHLO lmtp_lhlo_name for LMTP; HELO after a 5xx to EHLO) and records the
 * announced features. smtp_session_transaction() sends one message to a set of recipients:
 *   MAIL FROM:<sender> [SIZE=n] [BODY=8BITMIME] [RET=..] [ENVID=..]
 *   RCPT TO:<rcpt> [NOTIFY=..] [ORCPT=..]     (one per recipient)
 *   DATA, the content (smtp_body.h), "."
 * With PIPELINING, MAIL, the RCPTs and DATA go out together (in batches of
 * SMTP_PIPELINE_BATCH commands), and the replies are read in order; without it, the client waits
 * for each reply and stops early (no RCPT after a failed MAIL, no DATA without an accepted
 * recipient). Every recipient gets a result through deliver_set_result: the server's text for a
 * 2xx, "host X said: TEXT (in reply to CMD command)" for a 4xx/5xx, "lost connection with X
 * while STATE" (4.4.2) when the connection breaks. After "." an SMTP server gives one reply for
 * all accepted recipients, an LMTP server one reply each.
 *
 * Each read and write has the deadline of its stage (smtp_helo_timeout, smtp_mail_timeout,
 * smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_xfer_timeout, smtp_data_done_timeout,
 * smtp_rset_timeout, smtp_quit_timeout). A session whose connection is in a known state
 * (usable) may be reset with RSET and used again (smtp_cache.h).
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include "deliver/deliver_request.h"
#include "deliver/smtp_connect.h"
#include "deliver/smtp_stream.h"
#include "queue/queue_file.h"

#define SMTP_PIPELINE_BATCH 100
#define SMTP_NAME_MAX (SMTP_HOST_MAX + INET_ADDR_TEXT_MAX + 16)

typedef struct smtp_session {
    smtp_stream stream;
    char host_addr[SMTP_NAME_MAX]; /* "host[addr]" for "host X said" */
    char relay[SMTP_NAME_MAX];     /* "host[addr]:port" for relay= */
    int lmtp;
    unsigned features;    /* SMTP_FEATURE_* */
    long long size_limit; /* announced SIZE, 0 = none */
    double created;       /* mail_time_steady() when opened */
    int usable;           /* the connection is in a known state */
    long transactions;
    char auth_mechs[512]; /* SASL mechanisms of the last EHLO reply, space separated */
    int tls;              /* TLS is active (smtp_tls.h) */
    int tls_verified;     /* the server was authenticated (fingerprint, name, DANE) */
    int authenticated;    /* SASL AUTH succeeded (smtp_sasl.h) */
    char tls_cache_key[SMTP_NAME_MAX + 320]; /* TLS session cache key, "" = no caching */
} smtp_session;

/* What a transaction sends. */
typedef struct smtp_message {
    const deliver_request *req;
    int fd; /* the queue file */
    const queue_envelope *env;
    int has_8bit;      /* the content has bytes with the high bit set */
    const char *envid; /* DSN envelope id or NULL */
    int dsn_ret;       /* 0, 1 = FULL, 2 = HDRS */
} smtp_message;

/* Takes over fd. 0 on success; -1 with dsn and why (the session is closed). */
int smtp_session_start(smtp_session *s, int fd, const smtp_candidate *c, int lmtp, char *dsn,
                       size_t dsnlen, strbuf *why);
/* smtp_session_start in two steps, for TLS before the greeting (smtp_tls_wrap): take over fd,
 * then read the greeting and send EHLO. */
void smtp_session_open(smtp_session *s, int fd, const smtp_candidate *c, int lmtp);
int smtp_session_greet(smtp_session *s, char *dsn, size_t dsnlen, strbuf *why);
/* Sends EHLO (LHLO for LMTP; HELO after a 5xx when allow_helo) and records the features, as
 * after the greeting and again after STARTTLS. 0, or -1 with dsn and why (the session is
 * closed). */
int smtp_session_hello(smtp_session *s, int allow_helo, char *dsn, size_t dsnlen, strbuf *why);
/* Sends the message to the n recipients; every one gets a result. */
void smtp_session_transaction(smtp_session *s, const smtp_message *m, deliver_rcpt **rcpts,
                              size_t n);
/* RSET before reusing a session. 0, or -1 when the session is no longer usable. */
int smtp_session_reset(smtp_session *s);
/* Sends QUIT when the session is usable, then closes it. */
void smtp_session_quit(smtp_session *s);
/* Closes without QUIT. */
void smtp_session_close(smtp_session *s);

/* Helpers exposed for tests. */
/* RFC 3461 xtext: "+XX" for '+', '=', and bytes outside 33..126. */
void smtp_xtext_encode(const char *in, strbuf *out);
/* RFC 5321 address for MAIL FROM/RCPT TO: quotes the local part when it is not a dot-atom.
 * Returns -1 when the address has control characters. */
int smtp_quote_address(const char *addr, strbuf *out);

#endif

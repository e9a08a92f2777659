/*
 * smtpd_tls.h: TLS for the SMTP server: the security level and certificate settings read at
 * start, and each session's TLS connection driven by the event loop (smtpd_io.c).
 *
 * The I/O layer calls these; the protocol code (smtpd_session.c) only decides when TLS starts
 * (STARTTLS, or at once with smtpd_tls_wrappermode) and learns when it is up. Everything is
 * non-blocking: smtpd_tls_handshake(), smtpd_tls_read() and smtpd_tls_write() return
 * SMTPD_TLS_AGAIN with s->tls_want set to the socket readiness OpenSSL waits for, and the loop
 * calls again when the socket is ready, so a slow or stalled handshake holds up only its own
 * session (its idle timer, smtpd_starttls_timeout, ends it).
 */
#ifndef POSTERN_SMTPD_TLS_H
#define POSTERN_SMTPD_TLS_H

#include "lib/config.h"
#include "lib/strbuf.h"

#include <stddef.h>
#include <sys/types.h>

struct smtpd_server;
struct smtpd_session;

typedef enum { SMTPD_TLS_NONE, SMTPD_TLS_MAY, SMTPD_TLS_ENCRYPT } smtpd_tls_level;

#define SMTPD_TLS_AGAIN (-2)

/* The TLS level cfg asks of smtpd (smtpd_tls_security_level, or the older smtpd_use_tls /
 * smtpd_enforce_tls; smtpd_tls_wrappermode makes it encrypt): 0, or -1 with the reason. */
int smtpd_tls_level_of(config *cfg, smtpd_tls_level *out, strbuf *err);
/* Reads smtpd_tls_* (level, wrapper mode, certificates) into srv; fatal when a level that
 * demands TLS cannot be honoured; "may" without usable certificates is warned about and
 * leaves TLS off, as Postfix does. */
void smtpd_tls_load(struct smtpd_server *srv);
void smtpd_tls_unload(struct smtpd_server *srv);

/* Starts the server side of a handshake on the session's socket. 0, or -1 (logged). */
int smtpd_tls_begin(struct smtpd_session *s);
/* 1 established (logged at smtpd_tls_loglevel >= 1), SMTPD_TLS_AGAIN, or -1 failed (logged). */
int smtpd_tls_handshake(struct smtpd_session *s);
/* Bytes read (> 0), 0 at end of stream, -1 on error, SMTPD_TLS_AGAIN. */
ssize_t smtpd_tls_read(struct smtpd_session *s, char *buf, size_t len);
/* Bytes written (> 0), -1 on error, SMTPD_TLS_AGAIN. */
ssize_t smtpd_tls_write(struct smtpd_session *s, const char *buf, size_t len);
/* Plaintext already decrypted and waiting inside OpenSSL. */
int smtpd_tls_pending(struct smtpd_session *s);
/* Sends close_notify (best effort, never waits) and frees the connection. */
void smtpd_tls_end(struct smtpd_session *s);

#endif

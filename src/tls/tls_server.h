/*
 * tls_server.h: the server side of TLS: one OpenSSL context per smtpd process, built once from
 * the smtpd_tls_* settings, and Postfix-format descriptions of each established connection.
 *
 * tls_server_open() loads the certificates and keys (smtpd_tls_chain_files, else the
 * cert_file/key_file, eccert_file/eckey_file and dcert_file/dkey_file pairs; RSA and ECDSA can
 * be loaded together and OpenSSL picks per client), the protocol and cipher policy for the
 * security level ("may": smtpd_tls_protocols/ciphers; "encrypt": the mandatory ones, plus
 * smtpd_tls_mandatory_exclude_ciphers), smtpd_tls_dh1024_param_file (else OpenSSL's built-in
 * groups), and client-certificate requests (smtpd_tls_ask_ccert with smtpd_tls_CAfile/CApath).
 * It reads the key files while the process may still read them and keeps them in memory only.
 * tls_server_sni_maps maps a name the client sends with SNI (then its parent domains as
 * ".example.com") to chain files in the same layout; a name not listed gets the default
 * certificates, a name with characters outside letters, digits, '-' and '.' ends the handshake.
 * Certificates named there are loaded at first use and kept.
 *
 * Session resumption uses RFC 5077 tickets only (no server-side cache): the ticket keys are
 * random bytes made in this process's memory at start, never written anywhere; a new key is
 * made every smtpd_tls_session_cache_timeout and the previous one still decrypts (and renews)
 * tickets for one more period, as Postfix's tlsmgr rotates its keys. Tickets therefore resume
 * only with the smtpd process that issued them, and none survive a restart.
 */
#ifndef POSTERN_TLS_SERVER_H
#define POSTERN_TLS_SERVER_H

#include "lib/strbuf.h"
#include "tls/tls_fprint.h"

#include <openssl/ssl.h>

typedef struct tls_server tls_server;

typedef struct tls_server_config {
    const char *(*get)(const char *name); /* expanded parameter value ("" when unset) */
    int mandatory;                        /* security level "encrypt": mandatory settings */
    long ticket_timeout;                  /* seconds */
    int ask_ccert;
} tls_server_config;

/* NULL with the reason in err (unreadable file, key/certificate mismatch, bad setting). */
tls_server *tls_server_open(const tls_server_config *cfg, strbuf *err);
void tls_server_close(tls_server *ts);
/* A new connection object for fd in server mode. NULL on failure (logged by the caller). */
SSL *tls_server_new_ssl(tls_server *ts, int fd);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519
 * server-signature RSA-PSS (2048 bits) server-digest SHA256", as Postfix logs it. */
void tls_describe(SSL *ssl, strbuf *out);
/* "Anonymous", "Untrusted" or "Trusted": the word before "TLS connection established". */
const char *tls_peer_trust(SSL *ssl);
/* The Received: header's TLS comment lines, each starting with "\t" and ending in "\n":
 *   \t(using TLSv1.3 with cipher ... (256/256 bits)\n\t key-exchange ...)\n
 *   \t(No client certificate requested)\n     (or what the client presented) */
void tls_received_text(SSL *ssl, int asked_ccert, strbuf *out);
/* Uppercase hex SHA-256 digest of the client certificate with ':' between bytes, as Postfix's
 * smtpd_tls_fingerprint_digest = sha256; "" when the client sent none. */
void tls_peer_fingerprint(SSL *ssl, char out[TLS_FPRINT_MAX]);
/* Last OpenSSL error queue entries as text (for "TLS library problem" warnings). */
void tls_error_text(strbuf *out);

#endif

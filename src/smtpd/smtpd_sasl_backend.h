/*
 * smtpd_sasl_backend.h: the password checkers behind SMTP AUTH, one interface and one file
 * per implementation:
 *   smtpd_sasl_postern.c  smtpd_sasl_type = postern: smtpd_sasl_password_maps holds
 *                         "user crypt-hash"; the hash is checked on the smtpd worker pool
 *   smtpd_sasl_dovecot.c  smtpd_sasl_type = dovecot: Dovecot's auth-client protocol on
 *                         smtpd_sasl_path (UNIX socket, or inet:host:port), in the event loop
 * A check never blocks the loop and never calls back before sasl_backend_check() returns; its
 * callback runs later in the loop's thread. The caller cancels a check whose session goes
 * away; the callback then never runs. Passwords are wiped from memory once used.
 */
#ifndef POSTERN_SMTPD_SASL_BACKEND_H
#define POSTERN_SMTPD_SASL_BACKEND_H

#include "lib/event.h"
#include "lib/strbuf.h"
#include "lib/worker_pool.h"

typedef enum {
    SASL_RESULT_OK,
    SASL_RESULT_FAIL, /* wrong name or password: 535 */
    SASL_RESULT_TEMP, /* backend unavailable: 454 */
} sasl_result;

/* reason: text for the log and the reply ("authentication failure"); user: the name the
 * backend authenticated (may differ in case or domain from what the client typed). */
typedef void (*sasl_done_fn)(void *ctx, sasl_result result, const char *user,
                             const char *reason);

typedef struct sasl_credentials {
    const char *user;
    const char *password;
    const char *client_addr, *local_addr;
    int secured; /* the session is under TLS */
} sasl_credentials;

typedef struct sasl_backend sasl_backend;

/* Reads smtpd_sasl_type and its settings. NULL with the reason in err. */
sasl_backend *sasl_backend_open(event_loop *loop, worker_pool *workers, strbuf *err);
void sasl_backend_close(sasl_backend *b);
/* Starts a check. Returns a handle for sasl_backend_cancel(), or NULL when it could not even
 * start (reason in err; the caller answers with a temporary failure). */
void *sasl_backend_check(sasl_backend *b, const sasl_credentials *cred, sasl_done_fn done,
                         void *ctx, strbuf *err);
void sasl_backend_cancel(sasl_backend *b, void *handle);

/* The implementations, for sasl_backend_open(). */
typedef struct sasl_backend_ops {
    void *(*check)(void *impl, const sasl_credentials *cred, sasl_done_fn done, void *ctx,
                   strbuf *err);
    void (*cancel)(void *impl, void *handle);
    void (*close)(void *impl);
} sasl_backend_ops;

void *sasl_postern_open(worker_pool *workers, strbuf *err);
extern const sasl_backend_ops sasl_postern_ops;
void *sasl_dovecot_open(event_loop *loop, strbuf *err);
extern const sasl_backend_ops sasl_dovecot_ops;

#endif

/*
 * smtpd.h: what the SMTP server's files share: the server (one per process) and the session
 * (one per connection).
 *
 * smtpd_session.c holds the protocol state machine: smtpd_session_new() makes a session for a
 * connected client, smtpd_session_process() consumes the complete commands (or DATA content)
 * waiting in the session's input buffer and appends the replies to its output buffer, and
 * tells the I/O layer what to do next. It never reads or writes a socket itself, so the same
 * code serves the epoll server (smtpd_io.c) and the stand-alone "smtpd -S" session on
 * stdin/stdout.
 *
 * Flush policy (RFC 2920): processing stops only when no complete command is left in the input
 * (or the session must pause or close); the I/O layer then writes every queued reply at once.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include "cleanup/cleanup.h"
#include "lib/event.h"
#include "lib/local_addrs.h"
#include "lib/strbuf.h"
#include "lib/strmap.h"
#include "maps/match_list.h"
#include "master/mail_server.h"
#include "queue/queue_file.h"
#include "queue/queue_sync.h"
#include "smtpd/smtpd_async.h"
#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_peer.h"
#include "smtpd/smtpd_data.h"
#include "smtpd/smtpd_proto_parse.h"
#include "smtpd/smtpd_sasl.h"
#include "smtpd/smtpd_sasl_decode.h"
#include "smtpd/smtpd_tls.h"
#include "tls/tls_server.h"

#include <openssl/ssl.h>

#include <netinet/in.h>

#include <stddef.h>
#include <time.h>

/* Bytes read from a client per read(); the input buffer holds this plus one command line. */
#define SMTPD_READ_SIZE 65536
/* Bytes read per read() before DATA: commands are short, and most sessions sit idle between
 * them, so the full SMTPD_READ_SIZE buffer is made only when a session enters DATA. */
#define SMTPD_COMMAND_READ_SIZE 4096
/* Stop processing input while this much output waits for a client that does not read. */
#define SMTPD_OUTPUT_HIGH_WATER 65536
/* Worker threads that fsync committed queue files (queue_sync.h): enough for many sessions'
 * commits to share each journal flush; they sleep in fsync, so more threads than cores. */
#define SMTPD_SYNC_THREADS 8
/* Threads of the worker pool for blocking jobs of restrictions that wait (lib/worker_pool.h). */
#define SMTPD_WORKER_THREADS 2
/* Empty queue files the worker threads keep ready, so a new transaction costs a rename, not a
 * create that may wait for a journal commit. */
#define SMTPD_SPARE_FILES 32
/* Bytes for a numeric client or server address: inet_ntop() text, or "unknown". */
#define SMTPD_ADDR_TEXT_MAX 64
_Static_assert(SMTPD_ADDR_TEXT_MAX >= INET6_ADDRSTRLEN, "an IPv6 address text must fit");
/* "name[addr]": a client name of DNS_NAME_MAX bytes and an address text. */
/* smtpd_sasl_local_domain: a domain name of DNS_NAME_MAX bytes and its NUL. */
#define SMTPD_SASL_DOMAIN_MAX (DNS_NAME_MAX + 1)
#define SMTPD_NAMADDR_MAX (DNS_NAME_MAX + SMTPD_ADDR_TEXT_MAX + 2)

typedef struct smtpd_server {
    mail_server *ms; /* NULL in stand-alone mode */
    event_loop *loop;
    smtpd_checker *checker;
    smtpd_async_env async_env; /* event loop and resolver for restrictions that wait */
    int peername_lookup;       /* smtpd_peername_lookup */
    char *dns_servers;         /* smtpd_dns_resolver_address ("" = /etc/resolv.conf) */
    int standalone;
    /* Configuration, read once at start. */
    char *myhostname, *banner, *mail_name, *queue_directory;
    size_t line_limit;
    long long message_size_limit;
    long long queue_minfree;
    long recipient_limit;
    long timeout_ms;
    long soft_error_limit, hard_error_limit, error_sleep_ms;
    long connection_count_limit;
    int disable_vrfy, helo_required, strict_rfc821, delay_reject, soft_bounce;
    smtpd_bare_lf_mode bare_lf_mode;
    int bare_lf_reject_code;
    match_list *bare_lf_exclusions;
    match_list *event_limit_exceptions;
    /* Sessions. */
    strmap *connections_per_addr; /* client address -> count, as (void *)(size_t) */
    size_t session_count, session_capacity;
    int accepting; /* the listener is being watched */
    int stopping;  /* SIGHUP: finish the open sessions, accept no more */
    int busy_reported;
    struct smtpd_session *sessions; /* list of every open session, for shutdown */
    local_addrs local;                                /* this host's interface addresses */
    queue_sync *sync;  /* commits' fsyncs off the event loop; NULL: commit in line */
    /* TLS (smtpd_tls.c). */
    smtpd_tls_level tls_level;
    struct tls_server *tls; /* NULL: no TLS */
    int tls_wrapper, tls_auth_only, tls_received_header, tls_loglevel, tls_ask_ccert;
    long starttls_timeout_ms; /* smtpd_starttls_timeout: a handshake's time limit */
    /* SMTP AUTH (smtpd_sasl.c). */
    int sasl_enable, sasl_plain_ok, sasl_tls_plain_ok, sasl_broken_clients, sasl_auth_header;
    char sasl_local_domain[SMTPD_SASL_DOMAIN_MAX]; /* longer is refused at start */
    match_list *sasl_exceptions;
    long auth_rate_limit;
    long long rate_unit_ms, sasl_failure_delay_ms;
    strmap *auth_rates; /* client address -> auth_rate */
    struct sasl_backend *sasl;
    int queued_in_batch; /* a completed commit since the last qmgr wake-up */
} smtpd_server;

typedef enum {
    SMTPD_STATE_COMMAND, /* reading commands */
    SMTPD_STATE_DATA,    /* reading message content */
    SMTPD_STATE_SKIP,    /* discarding the rest of an over-long command line */
} smtpd_state;

struct smtpd_session;

/* A queue file whose fsyncs run on the worker threads; the session waits for the outcome before
 * it replies to the end of DATA. It outlives a session that goes away meanwhile. */
typedef struct smtpd_commit {
    cleanup *cleanup;
    struct smtpd_session *session; /* NULL once the session is gone */
    char id[QUEUE_ID_MAX];
    char namaddr[SMTPD_NAMADDR_MAX];
    const char *protocol;
    char sender[SMTPD_ADDR_MAX + 1];
} smtpd_commit;

typedef struct smtpd_session {
    smtpd_server *server;
    struct smtpd_session *next, *prev;
    int in_fd, out_fd;
    /* Client. */
    char addr[SMTPD_ADDR_TEXT_MAX];
    char name[DNS_NAME_MAX + 1]; /* verified name, "localhost" or "unknown" (smtpd_peer.h) */
    char reverse_name[DNS_NAME_MAX + 1]; /* from the PTR record ("" until looked up) */
    int name_status, reverse_status; /* SMTPD_PEER_*, 0 until looked up */
    char namaddr[SMTPD_NAMADDR_MAX]; /* "name[addr]" */
    struct smtpd_peer_lookup *peer_lookup; /* client name lookup under way */
    int name_pending;  /* the greeting waits for the client name */
    int want_name;     /* look the client name up before the greeting */
    int local_client;  /* the client address is one of this host's */
    int counted;       /* included in connections_per_addr */
    /* Buffers. */
    char *in;
    size_t in_len, in_cap;
    strbuf out;
    char *cmd;        /* the current command line, NUL-terminated (line_length_limit + 1) */
    int line_bare_lf; /* the current command line ended in a bare LF */
    size_t input_after; /* input bytes after the current command line */
    /* Protocol state. */
    smtpd_state state;
    char *helo;
    int esmtp;
    int in_mail;
    /* TLS. */
    SSL *ssl;
    int tls_active;      /* the handshake is done: all I/O goes through ssl */
    int tls_handshaking; /* SSL_do_handshake() has not finished */
    int tls_pending;     /* STARTTLS accepted: start the handshake once the 220 is out */
    unsigned tls_want;   /* EVENT_READ/EVENT_WRITE OpenSSL waits for */
    int greeted;         /* the 220 greeting was sent (wrapper mode greets after TLS) */
    char local_addr[SMTPD_ADDR_TEXT_MAX]; /* the server address the client connected to */
    char ccert_fingerprint[TLS_FPRINT_MAX]; /* SHA-256 of the client certificate, "" when none */
    int ccert_verified;
    /* SMTP AUTH (smtpd_sasl.c). */
    int sasl_state;          /* 334 dialog under way */
    int sasl_busy;           /* the backend checks the credentials */
    char sasl_mech[SASL_MECH_MAX + 1];
    char *sasl_login_user;   /* LOGIN: the name, until the password arrives */
    char sasl_tried_user[SASL_NAME_MAX + 1 + SMTPD_SASL_DOMAIN_MAX]; /* "user@domain" */
    char *sasl_username;     /* set once authenticated */
    char sasl_method[SASL_MECH_MAX + 1];
    void *sasl_req;          /* the backend's handle while sasl_busy */
    int auth_failures;
    event_timer_id sasl_timer; /* the delayed 535 */
    char *sasl_reply;
    char sender[SMTPD_ADDR_MAX + 1];
    smtpd_mail_params mail_params;
    long rcpt_count;
    char first_rcpt[SMTPD_ADDR_MAX + 1];
    cleanup *cleanup;
    smtpd_commit *commit;   /* the end of DATA waits for this commit */
    smtpd_check *check;     /* restriction evaluation; may wait for an answer */
    int check_waiting;      /* the current command waits for a restriction's answer */
    smtpd_data data;
    int data_active;        /* data state machine initialised */
    int data_failed;        /* a content line could not be written */
    long long data_bytes;   /* content size as the client sent it */
    int data_too_big;
    int bare_lf_mode;       /* effective for this client (exclusions applied) */
    int error_count;
    int counts[SMTPD_CMD_COUNT][2]; /* [cmd][0] accepted, [1] total */
    const char *where;     /* static: "CONNECT", "EHLO", "DATA", "END-OF-MESSAGE", ... */
    /* Control. */
    int closing;           /* close once the output is written */
    int quit;              /* closed by QUIT (no "lost connection" log) */
    int paused;            /* waiting out smtpd_error_sleep_time */
    int delay_paid;        /* the pause before the next reply is over */
    long long last_io_ms;
    event_timer_id idle_timer, sleep_timer, pending_timer;
    int write_blocked;     /* output waits for EVENT_WRITE */
    int watching;          /* registered with the event loop */
    strbuf scratch;        /* reply formatting */
    strbuf scratch2;       /* restriction replies, Received: text */
} smtpd_session;

/* What smtpd_session_process() wants next. */
typedef enum {
    SMTPD_NEXT_READ,  /* flush output, then read more input */
    SMTPD_NEXT_PAUSE, /* flush output, then call smtpd_session_resume() after error_sleep_ms */
    SMTPD_NEXT_FLUSH, /* output is above the high-water mark: flush, then process again */
    SMTPD_NEXT_CLOSE, /* flush output, then close */
    SMTPD_NEXT_WAIT,  /* flush output, read nothing until the commit is done */
    SMTPD_NEXT_STARTTLS, /* flush output, then run the TLS handshake; no plaintext is read */
} smtpd_next;

/* smtpd_session.c */
smtpd_session *smtpd_session_new(smtpd_server *srv, int in_fd, int out_fd, const char *addr);
/* Before each read: a session in DATA gets the full-size input buffer (never while input is
 * being processed, so no pointer into it is held). */
void smtpd_session_size_input(smtpd_session *s);
/* Greeting (or a refusal when over the per-client connection limit); returns CLOSE or READ. */
smtpd_next smtpd_session_start(smtpd_session *s);
smtpd_next smtpd_session_process(smtpd_session *s);
void smtpd_session_resume(smtpd_session *s);
/* The TLS handshake finished: the session forgets what the client said before it (RFC 3207)
 * and, in wrapper mode, greets. */
smtpd_next smtpd_session_tls_started(smtpd_session *s);
/* The client went away (EOF or read/write error) or timed out: logs as Postfix. */
void smtpd_session_lost(smtpd_session *s, int timed_out);
/* Logs "disconnect from ...", aborts an open transaction and frees the session. */
void smtpd_session_free(smtpd_session *s);
/* A commit's fsyncs ended (err 0 or errno): finishes the queue file, queues the reply to the
 * end of DATA and returns the session to go on with (NULL when it is gone); *queued = 1 when
 * the message is queued. Frees c. */
smtpd_session *smtpd_session_commit_done(smtpd_commit *c, int err, int *queued);
/* Postfix's "421 4.3.2 Service shutting down"-style final reply and close (SIGTERM). */
void smtpd_session_abort(smtpd_session *s);

/* Queues one reply line (CR LF added); 421/521 end the session; soft_bounce applies. */
void smtpd_reply(smtpd_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* smtpd_io.c */
/* A restriction's answer came in for session ctx: go on with its input. */
void smtpd_io_wake(void *ctx);
/* Goes on with a session that waited for something asynchronous (SASL check). */
void smtpd_io_resume(smtpd_session *s);
/* Acts on what the session wants next (flush, read, close...), as after input. */
void smtpd_io_next(smtpd_session *s, smtpd_next next);
int smtpd_io_run(smtpd_server *srv);           /* the epoll server on the master's listener */
int smtpd_io_run_standalone(smtpd_server *srv); /* one session on stdin/stdout */

#endif

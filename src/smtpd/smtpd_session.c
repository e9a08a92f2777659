/*
 * smtpd_session.c: the SMTP server protocol state machine, one session per client connection
 * (see smtpd.h for how it is driven).
 *
 * States: COMMAND (reading command lines), DATA (message content, handed to the DATA state
 * machine in smtpd_data.c) and SKIP (discarding the rest of an over-long command line). A mail
 * transaction starts at MAIL FROM; the queue file is opened (cleanup_open, or from a spare
 * file the sync threads made ahead) at the first accepted RCPT TO, and committed at the end of
 * DATA, before the "250 ... queued as" reply. In the server the commit's fsyncs run on the
 * sync threads (queue_sync.h): the session then waits (SMTPD_NEXT_WAIT, no command is
 * processed) until smtpd_session_commit_done() queues the reply; other sessions go on.
 *
 * Error handling is Postfix's: every failed command counts as an error; from
 * smtpd_soft_error_limit errors on, each reply waits smtpd_error_sleep_time (the session pauses
 * on a timer; other sessions go on), and at smtpd_hard_error_limit the server says 421 and
 * hangs up. Lines longer than line_length_limit are answered with 500 and never executed.
 * Commands that betray another protocol (a message header, GET/POST/CONNECT) end the session.
 */
#include "smtpd/smtpd.h"
#include "global/mail_addr.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_dir.h"
#include "queue/queue_space.h"
#include "smtpd/smtpd_received.h"
#include "tls/tls_server.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- small helpers ---- */

/* Copies client text for a log line, with non-printable bytes shown as '?'. It keeps the first
 * outlen - 1 bytes on purpose: the callers log a fixed prefix of a line they refuse, as Postfix
 * does ("non-SMTP command from %s: %.100s", "request longer than %d: %.30s..."). */
static void printable_copy(char *out, size_t outlen, const char *in, size_t inlen)
{
    size_t n = 0;
    for (size_t i = 0; i < inlen && n + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        out[n++] = c >= 32 && c < 127 ? (char)c : '?';
    }
    if (outlen)
        out[n] = '\0';
}

/* where is a static string: a literal or smtpd_command_state(). */
static void set_where(smtpd_session *s, const char *where)
{
    s->where = where;
}

/* Postfix's protocol names: SMTP or ESMTP, plus S under TLS and A once authenticated. */
static const char *protocol_name(const smtpd_session *s)
{
    static const char *const names[2][2][2] = {
        {{"SMTP", "SMTPA"}, {"SMTPS", "SMTPSA"}},
        {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
    };
    return names[s->esmtp ? 1 : 0][s->tls_active ? 1 : 0][s->sasl_username ? 1 : 0];
}

/* Queues one reply line (CR LF added). 421 and 521 replies end the session, as in Postfix. */
void smtpd_reply(smtpd_session *s, const char *fmt, ...)
{
    va_list ap;
    strbuf_reset(&s->scratch);
    va_start(ap, fmt);
    strbuf_vprintf(&s->scratch, fmt, ap);
    va_end(ap);
    char *r = s->scratch.data;
    if (s->server->soft_bounce && r[0] == '5') {
        r[0] = '4';
        if (s->scratch.len > 4 && r[4] == '5')
            r[4] = '4';
    }
    if (strncmp(r, "421", 3) == 0 || strncmp(r, "521", 3) == 0)
        s->closing = 1;
    strbuf_append(&s->out, r, s->scratch.len);
    strbuf_append(&s->out, "\r\n", 2);
}

static const char *queue_id_or_noqueue(const smtpd_session *s)
{
    return s->cleanup ? cleanup_queue_id(s->cleanup) : "NOQUEUE";
}

/* " key=<address>" in its external form. */
static void append_address(strbuf *out, const char *key, const char *addr)
{
    char q[SMTPD_QUOTED_MAX];
    smtpd_quote_address(addr, q, sizeof(q)); /* fits: addr is at most SMTPD_ADDR_MAX bytes */
    strbuf_printf(out, " %s=<%s>", key, q);
}

/* "NOQUEUE: reject: RCPT from host[addr]: 554 ...; from=<a> to=<b> proto=ESMTP helo=<h>" */
static void log_reject(smtpd_session *s, const char *stage, const char *text, const char *sender,
                       const char *rcpt)
{
    strbuf line;
    strbuf_init(&line, 0);
    strbuf_printf(&line, "%s: reject: %s from %s: %s;", queue_id_or_noqueue(s), stage,
                  s->namaddr, text);
    if (sender)
        append_address(&line, "from", sender);
    if (rcpt)
        append_address(&line, "to", rcpt);
    strbuf_printf(&line, " proto=%s", protocol_name(s));
    if (s->helo) { /* the whole name, as Postfix logs it; unprintable bytes as '?' */
        strbuf_append_str(&line, " helo=<");
        for (const char *p = s->helo; *p; p++)
            strbuf_append_char(&line, *p >= 32 && *p < 127 ? *p : '?');
        strbuf_append_char(&line, '>');
    }
    log_info("%s", line.data);
    strbuf_free(&line);
}

static void fill_check_args(const smtpd_session *s, smtpd_check_args *a, const char *sender,
                            const char *rcpt)
{
    memset(a, 0, sizeof(*a));
    a->client_name = s->name;
    a->client_addr = s->addr;
    a->reverse_name = s->reverse_name[0] ? s->reverse_name : s->name;
    a->name_status = s->name_status;
    a->reverse_status = s->reverse_status;
    a->helo = s->helo;
    a->sender = sender;
    a->recipient = rcpt;
    a->rcpt_count = s->rcpt_count;
    a->protocol = protocol_name(s);
    a->stage = s->where;
    a->queue_id = s->cleanup ? cleanup_queue_id(s->cleanup) : "";
    a->size = s->mail_params.size;
    a->esmtp = s->esmtp;
    /* Commands sent ahead where pipelining is not allowed (reject_unauth_pipelining). */
    a->early_input = s->input_after > 0 && (!s->esmtp || strcmp(s->where, "DATA") == 0);
    a->sasl_username = s->sasl_username;
    a->sasl_method = s->sasl_username ? s->sasl_method : NULL;
    a->ccert_fingerprint = s->ccert_fingerprint[0] ? s->ccert_fingerprint : NULL;
    a->ccert_verified = s->ccert_verified;
}

/* A restriction check's outcome: 0 passed, -1 rejected (logged and answered), CMD_WAIT when it
 * waits for an answer (the command runs again once it is in). */
#define CMD_WAIT 2

static int check_outcome(smtpd_session *s, smtpd_check_result st, const char *stage,
                         const char *sender, const char *rcpt)
{
    if (st == SMTPD_CHECK_WAIT) {
        s->check_waiting = 1;
        return CMD_WAIT;
    }
    if (st != SMTPD_CHECK_REJECT)
        return 0;
    log_reject(s, stage, s->scratch2.data, sender, rcpt);
    smtpd_reply(s, "%s", s->scratch2.data);
    return -1;
}

/* Forgets the current mail transaction; an open queue file is removed. */
static void mail_reset(smtpd_session *s)
{
    if (s->cleanup) {
        cleanup_abort(s->cleanup);
        s->cleanup = NULL;
    }
    if (s->data_active) {
        smtpd_data_free(&s->data);
        s->data_active = 0;
    }
    s->in_mail = 0;
    s->sender[0] = '\0';
    s->first_rcpt[0] = '\0';
    s->rcpt_count = 0;
    memset(&s->mail_params, 0, sizeof(s->mail_params));
}

/* ---- session life ---- */

/* name and reverse come from smtpd_peer.c (DNS_NAME_MAX + 1 arrays, as s->name) or are
 * literals; s->namaddr is sized for "name[addr]" of the longest (see smtpd.h). */
static void set_client_name(smtpd_session *s, const char *name, const char *reverse)
{
    if (fixed_copy(s->name, sizeof(s->name), name) < 0 ||
        fixed_copy(s->reverse_name, sizeof(s->reverse_name), reverse) < 0 ||
        fixed_printf(s->namaddr, sizeof(s->namaddr), "%s[%s]", s->name, s->addr) < 0)
        log_fatal("client name longer than %d bytes: %.100s", DNS_NAME_MAX, name);
}

smtpd_session *smtpd_session_new(smtpd_server *srv, int in_fd, int out_fd, const char *addr)
{
    smtpd_session *s = xcalloc(1, sizeof(*s));
    s->server = srv;
    s->in_fd = in_fd;
    s->out_fd = out_fd;
    if (fixed_copy(s->addr, sizeof(s->addr), addr) < 0) /* smtpd_io.c's peer_address() */
        log_fatal("client address longer than %d bytes: %.100s", SMTPD_ADDR_TEXT_MAX - 1, addr);
    s->local_client = local_addrs_has(&srv->local, addr);
    /* 127.0.0.1 and ::1 are "localhost" (as every /etc/hosts says) without a lookup, so a
     * machine without a working resolver never delays its local clients; other clients are
     * "unknown" until smtpd_peer.c finds a verified name before the greeting. */
    int loopback = strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0;
    s->name_status = s->reverse_status = loopback ? SMTPD_PEER_OK : SMTPD_PEER_PERM;
    s->want_name = !loopback && !srv->standalone && srv->peername_lookup;
    set_client_name(s, loopback ? "localhost" : "unknown", "");
    s->in_cap = SMTPD_COMMAND_READ_SIZE + srv->line_limit + 2;
    s->in = xmalloc(s->in_cap);
    s->cmd = xmalloc(srv->line_limit + 1);
    strbuf_init(&s->out, 0);
    strbuf_init(&s->scratch, 0);
    strbuf_init(&s->scratch2, 0);
    s->bare_lf_mode = srv->bare_lf_mode;
    if (s->bare_lf_mode == SMTPD_BARE_LF_REJECT && srv->bare_lf_exclusions &&
        net_list_match(srv->bare_lf_exclusions, addr) == 1)
        s->bare_lf_mode = SMTPD_BARE_LF_NORMALIZE;
    set_where(s, "CONNECT");
    s->check = srv->standalone ? NULL : smtpd_check_new(srv->checker, smtpd_io_wake, s);
    return s;
}

void smtpd_session_size_input(smtpd_session *s)
{
    if (s->state != SMTPD_STATE_DATA)
        return;
    size_t want = SMTPD_READ_SIZE + s->server->line_limit + 2;
    if (s->in_cap < want) {
        s->in = xrealloc(s->in, want);
        s->in_cap = want;
    }
}

/* Per-client concurrency (smtpd_client_connection_count_limit). Returns the count. */
static long count_connection(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    if (srv->standalone || srv->connection_count_limit <= 0)
        return 0;
    if (srv->event_limit_exceptions && net_list_match(srv->event_limit_exceptions, s->addr) == 1)
        return 0;
    size_t n = (size_t)(uintptr_t)strmap_get(srv->connections_per_addr, s->addr) + 1;
    strmap_put(srv->connections_per_addr, s->addr, (void *)(uintptr_t)n);
    s->counted = 1;
    return (long)n;
}

static void uncount_connection(smtpd_session *s)
{
    if (!s->counted)
        return;
    smtpd_server *srv = s->server;
    size_t n = (size_t)(uintptr_t)strmap_get(srv->connections_per_addr, s->addr);
    if (n <= 1)
        strmap_remove(srv->connections_per_addr, s->addr);
    else
        strmap_put(srv->connections_per_addr, s->addr, (void *)(uintptr_t)(n - 1));
    s->counted = 0;
}

/* The client name is known: greet. */
static void peer_done(void *ctx, const smtpd_peer_result *res)
{
    smtpd_session *s = ctx;
    s->peer_lookup = NULL;
    s->name_pending = 0;
    set_client_name(s, res->name, res->reverse_name);
    s->name_status = res->name_status;
    s->reverse_status = res->reverse_status;
    smtpd_io_next(s, smtpd_session_start(s));
}

smtpd_next smtpd_session_start(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    if (s->want_name && srv->async_env.dns) {
        s->want_name = 0;
        s->name_pending = 1;
        s->peer_lookup =
            smtpd_peer_lookup_start(srv->loop, srv->async_env.dns, s->addr, peer_done, s);
        return SMTPD_NEXT_WAIT;
    }
    log_info("connect from %s", s->namaddr);
    long count = count_connection(s);
    if (count > srv->connection_count_limit && srv->connection_count_limit > 0) {
        log_warning("Connection concurrency limit exceeded: %ld from %s for service %s", count,
                    s->namaddr, srv->ms ? srv->ms->service : "smtpd");
        smtpd_reply(s, "421 4.7.0 %s Error: too many connections from %s", srv->myhostname, s->addr);
        return SMTPD_NEXT_CLOSE;
    }
    if (srv->tls_wrapper && srv->tls && !s->tls_active) {
        s->tls_pending = 1; /* smtps: TLS first, the greeting inside it */
        return SMTPD_NEXT_STARTTLS;
    }
    s->greeted = 1;
    smtpd_reply(s, "220 %s", srv->banner);
    return SMTPD_NEXT_READ;
}

smtpd_next smtpd_session_tls_started(smtpd_session *s)
{
    s->tls_active = 1;
    s->tls_pending = 0;
    tls_peer_fingerprint(s->ssl, s->ccert_fingerprint);
    s->ccert_verified = s->ccert_fingerprint[0] && strcmp(tls_peer_trust(s->ssl), "Trusted") == 0;
    /* RFC 3207 section 4.2: forget everything learned from the client before TLS. */
    free(s->helo);
    s->helo = NULL;
    s->esmtp = 0;
    mail_reset(s);
    smtpd_sasl_reset(s);
    if (!s->greeted) {
        s->greeted = 1;
        smtpd_reply(s, "220 %s", s->server->banner);
    }
    return SMTPD_NEXT_READ;
}

void smtpd_session_lost(smtpd_session *s, int timed_out)
{
    if (timed_out) {
        log_info("timeout after %s from %s", s->where, s->namaddr);
        smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->server->myhostname);
    } else if (!s->quit && strcmp(s->where, "END-OF-MESSAGE") != 0) {
        log_info("lost connection after %s from %s", s->where, s->namaddr);
    }
    s->closing = 1;
}

/* " name=ok" or " name=ok/total", as Postfix's "disconnect from" line. */
static void append_count(strbuf *line, const char *name, int ok, int total)
{
    if (ok == total)
        strbuf_printf(line, " %s=%d", name, ok);
    else
        strbuf_printf(line, " %s=%d/%d", name, ok, total);
}

static void log_disconnect(smtpd_session *s)
{
    strbuf line;
    strbuf_init(&line, 0);
    strbuf_printf(&line, "disconnect from %s", s->namaddr);
    int ok = 0, total = 0;
    for (int i = 1; i <= SMTPD_CMD_COUNT; i++) {
        int c = i == SMTPD_CMD_COUNT ? SMTPD_CMD_UNKNOWN : i; /* "unknown" goes last */
        if (s->counts[c][1] == 0)
            continue;
        ok += s->counts[c][0];
        total += s->counts[c][1];
        append_count(&line, smtpd_command_name(c), s->counts[c][0], s->counts[c][1]);
    }
    append_count(&line, "commands", ok, total);
    log_info("%s", line.data);
    strbuf_free(&line);
}

void smtpd_session_free(smtpd_session *s)
{
    if (s->commit) /* the commit goes on without us */
        s->commit->session = NULL;
    smtpd_sasl_reset(s);
    log_disconnect(s);
    smtpd_peer_lookup_cancel(s->peer_lookup);
    smtpd_check_free(s->check);
    mail_reset(s);
    uncount_connection(s);
    free(s->helo);
    free(s->in);
    free(s->cmd);
    strbuf_free(&s->out);
    strbuf_free(&s->scratch);
    strbuf_free(&s->scratch2);
    free(s);
}

void smtpd_session_abort(smtpd_session *s)
{
    mail_reset(s);
    s->closing = 1;
}

/* ---- commands ---- */

static int cmd_helo(smtpd_session *s, const char *args, int esmtp)
{
    smtpd_server *srv = s->server;
    if (*args == '\0') {
        smtpd_reply(s, "501 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return -1;
    }
    /* The whole argument, trailing blanks removed, is the name (as Postfix). */
    size_t len = strlen(args);
    while (len > 0 && (args[len - 1] == ' ' || args[len - 1] == '\t'))
        len--;
    char *old_helo = s->helo;
    int old_esmtp = s->esmtp;
    s->helo = xstrndup(args, len);
    s->esmtp = esmtp;
    smtpd_check_args a;
    fill_check_args(s, &a, NULL, NULL);
    int rc = srv->standalone || srv->delay_reject
                 ? 0
                 : check_outcome(s, smtpd_check_helo(s->check, &a, &s->scratch2),
                                 esmtp ? "EHLO" : "HELO", NULL, NULL);
    if (rc != 0) {
        free(s->helo);
        s->helo = old_helo;
        s->esmtp = old_esmtp;
        return rc;
    }
    free(old_helo);
    mail_reset(s);
    if (!esmtp) {
        smtpd_reply(s, "250 %s", srv->myhostname);
        return 0;
    }
    smtpd_reply(s, "250-%s", srv->myhostname);
    smtpd_reply(s, "250-PIPELINING");
    if (srv->message_size_limit > 0)
        smtpd_reply(s, "250-SIZE %lld", srv->message_size_limit);
    else
        smtpd_reply(s, "250-SIZE");
    if (!srv->disable_vrfy)
        smtpd_reply(s, "250-VRFY");
    if (srv->tls && !s->tls_active)
        smtpd_reply(s, "250-STARTTLS");
    const char *mechs = smtpd_sasl_mechanisms(s);
    if (mechs) {
        smtpd_reply(s, "250-AUTH %s", mechs);
        if (srv->sasl_broken_clients)
            smtpd_reply(s, "250-AUTH=%s", mechs);
    }
    smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
    smtpd_reply(s, "250-8BITMIME");
    smtpd_reply(s, "250 DSN");
    return 0;
}

/* The address of MAIL FROM: (sender) or RCPT TO: into addr; -1 after the 501 reply Postfix gives
 * for bad syntax or a bad address. */
static int parse_path_or_reply(smtpd_session *s, const char *args, int sender, char *addr,
                               size_t size, const char **params)
{
    smtpd_path_status st = smtpd_parse_path(args, sender ? "FROM:" : "TO:",
                                            s->server->strict_rfc821, sender, addr, size, params);
    if (st == SMTPD_PATH_BAD_SYNTAX)
        smtpd_reply(s, sender ? "501 5.5.4 Syntax: MAIL FROM:<address>"
                              : "501 5.5.4 Syntax: RCPT TO:<address>");
    else if (st != SMTPD_PATH_OK)
        smtpd_reply(s, sender ? "501 5.1.7 Bad sender address syntax"
                              : "501 5.1.3 Bad recipient address syntax");
    return st == SMTPD_PATH_OK ? 0 : -1;
}

static int cmd_mail(smtpd_session *s, const char *args)
{
    smtpd_server *srv = s->server;
    if (srv->helo_required && s->helo == NULL) {
        smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
        return -1;
    }
    char sender[SMTPD_ADDR_MAX + 1];
    const char *params;
    if (parse_path_or_reply(s, args, 1, sender, sizeof(sender), &params) < 0)
        return -1;
    smtpd_mail_params mp;
    if (smtpd_parse_mail_params(params, &mp, &s->scratch2) < 0) {
        smtpd_reply(s, "%s", s->scratch2.data);
        return -1;
    }
    if (mp.size > 0 && srv->message_size_limit > 0 && mp.size > srv->message_size_limit) {
        log_reject(s, "MAIL", "552 5.3.4 Message size exceeds fixed limit", sender, NULL);
        smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
        return -1;
    }
    if (!queue_space_enough(srv->queue_directory, srv->queue_minfree, srv->message_size_limit,
                            mp.size)) {
        log_reject(s, "MAIL", "452 4.3.1 Insufficient system storage", sender, NULL);
        smtpd_reply(s, "452 4.3.1 Insufficient system storage");
        return -1;
    }
    smtpd_check_args a;
    fill_check_args(s, &a, sender, NULL);
    a.size = mp.size;
    int rc = srv->standalone
                 ? 0
                 : check_outcome(s, smtpd_check_sender(s->check, &a, &s->scratch2), "MAIL",
                                 sender, NULL);
    if (rc != 0)
        return rc;
    s->in_mail = 1;
    memcpy(s->sender, sender, strlen(sender) + 1);
    s->mail_params = mp;
    s->rcpt_count = 0;
    smtpd_reply(s, "250 2.1.0 Ok");
    return 0;
}

/* Opens the queue file at the first accepted recipient and records the envelope. */
static int open_transaction(smtpd_session *s)
{
    strbuf err;
    strbuf_init(&err, 0);
    /* A spare file made ahead by the sync threads saves the create; should it fail, the
     * ordinary create says why. */
    char name[4200];
    int spare_fd =
        s->server->sync ? queue_sync_take_spare(s->server->sync, name, sizeof(name)) : -1;
    if (spare_fd >= 0) {
        s->cleanup = cleanup_open_spare("incoming", spare_fd, name, &err);
        if (s->cleanup == NULL && name[0] != '\0')
            log_warning("cannot use a recycled queue file: %s", err.data);
        else if (s->cleanup == NULL) { /* e.g. no /proc to link through: stop making spares */
            log_warning("cannot use a spare queue file: %s; creating queue files in line",
                        err.data);
            queue_sync_spares(s->server->sync, s->server->queue_directory, 0);
        }
    }
    if (s->cleanup == NULL) {
        strbuf_reset(&err);
        s->cleanup = cleanup_open("incoming", &err);
    }
    if (s->cleanup == NULL) {
        log_warning("%s: cannot create queue file: %s", s->namaddr, err.data);
        strbuf_free(&err);
        return -1;
    }
    strbuf_free(&err);
    if (s->sasl_username)
        log_info("%s: client=%s, sasl_method=%s, sasl_username=%s", cleanup_queue_id(s->cleanup),
                 s->namaddr, s->sasl_method, s->sasl_username);
    else
        log_info("%s: client=%s", cleanup_queue_id(s->cleanup), s->namaddr);
    cleanup *c = s->cleanup;
    const char *helo = s->helo ? s->helo : "";
    int bad = 0;
    bad |= cleanup_attr(c, "log_client_name", s->name);
    bad |= cleanup_attr(c, "log_client_address", s->addr);
    bad |= cleanup_attr(c, "log_helo_name", helo);
    bad |= cleanup_attr(c, "log_protocol_name", protocol_name(s));
    bad |= cleanup_attr(c, "client_name", s->name);
    bad |= cleanup_attr(c, "client_address", s->addr);
    bad |= cleanup_attr(c, "helo_name", helo);
    bad |= cleanup_attr(c, "rewrite_context", s->local_client ? "local" : "remote");
    if (s->mail_params.has_envid)
        bad |= cleanup_attr(c, "envelope_id", s->mail_params.envid);
    if (s->mail_params.ret)
        bad |= cleanup_attr(c, "dsn_ret", s->mail_params.ret == SMTPD_DSN_RET_FULL ? "1" : "2");
    bad |= cleanup_sender(c, s->sender);
    if (bad) {
        cleanup_abort(c);
        s->cleanup = NULL;
        return -1;
    }
    return 0;
}

static int cmd_rcpt(smtpd_session *s, const char *args)
{
    smtpd_server *srv = s->server;
    if (!s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
        return -1;
    }
    char rcpt[SMTPD_ADDR_MAX + 1];
    const char *params;
    if (parse_path_or_reply(s, args, 0, rcpt, sizeof(rcpt), &params) < 0)
        return -1;
    smtpd_rcpt_params rp;
    if (smtpd_parse_rcpt_params(params, &rp, &s->scratch2) < 0) {
        smtpd_reply(s, "%s", s->scratch2.data);
        return -1;
    }
    if (srv->recipient_limit > 0 && s->rcpt_count >= srv->recipient_limit) {
        smtpd_reply(s, "452 4.5.3 Error: too many recipients");
        return -1;
    }
    smtpd_check_args a;
    fill_check_args(s, &a, s->sender, rcpt);
    int rc = srv->standalone
                 ? 0
                 : check_outcome(s, smtpd_check_rcpt(s->check, &a, &s->scratch2), "RCPT",
                                 s->sender, rcpt);
    if (rc != 0)
        return rc;
    if (s->cleanup == NULL && open_transaction(s) < 0) {
        smtpd_reply(s, "451 4.3.0 Error: queue file write error");
        return -1;
    }
    if (cleanup_recipient(s->cleanup, rcpt, rcpt, rp.notify, rp.orcpt[0] ? rp.orcpt : NULL) <
        0) {
        log_warning("%s: cannot write recipient to queue file", cleanup_queue_id(s->cleanup));
        mail_reset(s);
        smtpd_reply(s, "451 4.3.0 Error: queue file write error");
        return -1;
    }
    if (s->rcpt_count++ == 0)
        memcpy(s->first_rcpt, rcpt, strlen(rcpt) + 1);
    smtpd_reply(s, "250 2.1.5 Ok");
    return 0;
}

/* Content lines go straight into the queue file; the size is checked on the way. */
static void data_line(void *ctx, const char *line, size_t len, int partial)
{
    smtpd_session *s = ctx;
    s->data_bytes += (long long)len + (partial ? 0 : 2);
    if (s->data_too_big || s->data_failed)
        return;
    if (s->server->message_size_limit > 0 && s->data_bytes > s->server->message_size_limit) {
        s->data_too_big = 1;
        return;
    }
    if (cleanup_line_part(s->cleanup, line, len, partial) < 0)
        s->data_failed = 1;
}

static int write_received(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    char rcpt[SMTPD_QUOTED_MAX];
    smtpd_quote_address(s->first_rcpt, rcpt, sizeof(rcpt));
    smtpd_received_info ri = {
        .helo = s->helo,
        .client_name = s->name,
        .client_addr = s->addr,
        .myhostname = srv->myhostname,
        .mail_name = srv->mail_name,
        .protocol = protocol_name(s),
        .queue_id = cleanup_queue_id(s->cleanup),
        .rcpt = s->rcpt_count == 1 ? rcpt : NULL,
        .when = time(NULL),
    };
    strbuf tls_text;
    strbuf_init(&tls_text, 0);
    if (s->tls_active && srv->tls_received_header) {
        tls_received_text(s->ssl, srv->tls_ask_ccert, &tls_text);
        ri.tls_text = tls_text.data;
    }
    if (s->sasl_username && srv->sasl_auth_header)
        ri.auth_sender = s->sasl_username;
    strbuf_reset(&s->scratch2);
    smtpd_received_format(&ri, &s->scratch2);
    strbuf_free(&tls_text);
    char *p = s->scratch2.data;
    for (char *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
        if (cleanup_line(s->cleanup, p, (size_t)(nl - p)) < 0)
            return -1;
    return 0;
}

static int cmd_data(smtpd_session *s, const char *args)
{
    smtpd_server *srv = s->server;
    if (*args != '\0') {
        smtpd_reply(s, "501 5.5.4 Syntax: DATA");
        return -1;
    }
    if (s->rcpt_count == 0) {
        if (!s->in_mail)
            smtpd_reply(s, "503 5.5.1 Error: need RCPT command");
        else
            smtpd_reply(s, "554 5.5.1 Error: no valid recipients");
        return -1;
    }
    smtpd_check_args a;
    fill_check_args(s, &a, s->sender, s->rcpt_count == 1 ? s->first_rcpt : NULL);
    int rc = srv->standalone
                 ? 0
                 : check_outcome(s, smtpd_check_data(s->check, &a, &s->scratch2), "DATA",
                                 s->sender, s->rcpt_count == 1 ? s->first_rcpt : NULL);
    if (rc != 0)
        return rc;
    s->data_bytes = 0;
    s->data_too_big = 0;
    s->data_failed = write_received(s) < 0;
    smtpd_data_init(&s->data, srv->line_limit, (smtpd_bare_lf_mode)s->bare_lf_mode,
                    !s->line_bare_lf);
    s->data_active = 1;
    s->state = SMTPD_STATE_DATA;
    smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    return 1; /* the outcome is known at the end of the data */
}

/* The reply to the end of DATA once the commit's outcome is known. */
static void end_of_data_reply(smtpd_session *s, const char *id, int status, const char *sender)
{
    if (status == CLEANUP_STAT_OK) {
        smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
        s->counts[SMTPD_CMD_DATA][0]++;
        return;
    }
    const char *text = cleanup_status_reply(status);
    log_info("%s: reject: END-OF-MESSAGE from %s: %s; from=<%s> proto=%s", id, s->namaddr, text,
             sender, protocol_name(s));
    smtpd_reply(s, "%s", text);
    s->error_count++;
}

#define COMMIT_PENDING (-1)

/* Hands the queue file's fsyncs to the worker threads. Returns COMMIT_PENDING, or the final
 * status when the commit ended here (a failure, or a request the pool could not take). */
static int commit_start(smtpd_session *s, const char id[QUEUE_ID_MAX])
{
    cleanup *c = s->cleanup;
    s->cleanup = NULL;
    int status = cleanup_close_prepare(c);
    if (status != CLEANUP_STAT_OK)
        return status;
    smtpd_commit *pc = xcalloc(1, sizeof(*pc));
    pc->cleanup = c;
    pc->session = s;
    pc->protocol = protocol_name(s);
    memcpy(pc->id, id, sizeof(pc->id));               /* same sizes */
    memcpy(pc->namaddr, s->namaddr, sizeof(pc->namaddr));
    memcpy(pc->sender, s->sender, sizeof(pc->sender));
    if (queue_sync_submit(s->server->sync, cleanup_sync_fd(c), cleanup_sync_dir(c), pc) == 0) {
        s->commit = pc;
        return COMMIT_PENDING;
    }
    free(pc);
    int err = 0;
    if (fsync(cleanup_sync_fd(c)) < 0 || fsync_dir(cleanup_sync_dir(c)) < 0)
        err = errno;
    return cleanup_close_finish(c, err);
}

smtpd_session *smtpd_session_commit_done(smtpd_commit *pc, int err, int *queued)
{
    int status = cleanup_close_finish(pc->cleanup, err);
    *queued = status == CLEANUP_STAT_OK;
    smtpd_session *s = pc->session;
    if (s) {
        s->commit = NULL;
        end_of_data_reply(s, pc->id, status, pc->sender);
    } else if (status != CLEANUP_STAT_OK) {
        log_info("%s: reject: END-OF-MESSAGE from %s: %s; from=<%s> proto=%s", pc->id,
                 pc->namaddr, cleanup_status_reply(status), pc->sender, pc->protocol);
    }
    free(pc);
    return s;
}

/* End of DATA: commit the queue file, then (and only then) say 250. */
static void finish_data(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    s->state = SMTPD_STATE_COMMAND;
    if (s->data.saw_bare_lf && s->bare_lf_mode == SMTPD_BARE_LF_NOTE)
        log_info("%s: bare <LF> received in message content from %s",
                 queue_id_or_noqueue(s), s->namaddr);
    smtpd_data_free(&s->data);
    s->data_active = 0;
    set_where(s, "END-OF-MESSAGE");
    const char *rcpt = s->rcpt_count == 1 ? s->first_rcpt : NULL;
    if (s->data_too_big) {
        const char *text = "552 5.3.4 Message size exceeds fixed limit";
        log_reject(s, "END-OF-MESSAGE", text, s->sender, rcpt);
        smtpd_reply(s, "%s", text);
        s->error_count++;
        mail_reset(s);
        return;
    }
    char id[QUEUE_ID_MAX];
    if (fixed_copy(id, sizeof(id), cleanup_queue_id(s->cleanup)) < 0) /* queue_file.h's bound */
        log_fatal("queue id longer than %d bytes", QUEUE_ID_MAX - 1);
    int status;
    if (s->data_failed) { /* never commit a message that lost lines on the way */
        cleanup_abort(s->cleanup);
        s->cleanup = NULL;
        status = CLEANUP_STAT_WRITE;
    } else if (srv->sync) {
        status = commit_start(s, id);
    } else {
        status = cleanup_close(s->cleanup);
        s->cleanup = NULL;
    }
    if (status != COMMIT_PENDING) {
        end_of_data_reply(s, id, status, s->sender);
        if (status == CLEANUP_STAT_OK && !srv->standalone)
            mail_trigger(srv->queue_directory, "public/qmgr", 'A');
    }
    mail_reset(s);
}

static int cmd_rset(smtpd_session *s, const char *args)
{
    if (*args != '\0') {
        smtpd_reply(s, "501 5.5.4 Syntax: RSET");
        return -1;
    }
    mail_reset(s);
    smtpd_reply(s, "250 2.0.0 Ok");
    return 0;
}

static int cmd_vrfy(smtpd_session *s, const char *args)
{
    smtpd_server *srv = s->server;
    if (srv->disable_vrfy) {
        smtpd_reply(s, "502 5.5.1 VRFY command is disabled");
        return -1;
    }
    if (*args == '\0') {
        smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
        return -1;
    }
    char addr[SMTPD_ADDR_MAX + 1];
    if (smtpd_parse_path(args, "", 0, 0, addr, sizeof(addr), NULL) != SMTPD_PATH_OK) {
        smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
        return -1;
    }
    smtpd_check_args a;
    fill_check_args(s, &a, NULL, addr);
    int rc = srv->standalone ? 0
                             : check_outcome(s, smtpd_check_vrfy(s->check, &a, &s->scratch2),
                                             "VRFY", NULL, addr);
    if (rc != 0)
        return rc;
    char quoted[SMTPD_QUOTED_MAX];
    smtpd_quote_address(addr, quoted, sizeof(quoted));
    smtpd_reply(s, "252 2.0.0 %s", quoted);
    return 0;
}

static int cmd_starttls(smtpd_session *s, const char *args)
{
    smtpd_server *srv = s->server;
    if (*args != '\0') {
        smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
        return -1;
    }
    if (s->tls_active) {
        smtpd_reply(s, "554 5.5.1 Error: TLS already active");
        return -1;
    }
    if (srv->tls == NULL) {
        smtpd_reply(s, "502 5.5.1 Error: command not implemented");
        return -1;
    }
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
        return -1;
    }
    smtpd_reply(s, "220 2.0.0 Ready to start TLS");
    s->tls_pending = 1; /* smtpd_session_process() stops and drops what follows */
    return 0;
}

/* smtpd_tls_security_level = encrypt: only these commands before STARTTLS (as Postfix). */
static int allowed_before_tls(smtpd_cmd cmd)
{
    return cmd == SMTPD_CMD_HELO || cmd == SMTPD_CMD_EHLO || cmd == SMTPD_CMD_STARTTLS ||
           cmd == SMTPD_CMD_RSET || cmd == SMTPD_CMD_NOOP || cmd == SMTPD_CMD_QUIT;
}

/* Runs one complete command line. */
static void execute(smtpd_session *s, const smtpd_line *line)
{
    smtpd_server *srv = s->server;
    if (line->bare_lf && s->bare_lf_mode == SMTPD_BARE_LF_REJECT) {
        log_info("bare <LF> received from %s", s->namaddr);
        smtpd_reply(s, "%d 5.5.2 Error: bare <LF> received", srv->bare_lf_reject_code);
        s->closing = 1;
        return;
    }
    if (line->bare_lf && s->bare_lf_mode == SMTPD_BARE_LF_NOTE)
        log_info("bare <LF> received in command from %s", s->namaddr);
    s->line_bare_lf = line->bare_lf;
    if (line->has_nul) {
        s->counts[SMTPD_CMD_UNKNOWN][1]++;
        s->error_count++;
        smtpd_reply(s, "500 5.5.2 Error: bad syntax");
        return;
    }
    memcpy(s->cmd, line->text, line->len);
    s->cmd[line->len] = '\0';
    if (s->sasl_state) { /* a line of the AUTH dialog, not a command */
        smtpd_sasl_response(s, s->cmd);
        explicit_bzero(s->cmd, line->len);
        return;
    }
    const char *args;
    smtpd_cmd cmd = smtpd_command_lookup(s->cmd, &args);
    if (cmd == SMTPD_CMD_UNKNOWN) {
        s->counts[SMTPD_CMD_UNKNOWN][1]++;
        if (smtpd_command_is_forbidden(s->cmd)) {
            char shown[101];
            printable_copy(shown, sizeof(shown), s->cmd, line->len);
            log_warning("non-SMTP command from %s: %s", s->namaddr, shown);
            smtpd_reply(s, "221 2.7.0 Error: I can break rules, too. Goodbye.");
            s->closing = 1;
            return;
        }
        s->error_count++;
        if (*args == '\0' && s->cmd[strspn(s->cmd, " \t")] == '\0')
            smtpd_reply(s, "500 5.5.2 Error: bad syntax");
        else
            smtpd_reply(s, "502 5.5.2 Error: command not recognized");
        set_where(s, "UNKNOWN");
        return;
    }
    set_where(s, smtpd_command_state(cmd));
    int rc;
    if (srv->tls_level == SMTPD_TLS_ENCRYPT && !s->tls_active && !srv->standalone &&
        !allowed_before_tls(cmd)) {
        smtpd_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
        s->counts[cmd][1]++;
        s->error_count++;
        return;
    }
    switch (cmd) {
    case SMTPD_CMD_HELO: rc = cmd_helo(s, args, 0); break;
    case SMTPD_CMD_EHLO: rc = cmd_helo(s, args, 1); break;
    case SMTPD_CMD_STARTTLS: rc = cmd_starttls(s, args); break;
    case SMTPD_CMD_AUTH: rc = smtpd_sasl_auth_command(s, args); break;
    case SMTPD_CMD_MAIL: rc = cmd_mail(s, args); break;
    case SMTPD_CMD_RCPT: rc = cmd_rcpt(s, args); break;
    case SMTPD_CMD_DATA: rc = cmd_data(s, args); break;
    case SMTPD_CMD_RSET: rc = cmd_rset(s, args); break;
    case SMTPD_CMD_NOOP:
        smtpd_reply(s, "250 2.0.0 Ok");
        rc = 0;
        break;
    case SMTPD_CMD_VRFY: rc = cmd_vrfy(s, args); break;
    case SMTPD_CMD_ETRN:
        smtpd_reply(s, "502 5.5.1 Error: command not implemented");
        rc = -1;
        break;
    case SMTPD_CMD_QUIT:
        smtpd_reply(s, "221 2.0.0 Bye");
        s->quit = 1;
        s->closing = 1;
        rc = 0;
        break;
    default: return;
    }
    if (cmd >= SMTPD_CMD_COUNT || rc == CMD_WAIT)
        return;
    s->counts[cmd][1]++;
    if (rc == 0)
        s->counts[cmd][0]++;
    else if (rc < 0)
        s->error_count++;
}

/* ---- input processing ---- */

static void discard_input(smtpd_session *s, size_t n)
{
    if (n == 0)
        return;
    memmove(s->in, s->in + n, s->in_len - n);
    s->in_len -= n;
}

smtpd_next smtpd_session_process(smtpd_session *s)
{
    smtpd_server *srv = s->server;
    smtpd_next next = SMTPD_NEXT_READ;
    size_t pos = 0;
    while (!s->closing && !s->paused && !s->commit && !s->tls_pending && !s->check_waiting &&
           !s->sasl_busy) {
        if (s->state == SMTPD_STATE_DATA) {
            size_t used = 0;
            smtpd_data_status st = smtpd_data_feed(&s->data, s->in + pos, s->in_len - pos,
                                                   &used, data_line, s);
            pos += used;
            if (st == SMTPD_DATA_MORE)
                break;
            if (st == SMTPD_DATA_END) {
                finish_data(s);
            } else {
                log_info("%s: bare <LF> received in message content from %s",
                         queue_id_or_noqueue(s), s->namaddr);
                mail_reset(s);
                s->state = SMTPD_STATE_COMMAND;
                s->error_count++;
                smtpd_reply(s, "%d 5.5.2 Error: bare <LF> received", srv->bare_lf_reject_code);
                s->closing = 1;
            }
            continue;
        }
        if (s->state == SMTPD_STATE_SKIP) {
            size_t used = 0;
            int found = smtpd_line_skip(s->in + pos, s->in_len - pos, &used);
            pos += used;
            if (!found)
                break;
            s->state = SMTPD_STATE_COMMAND;
            continue;
        }
        if (s->out.len >= SMTPD_OUTPUT_HIGH_WATER) {
            next = SMTPD_NEXT_FLUSH;
            break;
        }
        smtpd_line line;
        smtpd_line_status ls = smtpd_line_next(s->in + pos, s->in_len - pos, srv->line_limit,
                                               &line);
        int at_hard_limit = srv->hard_error_limit > 0 && s->error_count >= srv->hard_error_limit;
        if (ls == SMTPD_LINE_NEED_MORE && !at_hard_limit)
            break;
        if (srv->error_sleep_ms > 0 && s->error_count >= srv->soft_error_limit &&
            !s->delay_paid) {
            s->paused = 1;
            next = SMTPD_NEXT_PAUSE;
            break;
        }
        s->delay_paid = 0;
        if (at_hard_limit) {
            log_info("too many errors after %s from %s", s->where, s->namaddr);
            smtpd_reply(s, "421 4.7.0 %s Error: too many errors", srv->myhostname);
            break;
        }
        pos += line.consumed;
        if (ls == SMTPD_LINE_OK) {
            s->input_after = s->in_len - pos;
            execute(s, &line);
            if (s->check_waiting) { /* the line stays; it runs again when the answer is in */
                pos -= line.consumed;
                s->delay_paid = 1;
            }
            continue;
        }
        /* Over-long line: answered, never executed; the rest of it is skipped. */
        char shown[31] = "";
        if (!s->sasl_state) /* never log what may be a credential */
            printable_copy(shown, sizeof(shown), s->in + pos - line.consumed,
                           line.consumed < 30 ? line.consumed : 30);
        s->sasl_state = 0;
        log_warning("%s: request longer than %zu: %s...", s->namaddr, srv->line_limit, shown);
        s->counts[SMTPD_CMD_UNKNOWN][1]++;
        s->error_count++;
        smtpd_reply(s, "500 5.5.0 Error: line too long");
        if (ls == SMTPD_LINE_TOO_LONG_PARTIAL)
            s->state = SMTPD_STATE_SKIP;
    }
    discard_input(s, pos);
    if (s->closing)
        return SMTPD_NEXT_CLOSE;
    if (s->tls_pending) {
        /* Plaintext sent behind STARTTLS is dropped, never run inside TLS (CVE-2011-0411). */
        s->in_len = 0;
        return SMTPD_NEXT_STARTTLS;
    }
    if (s->commit || s->check_waiting || s->sasl_busy)
        return SMTPD_NEXT_WAIT;
    return next;
}

void smtpd_session_resume(smtpd_session *s)
{
    s->paused = 0;
    s->delay_paid = 1;
}

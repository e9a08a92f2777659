/* smtp_session.c: the SMTP/LMTP client protocol state machine (see smtp_session.h). */
#include "deliver/smtp_body.h"
#include "deliver/smtp_settings.h"
#include "deliver/smtp_session.h"
#include "global/mail_date.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---- */

void smtp_xtext_encode(const char *in, strbuf *out)
{
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p >= 33 && *p <= 126 && *p != '+' && *p != '=')
            strbuf_append_char(out, (char)*p);
        else
            strbuf_printf(out, "+%02X", *p);
    }
}

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

int smtp_quote_address(const char *addr, strbuf *out)
{
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
        if (*p < 32 || *p == 127)
            return -1;
    const char *at = strrchr(addr, '@');
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    int dot_atom = llen > 0 && addr[0] != '.' && addr[llen - 1] != '.';
    for (size_t i = 0; dot_atom && i < llen; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c == '.' ? addr[i + 1] == '.' : !is_atext(c))
            dot_atom = 0;
    }
    if (dot_atom || llen == 0) {
        strbuf_append_str(out, addr);
        return 0;
    }
    strbuf_append_char(out, '"');
    for (size_t i = 0; i < llen; i++) {
        if (addr[i] == '"' || addr[i] == '\\')
            strbuf_append_char(out, '\\');
        strbuf_append_char(out, addr[i]);
    }
    strbuf_append_char(out, '"');
    if (at)
        strbuf_append_str(out, at);
    return 0;
}

/* "lost connection with X while STATE" or "conversation with X timed out while STATE". */
static void stream_failure_text(const smtp_session *s, const char *state, strbuf *why)
{
    strbuf_reset(why);
    if (s->stream.error == SMTP_STREAM_TIMEOUT)
        strbuf_printf(why, "conversation with %s timed out while %s", s->host_addr, state);
    else if (s->stream.error == SMTP_STREAM_IO)
        strbuf_printf(why, "%s with %s while %s", smtp_stream_error_text(&s->stream), s->host_addr,
                      state);
    else
        strbuf_printf(why, "lost connection with %s while %s", s->host_addr, state);
}

/* Sets a recipient's result from a server reply. */
static void result_from_reply(const smtp_session *s, deliver_rcpt *r, const smtp_reply *reply,
                              const char *command)
{
    char dsn[DSN_MAX];
    smtp_reply_dsn(reply, dsn, sizeof(dsn));
    if (smtp_reply_class(reply) == 2)
        deliver_set_result(r, dsn, "%s", reply->text.data);
    else if (reply->code == 0)
        deliver_set_result(r, "4.5.0", "host %s said: malformed reply: %s (in reply to %s command)",
                           s->host_addr, reply->text.data, command);
    else
        deliver_set_result(r, dsn, "host %s said: %s (in reply to %s command)", s->host_addr,
                           reply->text.data, command);
}

/* ---- connection setup ---- */

/* Records the failure's status code and closes the session; the caller has set why. */
static int start_failure(smtp_session *s, char *dsn, size_t dsnlen, const char *code)
{
    dsn_set(dsn, dsnlen, code);
    smtp_session_close(s);
    return -1;
}

/* Sends EHLO/LHLO/HELO and reads the reply. 0, or -1 on a stream failure. */
static int send_hello(smtp_session *s, const char *verb, smtp_reply *reply, long timeout)
{
    /* Postfix's lmtp reads lmtp_* parameters; the LHLO name is the one that shows on the wire. */
    const char *name = s->lmtp ? smtp_settings_current()->lhlo_name : smtp_settings_current()->helo_name;
    if (smtp_stream_printf(&s->stream, timeout, "%s %s\r\n", verb, name) < 0 ||
        smtp_stream_flush(&s->stream, timeout) < 0)
        return -1;
    return smtp_stream_read_reply(&s->stream, reply, timeout);
}

/* Keeps the mechanisms of an "AUTH a b c" (or old "AUTH=a b c") EHLO line for smtp_sasl.h. */
static void record_auth_mechanisms(smtp_session *s, const smtp_reply *reply)
{
    s->auth_mechs[0] = '\0';
    const char *p = reply->lines.data;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 5 && strncasecmp(p, "AUTH", 4) == 0 && (p[4] == ' ' || p[4] == '=')) {
            size_t used = strlen(s->auth_mechs);
            size_t add = len - 5;
            if (fixed_printf(s->auth_mechs + used, sizeof(s->auth_mechs) - used, "%s%.*s",
                             used ? " " : "", (int)add, p + 5) < 0) {
                s->auth_mechs[used] = '\0'; /* keep the mechanisms before this line */
                log_warning("%s: AUTH mechanism list too long; ignoring the rest", s->host_addr);
            }
        }
        p = nl ? nl + 1 : NULL;
    }
}

int smtp_session_hello(smtp_session *s, int allow_helo, char *dsn, size_t dsnlen, strbuf *why)
{
    long timeout = smtp_settings_current()->helo_timeout;
    smtp_reply reply;
    smtp_reply_init(&reply);
    const char *verb = s->lmtp ? "LHLO" : "EHLO";
    int rc = -1;
    int io = send_hello(s, verb, &reply, timeout);
    if (io == 0 && allow_helo && !s->lmtp && smtp_reply_class(&reply) == 5) {
        verb = "HELO";
        io = send_hello(s, verb, &reply, timeout);
    }
    s->features = 0;
    s->size_limit = 0;
    s->auth_mechs[0] = '\0';
    if (io < 0) {
        stream_failure_text(
            s, s->lmtp ? "performing the LHLO handshake" : "performing the EHLO handshake", why);
        rc = start_failure(s, dsn, dsnlen, "4.4.2");
    } else if (smtp_reply_class(&reply) != 2) {
        char code[DSN_MAX];
        smtp_reply_dsn(&reply, code, sizeof(code));
        strbuf_reset(why);
        strbuf_printf(why, "host %s said: %s (in reply to %s command)", s->host_addr,
                      reply.text.data, verb);
        rc = start_failure(s, dsn, dsnlen, code);
    } else {
        if (strcmp(verb, "HELO") != 0) {
            s->features = smtp_ehlo_parse(&reply, &s->size_limit);
            record_auth_mechanisms(s, &reply);
        }
        s->usable = 1;
        rc = 0;
    }
    smtp_reply_free(&reply);
    return rc;
}

void smtp_session_open(smtp_session *s, int fd, const smtp_candidate *c, int lmtp)
{
    memset(s, 0, sizeof(*s));
    smtp_stream_init(&s->stream, fd);
    smtp_candidate_name(c, 0, s->host_addr, sizeof(s->host_addr));
    smtp_candidate_name(c, 1, s->relay, sizeof(s->relay));
    long line_limit = smtp_settings_current()->line_length_limit;
    s->stream.line_limit = line_limit > 0 ? (size_t)line_limit : SMTP_REPLY_LINE_MAX;
    s->stream.peer = s->host_addr;
    s->lmtp = lmtp;
    s->created = mail_time_steady();
}

int smtp_session_start(smtp_session *s, int fd, const smtp_candidate *c, int lmtp, char *dsn,
                       size_t dsnlen, strbuf *why)
{
    smtp_session_open(s, fd, c, lmtp);
    return smtp_session_greet(s, dsn, dsnlen, why);
}

int smtp_session_greet(smtp_session *s, char *dsn, size_t dsnlen, strbuf *why)
{
    long timeout = smtp_settings_current()->helo_timeout;
    smtp_reply reply;
    smtp_reply_init(&reply);
    int rc = -1;
    if (smtp_stream_read_reply(&s->stream, &reply, timeout) < 0) {
        stream_failure_text(s, "receiving the initial server greeting", why);
        rc = start_failure(s, dsn, dsnlen, "4.4.2");
    } else if (smtp_reply_class(&reply) != 2) {
        char code[DSN_MAX];
        smtp_reply_dsn(&reply, code, sizeof(code));
        if (code[0] == '5' && smtp_settings_current()->skip_5xx_greeting)
            code[0] = '4';
        strbuf_reset(why);
        strbuf_printf(why, "host %s refused to talk to me: %s", s->host_addr, reply.text.data);
        rc = start_failure(s, dsn, dsnlen, code);
    } else {
        rc = smtp_session_hello(s, 1, dsn, dsnlen, why);
    }
    smtp_reply_free(&reply);
    return rc;
}

int smtp_session_reset(smtp_session *s)
{
    if (!s->usable || smtp_stream_peer_spoke(&s->stream))
        return -1;
    long timeout = smtp_settings_current()->rset_timeout;
    smtp_reply reply;
    smtp_reply_init(&reply);
    int rc = -1;
    if (smtp_stream_put(&s->stream, "RSET\r\n", 6, timeout) == 0 &&
        smtp_stream_flush(&s->stream, timeout) == 0 &&
        smtp_stream_read_reply(&s->stream, &reply, timeout) == 0 && smtp_reply_class(&reply) == 2)
        rc = 0;
    smtp_reply_free(&reply);
    if (rc < 0)
        s->usable = 0;
    return rc;
}

void smtp_session_quit(smtp_session *s)
{
    if (s->usable) {
        long timeout = smtp_settings_current()->quit_timeout;
        smtp_reply reply;
        smtp_reply_init(&reply);
        if (smtp_stream_put(&s->stream, "QUIT\r\n", 6, timeout) == 0 &&
            smtp_stream_flush(&s->stream, timeout) == 0)
            smtp_stream_read_reply(&s->stream, &reply, timeout);
        smtp_reply_free(&reply);
    }
    smtp_session_close(s);
}

void smtp_session_close(smtp_session *s)
{
    s->usable = 0;
    smtp_stream_close(&s->stream);
}

/* ---- one mail transaction ---- */

#define RCPT_WAITING 0
#define RCPT_ACCEPTED 1
#define RCPT_FINISHED 2

typedef struct transaction {
    smtp_session *s;
    const smtp_message *m;
    deliver_rcpt **rcpts;
    size_t n;
    int *state;
    size_t naccepted;
    int mail_failed;
    int broken; /* the connection failed; pending recipients were deferred */
    smtp_reply reply;
    strbuf cmd;
} transaction;

/* Command k: 0 = MAIL, 1..n = RCPT, n + 1 = DATA. */
static const char *command_state(const transaction *t, size_t k)
{
    return k == 0 ? "sending MAIL FROM" : k <= t->n ? "sending RCPT TO" : "sending DATA command";
}

static long command_timeout(const transaction *t, size_t k)
{
    const smtp_settings *set = smtp_settings_current();
    return k == 0 ? set->mail_timeout : k <= t->n ? set->rcpt_timeout : set->data_init_timeout;
}

/* Every recipient still open gets a 4.4.2 (or given) result; the session is dead. */
static void fail_open_recipients(transaction *t, const char *dsn, const char *state)
{
    strbuf why;
    strbuf_init(&why, 0);
    if (t->s->stream.error)
        stream_failure_text(t->s, state, &why);
    else
        strbuf_append_str(&why, state);
    for (size_t i = 0; i < t->n; i++) {
        if (t->state[i] != RCPT_FINISHED) {
            deliver_set_result(t->rcpts[i], dsn, "%s", why.data);
            t->state[i] = RCPT_FINISHED;
        }
    }
    strbuf_free(&why);
    t->broken = 1;
    t->s->usable = 0;
}

static void queue_mail_command(transaction *t, long timeout)
{
    const smtp_message *m = t->m;
    smtp_session *s = t->s;
    strbuf *c = &t->cmd;
    strbuf_reset(c);
    strbuf_append_str(c, "MAIL FROM:<");
    smtp_quote_address(m->req->sender, c); /* it can be quoted: precheck */
    strbuf_append_char(c, '>');
    if (s->features & SMTP_FEATURE_SIZE)
        strbuf_printf(c, " SIZE=%ld", m->req->message_size);
    if (m->has_8bit && (s->features & SMTP_FEATURE_8BITMIME))
        strbuf_append_str(c, " BODY=8BITMIME");
    if (s->features & SMTP_FEATURE_DSN) {
        if (m->dsn_ret == 1 || m->dsn_ret == 2)
            strbuf_append_str(c, m->dsn_ret == 1 ? " RET=FULL" : " RET=HDRS");
        if (m->envid && m->envid[0]) {
            strbuf_append_str(c, " ENVID=");
            smtp_xtext_encode(m->envid, c);
        }
    }
    strbuf_append_str(c, "\r\n");
    smtp_stream_put(&s->stream, c->data, c->len, timeout);
}

static void append_notify(strbuf *c, int notify)
{
    if (notify == 0)
        return;
    if (notify & DSN_NOTIFY_NEVER) {
        strbuf_append_str(c, " NOTIFY=NEVER");
        return;
    }
    const char *sep = " NOTIFY=";
    static const struct {
        int bit;
        const char *name;
    } names[] = {{DSN_NOTIFY_SUCCESS, "SUCCESS"},
                 {DSN_NOTIFY_FAILURE, "FAILURE"},
                 {DSN_NOTIFY_DELAY, "DELAY"}};
    for (size_t i = 0; i < 3; i++) {
        if (notify & names[i].bit) {
            strbuf_printf(c, "%s%s", sep, names[i].name);
            sep = ",";
        }
    }
}

static void queue_rcpt_command(transaction *t, size_t i, long timeout)
{
    const deliver_rcpt *r = t->rcpts[i];
    strbuf *c = &t->cmd;
    strbuf_reset(c);
    strbuf_append_str(c, "RCPT TO:<");
    smtp_quote_address(r->address, c);
    strbuf_append_char(c, '>');
    if (t->s->features & SMTP_FEATURE_DSN) {
        append_notify(c, r->notify);
        const char *orcpt = r->orcpt && r->orcpt[0] ? r->orcpt : NULL;
        if (orcpt) {
            const char *semi = strchr(orcpt, ';');
            if (semi) {
                strbuf_printf(c, " ORCPT=%.*s;", (int)(semi - orcpt), orcpt);
                smtp_xtext_encode(semi + 1, c);
            }
        } else if (r->orig && r->orig[0]) {
            strbuf_append_str(c, " ORCPT=rfc822;");
            smtp_xtext_encode(r->orig, c);
        }
    }
    strbuf_append_str(c, "\r\n");
    smtp_stream_put(&t->s->stream, c->data, c->len, timeout);
}

/* Queues command k; recipients with unusable addresses are finished here. Returns 1 when a
 * command was queued (a reply is due). */
static int queue_command(transaction *t, size_t k)
{
    long timeout = command_timeout(t, k);
    if (k == 0) {
        queue_mail_command(t, timeout);
    } else if (k <= t->n) {
        deliver_rcpt *r = t->rcpts[k - 1];
        strbuf probe;
        strbuf_init(&probe, 0);
        int bad = smtp_quote_address(r->address, &probe) < 0;
        strbuf_free(&probe);
        if (bad) {
            deliver_set_result(r, "5.1.3", "bad recipient address syntax: %s", r->address);
            t->state[k - 1] = RCPT_FINISHED;
            return 0;
        }
        queue_rcpt_command(t, k - 1, timeout);
    } else {
        smtp_stream_put(&t->s->stream, "DATA\r\n", 6, timeout);
    }
    return 1;
}

/* Content callbacks. */
static int body_out(const char *data, size_t len, void *ctx)
{
    smtp_session *s = ctx;
    return smtp_stream_put(&s->stream, data, len, smtp_settings_current()->data_xfer_timeout) < 0;
}

static int body_in(const char *data, size_t len, int partial, void *ctx)
{
    return smtp_body_piece(ctx, data, len, partial) < 0 ? 1 : 0;
}

/* Sends the content and ".". 0, -1 on a connection failure, -2 when the queue file is bad. */
static int send_content(transaction *t)
{
    smtp_session *s = t->s;
    const smtp_message *m = t->m;
    int downgrade = m->has_8bit && !(s->features & SMTP_FEATURE_8BITMIME) &&
                    !smtp_settings_current()->disable_mime_output_conversion;
    long limit = smtp_settings_current()->smtp_line_length_limit;
    smtp_body_writer w;
    smtp_body_init(&w, downgrade, limit > 0 ? (size_t)limit : 0, body_out, s);
    int rc = queue_content_each(m->fd, m->env, body_in, &w);
    int finished = rc == 0 ? smtp_body_finish(&w) : -1;
    int write_failed = w.failed || s->stream.error;
    smtp_body_free(&w);
    if (write_failed)
        return -1;
    if (rc != 0 || finished != 0)
        return -2;
    long timeout = smtp_settings_current()->data_xfer_timeout;
    if (smtp_stream_put(&s->stream, ".\r\n", 3, timeout) < 0 ||
        smtp_stream_flush(&s->stream, timeout) < 0)
        return -1;
    return 0;
}

/* After a 354: content, ".", and the end-of-data replies. */
static void finish_data(transaction *t)
{
    smtp_session *s = t->s;
    if (t->naccepted == 0 || t->mail_failed) {
        /* Pipelined DATA accepted without recipients: end it with an empty message. */
        long timeout = smtp_settings_current()->data_done_timeout;
        if (smtp_stream_put(&s->stream, ".\r\n", 3, timeout) < 0 ||
            smtp_stream_flush(&s->stream, timeout) < 0 ||
            smtp_stream_read_reply(&s->stream, &t->reply, timeout) < 0)
            fail_open_recipients(t, "4.4.2",
                                 "sending end of data -- message may be sent more "
                                 "than once");
        return;
    }
    int rc = send_content(t);
    if (rc == -2) {
        log_warning("%s: error reading the queue file", t->m->req->queue_id);
        fail_open_recipients(t, "4.3.0", "error reading message file");
        return;
    }
    if (rc < 0) {
        fail_open_recipients(t, "4.4.2", "sending message body");
        return;
    }
    long timeout = smtp_settings_current()->data_done_timeout;
    for (size_t i = 0; i < t->n; i++) {
        if (t->state[i] != RCPT_ACCEPTED)
            continue;
        if (smtp_stream_read_reply(&s->stream, &t->reply, timeout) < 0) {
            fail_open_recipients(t, "4.4.2",
                                 "sending end of data -- message may be sent more than once");
            return;
        }
        /* SMTP: one reply for everybody; LMTP: one each. */
        for (size_t j = i; j < t->n; j++) {
            if (t->state[j] != RCPT_ACCEPTED)
                continue;
            result_from_reply(s, t->rcpts[j], &t->reply, "end of DATA");
            t->state[j] = RCPT_FINISHED;
            if (s->lmtp)
                break;
        }
    }
}

/* Handles the reply to command k. */
static void process_reply(transaction *t, size_t k)
{
    int cls = smtp_reply_class(&t->reply);
    if (k == 0) {
        if (cls != 2) {
            t->mail_failed = 1;
            for (size_t i = 0; i < t->n; i++) {
                if (t->state[i] == RCPT_FINISHED)
                    continue;
                result_from_reply(t->s, t->rcpts[i], &t->reply, "MAIL FROM");
                t->state[i] = RCPT_FINISHED;
            }
        }
    } else if (k <= t->n) {
        size_t i = k - 1;
        if (t->mail_failed || t->state[i] == RCPT_FINISHED)
            return;
        if (cls == 2) {
            t->state[i] = RCPT_ACCEPTED;
            t->naccepted++;
        } else {
            result_from_reply(t->s, t->rcpts[i], &t->reply, "RCPT TO");
            t->state[i] = RCPT_FINISHED;
        }
    } else if (t->reply.code == 354) {
        finish_data(t);
    } else {
        for (size_t i = 0; i < t->n; i++) {
            if (t->state[i] != RCPT_ACCEPTED)
                continue;
            result_from_reply(t->s, t->rcpts[i], &t->reply, "DATA");
            t->state[i] = RCPT_FINISHED;
        }
    }
}

/* Checks that can fail the whole message before MAIL FROM. Returns 1 when they did. */
static int precheck(transaction *t)
{
    smtp_session *s = t->s;
    strbuf probe;
    strbuf_init(&probe, 0);
    int bad_sender = smtp_quote_address(t->m->req->sender, &probe) < 0;
    strbuf_free(&probe);
    if (bad_sender) {
        /* No SMTP form exists for it (RFC 5321 allows no control character, not even quoted);
         * sending the null sender instead would make the message a bounce that cannot bounce. */
        for (size_t i = 0; i < t->n; i++) {
            deliver_set_result(t->rcpts[i], "5.1.7", "bad sender address syntax: %s",
                               t->m->req->sender);
            t->state[i] = RCPT_FINISHED;
        }
        return 1;
    }
    long size = t->m->req->message_size;
    if ((s->features & SMTP_FEATURE_SIZE) && s->size_limit > 0 && size > s->size_limit) {
        for (size_t i = 0; i < t->n; i++) {
            deliver_set_result(t->rcpts[i], "5.3.4",
                               "message size %ld exceeds size limit %lld of server %s", size,
                               s->size_limit, s->host_addr);
            t->state[i] = RCPT_FINISHED;
        }
        return 1;
    }
    return 0;
}

void smtp_session_transaction(smtp_session *s, const smtp_message *m, deliver_rcpt **rcpts,
                              size_t n)
{
    transaction t;
    memset(&t, 0, sizeof(t));
    t.s = s;
    t.m = m;
    t.rcpts = rcpts;
    t.n = n;
    t.state = xcalloc(n ? n : 1, sizeof(*t.state));
    smtp_reply_init(&t.reply);
    strbuf_init(&t.cmd, 0); /* a command is sent whole or not at all */
    s->transactions++;
    if (!precheck(&t)) {
        size_t total = n + 2, sent = 0, received = 0;
        size_t *due = xcalloc(total, sizeof(*due)); /* commands awaiting a reply, in order */
        size_t ndue = 0, next_due = 0;
        int pipelining = (s->features & SMTP_FEATURE_PIPELINING) != 0;
        while (!t.broken) {
            if (next_due == ndue) {
                /* Nothing outstanding: send the next batch, or stop. */
                if (sent == total || t.mail_failed || (sent == total - 1 && t.naccepted == 0))
                    break;
                size_t batch = pipelining ? SMTP_PIPELINE_BATCH : 1;
                size_t first = sent;
                while (sent < total && ndue - next_due < batch)
                    if (queue_command(&t, sent++))
                        due[ndue++] = sent - 1;
                if (next_due == ndue)
                    continue; /* only unusable addresses in this batch */
                if (smtp_stream_flush(&s->stream, command_timeout(&t, first)) < 0) {
                    fail_open_recipients(&t, "4.4.2", command_state(&t, due[next_due]));
                    break;
                }
            }
            size_t k = due[next_due++];
            if (smtp_stream_read_reply(&s->stream, &t.reply, command_timeout(&t, k)) < 0) {
                fail_open_recipients(&t, "4.4.2", command_state(&t, k));
                break;
            }
            received++;
            process_reply(&t, k);
        }
        free(due);
        (void)received;
    }
    /* Anyone left without a result (no DATA was sent because nobody was accepted cannot leave
     * accepted recipients; this is a safety net). */
    for (size_t i = 0; i < n; i++)
        if (t.state[i] != RCPT_FINISHED)
            deliver_set_result(rcpts[i], "4.3.0", "mail transaction with %s ended unexpectedly",
                               s->host_addr);
    smtp_reply_free(&t.reply);
    strbuf_free(&t.cmd);
    free(t.state);
}

/*
 * bounce_message.c: the text of a delivery status notification (see bounce_message.h).
 *
 * Layout, as RFC 3464 and Postfix's notifications:
 *   headers (From: MAILER-DAEMON, Subject:, To:, Auto-Submitted:, MIME-Version:, Content-Type:
 *   multipart/report; report-type=delivery-status), a preamble, then three parts:
 *   1. text/plain: what happened, in words, one paragraph per recipient;
 *   2. message/delivery-status: per-message fields, then one group of fields per recipient;
 *   3. message/rfc822 (the original) or text/rfc822-headers (its header section only).
 * Every line goes straight into cleanup, so a notification is never held in memory whole.
 * Text that came from outside (addresses, remote replies) is masked to printable ASCII and
 * folded at 78 columns with a 4-space indent, which keeps DSN fields valid header fields.
 * The MIME boundary carries the queue id, the time and random bits, so a sender cannot
 * predict it and end a part early from inside the returned message.
 */
#include "bounce/bounce_message.h"
#include "cleanup/cleanup.h"
#include "cleanup/header.h"
#include "global/mail_date.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WRAP_WIDTH 78
#define WRAP_INDENT "    "
#define WRAP_INDENT_LEN 4
#define WRAP_HARD_LIMIT 900 /* longest piece without a space kept on one line */
#define BOUNDARY_MAX 70     /* RFC 2046 */
#define FIELD_TEXT_LIMIT (64 * 1024)

/* ---- small helpers shared with the unit tests ---- */

void bounce_append_safe(strbuf *out, const char *text)
{
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && n < FIELD_TEXT_LIMIT; p++, n++) {
        unsigned char ch = (unsigned char)*p;
        char shown = ch == '\t' ? ' ' : (ch < ' ' || ch >= 0x7f) ? '?' : (char)ch;
        strbuf_append_char(out, shown);
    }
}

/* ---- writing lines into cleanup ---- */

typedef struct writer {
    cleanup *c;
    int failed;
    strbuf line;
} writer;

static void emit_bytes(writer *w, const char *data, size_t len)
{
    if (!w->failed && cleanup_line(w->c, data, len) < 0)
        w->failed = 1;
}

static void emit(writer *w, const char *text)
{
    emit_bytes(w, text, strlen(text));
}

static void emitf(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emitf(writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_reset(&w->line);
    strbuf_vprintf(&w->line, fmt, ap);
    va_end(ap);
    emit_bytes(w, w->line.data ? w->line.data : "", w->line.len);
}

/* "Name: <RFC 5322 date>" */
static void emit_date(writer *w, const char *name, time_t when)
{
    strbuf_reset(&w->line);
    strbuf_printf(&w->line, "%s: ", name);
    mail_date_append(&w->line, when);
    emit_bytes(w, w->line.data, w->line.len);
}

/* Length of the next line's piece of text, which starts with a non-space. */
static size_t wrap_piece(const char *text, size_t rest, size_t room)
{
    if (rest <= room)
        return rest;
    size_t cut = room;
    while (cut > 0 && text[cut] != ' ')
        cut--;
    if (cut > 0)
        return cut;
    size_t limit = rest < WRAP_HARD_LIMIT ? rest : WRAP_HARD_LIMIT;
    const char *space = memchr(text, ' ', limit);
    return space ? (size_t)(space - text) : limit;
}

/* Writes text folded into lines of at most WRAP_WIDTH columns where spaces allow;
 * continuation lines start with WRAP_INDENT. */
static void emit_wrapped(writer *w, const char *text)
{
    size_t len = strlen(text), start = 0;
    int first = 1;
    strbuf out;
    strbuf_init(&out, 0);
    while (start < len && text[start] == ' ')
        start++;
    while (start < len) {
        size_t room = WRAP_WIDTH - (first ? 0 : WRAP_INDENT_LEN);
        size_t take = wrap_piece(text + start, len - start, room);
        size_t end = start + take;
        while (end > start && text[end - 1] == ' ')
            end--;
        strbuf_reset(&out);
        if (!first)
            strbuf_append_str(&out, WRAP_INDENT);
        strbuf_append(&out, text + start, end - start);
        emit_bytes(w, out.data, out.len);
        start += take;
        while (start < len && text[start] == ' ')
            start++;
        first = 0;
    }
    strbuf_free(&out);
}

/* emit_wrapped() of formatted, masked text. */
static void emit_field(writer *w, const char *name, const char *value)
{
    strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_printf(&sb, "%s: ", name);
    bounce_append_safe(&sb, value);
    emit_wrapped(w, sb.data);
    strbuf_free(&sb);
}

/* ---- pieces of text ---- */

static const char *subject_of(const bounce_notice *n)
{
    int postmaster = n->audience != BOUNCE_TO_SENDER;
    switch (n->kind) {
    case BOUNCE_FAILURE:
        return postmaster ? "Postmaster Copy: Undelivered Mail"
                          : "Undelivered Mail Returned to Sender";
    case BOUNCE_DELAY:
        return postmaster ? "Postmaster Warning: Delayed Mail"
                          : "Delayed Mail (still being retried)";
    case BOUNCE_SUCCESS:
        return "Successful Mail Delivery Report";
    }
    return "Mail Delivery Status Report";
}

/* The mail_name part of X-<name>-Queue-ID: letters, digits and '-' only. */
static void mail_name(strbuf *out)
{
    const char *name = mail_params_current()->mail_name;
    size_t start = out->len;
    for (; name && *name; name++)
        if ((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
            (*name >= '0' && *name <= '9') || *name == '-')
            strbuf_append_char(out, *name);
    if (out->len == start)
        strbuf_append_str(out, "Postern");
}

/* RFC 2046 limits a boundary to 70 characters: the text is kept to that on purpose. The queue
 * id, time and random bits come first and make it unique; the host name only decorates. */
static void make_boundary(char buf[BOUNDARY_MAX + 1], const char *queue_id)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    unsigned int random_bits;
    if (getrandom(&random_bits, sizeof(random_bits), GRND_NONBLOCK) != (ssize_t)sizeof(random_bits))
        random_bits = (unsigned int)now.tv_usec ^ ((unsigned int)getpid() << 12);
    strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_printf(&sb, "%s.%lld.%08X/%s", queue_id, (long long)now.tv_sec, random_bits,
                  mail_params_current()->myhostname);
    size_t n = sb.len < BOUNDARY_MAX ? sb.len : BOUNDARY_MAX;
    memcpy(buf, sb.data, n);
    buf[n] = '\0';
    strbuf_free(&sb);
    for (char *p = buf; *p; p++) /* only characters RFC 2046 allows, no space at the end */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("'()+_,-./:=?", *p)))
            *p = '_';
}

/* "3 hours", "2 days", "10 minutes": a long and a unit always fit DURATION_MAX. */
#define DURATION_MAX 32
static void format_duration(char buf[DURATION_MAX], long seconds)
{
    if (seconds < 0)
        seconds = 0;
    long value;
    const char *unit;
    if (seconds >= 2 * 86400) {
        value = seconds / 86400;
        unit = "day";
    } else if (seconds >= 3600) {
        value = seconds / 3600;
        unit = "hour";
    } else {
        value = seconds / 60;
        unit = "minute";
    }
    if (fixed_printf(buf, DURATION_MAX, "%ld %s%s", value, unit, value == 1 ? "" : "s") < 0)
        log_fatal("duration text does not fit %d bytes", DURATION_MAX); /* see its size */
}

static time_t arrival_time(const queue_envelope *env)
{
    return env->arrival.tv_sec > 0 ? env->arrival.tv_sec : env->create_time;
}

/* The diagnostic's text after its "type;" prefix (all of it when there is no valid type). */
static const char *diagnostic_text(const char *diag, int *has_type)
{
    size_t n = strspn(diag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
    *has_type = n > 0 && diag[n] == ';';
    if (!*has_type)
        return diag;
    const char *text = diag + n + 1;
    return text + strspn(text, " \t");
}

static const char *default_reason(bounce_kind kind)
{
    switch (kind) {
    case BOUNCE_FAILURE:
        return "delivery failed";
    case BOUNCE_DELAY:
        return "delivery temporarily suspended";
    case BOUNCE_SUCCESS:
        return "delivery successful";
    }
    return "unknown";
}

/* The reason in words: "host mx.example.com said: 550 ..." or the diagnostic text. */
static void rcpt_reason(strbuf *out, const bounce_notice *n, const bounce_rcpt *r)
{
    int has_type;
    const char *text = diagnostic_text(r->diagnostic ? r->diagnostic : "", &has_type);
    const char *mta = r->remote_mta ? strchr(r->remote_mta, ';') : NULL;
    if (mta != NULL)
        mta += 1 + strspn(mta + 1, " \t");
    if (text[0] == '\0')
        text = default_reason(n->kind);
    if (mta && mta[0] && has_type && strncasecmp(r->diagnostic, "smtp;", 5) == 0) {
        strbuf_append_str(out, "host ");
        bounce_append_safe(out, mta);
        strbuf_append_str(out, " said: ");
    }
    bounce_append_safe(out, text);
}

/* ---- the parts ---- */

static void write_headers(writer *w, const bounce_notice *n, const char *boundary)
{
    const char *host = mail_params_current()->myhostname;
    emitf(w, "From: MAILER-DAEMON (Mail Delivery System) <MAILER-DAEMON@%s>", host);
    emitf(w, "Subject: %s", subject_of(n));
    strbuf to;
    strbuf_init(&to, 0);
    strbuf_append_str(&to, "<");
    bounce_append_safe(&to, n->recipient);
    strbuf_append_str(&to, ">");
    emit_field(w, "To", to.data);
    strbuf_free(&to);
    emitf(w, "Auto-Submitted: %s",
          n->audience == BOUNCE_TO_SENDER ? "auto-replied" : "auto-generated");
    emit(w, "MIME-Version: 1.0");
    emit(w, "Content-Type: multipart/report; report-type=delivery-status;");
    emitf(w, "\tboundary=\"%s\"", boundary);
    emit(w, "Content-Transfer-Encoding: 8bit");
    emit(w, "");
    emit(w, "This is a MIME-encapsulated message.");
    emit(w, "");
}

static void write_intro(writer *w, const queue_envelope *env, const bounce_notice *n)
{
    char waited[DURATION_MAX], lifetime[DURATION_MAX];
    emitf(w, "This is the mail system at host %s.", mail_params_current()->myhostname);
    emit(w, "");
    if (n->audience != BOUNCE_TO_SENDER) {
        strbuf sb;
        strbuf_init(&sb, 0);
        strbuf_append_str(&sb, n->audience == BOUNCE_TO_POSTMASTER_DOUBLE
                                   ? "A delivery report could not be returned to the sender of "
                                     "the message below, so it comes to you instead. Sender: <"
                                   : "This is a copy of a delivery report sent to <");
        bounce_append_safe(&sb, env->sender);
        strbuf_append_str(&sb, ">.");
        emit_wrapped(w, sb.data);
        strbuf_free(&sb);
        return;
    }
    switch (n->kind) {
    case BOUNCE_FAILURE:
        emit(w, "Your message could not be delivered to one or more of its recipients.");
        emit(w, "The reasons are listed below; the message itself (or, when it is large,");
        emit(w, "its headers) is attached after the delivery report.");
        emit(w, "");
        emit(w, "If you need help, write to postmaster and include this report. You may");
        emit(w, "remove your own text from the returned message first.");
        break;
    case BOUNCE_DELAY:
        format_duration(waited, (long)(time(NULL) - arrival_time(env)));
        format_duration(lifetime, mail_params_current()->maximal_queue_lifetime);
        emit(w, "This is a warning only: there is no need to send your message again.");
        emit(w, "");
        emitf(w, "Your message has waited %s for delivery to the recipients below.", waited);
        emitf(w, "The mail system keeps trying until the message is %s old, and", lifetime);
        emit(w, "will tell you if it has to give up.");
        break;
    case BOUNCE_SUCCESS:
        emit(w, "Your message was delivered to the recipients listed below. When a");
        emit(w, "recipient is a mailbox, the message is now in it; other destinations may");
        emit(w, "pass the message on and send their own reports.");
        break;
    }
    emit(w, "");
    emit(w, "                   The mail system");
}

/* A MIME part's boundary line and its Content-Description and Content-Type fields. */
static void begin_part(writer *w, const char *boundary, const char *description, const char *type)
{
    emitf(w, "--%s", boundary);
    emitf(w, "Content-Description: %s", description);
    emitf(w, "Content-Type: %s", type);
}

static void write_text_part(writer *w, const queue_envelope *env, const bounce_notice *n,
                            const char *boundary)
{
    begin_part(w, boundary, "Notification", "text/plain; charset=us-ascii");
    emit(w, "");
    write_intro(w, env, n);
    strbuf sb;
    strbuf_init(&sb, 0);
    for (size_t i = 0; i < n->nrcpt; i++) {
        const bounce_rcpt *r = n->rcpts[i];
        strbuf_reset(&sb);
        strbuf_append_char(&sb, '<');
        bounce_append_safe(&sb, r->address);
        strbuf_append_char(&sb, '>');
        if (r->orig && r->orig[0] && r->address && strcasecmp(r->orig, r->address) != 0) {
            strbuf_append_str(&sb, " (expanded from <");
            bounce_append_safe(&sb, r->orig);
            strbuf_append_str(&sb, ">)");
        }
        strbuf_append_str(&sb, ": ");
        rcpt_reason(&sb, n, r);
        emit(w, "");
        emit_wrapped(w, sb.data);
    }
    strbuf_free(&sb);
    emit(w, "");
}

static void write_message_fields(writer *w, const queue_envelope *env)
{
    strbuf name;
    strbuf_init(&name, 0);
    mail_name(&name);
    emitf(w, "Reporting-MTA: dns; %s", mail_params_current()->myhostname);
    const char *envid = queue_envelope_attr(env, "envelope_id");
    if (envid && envid[0])
        emit_field(w, "Original-Envelope-Id", envid);
    emitf(w, "X-%s-Queue-ID: %s", name.data, env->id);
    if (env->sender && env->sender[0]) {
        strbuf sb;
        strbuf_init(&sb, 0);
        strbuf_append_str(&sb, "rfc822; ");
        bounce_append_safe(&sb, env->sender);
        strbuf field;
        strbuf_init(&field, 0);
        strbuf_printf(&field, "X-%s-Sender", name.data);
        emit_field(w, field.data, sb.data);
        strbuf_free(&field);
        strbuf_free(&sb);
    }
    strbuf_free(&name);
    if (arrival_time(env) > 0) {
        emit_date(w, "Arrival-Date", arrival_time(env));
    }
}

static const char *default_status(bounce_kind kind)
{
    return kind == BOUNCE_FAILURE ? "5.0.0" : kind == BOUNCE_DELAY ? "4.0.0" : "2.0.0";
}

static const char *default_action(bounce_kind kind)
{
    return kind == BOUNCE_FAILURE ? "failed" : kind == BOUNCE_DELAY ? "delayed" : "delivered";
}

/* ORCPT from the recipient, else from the envelope recipient it reports on. */
static const char *rcpt_orcpt(const queue_envelope *env, const bounce_rcpt *r)
{
    if (r->dsn_orcpt && r->dsn_orcpt[0])
        return r->dsn_orcpt;
    for (size_t i = 0; i < env->nrcpt; i++)
        if (env->rcpts[i].dsn_orcpt && env->rcpts[i].address && r->address &&
            strcasecmp(env->rcpts[i].address, r->address) == 0)
            return env->rcpts[i].dsn_orcpt;
    return NULL;
}

static void write_rcpt_fields(writer *w, const queue_envelope *env, const bounce_notice *n,
                              const bounce_rcpt *r)
{
    strbuf sb;
    strbuf_init(&sb, 0);
    emit(w, "");
    strbuf_append_str(&sb, "rfc822; ");
    bounce_append_safe(&sb, r->address);
    emit_field(w, "Final-Recipient", sb.data);
    const char *orcpt = rcpt_orcpt(env, r);
    if (orcpt) {
        emit_field(w, "Original-Recipient", orcpt);
    } else if (r->orig && r->orig[0]) {
        strbuf_reset(&sb);
        strbuf_append_str(&sb, "rfc822; ");
        bounce_append_safe(&sb, r->orig);
        emit_field(w, "Original-Recipient", sb.data);
    }
    emit_field(w, "Action",
               n->kind == BOUNCE_FAILURE   ? "failed"
               : r->action && r->action[0] ? r->action
                                           : default_action(n->kind));
    emit_field(w, "Status", r->status && r->status[0] ? r->status : default_status(n->kind));
    if (r->remote_mta && r->remote_mta[0])
        emit_field(w, "Remote-MTA", r->remote_mta);
    int has_type;
    const char *diag = r->diagnostic ? r->diagnostic : "";
    const char *text = diagnostic_text(diag, &has_type);
    strbuf_reset(&sb);
    if (has_type && text[0]) {
        strbuf_append(&sb, diag, strcspn(diag, ";"));
        strbuf_append_str(&sb, "; ");
        bounce_append_safe(&sb, text);
    } else {
        strbuf_append_str(&sb, "X-");
        mail_name(&sb);
        strbuf_append_str(&sb, "; ");
        bounce_append_safe(&sb, text[0] ? text : default_reason(n->kind));
    }
    emit_field(w, "Diagnostic-Code", sb.data);
    if (r->last_attempt > 0) {
        emit_date(w, "Last-Attempt-Date", r->last_attempt);
    }
    if (n->kind == BOUNCE_DELAY && arrival_time(env) > 0) {
        emit_date(w, "Will-Retry-Until",
                  arrival_time(env) + (time_t)mail_params_current()->maximal_queue_lifetime);
    }
    strbuf_free(&sb);
}

static void write_status_part(writer *w, const queue_envelope *env, const bounce_notice *n,
                              const char *boundary)
{
    begin_part(w, boundary, "Delivery report", "message/delivery-status");
    emit(w, "");
    write_message_fields(w, env);
    for (size_t i = 0; i < n->nrcpt; i++)
        write_rcpt_fields(w, env, n, n->rcpts[i]);
    emit(w, "");
}

/* Copies the original content line by line; long lines come in pieces and are joined. */
typedef struct original_copy {
    writer *w;
    int headers_only;
    int continuing; /* the previous piece was not the end of its line */
    strbuf line;
} original_copy;

static int copy_original_piece(const char *data, size_t len, int partial, void *ctx)
{
    original_copy *oc = ctx;
    if (oc->w->failed)
        return 1;
    if (!oc->continuing && oc->headers_only) {
        int is_header =
            header_name_length(data, len) > 0 || (len > 0 && (data[0] == ' ' || data[0] == '\t'));
        if (!is_header)
            return 1; /* end of the header section */
    }
    if (strbuf_append(&oc->line, data, len) < 0) { /* beyond any sane line: split it */
        emit_bytes(oc->w, oc->line.data, oc->line.len);
        strbuf_reset(&oc->line);
        strbuf_append(&oc->line, data, len);
    }
    oc->continuing = partial;
    if (!partial) {
        emit_bytes(oc->w, oc->line.data ? oc->line.data : "", oc->line.len);
        strbuf_reset(&oc->line);
    }
    return 0;
}

static void write_original_part(writer *w, int fd, const queue_envelope *env,
                                const bounce_notice *n, const char *boundary)
{
    int undelivered = n->kind != BOUNCE_SUCCESS;
    const char *description =
        n->headers_only ? (undelivered ? "Undelivered Message Headers" : "Message Headers")
                        : (undelivered ? "Undelivered Message" : "Message");
    begin_part(w, boundary, description,
               n->headers_only ? "text/rfc822-headers" : "message/rfc822");
    emit(w, "Content-Transfer-Encoding: 8bit");
    emit(w, "");
    if (env->content_offset <= 0) {
        emit(w, "\t--- Undelivered message unavailable ---");
    } else {
        strbuf rp;
        strbuf_init(&rp, 0);
        strbuf_append_str(&rp, "Return-Path: <");
        bounce_append_safe(&rp, env->sender);
        strbuf_append_str(&rp, ">");
        emit(w, rp.data);
        strbuf_free(&rp);
        original_copy oc = {w, n->headers_only, 0, {0}};
        strbuf_init(&oc.line, 0);
        int rc = queue_content_each(fd, env, copy_original_piece, &oc);
        if (oc.line.len > 0)
            emit_bytes(w, oc.line.data, oc.line.len);
        strbuf_free(&oc.line);
        if (rc < 0) {
            log_warning("%s: read message content: malformed queue file", env->id);
            emit(w, "\t--- Rest of the message unavailable ---");
        }
    }
    emit(w, "");
    emitf(w, "--%s--", boundary);
}

/* One attempt; *status gets cleanup_close()'s status (CLEANUP_STAT_BAD for other errors). */
static int queue_once(int fd, const queue_envelope *env, const bounce_notice *notice, char *id,
                      size_t id_len, strbuf *err, int *status)
{
    *status = CLEANUP_STAT_BAD;
    cleanup *c = cleanup_open("incoming", err);
    if (c == NULL)
        return -1;
    int bad = 0;
    bad |= cleanup_attr(c, "rewrite_context", "local");
    bad |= cleanup_sender(c, notice->sender);
    bad |= cleanup_recipient(c, notice->recipient, notice->recipient, 0, NULL);
    if (bad) {
        cleanup_abort(c);
        strbuf_printf(err, "cannot write the notification's envelope");
        return -1;
    }
    if (id_len > 0 && fixed_copy(id, id_len, cleanup_queue_id(c)) < 0) {
        cleanup_abort(c);
        strbuf_printf(err, "queue id does not fit the caller's %zu bytes", id_len);
        return -1;
    }
    char boundary[BOUNDARY_MAX + 1];
    make_boundary(boundary, env->id);
    writer w = {c, 0, {0}};
    strbuf_init(&w.line, 0);
    write_headers(&w, notice, boundary);
    write_text_part(&w, env, notice, boundary);
    write_status_part(&w, env, notice, boundary);
    write_original_part(&w, fd, env, notice, boundary);
    strbuf_free(&w.line);
    if (w.failed) {
        cleanup_abort(c);
        strbuf_printf(err, "cannot write the notification");
        return -1;
    }
    *status = cleanup_close(c);
    if (*status != CLEANUP_STAT_OK) {
        strbuf_printf(err, "cannot queue the notification: %s", cleanup_status_reply(*status));
        return -1;
    }
    return 0;
}

int bounce_message_queue(int fd, const queue_envelope *env, const bounce_notice *notice, char *id,
                         size_t id_len, strbuf *err)
{
    int status;
    if (queue_once(fd, env, notice, id, id_len, err, &status) == 0)
        return 0;
    if (!(status & CLEANUP_STAT_SIZE) || notice->headers_only)
        return -1;
    /* The returned message made the notification exceed message_size_limit (possible with
     * bounce_size_limit = 0): send it with the headers only rather than never. */
    bounce_notice smaller = *notice;
    smaller.headers_only = 1;
    strbuf_reset(err);
    return queue_once(fd, env, &smaller, id, id_len, err, &status);
}

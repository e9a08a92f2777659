/*
 * cleanup.c: turns one submitted message into a queue file (see cleanup.h).
 *
 * Envelope records go straight to the queue writer. Content lines are first collected while
 * they form the header section (bounded by header_size_limit), because headers that cleanup
 * adds (Message-ID:, Date:, From:) belong at the end of that section and sendmail -t needs
 * to read Bcc: before message_drop_headers drops it; at the first line that is not a header
 * (normally the empty line) the section is examined, written and followed by the added headers, and
 * every further line streams straight into the queue file. As in Postfix, one header field (with
 * its continuation lines) longer than header_size_limit is cut there: the excess is discarded and
 * the header section goes on. The whole section is buffered up to CLEANUP_SECTION_FIELDS times that
 * limit; a section that outgrows it ends there and the rest is kept as body text, so no submission
 * can make cleanup buffer without bound.
 *
 * Limits: message_size_limit stops writing (the caller keeps reading and cleanup_close()
 * reports CLEANUP_STAT_SIZE); hopcount_limit counts Received: and Delivered-To: headers.
 */
#include "cleanup/cleanup.h"
#include "cleanup/cleanup_alias.h"
#include "cleanup/header.h"
#include "cleanup/header_addr.h"
#include "global/mail_date.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define EXTRACT_RECIPIENT_LIMIT 10240 /* Postfix's extract_recipient_limit default */
#define LOGGED_MESSAGE_ID_MAX 500

enum cleanup_state { CLEANUP_ENVELOPE, CLEANUP_HEADERS, CLEANUP_BODY };

enum seen_header {
    SEEN_MESSAGE_ID = 1 << 0,
    SEEN_DATE = 1 << 1,
    SEEN_FROM = 1 << 2,
    SEEN_TO = 1 << 3,
    SEEN_CC = 1 << 4,
    SEEN_BCC = 1 << 5,
};

struct cleanup {
    queue_writer *qw;
    enum cleanup_state state;
    int status;
    int extract;       /* sendmail -t */
    int local_context; /* rewrite_context=local */
    char *sender;
    long nrcpt;
    long size;            /* content bytes accepted, one newline per line */
    long long size_limit; /* message_size_limit, 0 = none */
    size_t header_limit;  /* header_size_limit: one header field, continuation lines included */
    size_t section_limit; /* the buffered header section */
    size_t field_len;     /* bytes (newlines included) kept of the current header field */
    int field_cut;        /* the current field reached header_limit: drop the rest of it */
    int pending_cut;      /* the line in pending was cut at header_limit */
    long hop_limit;       /* hopcount_limit */
    long hops;
    unsigned seen;    /* SEEN_* */
    strbuf headers;   /* header section lines, back to back */
    size_t *line_end; /* end offset of each buffered line in headers */
    size_t nlines;
    size_t lines_cap;
    char **extracted; /* recipients from To:/Cc:/Bcc: under sendmail -t */
    size_t nextracted;
    strbuf message_id;     /* Message-ID: value for the log */
    strbuf pending;        /* a header-section line arriving in pieces (cleanup_line_part) */
    int in_partial;        /* the last piece given was not the end of its line */
    char id[QUEUE_ID_MAX]; /* kept for the log once the commit is under way */
};

/* The buffered header section holds at most this many header fields of the maximal size. */
#define CLEANUP_SECTION_FIELDS 10

static long long limit_or(long long value, long long fallback)
{
    return value > 0 ? value : fallback;
}

static cleanup *cleanup_start(queue_writer *qw)
{
    cleanup *c = xcalloc(1, sizeof(*c));
    c->qw = qw;
    c->state = CLEANUP_ENVELOPE;
    c->size_limit = mail_params_current()->message_size_limit;
    long long header_limit = limit_or(mail_params_current()->header_size_limit, 102400);
    if (header_limit > (long long)STRBUF_DEFAULT_LIMIT)
        header_limit = STRBUF_DEFAULT_LIMIT;
    c->header_limit = (size_t)header_limit;
    c->section_limit = c->header_limit * CLEANUP_SECTION_FIELDS;
    if (c->section_limit / CLEANUP_SECTION_FIELDS != c->header_limit ||
        c->section_limit > STRBUF_DEFAULT_LIMIT)
        c->section_limit = STRBUF_DEFAULT_LIMIT;
    c->hop_limit = (long)limit_or(mail_params_current()->hopcount_limit, 50);
    strbuf_init(&c->headers, c->section_limit + 1);
    strbuf_init(&c->pending, c->header_limit + 1);
    strbuf_init(&c->message_id, 0);
    return c;
}

cleanup *cleanup_open(const char *queue_name, strbuf *err)
{
    queue_writer *qw = queue_writer_create(mail_params_current()->queue_directory, queue_name, err);
    return qw ? cleanup_start(qw) : NULL;
}

cleanup *cleanup_open_spare(const char *queue_name, int fd, const char *name, strbuf *err)
{
    queue_writer *qw =
        queue_writer_adopt(mail_params_current()->queue_directory, queue_name, fd, name, err);
    return qw ? cleanup_start(qw) : NULL;
}

const char *cleanup_queue_id(const cleanup *c)
{
    return queue_writer_id(c->qw);
}

static void cleanup_free(cleanup *c)
{
    free(c->sender);
    free(c->line_end);
    for (size_t i = 0; i < c->nextracted; i++)
        free(c->extracted[i]);
    free(c->extracted);
    strbuf_free(&c->pending);
    strbuf_free(&c->headers);
    strbuf_free(&c->message_id);
    free(c);
}

/* A failed write of an envelope record makes the whole message fail. */
static int envelope_result(cleanup *c, int rc)
{
    if (rc < 0)
        c->status |= CLEANUP_STAT_WRITE;
    return rc;
}

int cleanup_attr(cleanup *c, const char *name, const char *value)
{
    if (c->state != CLEANUP_ENVELOPE)
        return -1;
    if (strcmp(name, "rewrite_context") == 0)
        c->local_context = strcmp(value, "local") == 0;
    return envelope_result(c, queue_writer_attr(c->qw, name, value));
}

/* Qualifies a bare local name as Postfix's trivial-rewrite does: "root" -> "root@$myorigin"
 * when append_at_myorigin = yes. The null address stays empty. */
static char *canonical_address(const char *addr)
{
    if (addr[0] == '\0' || strchr(addr, '@') != NULL || !mail_params_current()->append_at_myorigin)
        return xstrdup(addr);
    strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_printf(&sb, "%s@%s", addr, mail_params_current()->myorigin);
    return strbuf_detach(&sb);
}

int cleanup_sender(cleanup *c, const char *sender)
{
    if (c->state != CLEANUP_ENVELOPE || c->sender != NULL)
        return -1;
    c->sender = canonical_address(sender);
    return envelope_result(c, queue_writer_sender(c->qw, c->sender));
}

int cleanup_recipient(cleanup *c, const char *rcpt, const char *orig, int notify,
                      const char *dsn_orcpt)
{
    if (c->state != CLEANUP_ENVELOPE)
        return -1;
    char *canon = canonical_address(rcpt);
    /* virtual_alias_maps: one record per final address, orig kept (cleanup_alias.h) */
    int rc = cleanup_alias_write_recipient(c->qw, canon, orig ? orig : rcpt, notify, dsn_orcpt,
                                           &c->status);
    free(canon);
    if (envelope_result(c, rc) < 0)
        return -1;
    c->nrcpt++;
    return 0;
}

void cleanup_extract_recipients(cleanup *c, int on)
{
    c->extract = on != 0;
}

long cleanup_size(const cleanup *c)
{
    return c->size;
}

static void write_line(cleanup *c, const char *line, size_t len)
{
    if (c->status == 0 && queue_writer_line(c->qw, line, len) < 0)
        c->status |= CLEANUP_STAT_WRITE;
}

static void start_content(cleanup *c)
{
    if (c->state != CLEANUP_ENVELOPE)
        return;
    if (queue_writer_content_start(c->qw) < 0)
        c->status |= CLEANUP_STAT_WRITE;
    c->state = CLEANUP_HEADERS;
}

/* ---- the header section ---- */

static const char *buffered_line(const cleanup *c, size_t i, size_t *len)
{
    size_t start = i == 0 ? 0 : c->line_end[i - 1];
    *len = c->line_end[i] - start;
    return c->headers.data + start;
}

/* Buffers a header line; -1 when it would outgrow the section limit. */
static int buffer_header_line(cleanup *c, const char *line, size_t len)
{
    /* Each buffered line counts with its newline, as it will in the message. */
    if (c->headers.len + c->nlines + len + 1 > c->section_limit)
        return -1;
    if (strbuf_append(&c->headers, line, len) < 0)
        return -1;
    if (c->nlines == c->lines_cap) {
        c->lines_cap = c->lines_cap ? c->lines_cap * 2 : 32;
        c->line_end = xrealloc(c->line_end, c->lines_cap * sizeof(*c->line_end));
    }
    c->line_end[c->nlines++] = c->headers.len;
    return 0;
}

/* The value of the field in lines [first, end), unfolded, into out. */
static void field_value(const cleanup *c, size_t first, size_t end, strbuf *out)
{
    size_t len;
    const char *line = buffered_line(c, first, &len);
    size_t off = header_value_offset(line, len);
    strbuf_append(out, line + off, len - off);
    for (size_t i = first + 1; i < end; i++) {
        line = buffered_line(c, i, &len);
        strbuf_append(out, line, len);
    }
}

static int add_extracted(const char *addr, void *ctx)
{
    cleanup *c = ctx;
    if (c->nextracted >= EXTRACT_RECIPIENT_LIMIT)
        return 1;
    c->extracted = xrealloc(c->extracted, (c->nextracted + 1) * sizeof(*c->extracted));
    c->extracted[c->nextracted++] = xstrdup(addr);
    return 0;
}

static void remember_message_id(cleanup *c, const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len > LOGGED_MESSAGE_ID_MAX)
        len = LOGGED_MESSAGE_ID_MAX;
    strbuf_reset(&c->message_id);
    for (size_t i = 0; i < len; i++) { /* hostile text goes into a log line */
        unsigned char ch = (unsigned char)value[i];
        strbuf_append_char(&c->message_id, ch < ' ' || ch == 0x7f ? '?' : (char)ch);
    }
}

/* Whether the field's name is one of message_drop_headers (names separated by commas or
 * blanks; Postfix's default: bcc, content-length, resent-bcc, return-path). */
static int dropped_by_setting(const char *line, size_t len)
{
    size_t name_len = header_name_length(line, len);
    const char *p = mail_params_current()->message_drop_headers;
    while (name_len > 0 && *p) {
        p += strspn(p, ", \t\r\n");
        size_t n = strcspn(p, ", \t\r\n");
        if (n == name_len && strncasecmp(p, line, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

/* Examines one logical header field (lines [first, end)) and writes it unless it is dropped. */
static void handle_field(cleanup *c, size_t first, size_t end)
{
    size_t len;
    const char *line = buffered_line(c, first, &len);
    int is_address_field = 0, drop = 0;
    if (header_name_is(line, len, "Received") || header_name_is(line, len, "Delivered-To")) {
        c->hops++;
    } else if (header_name_is(line, len, "Message-ID")) {
        if (!(c->seen & SEEN_MESSAGE_ID)) {
            strbuf value;
            strbuf_init(&value, 0);
            field_value(c, first, end, &value);
            remember_message_id(c, value.data);
            strbuf_free(&value);
        }
        c->seen |= SEEN_MESSAGE_ID;
    } else if (header_name_is(line, len, "Date")) {
        c->seen |= SEEN_DATE;
    } else if (header_name_is(line, len, "From")) {
        c->seen |= SEEN_FROM;
    } else if (header_name_is(line, len, "To")) {
        c->seen |= SEEN_TO;
        is_address_field = 1;
    } else if (header_name_is(line, len, "Cc")) {
        c->seen |= SEEN_CC;
        is_address_field = 1;
    } else if (header_name_is(line, len, "Bcc")) {
        c->seen |= SEEN_BCC;
        is_address_field = 1; /* read by sendmail -t before message_drop_headers drops it */
    }
    drop = dropped_by_setting(line, len);
    if (is_address_field && c->extract) {
        strbuf value;
        strbuf_init(&value, 0);
        field_value(c, first, end, &value);
        header_addr_each(value.data, value.len, EXTRACT_RECIPIENT_LIMIT, add_extracted, c);
        strbuf_free(&value);
    }
    for (size_t i = first; i < end && !drop; i++) {
        line = buffered_line(c, i, &len);
        write_line(c, line, len);
    }
}

static void add_header(cleanup *c, const char *text)
{
    write_line(c, text, strlen(text));
}

static void add_missing_headers(cleanup *c)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    strbuf line;
    strbuf_init(&line, 0);
    if (!(c->seen & SEEN_MESSAGE_ID)) {
        struct tm utc;
        char stamp[32]; /* 14 digits for years up to 9999 */
        gmtime_r(&now.tv_sec, &utc);
        if (strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &utc) == 0)
            stamp[0] = '\0';
        strbuf_printf(&line, "<%s.%s@%s>", stamp, queue_writer_id(c->qw),
                      mail_params_current()->myhostname);
        remember_message_id(c, line.data);
        strbuf_reset(&line);
        strbuf_printf(&line, "Message-ID: %s", c->message_id.data);
        add_header(c, line.data);
        c->seen |= SEEN_MESSAGE_ID;
    }
    if (!(c->seen & SEEN_DATE)) {
        strbuf_reset(&line);
        strbuf_append_str(&line, "Date: ");
        mail_date_append(&line, now.tv_sec);
        add_header(c, line.data);
    }
    if (!(c->seen & SEEN_FROM)) {
        strbuf_reset(&line);
        strbuf_printf(&line, "From: %s", c->sender && c->sender[0] ? c->sender : "MAILER-DAEMON");
        add_header(c, line.data);
    }
    strbuf_free(&line);
}

/* Ends the header section: examine and write it, add what is missing, log the message-id. */
static void finish_headers(cleanup *c)
{
    size_t first = 0;
    for (size_t i = 1; i <= c->nlines; i++) {
        size_t len;
        if (i < c->nlines) {
            const char *line = buffered_line(c, i, &len);
            if (header_is_continuation(line, len))
                continue;
        }
        handle_field(c, first, i);
        first = i;
    }
    if (c->hops >= c->hop_limit)
        c->status |= CLEANUP_STAT_HOPS;
    if (c->local_context || mail_params_current()->always_add_missing_headers)
        add_missing_headers(c);
    log_info_as("cleanup", "%s: message-id=%s", queue_writer_id(c->qw),
                c->message_id.len ? c->message_id.data : "<>");
    strbuf_free(&c->headers);
    strbuf_init(&c->headers, 1);
    c->nlines = 0;
    c->state = CLEANUP_BODY;
}

/* A line of the header section, cut where its field reaches header_size_limit; -1 when the line
 * is no header line or the section is full (the body starts with it). */
static int take_header_line(cleanup *c, const char *line, size_t len)
{
    int starts = header_name_length(line, len) > 0;
    if (!starts && !(c->nlines > 0 && header_is_continuation(line, len)))
        return -1;
    if (starts) {
        c->field_len = 0;
        c->field_cut = 0;
    }
    if (c->field_cut)
        return 0; /* more of a field that was cut */
    size_t keep = len;
    if (c->field_len + len + 1 > c->header_limit) {
        keep = c->header_limit > c->field_len + 1 ? c->header_limit - c->field_len - 1 : 0;
        c->field_cut = 1;
        if (keep == 0 && !starts)
            return 0;
    }
    if (buffer_header_line(c, line, keep) < 0) {
        c->field_cut = 0;
        return -1;
    }
    c->field_len += keep + 1;
    return 0;
}

int cleanup_line(cleanup *c, const char *line, size_t len)
{
    c->size += (long)len + 1;
    if (c->size_limit > 0 && c->size > c->size_limit)
        c->status |= CLEANUP_STAT_SIZE;
    if (c->status != 0)
        return c->status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_BAD) ? -1 : 0;
    start_content(c);
    if (c->state == CLEANUP_HEADERS) {
        if (take_header_line(c, line, len) == 0)
            return 0;
        finish_headers(c);
    }
    write_line(c, line, len);
    return c->status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_BAD) ? -1 : 0;
}

/* Counts len content bytes (and a newline when the line ends) against message_size_limit. */
static void account_size(cleanup *c, size_t len, int line_ends)
{
    c->size += (long)len + (line_ends ? 1 : 0);
    if (c->size_limit > 0 && c->size > c->size_limit)
        c->status |= CLEANUP_STAT_SIZE;
}

static void write_piece(cleanup *c, const char *data, size_t len, int partial)
{
    account_size(c, len, !partial);
    if (c->status == 0 && queue_writer_line_part(c->qw, data, len, partial) < 0)
        c->status |= CLEANUP_STAT_WRITE;
}

/* Whether the line that starts with pending and goes on with data is a header line. */
static int is_header_start(const cleanup *c, const char *pending, size_t plen, const char *data,
                           size_t len)
{
    strbuf head; /* the whole line so far: a long header name is judged as a short one */
    strbuf_init(&head, 0);
    strbuf_append(&head, pending, plen);
    strbuf_append(&head, data, len);
    int yes = header_name_length(head.data, head.len) > 0 ||
              (c->nlines > 0 && header_is_continuation(head.data, head.len));
    strbuf_free(&head);
    return yes;
}

/* A header line gathered in pending goes on to cleanup_line once its last piece is in. */
static int pending_line_done(cleanup *c, int partial)
{
    if (partial)
        return 0;
    c->pending_cut = 0;
    int rc = cleanup_line(c, c->pending.data, c->pending.len);
    strbuf_reset(&c->pending);
    return rc;
}

int cleanup_line_part(cleanup *c, const char *data, size_t len, int partial)
{
    if (!partial && !c->in_partial)
        return cleanup_line(c, data, len);
    c->in_partial = partial;
    if (c->state != CLEANUP_BODY) {
        /* In the header section a line is only judged whole: gather its pieces, up to what
         * one header field may hold. */
        if (c->pending_cut || c->pending.len + len <= c->header_limit) {
            if (c->pending_cut)
                account_size(c, len, 0); /* the cut part still counts for the size limit */
            else
                strbuf_append(&c->pending, data, len);
            return pending_line_done(c, partial);
        }
        if (is_header_start(c, c->pending.data, c->pending.len, data, len)) {
            /* A header line longer than header_size_limit: keep its head, drop the rest. */
            size_t room = c->header_limit - c->pending.len;
            strbuf_append(&c->pending, data, room);
            account_size(c, len - room, 0);
            c->pending_cut = 1;
            return pending_line_done(c, partial);
        }
        /* Longer than any header may be and no header: the body starts with this line. */
        start_content(c);
        finish_headers(c);
        write_piece(c, c->pending.data, c->pending.len, 1);
        strbuf_reset(&c->pending);
    }
    write_piece(c, data, len, partial);
    return c->status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_BAD) ? -1 : 0;
}

static void write_extracted(cleanup *c)
{
    if (c->nextracted == 0 || c->status != 0)
        return;
    if (queue_writer_extracted_start(c->qw) < 0) {
        c->status |= CLEANUP_STAT_WRITE;
        return;
    }
    for (size_t i = 0; i < c->nextracted; i++) {
        char *canon = canonical_address(c->extracted[i]);
        int rc = cleanup_alias_write_recipient(c->qw, canon, c->extracted[i], 0, NULL, &c->status);
        free(canon);
        if (rc < 0) {
            c->status |= CLEANUP_STAT_WRITE;
            return;
        }
    }
}

int cleanup_close_prepare(cleanup *c)
{
    if (c->status == 0 && c->state != CLEANUP_BODY) {
        start_content(c);
        finish_headers(c);
    }
    write_extracted(c);
    if (c->status == 0 && c->nrcpt + (long)c->nextracted == 0)
        c->status |= CLEANUP_STAT_RCPT;
    int status = c->status;
    if (status != 0) {
        queue_writer_abort(c->qw);
    } else {
        strbuf err;
        strbuf_init(&err, 0);
        memcpy(c->id, queue_writer_id(c->qw), sizeof(c->id)); /* both QUEUE_ID_MAX */
        if (queue_writer_commit_prepare(c->qw, &err) < 0) {
            log_warning("%s: %s", c->id, err.data);
            status = CLEANUP_STAT_WRITE;
        }
        strbuf_free(&err);
    }
    if (status != 0) {
        c->qw = NULL;
        cleanup_free(c);
    }
    return status;
}

int cleanup_sync_fd(const cleanup *c)
{
    return queue_writer_fd(c->qw);
}

const char *cleanup_sync_dir(const cleanup *c)
{
    return queue_writer_dir(c->qw);
}

int cleanup_close_finish(cleanup *c, int sync_errno)
{
    int status = CLEANUP_STAT_OK;
    strbuf err;
    strbuf_init(&err, 0);
    if (queue_writer_commit_finish(c->qw, sync_errno, &err) < 0) {
        log_warning("%s: %s", c->id, err.data);
        status = CLEANUP_STAT_WRITE;
    }
    strbuf_free(&err);
    c->qw = NULL;
    cleanup_free(c);
    return status;
}

int cleanup_close(cleanup *c)
{
    int status = cleanup_close_prepare(c);
    if (status != CLEANUP_STAT_OK)
        return status;
    int sync_errno = 0;
    if (fsync(cleanup_sync_fd(c)) < 0 || fsync_dir(cleanup_sync_dir(c)) < 0)
        sync_errno = errno;
    return cleanup_close_finish(c, sync_errno);
}

void cleanup_abort(cleanup *c)
{
    if (c == NULL)
        return;
    queue_writer_abort(c->qw);
    cleanup_free(c);
}

const char *cleanup_status_reply(int status)
{
    static const struct {
        int bit;
        const char *reply;
    } replies[] = {
        {CLEANUP_STAT_BAD, "451 4.3.0 Error: internal error"},
        {CLEANUP_STAT_WRITE, "451 4.3.0 Error: queue file write error"},
        {CLEANUP_STAT_SIZE, "552 5.3.4 Error: message file too big"},
        {CLEANUP_STAT_CONT, "550 5.7.1 message content rejected"},
        {CLEANUP_STAT_HOPS, "554 5.4.0 Error: too many hops"},
        {CLEANUP_STAT_RCPT, "554 5.5.1 Error: no valid recipients"},
        {CLEANUP_STAT_DEFER, "451 4.6.0 Alias expansion error"},
    };
    for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
        if (status & replies[i].bit)
            return replies[i].reply;
    return status == 0 ? "250 2.0.0 Ok" : "451 4.3.0 Error: internal error";
}

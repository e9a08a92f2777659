/* deliver_request.c: encoding, decoding and logging of delivery requests (see the header). */
#include "deliver/deliver_request.h"
#include "global/mail_date.h"
#include "global/mail_params.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void deliver_request_init(deliver_request *req)
{
    memset(req, 0, sizeof(*req));
}

void deliver_request_free(deliver_request *req)
{
    free(req->queue_name);
    free(req->queue_id);
    free(req->sender);
    free(req->nexthop);
    for (size_t i = 0; i < req->nrcpt; i++) {
        free(req->rcpts[i].address);
        free(req->rcpts[i].orig);
        free(req->rcpts[i].orcpt);
        free(req->rcpts[i].reason);
        free(req->rcpts[i].diag);
        free(req->rcpts[i].mta);
    }
    free(req->rcpts);
    memset(req, 0, sizeof(*req));
}

void deliver_request_set(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value ? value : "");
}

deliver_rcpt *deliver_request_add_rcpt(deliver_request *req, const char *address,
                                       const char *orig, const char *orcpt, long offset,
                                       int notify)
{
    if (req->nrcpt == req->cap) {
        req->cap = req->cap ? req->cap * 2 : 8;
        req->rcpts = xrealloc(req->rcpts, req->cap * sizeof(*req->rcpts));
    }
    deliver_rcpt *r = &req->rcpts[req->nrcpt++];
    memset(r, 0, sizeof(*r));
    r->address = xstrdup(address ? address : "");
    r->orig = xstrdup(orig && *orig ? orig : r->address);
    r->orcpt = xstrdup(orcpt ? orcpt : "");
    r->offset = offset;
    r->notify = notify;
    return r;
}

static void put_time(strbuf *out, const char *name, double t)
{
    strbuf text; /* "%.6f" of any double: no fixed size is right */
    strbuf_init(&text, 0);
    strbuf_printf(&text, "%.6f", t);
    attr_put(out, name, text.data);
    strbuf_free(&text);
}

void deliver_request_encode(const deliver_request *req, strbuf *out)
{
    attr_put(out, "request", "deliver");
    attr_put(out, "queue_name", req->queue_name);
    attr_put(out, "queue_id", req->queue_id);
    attr_put(out, "sender", req->sender);
    attr_put(out, "nexthop", req->nexthop);
    put_time(out, "arrival", req->arrival);
    put_time(out, "active_time", req->active_time);
    put_time(out, "request_time", req->request_time);
    attr_put_long(out, "message_size", req->message_size);
    attr_put_long(out, "rcpt_count", (long)req->nrcpt);
    for (size_t i = 0; i < req->nrcpt; i++) {
        const deliver_rcpt *r = &req->rcpts[i];
        attr_put(out, "rcpt", r->address);
        attr_put(out, "rcpt_orig", r->orig);
        attr_put_long(out, "rcpt_offset", r->offset);
        attr_put_long(out, "rcpt_notify", r->notify);
        attr_put(out, "rcpt_orcpt", r->orcpt);
    }
    attr_end(out);
}

static int parse_long(const char *text, long *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_time(const char *text, double *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end;
    double v = strtod(text, &end);
    if (*end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Queue names and ids become path components on the agent side: allow only safe characters. */
static int safe_component(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int deliver_request_decode(const attr_record *rec, deliver_request *req, strbuf *err)
{
    deliver_request_free(req);
    const char *kind = attr_get(rec, "request");
    if (kind == NULL || strcmp(kind, "deliver") != 0) {
        strbuf_printf(err, "not a delivery request");
        return -1;
    }
    const char *qn = attr_get(rec, "queue_name"), *qid = attr_get(rec, "queue_id");
    if (!safe_component(qn) || !safe_component(qid)) {
        strbuf_printf(err, "bad queue name or id");
        return -1;
    }
    deliver_request_set(&req->queue_name, qn);
    deliver_request_set(&req->queue_id, qid);
    deliver_request_set(&req->sender, attr_get(rec, "sender"));
    deliver_request_set(&req->nexthop, attr_get(rec, "nexthop"));
    long count = -1;
    if (parse_time(attr_get(rec, "arrival"), &req->arrival) < 0 ||
        parse_time(attr_get(rec, "active_time"), &req->active_time) < 0 ||
        parse_time(attr_get(rec, "request_time"), &req->request_time) < 0 ||
        parse_long(attr_get(rec, "message_size"), &req->message_size) < 0 ||
        parse_long(attr_get(rec, "rcpt_count"), &count) < 0 || count < 1 ||
        count > DELIVER_RCPT_MAX) {
        strbuf_printf(err, "missing or malformed request attributes");
        return -1;
    }
    deliver_rcpt *cur = NULL;
    for (size_t i = 0; i < rec->count; i++) {
        const attr_item *it = &rec->items[i];
        if (strcmp(it->name, "rcpt") == 0) {
            if (req->nrcpt >= (size_t)count) {
                strbuf_printf(err, "more recipients than rcpt_count");
                return -1;
            }
            cur = deliver_request_add_rcpt(req, it->value, NULL, NULL, 0, 0);
        } else if (strncmp(it->name, "rcpt_", 5) == 0 && strcmp(it->name, "rcpt_count") != 0) {
            if (cur == NULL) {
                strbuf_printf(err, "recipient attribute before rcpt");
                return -1;
            }
            long v;
            if (strcmp(it->name, "rcpt_orig") == 0) {
                deliver_request_set(&cur->orig, *it->value ? it->value : cur->address);
            } else if (strcmp(it->name, "rcpt_orcpt") == 0) {
                deliver_request_set(&cur->orcpt, it->value);
            } else if (strcmp(it->name, "rcpt_offset") == 0 && parse_long(it->value, &v) == 0) {
                cur->offset = v;
            } else if (strcmp(it->name, "rcpt_notify") == 0 && parse_long(it->value, &v) == 0) {
                cur->notify = (int)v;
            } else {
                strbuf_printf(err, "bad recipient attribute %s", it->name);
                return -1;
            }
        }
    }
    if (req->nrcpt != (size_t)count) {
        strbuf_printf(err, "rcpt_count mismatch");
        return -1;
    }
    return 0;
}

void deliver_reply_encode(const deliver_request *req, strbuf *out)
{
    attr_put(out, "status", "0");
    attr_put_long(out, "rcpt_count", (long)req->nrcpt);
    for (size_t i = 0; i < req->nrcpt; i++) {
        const deliver_rcpt *r = &req->rcpts[i];
        attr_put(out, "rcpt_dsn", r->dsn[0] ? r->dsn : "4.3.0");
        attr_put(out, "rcpt_reason", r->reason ? r->reason : "delivery status unknown");
        if (r->diag && r->diag[0])
            attr_put(out, "rcpt_diag", r->diag);
        if (r->mta && r->mta[0])
            attr_put(out, "rcpt_mta", r->mta);
    }
    attr_end(out);
}

int deliver_reply_decode(const attr_record *rec, deliver_request *req, strbuf *err)
{
    long count = -1;
    if (parse_long(attr_get(rec, "rcpt_count"), &count) < 0 || count != (long)req->nrcpt) {
        strbuf_printf(err, "reply recipient count does not match the request");
        return -1;
    }
    size_t n_dsn = 0, n_reason = 0;
    for (size_t i = 0; i < rec->count; i++) {
        const attr_item *it = &rec->items[i];
        if (strcmp(it->name, "rcpt_dsn") == 0) {
            if (n_dsn >= req->nrcpt || dsn_class(it->value) == 0) {
                strbuf_printf(err, "bad rcpt_dsn in reply");
                return -1;
            }
            dsn_set(req->rcpts[n_dsn++].dsn, DSN_MAX, it->value);
        } else if (strcmp(it->name, "rcpt_reason") == 0) {
            if (n_reason >= req->nrcpt) {
                strbuf_printf(err, "too many rcpt_reason in reply");
                return -1;
            }
            deliver_request_set(&req->rcpts[n_reason++].reason, it->value);
        } else if (strcmp(it->name, "rcpt_diag") == 0 || strcmp(it->name, "rcpt_mta") == 0) {
            if (n_dsn == 0) {
                strbuf_printf(err, "%s before rcpt_dsn in reply", it->name);
                return -1;
            }
            deliver_rcpt *r = &req->rcpts[n_dsn - 1];
            deliver_request_set(it->name[5] == 'd' ? &r->diag : &r->mta, it->value);
        }
    }
    if (n_dsn != req->nrcpt) {
        strbuf_printf(err, "reply lacks recipient status");
        return -1;
    }
    return 0;
}

int dsn_class(const char *dsn)
{
    if (dsn == NULL || (dsn[0] != '2' && dsn[0] != '4' && dsn[0] != '5') || dsn[1] != '.')
        return 0;
    const char *p = dsn + 2;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        p++;
        digits++;
    }
    if (digits == 0 || *p != '.')
        return 0;
    p++;
    digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        p++;
        digits++;
    }
    if (digits == 0 || *p != '\0')
        return 0;
    return dsn[0] - '0';
}

_Static_assert(DSN_MAX > DSN_CODE_MAX, "a well-formed status fits DSN_MAX");

void dsn_set(char *dsn, size_t size, const char *code)
{
    if (dsn_class(code) == 0 || fixed_copy(dsn, size, code) < 0) {
        if (fixed_copy(dsn, size, "4.3.0") < 0)
            log_fatal("dsn_set: a %zu-byte status buffer", size);
    }
}

void deliver_status(const char *dsn, char out[DSN_MAX])
{
    const char *valid = dsn_class(dsn) && strlen(dsn) < DSN_MAX ? dsn : "4.3.0";
    memcpy(out, valid, strlen(valid) + 1);
    if (out[0] == '5' && mail_params_current()->soft_bounce)
        out[0] = '4';
}

void deliver_set_result(deliver_rcpt *rcpt, const char *dsn, const char *fmt, ...)
{
    deliver_status(dsn, rcpt->dsn);
    va_list ap;
    va_start(ap, fmt);
    free(rcpt->reason);
    rcpt->reason = strbuf_vformat(0, fmt, ap); /* never "" for a long reason */
    va_end(ap);
}

/* "%.0f" of a delay under DELAY_SHOWN_MAX seconds has at most 30 digits: it fits
 * DELIVER_DELAY_TEXT. Larger values come from a broken clock or queue file, not a real wait. */
#define DELAY_SHOWN_MAX 1e30

void deliver_format_delay(double seconds, char *buf, size_t len)
{
    int rc;
    if (seconds < 0.005)
        rc = fixed_copy(buf, len, "0");
    else if (!(seconds < DELAY_SHOWN_MAX))
        rc = fixed_copy(buf, len, "?");
    else
        rc = fixed_printf(buf, len, seconds >= 100 ? "%.0f" : seconds >= 10 ? "%.1f" : "%.2f",
                          seconds);
    if (rc < 0) { /* only a buffer shorter than DELIVER_DELAY_TEXT */
        log_warning("deliver_format_delay: %zu-byte buffer too short", len);
        return;
    }
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
}

void deliver_log(const deliver_request *req, const char *to, const char *orig, const char *relay,
                 const char *dsn, const char *reason)
{
    double now = mail_time_now();
    double received = req->receive_time > 0 ? req->receive_time : now;
    double parts[4] = {req->active_time - req->arrival, received - req->active_time, 0,
                       now - received};
    char total[DELIVER_DELAY_TEXT], d[4][DELIVER_DELAY_TEXT];
    deliver_format_delay(now - req->arrival, total, sizeof(total));
    for (int i = 0; i < 4; i++)
        deliver_format_delay(parts[i] > 0 ? parts[i] : 0, d[i], sizeof(d[i]));
    int cls = dsn_class(dsn);
    const char *status = cls == 2 ? "sent" : cls == 5 ? "bounced" : "deferred";
    strbuf origpart;
    strbuf_init(&origpart, 0);
    if (orig && *orig && strcmp(orig, to) != 0)
        strbuf_printf(&origpart, ", orig_to=<%s>", orig);
    log_info("%s: to=<%s>%s, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
             req->queue_id, to, origpart.data, relay, total, d[0], d[1], d[2], d[3], dsn, status,
             reason);
    strbuf_free(&origpart);
}

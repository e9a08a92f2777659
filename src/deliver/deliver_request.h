/*
 * deliver_request.h: the protocol between the queue manager and the delivery agents.
 *
 * The queue manager connects to queue_directory/private/<transport> (a SOCK_STREAM UNIX socket
 * the master listens on; the master starts an agent when all are busy). Every message is an
 * attr.h record: "name=value" lines ended by an empty line, values escaped.
 *
 *   agent -> qmgr, once after accept:     protocol=postern-deliver-1
 *   qmgr -> agent, a delivery request:    request=deliver
 *                                          queue_name=active          queue_id=9DF7520804A
 *                                          sender=a@example.com       nexthop=mx.example.test
 *                                          arrival=1700000000.123456  (seconds.microseconds)
 *                                          active_time=...             (entered the active queue)
 *                                          request_time=...            (request sent)
 *                                          message_size=1234          rcpt_count=N
 *                                          then per recipient, in order, starting with rcpt=:
 *                                          rcpt=addr  rcpt_orig=addr  rcpt_offset=N
 *                                          rcpt_notify=N  rcpt_orcpt=rfc822;addr (may be empty)
 *   agent -> qmgr, the reply:             status=0  rcpt_count=N
 *                                          then per recipient, in request order:
 *                                          rcpt_dsn=2.0.0|4.x.x|5.x.x  rcpt_reason=text
 *                                          optional, after the rcpt_dsn they belong to:
 *                                          rcpt_diag=smtp; 550 5.1.1 ... (RFC 3464 type; text)
 *                                          rcpt_mta=dns; mx.example.com (the remote MTA)
 *                                          (a reply without them is valid; the queue manager
 *                                          then derives the DSN fields from rcpt_reason)
 * The connection then carries the next request, or is closed by the queue manager. The agent
 * reads the message itself from queue_directory/queue_name/queue_id (queue_file.h) and logs the
 * Postfix delivery line ("ID: to=<...>, relay=local, delay=..., dsn=..., status=sent (...)")
 * for each recipient; the queue manager only records the outcome in the queue file.
 */
#ifndef POSTERN_DELIVER_REQUEST_H
#define POSTERN_DELIVER_REQUEST_H

#include "lib/attr.h"
#include "lib/strbuf.h"

#include <stddef.h>

#define DELIVER_PROTOCOL "postern-deliver-1"
#define DELIVER_RECORD_LIMIT (16u * 1024 * 1024)
#define DELIVER_RCPT_MAX 100000
#define DSN_MAX 16

typedef struct deliver_rcpt {
    char *address;
    char *orig;
    char *orcpt; /* DSN ORCPT or "" */
    long offset; /* of the recipient record in the queue file */
    int notify;
    /* result: dsn[0] == '\0' while pending */
    char dsn[DSN_MAX];
    char *reason;
    char *diag; /* optional Diagnostic-Code "type; text", NULL when unknown */
    char *mta;  /* optional Remote-MTA "dns; host", NULL when unknown */
} deliver_rcpt;

typedef struct deliver_request {
    char *queue_name;
    char *queue_id;
    char *sender;
    char *nexthop;
    double arrival;      /* seconds since the epoch */
    double active_time;  /* when the message entered the active queue */
    double request_time; /* when the queue manager sent this request */
    double receive_time; /* when the agent read it (agent side only) */
    long message_size;
    deliver_rcpt *rcpts;
    size_t nrcpt;
    size_t cap;
} deliver_request;

void deliver_request_init(deliver_request *req);
void deliver_request_free(deliver_request *req);
void deliver_request_set(char **field, const char *value);
deliver_rcpt *deliver_request_add_rcpt(deliver_request *req, const char *address,
                                       const char *orig, const char *orcpt, long offset,
                                       int notify);

void deliver_request_encode(const deliver_request *req, strbuf *out);
/* 0, or -1 with a reason in err (missing or malformed attributes). */
int deliver_request_decode(const attr_record *rec, deliver_request *req, strbuf *err);
void deliver_reply_encode(const deliver_request *req, strbuf *out);
/* Fills each recipient's dsn and reason. 0, or -1 with err. */
int deliver_reply_decode(const attr_record *rec, deliver_request *req, strbuf *err);

/* Records a result; with soft_bounce = yes a 5.x.x becomes 4.x.x, as Postfix does. */
/* The DSN status a result gets: dsn when well-formed, else 4.3.0; 5.x.x becomes 4.x.x under
 * soft_bounce. */
void deliver_status(const char *dsn, char out[DSN_MAX]);
void deliver_set_result(deliver_rcpt *rcpt, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 2, 4 or 5 for a "c.x.x" DSN status, 0 when malformed. A well-formed status has at most
 * DSN_CODE_MAX bytes (one class digit, two fields of 1..4 digits), so it always fits DSN_MAX. */
#define DSN_CODE_MAX 11
int dsn_class(const char *dsn);
/* Sets dsn (size bytes, at least DSN_MAX) to code when code is a well-formed status, else to
 * "4.3.0": a status is never cut. */
void dsn_set(char *dsn, size_t size, const char *code);
/* Formats a delay as Postfix does ("0.12", "3", "0") into len >= DELIVER_DELAY_TEXT bytes; "?"
 * for a value no clock gives (1e30 s or more, or not a number). */
#define DELIVER_DELAY_TEXT 32
void deliver_format_delay(double seconds, char *buf, size_t len);
/* Logs "ID: to=<to>, orig_to=<orig>, relay=R, delay=..., delays=a/b/c/d, dsn=..., status=...
 * (reason)" for rcpt's result. to may differ from rcpt->address (alias expansion); orig_to is
 * shown only when it differs from to. */
void deliver_log(const deliver_request *req, const char *to, const char *orig, const char *relay,
                 const char *dsn, const char *reason);

#endif

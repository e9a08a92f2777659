/*
 * queue_file.h: the record-based queue file, written once and read many times.
 *
 * Format (docs/queue-format.md has the full description): a sequence of records, each one type
 * byte, a length in 7-bit groups (low group first, high bit = more follows) and that many data
 * bytes. Envelope records come first (size, times, attributes, sender, recipients), then the
 * message content (one record per line, 'N' for a complete line, 'L' for a piece of a line longer
 * than the record limit), then an extracted section (recipients found in headers by sendmail -t)
 * and an end record. A complete file has its owner-execute bit set, as Postfix does: a file
 * without it is still being written (or was abandoned by a crash) and is never delivered.
 *
 * Delivery state lives in the file: when a recipient is done, its 'R' record's type byte is
 * overwritten with 'D' (queue_file_mark_done), so a crash never re-delivers what was delivered.
 */
#ifndef POSTERN_QUEUE_FILE_H
#define POSTERN_QUEUE_FILE_H

#include "lib/strbuf.h"
#include "lib/strmap.h"

#include <stddef.h>
#include <time.h>

/* Record types. */
#define REC_SIZE 'C'       /* "%15ld %15ld %15ld %15ld": size, content offset, rcpt count, flags */

/* Bits of the size record's flags field, set in place by the queue manager. */
#define QUEUE_FLAG_DELAY_WARNED 1 /* the delay_warning_time notice was sent */
#define REC_TIME 'T'       /* arrival "sec usec" */
#define REC_CREATE 'F'     /* creation time "sec" */
#define REC_ATTR 'A'       /* named attribute "name=value" */
#define REC_SENDER 'S'     /* envelope sender ("" = null sender) */
#define REC_ORCPT 'O'      /* original recipient of the next 'R' */
#define REC_DSN_NOTIFY 'n' /* DSN NOTIFY bits of the next 'R' (decimal) */
#define REC_DSN_ORCPT 'o'  /* DSN ORCPT of the next 'R' ("rfc822;addr") */
#define REC_RCPT 'R'       /* recipient, not yet done */
#define REC_DONE 'D'       /* recipient, done (delivered or bounced): was 'R' */
#define REC_MESSAGE 'M'    /* start of content */
#define REC_NORM 'N'       /* content line, complete */
#define REC_CONT 'L'       /* content line piece, continued by the next record */
#define REC_XTRA 'X'       /* start of extracted section */
#define REC_END 'E'        /* end of file */

#define REC_DATA_LIMIT 4096            /* longer content lines are split into 'L' records */
#define REC_ENVELOPE_LIMIT (64 * 1024) /* longest envelope record a reader accepts */
#define QUEUE_ID_MAX 32

/* DSN NOTIFY bits (RFC 3461). */
#define DSN_NOTIFY_NEVER 1
#define DSN_NOTIFY_SUCCESS 2
#define DSN_NOTIFY_FAILURE 4
#define DSN_NOTIFY_DELAY 8

/* ---- writing ---- */

typedef struct queue_writer queue_writer;

/* Creates a new file in queue_dir/queue_name ("incoming" or "maildrop") with a fresh queue id
 * (Postfix's short form: 5 hex digits of microseconds + inode number in hex): a nameless file
 * (O_TMPFILE) linked under its id, else a named temporary file renamed to it. */
queue_writer *queue_writer_create(const char *queue_dir, const char *queue_name, strbuf *err);
/* The same with an empty file of queue_dir/queue_name's file system, open read-write as fd (a
 * spare, queue_sync.h): a nameless one (O_TMPFILE, name NULL or "") is linked under its queue
 * id, a named one (a recycled file, queue_recycle.h) renamed to it. The writer owns fd; on
 * failure fd is closed and a named file removed (a nameless one needs /proc/self/fd, else it
 * fails: use create). */
queue_writer *queue_writer_adopt(const char *queue_dir, const char *queue_name, int fd,
                                 const char *name, strbuf *err);
const char *queue_writer_id(const queue_writer *qw);
const char *queue_writer_path(const queue_writer *qw);
int queue_writer_attr(queue_writer *qw, const char *name, const char *value);
int queue_writer_sender(queue_writer *qw, const char *sender);
/* orig may be NULL (= rcpt); dsn_orcpt may be NULL; notify 0 = not specified. */
int queue_writer_recipient(queue_writer *qw, const char *rcpt, const char *orig, int notify,
                           const char *dsn_orcpt);
/* Starts the content section; envelope calls are not allowed after it. */
int queue_writer_content_start(queue_writer *qw);
/* One content line without its line terminator; long lines are split into 'L' records. */
int queue_writer_line(queue_writer *qw, const char *line, size_t len);
/* A piece of a content line: partial = 1 when the line continues in the next call (written as
 * 'L' records), 0 for its last piece (same as queue_writer_line). */
int queue_writer_line_part(queue_writer *qw, const char *data, size_t len, int partial);
/* Starts the extracted section (recipients after content, as sendmail -t finds them). */
int queue_writer_extracted_start(queue_writer *qw);
/* Bytes of content written so far (lines plus one newline each). */
long queue_writer_content_size(const queue_writer *qw);
/* Writes the end record and the final size record, fsyncs the file, marks it complete and
 * fsyncs the directory. After 0 the message is on stable storage. The writer is freed. */
int queue_writer_commit(queue_writer *qw, strbuf *err);
/* The same commit in steps, for callers that run the fsyncs elsewhere (smtpd's worker
 * threads, queue_sync.h): prepare writes the end record and the size record, flushes and marks
 * the file complete; nothing is durable yet. The caller then fsyncs queue_writer_fd() and the
 * directory queue_writer_dir() and calls queue_writer_commit_finish() with 0, or with the errno
 * of a failed fsync (the file is then removed). prepare returns 0, or -1 with the writer freed
 * and the file removed; finish returns 0 or -1 and always frees the writer. */
int queue_writer_commit_prepare(queue_writer *qw, strbuf *err);
int queue_writer_fd(const queue_writer *qw);
const char *queue_writer_dir(const queue_writer *qw);
int queue_writer_commit_finish(queue_writer *qw, int sync_errno, strbuf *err);
/* Removes the unfinished file and frees the writer. */
void queue_writer_abort(queue_writer *qw);

/* ---- reading ---- */

typedef struct queue_rcpt {
    char *address;   /* recipient as rewritten */
    char *orig;      /* original recipient, as given by the client */
    char *dsn_orcpt; /* DSN ORCPT or NULL */
    int notify;      /* DSN_NOTIFY_* bits, 0 = not specified */
    long offset;     /* offset of the record's type byte, for queue_file_mark_done */
    int done;
} queue_rcpt;

typedef struct queue_envelope {
    char id[QUEUE_ID_MAX];
    long message_size;   /* content bytes */
    long content_offset; /* offset of the REC_MESSAGE record */
    long rcpt_count;
    long flags; /* QUEUE_FLAG_* from the size record */
    struct timespec arrival;
    time_t create_time;
    char *sender;
    strmap *attrs; /* name -> char* */
    queue_rcpt *rcpts;
    size_t nrcpt;
} queue_envelope;

/* Reads the envelope (and extracted recipients) from an open queue file. Returns 0, or -1 with a
 * reason in err when the file does not parse (the caller moves it to corrupt/). */
int queue_envelope_read(int fd, queue_envelope *env, strbuf *err);
void queue_envelope_free(queue_envelope *env);
const char *queue_envelope_attr(const queue_envelope *env, const char *name);

/* Calls fn for each content line in order; partial = 1 when the line continues in the next call.
 * Stops and returns fn's value when it is non-zero; -1 on a malformed file. */
int queue_content_each(int fd, const queue_envelope *env,
                       int (*fn)(const char *data, size_t len, int partial, void *ctx), void *ctx);

/* Overwrites the recipient record at offset with REC_DONE. The caller fsyncs (it may batch). */
int queue_file_mark_done(int fd, long offset);

/* Rewrites the size record's flags field in place (one fixed-width pwrite; only its last digits
 * change for small values). The caller fsyncs. 0, or -1 with errno. */
int queue_file_set_flags(int fd, long flags);

/* Non-zero when the file's owner-execute bit says the writer committed it. */
int queue_file_is_complete(int fd);

/* Sequential buffered reader over every record in file order (postcat, tests). Works on
 * pipes too. next() returns the record type, 0 at end of file, -1 on a malformed record with
 * the reason in *why; *offset (may be NULL) gets the record's file offset. */
typedef struct queue_reader queue_reader;
queue_reader *queue_reader_open(int fd, long offset);
int queue_reader_next(queue_reader *r, strbuf *data, size_t limit, long *offset, const char **why);
void queue_reader_close(queue_reader *r);

#endif

/*
 * queue_file.c: writing and reading record-based queue files (see queue_file.h and
 * docs/queue-format.md).
 *
 * The writer goes through a stdio buffer, so a message costs a handful of write() calls, one
 * fsync() of the file and one of its directory. Two fixed-width fields are patched in place at
 * commit time: the size record at the start and the pointer from the message record to the
 * extracted section, which lets a reader jump over the content to the extracted recipients.
 *
 * The reader treats the file as hostile: every length is bounded, every record type and
 * every number is checked, and anything unexpected ends in -1 with a reason, never a crash.
 */
#include "queue/queue_file.h"
#include "lib/fixed_str.h"
#include "lib/xalloc.h"
#include "queue/queue_dir.h"
#include "queue/queue_id.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SIZE_FORMAT "%15ld %15ld %15ld %15ld"
#define SIZE_RECORD_LEN 63     /* four 15-digit fields and three spaces */
#define POINTER_FORMAT "%15ld" /* message record data: offset of the extracted section */
#define POINTER_LEN 15
#define WRITE_BUFFER_SIZE (64 * 1024)
#define PATH_MAX_LEN 4096
#define RECORD_TYPES "CTFASOnoRDMNLXE"

enum writer_state { WRITING_ENVELOPE, WRITING_CONTENT, WRITING_EXTRACTED };

struct queue_writer {
    FILE *fp;
    int fd;
    enum writer_state state;
    int write_errno;     /* first write error, 0 when none */
    long offset;         /* bytes written so far */
    long content_size;   /* content bytes, counting one newline per complete line */
    long message_offset; /* offset of the 'M' record */
    long xtra_offset;    /* offset of the 'X' record */
    long rcpt_count;
    char id[QUEUE_ID_MAX];
    char path[PATH_MAX_LEN];
    char dir[PATH_MAX_LEN]; /* directory holding the file, fsync'd at commit */
};

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int put_record(queue_writer *qw, int type, const char *data, size_t len)
{
    unsigned char head[8];
    size_t n = 0;
    size_t rest = len;
    if (qw->write_errno)
        return -1;
    head[n++] = (unsigned char)type;
    do {
        unsigned char group = rest & 0x7f;
        rest >>= 7;
        head[n++] = rest ? (unsigned char)(group | 0x80) : group;
    } while (rest != 0);
    if (fwrite(head, 1, n, qw->fp) != n || (len > 0 && fwrite(data, 1, len, qw->fp) != len)) {
        qw->write_errno = errno ? errno : EIO;
        return -1;
    }
    qw->offset += (long)(n + len);
    return 0;
}

static int put_string(queue_writer *qw, int type, const char *text)
{
    size_t len = strlen(text);
    if (len > REC_ENVELOPE_LIMIT)
        return -1;
    return put_record(qw, type, text, len);
}

static int put_format(queue_writer *qw, int type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int put_format(queue_writer *qw, int type, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    return put_record(qw, type, buf, (size_t)n);
}

/* Renames without replacing an existing file; falls back to link+unlink where the file system
 * has no RENAME_NOREPLACE. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (link(from, to) < 0)
        return -1;
    unlink(from);
    return 0;
}

/* Creates an exclusive temporary file in dir; returns its fd. */
static int create_temp(const char *dir, char *tmp, size_t len, strbuf *err)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int n = snprintf(tmp, len, "%s/tmp.%ld.%lx.%d", dir, (long)getpid(),
                         (unsigned long)now.tv_nsec, attempt);
        if (n < 0 || (size_t)n >= len) {
            strbuf_printf(err, "queue directory name too long: %s", dir);
            return -1;
        }
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST) {
            strbuf_printf(err, "create file %s: %s", tmp, strerror(errno));
            return -1;
        }
    }
    strbuf_printf(err, "create file in %s: too many name collisions", dir);
    return -1;
}

/* Gives a nameless file (O_TMPFILE, open as fd) the name path; never replaces a file. */
static int link_nameless(int fd, const char *path)
{
    char proc[64]; /* "/proc/self/fd/" and at most 11 characters of an int */
    if (fixed_printf(proc, sizeof(proc), "/proc/self/fd/%d", fd) < 0)
        return -1;
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* Gives the temporary file (tmp, or the nameless file fd when tmp is NULL) its queue id name:
 * microseconds + inode, retried while taken. */
static int name_by_id(queue_writer *qw, const char *queue_dir, const char *queue_name,
                      const char *tmp, int fd, unsigned long long inode, struct timeval *arrival,
                      strbuf *err)
{
    long last_usec = -1;
    for (int attempt = 0; attempt < 1000; attempt++) {
        gettimeofday(arrival, NULL);
        if (arrival->tv_usec == last_usec) {
            struct timespec pause = {0, 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        last_usec = arrival->tv_usec;
        if (queue_id_format(qw->id, sizeof(qw->id), (long)arrival->tv_usec, inode) < 0 ||
            queue_path(qw->path, sizeof(qw->path), queue_dir, queue_name, qw->id, 1) < 0) {
            strbuf_printf(err, "queue file path in %s/%s: %s", queue_dir, queue_name,
                          strerror(errno));
            return -1;
        }
        if ((tmp ? rename_noreplace(tmp, qw->path) : link_nameless(fd, qw->path)) == 0) {
            _Static_assert(sizeof(qw->dir) >= sizeof(qw->path), "the directory fits");
            if (queue_parent_dir(qw->path, qw->dir, sizeof(qw->dir)) < 0)
                return -1; /* cannot happen: dir has room for all of path */
            return 0;
        }
        if (errno != EEXIST) {
            strbuf_printf(err, "%s %s: %s", tmp ? "rename to" : "link", qw->path,
                          strerror(errno));
            return -1;
        }
    }
    strbuf_printf(err, "%s: cannot find a free queue id", qw->path);
    return -1;
}

/* Names the temporary file tmp (or the nameless file when tmp is NULL), open as fd, by its
 * queue id and writes the first records. On failure fd is closed and the file removed. */
static queue_writer *writer_start(const char *queue_dir, const char *queue_name, int fd,
                                  const char *tmp, strbuf *err)
{
    struct stat st;
    int bad = fstat(fd, &st) < 0 ? errno : 0;
    if (bad == 0 && tmp == NULL && st.st_size != 0)
        bad = -1;
    if (bad != 0) {
        strbuf_printf(err, "%s: %s", tmp ? tmp : "spare queue file",
                      bad < 0 ? "not empty" : strerror(bad));
        close(fd);
        if (tmp)
            unlink(tmp);
        return NULL;
    }
    queue_writer *qw = xcalloc(1, sizeof(*qw));
    qw->fd = fd;
    struct timeval arrival;
    if (name_by_id(qw, queue_dir, queue_name, tmp, fd, (unsigned long long)st.st_ino, &arrival,
                   err) < 0) {
        close(fd);
        if (tmp)
            unlink(tmp);
        free(qw);
        return NULL;
    }
    qw->fp = fdopen(fd, "w");
    if (qw->fp == NULL) {
        strbuf_printf(err, "fdopen %s: %s", qw->path, strerror(errno));
        close(fd);
        unlink(qw->path);
        free(qw);
        return NULL;
    }
    setvbuf(qw->fp, NULL, _IOFBF, WRITE_BUFFER_SIZE);
    put_format(qw, REC_SIZE, SIZE_FORMAT, 0L, 0L, 0L, 0L);
    put_format(qw, REC_TIME, "%ld %ld", (long)arrival.tv_sec, (long)arrival.tv_usec);
    put_format(qw, REC_CREATE, "%ld", (long)arrival.tv_sec);
    if (qw->write_errno) {
        strbuf_printf(err, "write %s: %s", qw->path, strerror(qw->write_errno));
        queue_writer_abort(qw);
        return NULL;
    }
    return qw;
}

queue_writer *queue_writer_create(const char *queue_dir, const char *queue_name, strbuf *err)
{
    char base[PATH_MAX_LEN], tmp[PATH_MAX_LEN];
    int n = snprintf(base, sizeof(base), "%s/%s", queue_dir, queue_name);
    if (n < 0 || (size_t)n >= sizeof(base)) {
        strbuf_printf(err, "queue directory name too long: %s", queue_dir);
        return NULL;
    }
    /* A nameless file first: a crash before it has its id leaves nothing behind. Without
     * O_TMPFILE or /proc, a named temporary file (postsuper -p removes one a crash left). */
    size_t err_len = err->len;
    int fd = open(base, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        queue_writer *qw = writer_start(queue_dir, queue_name, fd, NULL, err);
        if (qw != NULL)
            return qw;
        strbuf_truncate(err, err_len);
    }
    fd = create_temp(base, tmp, sizeof(tmp), err);
    if (fd < 0)
        return NULL;
    return writer_start(queue_dir, queue_name, fd, tmp, err);
}

queue_writer *queue_writer_adopt(const char *queue_dir, const char *queue_name, int fd,
                                 const char *name, strbuf *err)
{
    return writer_start(queue_dir, queue_name, fd, name && name[0] ? name : NULL, err);
}

const char *queue_writer_id(const queue_writer *qw)
{
    return qw->id;
}

const char *queue_writer_path(const queue_writer *qw)
{
    return qw->path;
}

int queue_writer_attr(queue_writer *qw, const char *name, const char *value)
{
    if (qw->state != WRITING_ENVELOPE || name[0] == '\0' || strchr(name, '=') != NULL)
        return -1;
    size_t nlen = strlen(name), vlen = strlen(value);
    if (nlen + vlen + 1 > REC_ENVELOPE_LIMIT)
        return -1;
    char *text = xmalloc(nlen + vlen + 2);
    memcpy(text, name, nlen);
    text[nlen] = '=';
    memcpy(text + nlen + 1, value, vlen + 1);
    int rc = put_record(qw, REC_ATTR, text, nlen + vlen + 1);
    free(text);
    return rc;
}

int queue_writer_sender(queue_writer *qw, const char *sender)
{
    if (qw->state != WRITING_ENVELOPE)
        return -1;
    return put_string(qw, REC_SENDER, sender);
}

int queue_writer_recipient(queue_writer *qw, const char *rcpt, const char *orig, int notify,
                           const char *dsn_orcpt)
{
    if (qw->state == WRITING_CONTENT || notify < 0 || notify > 15)
        return -1;
    if (dsn_orcpt && *dsn_orcpt && put_string(qw, REC_DSN_ORCPT, dsn_orcpt) < 0)
        return -1;
    if (notify && put_format(qw, REC_DSN_NOTIFY, "%d", notify) < 0)
        return -1;
    if (put_string(qw, REC_ORCPT, orig ? orig : rcpt) < 0 || put_string(qw, REC_RCPT, rcpt) < 0)
        return -1;
    qw->rcpt_count++;
    return 0;
}

int queue_writer_content_start(queue_writer *qw)
{
    if (qw->state != WRITING_ENVELOPE)
        return -1;
    qw->message_offset = qw->offset;
    qw->state = WRITING_CONTENT;
    return put_format(qw, REC_MESSAGE, POINTER_FORMAT, 0L);
}

int queue_writer_line(queue_writer *qw, const char *line, size_t len)
{
    if (qw->state == WRITING_ENVELOPE && queue_writer_content_start(qw) < 0)
        return -1;
    if (qw->state != WRITING_CONTENT)
        return -1;
    while (len > REC_DATA_LIMIT) {
        if (put_record(qw, REC_CONT, line, REC_DATA_LIMIT) < 0)
            return -1;
        line += REC_DATA_LIMIT;
        len -= REC_DATA_LIMIT;
        qw->content_size += REC_DATA_LIMIT;
    }
    if (put_record(qw, REC_NORM, line, len) < 0)
        return -1;
    qw->content_size += (long)len + 1;
    return 0;
}

int queue_writer_line_part(queue_writer *qw, const char *data, size_t len, int partial)
{
    if (!partial)
        return queue_writer_line(qw, data, len);
    if (qw->state == WRITING_ENVELOPE && queue_writer_content_start(qw) < 0)
        return -1;
    if (qw->state != WRITING_CONTENT)
        return -1;
    while (len > 0) {
        size_t n = len > REC_DATA_LIMIT ? REC_DATA_LIMIT : len;
        if (put_record(qw, REC_CONT, data, n) < 0)
            return -1;
        data += n;
        len -= n;
        qw->content_size += (long)n;
    }
    return 0;
}

int queue_writer_extracted_start(queue_writer *qw)
{
    if (qw->state == WRITING_ENVELOPE && queue_writer_content_start(qw) < 0)
        return -1;
    if (qw->state != WRITING_CONTENT)
        return -1;
    /* The message record's pointer to this record is patched in at commit. */
    qw->xtra_offset = qw->offset;
    qw->state = WRITING_EXTRACTED;
    return put_record(qw, REC_XTRA, "", 0);
}

long queue_writer_content_size(const queue_writer *qw)
{
    return qw->content_size;
}

static int pwrite_all(int fd, const char *buf, size_t len, long offset)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
        offset += n;
    }
    return 0;
}

/* Patches the size record and the message record's pointer to the extracted section. */
static int patch_fixed_fields(queue_writer *qw)
{
    /* A value of more than 15 digits (a petabyte) does not fit the record: refused, not cut. */
    char size_text[SIZE_RECORD_LEN + 1], pointer[POINTER_LEN + 1];
    if (fixed_printf(size_text, sizeof(size_text), SIZE_FORMAT, qw->content_size,
                     qw->message_offset, qw->rcpt_count, 0L) < 0 ||
        fixed_printf(pointer, sizeof(pointer), POINTER_FORMAT, qw->xtra_offset) < 0)
        return -1;
    /* Both records have one length byte: data starts two bytes after the type byte. */
    if (pwrite_all(qw->fd, size_text, SIZE_RECORD_LEN, 2) < 0 ||
        pwrite_all(qw->fd, pointer, POINTER_LEN, qw->message_offset + 2) < 0)
        return -1;
    return 0;
}

static void writer_free(queue_writer *qw)
{
    if (qw->fp)
        fclose(qw->fp);
    else if (qw->fd >= 0)
        close(qw->fd);
    free(qw);
}

static int commit_fail(queue_writer *qw, strbuf *err, const char *what)
{
    strbuf_printf(err, "%s %s: %s", what, qw->path,
                  strerror(qw->write_errno ? qw->write_errno : errno));
    unlink(qw->path);
    writer_free(qw);
    return -1;
}

int queue_writer_commit_prepare(queue_writer *qw, strbuf *err)
{
    if (qw->state != WRITING_EXTRACTED)
        queue_writer_extracted_start(qw);
    put_record(qw, REC_END, "", 0);
    if (qw->write_errno)
        return commit_fail(qw, err, "write");
    if (fflush(qw->fp) != 0) {
        qw->write_errno = errno;
        return commit_fail(qw, err, "write");
    }
    if (patch_fixed_fields(qw) < 0)
        return commit_fail(qw, err, "write");
    /* Mark complete before the fsync, so that one fsync makes data and mode durable. */
    if (fchmod(qw->fd, 0700) < 0)
        return commit_fail(qw, err, "chmod");
    return 0;
}

int queue_writer_fd(const queue_writer *qw)
{
    return qw->fd;
}

const char *queue_writer_dir(const queue_writer *qw)
{
    return qw->dir;
}

int queue_writer_commit_finish(queue_writer *qw, int sync_errno, strbuf *err)
{
    if (sync_errno != 0) {
        errno = sync_errno;
        return commit_fail(qw, err, "fsync");
    }
    FILE *fp = qw->fp;
    qw->fp = NULL;
    qw->fd = -1;
    if (fclose(fp) != 0)
        return commit_fail(qw, err, "close");
    free(qw);
    return 0;
}

int queue_writer_commit(queue_writer *qw, strbuf *err)
{
    if (queue_writer_commit_prepare(qw, err) < 0)
        return -1;
    if (fsync(qw->fd) < 0)
        return queue_writer_commit_finish(qw, errno, err);
    /* An unprivileged postdrop may write into maildrop (mode 0730) but not open it for the
     * directory fsync; pickup commits the message again, with both fsyncs, into incoming. */
    if (fsync_dir(qw->dir) < 0 && errno != EACCES)
        return commit_fail(qw, err, "fsync directory of");
    return queue_writer_commit_finish(qw, 0, err);
}

void queue_writer_abort(queue_writer *qw)
{
    if (qw == NULL)
        return;
    unlink(qw->path);
    writer_free(qw);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct queue_reader {
    int fd;
    int seekable; /* pread at buf_start; else plain read() (pipes) */
    int read_error;
    long buf_start; /* file offset of buf[0] */
    size_t buf_len;
    size_t buf_pos;
    unsigned char buf[16384];
};

static void reader_seek(queue_reader *r, long offset)
{
    r->buf_start = offset;
    r->buf_len = r->buf_pos = 0;
}

static long reader_tell(const queue_reader *r)
{
    return r->buf_start + (long)r->buf_pos;
}

/* Refills the buffer; returns the number of bytes now available, 0 at EOF, -1 on error. */
static ssize_t reader_fill(queue_reader *r)
{
    r->buf_start += (long)r->buf_len;
    r->buf_len = r->buf_pos = 0;
    ssize_t n;
    do {
        n = r->seekable ? pread(r->fd, r->buf, sizeof(r->buf), r->buf_start)
                        : read(r->fd, r->buf, sizeof(r->buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        r->read_error = 1;
        return -1;
    }
    r->buf_len = (size_t)n;
    return n;
}

static int reader_getc(queue_reader *r)
{
    if (r->buf_pos == r->buf_len && reader_fill(r) <= 0)
        return -1;
    return r->buf[r->buf_pos++];
}

static int reader_take(queue_reader *r, strbuf *out, size_t len)
{
    while (len > 0) {
        if (r->buf_pos == r->buf_len && reader_fill(r) <= 0)
            return -1;
        size_t chunk = r->buf_len - r->buf_pos;
        if (chunk > len)
            chunk = len;
        if (strbuf_append(out, (const char *)r->buf + r->buf_pos, chunk) < 0)
            return -1;
        r->buf_pos += chunk;
        len -= chunk;
    }
    return 0;
}

static int known_record_type(int type)
{
    return type > 0 && strchr(RECORD_TYPES, type) != NULL;
}

/* One record: type, 0 at a clean end of file, -1 with *why on anything malformed. */
static int reader_record(queue_reader *r, strbuf *data, size_t limit, const char **why)
{
    int type = reader_getc(r);
    if (type < 0) {
        if (r->read_error) {
            *why = "read error";
            return -1;
        }
        return 0;
    }
    if (!known_record_type(type)) {
        *why = "unknown record type";
        return -1;
    }
    size_t len = 0;
    for (unsigned shift = 0;; shift += 7) {
        int group = reader_getc(r);
        if (group < 0) {
            *why = "truncated record length";
            return -1;
        }
        if (shift > 28) {
            *why = "record length field too long";
            return -1;
        }
        len |= (size_t)(group & 0x7f) << shift;
        if (len > limit) {
            *why = "record too long";
            return -1;
        }
        if ((group & 0x80) == 0)
            break;
    }
    strbuf_reset(data);
    if (reader_take(r, data, len) < 0) {
        *why = r->read_error ? "read error" : "truncated record";
        return -1;
    }
    return type;
}

queue_reader *queue_reader_open(int fd, long offset)
{
    queue_reader *r = xcalloc(1, sizeof(*r));
    r->fd = fd;
    r->seekable = lseek(fd, 0, SEEK_CUR) >= 0;
    reader_seek(r, r->seekable ? offset : 0);
    return r;
}

int queue_reader_next(queue_reader *r, strbuf *data, size_t limit, long *offset, const char **why)
{
    const char *reason = NULL;
    if (offset)
        *offset = reader_tell(r);
    int type = reader_record(r, data, limit, &reason);
    if (why)
        *why = reason;
    return type;
}

void queue_reader_close(queue_reader *r)
{
    free(r);
}

/* Parses count non-negative decimal numbers separated by blanks, nothing else. */
static int parse_numbers(const char *text, long *out, int count)
{
    const char *p = text;
    for (int i = 0; i < count; i++) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            return -1;
        long value = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            int digit = *p - '0';
            if (value > (LONG_MAX - digit) / 10)
                return -1;
            value = value * 10 + digit;
        }
        out[i] = value;
        if (i + 1 < count && *p != ' ')
            return -1;
    }
    while (*p == ' ')
        p++;
    return *p == '\0' ? 0 : -1;
}

/* Recipient fields that precede the 'R'/'D' record they belong to. */
typedef struct pending_rcpt {
    char *orig;
    char *dsn_orcpt;
    int notify;
    int have_notify;
} pending_rcpt;

static void pending_clear(pending_rcpt *p)
{
    free(p->orig);
    free(p->dsn_orcpt);
    memset(p, 0, sizeof(*p));
}

static int pending_empty(const pending_rcpt *p)
{
    return p->orig == NULL && p->dsn_orcpt == NULL && !p->have_notify;
}

typedef struct envelope_parse {
    queue_envelope *env;
    queue_reader *reader;
    strbuf data;
    pending_rcpt pending;
    size_t rcpt_cap;
    int have_size;
    int have_time;
    int have_sender;
    long xtra_offset;
    const char *why;
} envelope_parse;

static int fail(envelope_parse *ep, const char *why)
{
    ep->why = why;
    return -1;
}

static int add_rcpt(envelope_parse *ep, int type)
{
    queue_envelope *env = ep->env;
    if (env->nrcpt == ep->rcpt_cap) {
        ep->rcpt_cap = ep->rcpt_cap ? ep->rcpt_cap * 2 : 8;
        env->rcpts = xrealloc(env->rcpts, ep->rcpt_cap * sizeof(*env->rcpts));
    }
    queue_rcpt *rc = &env->rcpts[env->nrcpt++];
    rc->address = xstrdup(ep->data.data);
    rc->orig = ep->pending.orig ? ep->pending.orig : xstrdup(ep->data.data);
    rc->dsn_orcpt = ep->pending.dsn_orcpt;
    rc->notify = ep->pending.notify;
    rc->offset = 0;
    rc->done = type == REC_DONE;
    memset(&ep->pending, 0, sizeof(ep->pending));
    return 0;
}

/* Records that may appear both in the envelope and in the extracted section. */
static int recipient_record(envelope_parse *ep, int type, long offset)
{
    const char *text = ep->data.data;
    switch (type) {
    case REC_ORCPT:
        if (ep->pending.orig)
            return fail(ep, "two original recipients for one recipient");
        ep->pending.orig = xstrdup(text);
        return 0;
    case REC_DSN_ORCPT:
        if (ep->pending.dsn_orcpt)
            return fail(ep, "two DSN original recipients for one recipient");
        ep->pending.dsn_orcpt = xstrdup(text);
        return 0;
    case REC_DSN_NOTIFY: {
        long bits;
        if (ep->pending.have_notify || parse_numbers(text, &bits, 1) < 0 || bits < 1 || bits > 15)
            return fail(ep, "bad DSN notify record");
        ep->pending.notify = (int)bits;
        ep->pending.have_notify = 1;
        return 0;
    }
    case REC_RCPT:
    case REC_DONE:
        if (text[0] == '\0')
            return fail(ep, "empty recipient");
        add_rcpt(ep, type);
        ep->env->rcpts[ep->env->nrcpt - 1].offset = offset;
        return 0;
    default:
        return fail(ep, "unexpected record type");
    }
}

static int envelope_record(envelope_parse *ep, int type, long offset)
{
    queue_envelope *env = ep->env;
    const char *text = ep->data.data;
    long nums[2];
    switch (type) {
    case REC_TIME:
        if (ep->have_time || parse_numbers(text, nums, 2) < 0 || nums[1] > 999999)
            return fail(ep, "bad arrival time record");
        env->arrival.tv_sec = (time_t)nums[0];
        env->arrival.tv_nsec = nums[1] * 1000;
        ep->have_time = 1;
        return 0;
    case REC_CREATE:
        if (parse_numbers(text, nums, 1) < 0)
            return fail(ep, "bad create time record");
        env->create_time = (time_t)nums[0];
        return 0;
    case REC_ATTR: {
        const char *eq = strchr(text, '=');
        if (eq == NULL || eq == text)
            return fail(ep, "malformed attribute record");
        char *name = xstrndup(text, (size_t)(eq - text));
        free(strmap_put(env->attrs, name, xstrdup(eq + 1)));
        free(name);
        return 0;
    }
    case REC_SENDER:
        if (ep->have_sender)
            return fail(ep, "more than one sender record");
        env->sender = xstrdup(text);
        ep->have_sender = 1;
        return 0;
    case REC_SIZE:
        return fail(ep, "more than one size record");
    default:
        return recipient_record(ep, type, offset);
    }
}

static int parse_size_record(envelope_parse *ep)
{
    long nums[4];
    if (parse_numbers(ep->data.data, nums, 4) < 0)
        return fail(ep, "bad size record");
    ep->env->message_size = nums[0];
    ep->env->content_offset = nums[1];
    ep->env->rcpt_count = nums[2];
    ep->env->flags = nums[3];
    if (ep->env->content_offset <= 0)
        return fail(ep, "incomplete file: no content offset");
    return 0;
}

static int parse_message_record(envelope_parse *ep, long offset)
{
    long pointer;
    if (offset != ep->env->content_offset)
        return fail(ep, "content offset does not match the message record");
    if (parse_numbers(ep->data.data, &pointer, 1) < 0 || pointer <= offset)
        return fail(ep, "bad extracted section pointer");
    ep->xtra_offset = pointer;
    return 0;
}

/* The next record of a section that goes on until a closing record: its type, or -1 (why set)
 * at an I/O or format error, at the end of the file (eof_why) or for a record with a NUL byte. */
static int next_section_record(envelope_parse *ep, long *offset, const char *eof_why)
{
    int type = queue_reader_next(ep->reader, &ep->data, REC_ENVELOPE_LIMIT, offset, &ep->why);
    if (type < 0)
        return -1;
    if (type == 0)
        return fail(ep, eof_why);
    if (strlen(ep->data.data) != ep->data.len)
        return fail(ep, "null byte in envelope record");
    return type;
}

static int read_envelope_section(envelope_parse *ep)
{
    long offset;
    int type = queue_reader_next(ep->reader, &ep->data, REC_ENVELOPE_LIMIT, &offset, &ep->why);
    if (type <= 0)
        return type == 0 ? fail(ep, "empty file") : -1;
    if (type != REC_SIZE)
        return fail(ep, "file does not start with a size record");
    if (parse_size_record(ep) < 0)
        return -1;
    for (;;) {
        type = next_section_record(ep, &offset, "premature end of file in envelope");
        if (type < 0)
            return -1;
        if (type == REC_MESSAGE)
            return pending_empty(&ep->pending) ? parse_message_record(ep, offset)
                                               : fail(ep, "recipient fields without recipient");
        if (envelope_record(ep, type, offset) < 0)
            return -1;
    }
}

static int read_extracted_section(envelope_parse *ep)
{
    long offset;
    reader_seek(ep->reader, ep->xtra_offset);
    int type = queue_reader_next(ep->reader, &ep->data, REC_ENVELOPE_LIMIT, &offset, &ep->why);
    if (type < 0)
        return -1;
    if (type != REC_XTRA)
        return fail(ep, "extracted section pointer does not point to an extracted record");
    for (;;) {
        type = next_section_record(ep, &offset, "premature end of file: no end record");
        if (type < 0)
            return -1;
        if (type == REC_END)
            break;
        if (recipient_record(ep, type, offset) < 0)
            return -1;
    }
    if (!pending_empty(&ep->pending))
        return fail(ep, "recipient fields without recipient");
    type = queue_reader_next(ep->reader, &ep->data, 1, &offset, &ep->why);
    if (type != 0)
        return fail(ep, "data after the end record");
    return 0;
}

/* Fills env->id from the file's name when the fd was opened by a queue path. */
static void id_from_fd(int fd, queue_envelope *env)
{
    char link[64], target[PATH_MAX_LEN];
    if (fixed_printf(link, sizeof(link), "/proc/self/fd/%d", fd) < 0)
        return;
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return;
    target[n] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (queue_id_valid(base)) /* which also bounds its length */
        memcpy(env->id, base, strlen(base) + 1);
}

int queue_envelope_read(int fd, queue_envelope *env, strbuf *err)
{
    memset(env, 0, sizeof(*env));
    env->attrs = strmap_new();
    envelope_parse ep = {.env = env, .reader = queue_reader_open(fd, 0)};
    strbuf_init(&ep.data, REC_ENVELOPE_LIMIT + 1);
    int rc = -1;
    if (!ep.reader->seekable)
        fail(&ep, "queue file is not seekable");
    else if (read_envelope_section(&ep) == 0 && read_extracted_section(&ep) == 0) {
        if (!ep.have_sender)
            fail(&ep, "no sender record");
        else if (!ep.have_time)
            fail(&ep, "no arrival time record");
        else if ((size_t)env->rcpt_count != env->nrcpt)
            fail(&ep, "recipient count does not match the size record");
        else
            rc = 0;
    }
    if (rc < 0) {
        strbuf_printf(err, "%s", ep.why ? ep.why : "malformed queue file");
        queue_envelope_free(env);
    } else {
        id_from_fd(fd, env);
    }
    pending_clear(&ep.pending);
    strbuf_free(&ep.data);
    queue_reader_close(ep.reader);
    return rc;
}

void queue_envelope_free(queue_envelope *env)
{
    for (size_t i = 0; i < env->nrcpt; i++) {
        free(env->rcpts[i].address);
        free(env->rcpts[i].orig);
        free(env->rcpts[i].dsn_orcpt);
    }
    free(env->rcpts);
    free(env->sender);
    if (env->attrs)
        strmap_free(env->attrs, free);
    memset(env, 0, sizeof(*env));
}

const char *queue_envelope_attr(const queue_envelope *env, const char *name)
{
    return env->attrs ? strmap_get(env->attrs, name) : NULL;
}

int queue_content_each(int fd, const queue_envelope *env,
                       int (*fn)(const char *data, size_t len, int partial, void *ctx), void *ctx)
{
    queue_reader *r = queue_reader_open(fd, env->content_offset);
    strbuf data;
    strbuf_init(&data, REC_DATA_LIMIT * 2 + 1);
    const char *why;
    long size = 0;
    int rc = -1;
    int type = queue_reader_next(r, &data, REC_ENVELOPE_LIMIT, NULL, &why);
    if (type == REC_MESSAGE && r->seekable) {
        for (;;) {
            type = queue_reader_next(r, &data, REC_DATA_LIMIT * 2, NULL, &why);
            if (type == REC_XTRA) {
                rc = size == env->message_size ? 0 : -1;
                break;
            }
            if (type != REC_NORM && type != REC_CONT)
                break;
            size += (long)data.len + (type == REC_NORM);
            int stop = fn(data.data, data.len, type == REC_CONT, ctx);
            if (stop != 0) {
                rc = stop;
                break;
            }
        }
    }
    strbuf_free(&data);
    queue_reader_close(r);
    return rc;
}

int queue_file_mark_done(int fd, long offset)
{
    char type;
    if (offset <= 0 || pread(fd, &type, 1, offset) != 1)
        return -1;
    if (type == REC_DONE)
        return 0;
    if (type != REC_RCPT) {
        errno = EINVAL;
        return -1;
    }
    type = REC_DONE;
    return pwrite(fd, &type, 1, offset) == 1 ? 0 : -1;
}

int queue_file_set_flags(int fd, long flags)
{
    char size_text[2], field[POINTER_LEN + 1];
    /* The record must be what the writer made: 'C', one length byte (63), four fields. */
    if (flags < 0 || flags > 999999999999999L || pread(fd, size_text, 2, 0) != 2 || size_text[0] != REC_SIZE ||
        size_text[1] != SIZE_RECORD_LEN) {
        errno = EINVAL;
        return -1;
    }
    if (fixed_printf(field, sizeof(field), "%15ld", flags) < 0)
        return -1; /* cannot happen: flags has at most 15 digits (checked above) */
    /* Data starts at offset 2; the flags field is the fourth 15-digit field. */
    return pwrite_all(fd, field, POINTER_LEN, 2 + 3 * (POINTER_LEN + 1));
}

int queue_file_is_complete(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR) != 0;
}

/*
 * postcat.c: the postcat command, which shows queue files as Postfix's postcat does.
 *
 *   postcat [-bdehoqrv] [-c config_dir] [files...|ids...]
 *
 * Without -q the arguments are file names (none: standard input); with -q they are queue ids,
 * looked up in maildrop, incoming, active, deferred, hold and saved (hashed paths included),
 * and labelled by their path under queue_directory ("deferred/9/9DF7520804A"). -e, -h and
 * -b select envelope, header and body output (default: all three); -o prints record offsets,
 * -d decimal record types, -v record names for text records; -r is accepted for
 * compatibility (records are always shown in file order). Exit status 0, 1 on errors, 64 on
 * bad usage.
 */
#include "cmd/postcat.h"
#include "cleanup/header.h"
#include "cmd/commands.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum postcat_state { STATE_ENVELOPE, STATE_HEADER, STATE_BODY };

typedef struct postcat_run {
    FILE *out;
    const char *label;
    int flags;
    enum postcat_state state;
    int printing;
    int prev_type;
    int done;
} postcat_run;

static void print_prefix(postcat_run *run, long offset, int type)
{
    if (run->flags & POSTCAT_OFFSET)
        fprintf(run->out, "%9lu ", (unsigned long)offset);
    if (run->flags & POSTCAT_DECIMAL)
        fprintf(run->out, "%3d ", type);
}

static void print_marker(postcat_run *run, long offset, int type, const char *text)
{
    print_prefix(run, offset, type);
    fprintf(run->out, "*** %s %s ***\n", text, run->label);
}

/* "Mon Feb 16 03:06:41 2009", as asctime() gives it. */
static void print_time(postcat_run *run, const char *name, const char *text)
{
    char *end;
    errno = 0;
    long long secs = strtoll(text, &end, 10);
    struct tm lt;
    time_t when = (time_t)secs;
    char buf[64];
    if (errno != 0 || end == text || localtime_r(&when, &lt) == NULL ||
        strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &lt) == 0) {
        fprintf(run->out, "%s: %s\n", name, text);
        return;
    }
    fprintf(run->out, "%s: %s\n", name, buf);
}

static void print_named(postcat_run *run, const char *name, const strbuf *data)
{
    fprintf(run->out, "%s: ", name);
    fwrite(data->data, 1, data->len, run->out);
    fputc('\n', run->out);
}

static void print_envelope_record(postcat_run *run, int type, const strbuf *data)
{
    switch (type) {
    case REC_SIZE: /* verbatim, fixed-width fields and all, as Postfix's postcat shows it */
        print_named(run, "message_size", data);
        break;
    case REC_TIME:
        print_time(run, "message_arrival_time", data->data);
        break;
    case REC_CREATE:
        print_time(run, "create_time", data->data);
        break;
    case REC_ATTR:
        print_named(run, "named_attribute", data);
        break;
    case REC_SENDER:
        print_named(run, "sender", data);
        break;
    case REC_ORCPT:
        print_named(run, "original_recipient", data);
        break;
    case REC_RCPT:
        print_named(run, "recipient", data);
        break;
    case REC_DONE:
        print_named(run, "done_recipient", data);
        break;
    case REC_DSN_NOTIFY:
        fputs("named_attribute: notify_flags=", run->out);
        fwrite(data->data, 1, data->len, run->out);
        fputc('\n', run->out);
        break;
    case REC_DSN_ORCPT:
        fputs("named_attribute: dsn_orig_rcpt=", run->out);
        fwrite(data->data, 1, data->len, run->out);
        fputc('\n', run->out);
        break;
    default:
        print_named(run, "unknown_record_type", data);
        break;
    }
}

static void print_text_record(postcat_run *run, int type, const strbuf *data)
{
    int verbose = (run->flags & POSTCAT_VERBOSE) != 0;
    if (type == REC_NORM) {
        if (verbose)
            fputs("regular_text: ", run->out);
        fwrite(data->data, 1, data->len, run->out);
        fputc('\n', run->out);
        return;
    }
    if (run->state == STATE_ENVELOPE || verbose)
        fputs("unterminated_text: ", run->out);
    fwrite(data->data, 1, data->len, run->out);
    if (run->state == STATE_ENVELOPE || verbose || (run->flags & POSTCAT_OFFSET)) {
        fputc('\n', run->out);
        run->prev_type = 0; /* the piece was terminated here */
    }
}

/* A content line in the header section that is neither a header nor a continuation starts
 * the body (the empty line after the headers normally). */
static void track_body_start(postcat_run *run, const strbuf *data)
{
    if (run->state != STATE_HEADER || run->prev_type == REC_CONT)
        return;
    if (header_name_length(data->data, data->len) > 0 ||
        header_is_continuation(data->data, data->len))
        return;
    run->state = STATE_BODY;
    run->printing = run->flags & POSTCAT_BODY;
    if (!run->printing && !(run->flags & POSTCAT_ENV))
        run->done = 1;
}

static void handle_record(postcat_run *run, int type, const strbuf *data, long offset)
{
    switch (type) {
    case REC_NORM:
    case REC_CONT:
        track_body_start(run, data);
        if (run->done)
            return;
        if (run->printing) {
            print_prefix(run, offset, type);
            run->prev_type = type;
            print_text_record(run, type, data);
        } else {
            run->prev_type = type;
        }
        return;
    case REC_MESSAGE:
        if (run->flags & POSTCAT_ENV)
            print_marker(run, offset, type, "MESSAGE CONTENTS");
        run->state = STATE_HEADER;
        run->printing = run->flags & POSTCAT_HEADER;
        run->prev_type = type;
        return;
    case REC_XTRA:
        if (run->printing && run->prev_type == REC_CONT)
            fputc('\n', run->out);
        if (run->flags & POSTCAT_ENV)
            print_marker(run, offset, type, "HEADER EXTRACTED");
        run->state = STATE_ENVELOPE;
        run->printing = run->flags & POSTCAT_ENV;
        run->done = !run->printing;
        run->prev_type = type;
        return;
    case REC_END:
        if (run->flags & POSTCAT_ENV)
            print_marker(run, offset, type, "MESSAGE FILE END");
        run->done = 1;
        return;
    default:
        if (run->printing) {
            print_prefix(run, offset, type);
            print_envelope_record(run, type, data);
        }
        run->prev_type = type;
        return;
    }
}

int postcat_format_why(int fd, const char *label, int flags, FILE *out, const char **why)
{
    if ((flags & POSTCAT_ALL) == 0)
        flags |= POSTCAT_ALL;
    postcat_run run = {.out = out, .label = label, .flags = flags};
    run.printing = flags & POSTCAT_ENV;
    queue_reader *reader = queue_reader_open(fd, 0);
    strbuf data;
    strbuf_init(&data, REC_ENVELOPE_LIMIT + 1);
    long offset;
    const char *reason = NULL;
    int rc = 0;
    int type = queue_reader_next(reader, &data, REC_ENVELOPE_LIMIT, &offset, &reason);
    if (type < 0 || (type > 0 && strchr("CTFASOnoRD", type) == NULL)) {
        rc = 1; /* not a queue file: nothing printed, as Postfix does */
    } else {
        if (flags & POSTCAT_ENV)
            fprintf(out, "*** ENVELOPE RECORDS %s ***\n", label);
        while (type > 0 && !run.done) {
            handle_record(&run, type, &data, offset);
            if (!run.done)
                type = queue_reader_next(reader, &data, REC_ENVELOPE_LIMIT, &offset, &reason);
        }
        if (type < 0) {
            rc = -1;
            if (why)
                *why = reason;
        }
    }
    fflush(out);
    strbuf_free(&data);
    queue_reader_close(reader);
    return rc;
}

int postcat_format(int fd, const char *label, int flags, FILE *out)
{
    return postcat_format_why(fd, label, flags, out, NULL);
}

/* Prints one file; returns 0, or 1 after a fatal error message. */
static int show(int fd, const char *label, int flags)
{
    const char *why = NULL;
    int rc = postcat_format_why(fd, label, flags, stdout, &why);
    if (rc == 1)
        fprintf(stderr, "postcat: warning: %s: input is not a valid queue file\n", label);
    if (rc < 0) {
        fprintf(stderr, "postcat: fatal: %s: record read error: %s\n", label,
                why ? why : "malformed record");
        return 1;
    }
    return 0;
}

/* Opens id in the first queue that has it; label gets the path under queue_directory. */
static int open_queue_file(const char *queue_dir, const char *id, char *label, size_t len)
{
    static const char *const search[] = {"maildrop", "incoming", "active",
                                         "deferred", "hold",     "saved"};
    int saved_errno = ENOENT;
    char path[4096];
    for (size_t i = 0; i < sizeof(search) / sizeof(search[0]); i++) {
        if (queue_path(path, sizeof(path), queue_dir, search[i], id, 0) < 0) {
            saved_errno = errno; /* a queue_directory too long for a path */
            continue;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fixed_copy(label, len, path + strlen(queue_dir) + 1) < 0) {
            saved_errno = errno; /* cannot happen: label has room for path */
            close(fd);
            break;
        }
        if (fd >= 0)
            return fd;
        if (errno != ENOENT)
            saved_errno = errno;
    }
    errno = saved_errno;
    return -1;
}

static int usage(void)
{
    fprintf(stderr, "postcat: fatal: usage: postcat [-b (body text)] [-c config_dir] "
                    "[-d (decimal record type)] [-e (envelope records)] [-h (header text)] "
                    "[-o (offsets)] [-q (access queue)] [-v] [file(s)...]\n");
    return EX_USAGE_CODE;
}

static int show_queue_ids(int argc, char **argv, int flags, config *cfg)
{
    if (cfg == NULL)
        return 1;
    const char *queue_dir = config_get(cfg, "queue_directory");
    for (int i = 0; i < argc; i++) {
        if (!queue_id_valid(argv[i])) {
            fprintf(stderr, "postcat: fatal: bad mail queue ID: %s\n", argv[i]);
            return 1;
        }
        char label[4096];
        int fd = open_queue_file(queue_dir, argv[i], label, sizeof(label));
        if (fd < 0) {
            fprintf(stderr, "postcat: fatal: open queue file %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int rc = show(fd, label, flags);
        close(fd);
        if (rc)
            return rc;
    }
    return 0;
}

static int show_files(int argc, char **argv, int flags)
{
    if (argc == 0)
        return show(STDIN_FILENO, "stdin", flags);
    for (int i = 0; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "postcat: fatal: open %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int rc = show(fd, argv[i], flags);
        close(fd);
        if (rc)
            return rc;
    }
    return 0;
}

int postcat_main(int argc, char **argv)
{
    log_init("postcat");
    int flags = 0, search_queue = 0, ch;
    const char *config_dir = NULL;
    optind = 1;
    opterr = 0;
    while ((ch = getopt(argc, argv, "bc:dehoqrv")) != -1) {
        switch (ch) {
        case 'b':
            flags |= POSTCAT_BODY;
            break;
        case 'c':
            config_dir = optarg;
            break;
        case 'd':
            flags |= POSTCAT_DECIMAL;
            break;
        case 'e':
            flags |= POSTCAT_ENV;
            break;
        case 'h':
            flags |= POSTCAT_HEADER;
            break;
        case 'o':
            flags |= POSTCAT_OFFSET;
            break;
        case 'q':
            search_queue = 1;
            break;
        case 'r':
            break;
        case 'v':
            flags |= POSTCAT_VERBOSE;
            break;
        default:
            return usage();
        }
    }
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(config_dir, &err);
    if (cfg == NULL && search_queue)
        fprintf(stderr, "postcat: fatal: %s\n", err.data);
    strbuf_free(&err);
    if (cfg)
        config_set_current(cfg);
    int rc = search_queue ? show_queue_ids(argc - optind, argv + optind, flags, cfg)
                          : show_files(argc - optind, argv + optind, flags);
    fflush(stdout);
    if (cfg) {
        config_set_current(NULL);
        config_free(cfg);
    }
    return rc;
}

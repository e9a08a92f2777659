/*
 * sendmail.c: the Sendmail-compatible submission command, as Postfix's sendmail(1).
 *
 *   sendmail [-t] [-i|-oi] [-f sender] [-F full name] [-N dsn] [-R ret] [-V envid]
 *            [-C|-c config] [-B type] [-v] [-bm|-bs|-bp|-bi|-bd|-bD] [-q] [recipient ...]
 *
 * -bm (default) reads a message on stdin (lines end in LF; a CR before the LF is dropped; a line
 * with only "." ends the message unless -i/-oi; a leading mbox "From " line is skipped) and
 * writes it as a file into queue_directory/maildrop, then wakes pickup. The file is written
 * directly when maildrop is writable (root, or the mail_owner instance), else through the
 * setgid `postdrop` command: sendmail then sends the same records on postdrop's stdin (type
 * byte, 7-bit-group length, data; see postdrop.c). -t adds the To:/Cc:/Bcc: recipients (the
 * cleanup extracts them); command-line recipients are kept, as with Postfix >= 2.1.
 * -bs runs `smtpd -S` on stdin/stdout, -bp lists the queue (postqueue -p), -bi and -I rebuild
 * aliases (newaliases), -q flushes the queue (postqueue -f), -bd/-bD start the mail system.
 * Other Sendmail options (-o..., -O..., -e, -h, -m, -n, -x, -U, -G, -L, -p, -r) are accepted and
 * ignored as Postfix does (-r is -f).
 *
 * Exit status: 0 queued, 64 usage, 69 refused (message too big), 75 temporary failure,
 * 77 not authorized.
 */
#include "cmd/commands.h"
#include "global/mail_conf.h"
#include "global/name_list.h"

#include "global/mail_trigger.h"
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "queue/queue_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define SENDMAIL_LINE_LIMIT_DEFAULT (64L * 1024 * 1024) /* when message_size_limit = 0 */
#define SENDMAIL_MAX_RECIPIENTS 100000                  /* command-line recipients */

typedef struct sendmail_opts {
    const char *config_dir;
    const char *sender; /* NULL: the invoking user's login name */
    const char *full_name;
    int extract;  /* -t */
    int dot_ends; /* without -i a line "." ends the message */
    int notify;   /* -N bits, 0 = not given */
    const char *dsn_ret;
    const char *envid;
    char mode; /* 'm' submit, 's' SMTP, 'p' list, 'i' aliases, 'q' flush, 'd'/'D' daemon */
    const char *flush_site;
} sendmail_opts;

typedef struct rcpt_list {
    char **items;
    size_t n, cap;
} rcpt_list;

static void usage(void)
{
    fprintf(stderr, "usage: sendmail [-t] [-i] [-f sender] [-F full_name] [-N dsn] [-R ret] "
                    "[-V envid] [-C config] [-bm|-bs|-bp|-bi|-q] [recipient ...]\n");
    exit(EX_USAGE);
}

/* ---- user identity and authorization ---- */

static const char *login_name(void)
{
    static char *name; /* kept for the life of the command: later getpw* calls reuse pw */
    if (name)
        return name;
    struct passwd *pw = getpwuid(getuid());
    if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0')
        return NULL;
    name = xstrdup(pw->pw_name);
    return name;
}

/* authorized_submit_users: names and type:table lookups; root is always allowed. */
static int user_authorized(const char *list, const char *user)
{
    if (getuid() == 0)
        return 1;
    return name_list_allows(list, user, NAME_LIST_FOLD_CASE);
}

/* ---- recipients ---- */

static void rcpt_add(rcpt_list *l, const char *addr, size_t len)
{
    while (len > 0 && (addr[0] == ' ' || addr[0] == '\t')) {
        addr++;
        len--;
    }
    while (len > 0 && (addr[len - 1] == ' ' || addr[len - 1] == '\t'))
        len--;
    const char *lt = memchr(addr, '<', len);
    if (lt != NULL) { /* "Name <addr>" */
        const char *gt = memchr(lt, '>', len - (size_t)(lt - addr));
        if (gt != NULL) {
            addr = lt + 1;
            len = (size_t)(gt - lt - 1);
        }
    }
    if (len == 0)
        return;
    if (l->n >= SENDMAIL_MAX_RECIPIENTS)
        log_fatal_status(EX_USAGE, "too many recipients on the command line");
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = xstrndup(addr, len);
}

/* One argument may hold a comma-separated list; commas inside quotes or <> do not split. */
static void rcpt_add_arg(rcpt_list *l, const char *arg)
{
    const char *start = arg;
    int quoted = 0, angle = 0;
    for (const char *p = arg;; p++) {
        if (*p == '\\' && quoted && p[1]) {
            p++;
            continue;
        }
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '<' && !quoted)
            angle = 1;
        else if (*p == '>' && !quoted)
            angle = 0;
        if (*p == '\0' || (*p == ',' && !quoted && !angle)) {
            rcpt_add(l, start, (size_t)(p - start));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
}

static void rcpt_list_free(rcpt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

/* -N never | success,delay,failure */
static int parse_notify(const char *value)
{
    int bits = 0;
    char *copy = xstrdup(value), *save = NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (strcasecmp(tok, "never") == 0)
            bits |= DSN_NOTIFY_NEVER;
        else if (strcasecmp(tok, "success") == 0)
            bits |= DSN_NOTIFY_SUCCESS;
        else if (strcasecmp(tok, "delay") == 0)
            bits |= DSN_NOTIFY_DELAY;
        else if (strcasecmp(tok, "failure") == 0)
            bits |= DSN_NOTIFY_FAILURE;
        else
            bits = -1;
        if (bits < 0)
            break;
    }
    free(copy);
    if (bits <= 0 || ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER))
        log_fatal_status(EX_USAGE, "bad -N option value: %s", value);
    return bits;
}

/* "<addr>" -> "addr"; "<>" -> "". */
static const char *strip_angles(const char *addr)
{
    size_t len = strlen(addr);
    if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
        static char buf[1024];
        if (len - 2 >= sizeof(buf))
            log_fatal_status(EX_USAGE, "sender address too long");
        memcpy(buf, addr + 1, len - 2);
        buf[len - 2] = '\0';
        return buf;
    }
    return addr;
}

/* ---- the maildrop sink: direct queue_writer, or records piped to postdrop ---- */

typedef struct drop_sink {
    queue_writer *qw; /* direct */
    FILE *pipe;       /* to postdrop */
    pid_t postdrop_pid;
    int failed;
} drop_sink;

static void pipe_record(drop_sink *s, int type, const char *data, size_t len)
{
    unsigned char hdr[16];
    size_t n = 0;
    hdr[n++] = (unsigned char)type;
    size_t rest = len;
    do {
        unsigned char b = rest & 0x7f;
        rest >>= 7;
        if (rest)
            b |= 0x80;
        hdr[n++] = b;
    } while (rest);
    if (fwrite(hdr, 1, n, s->pipe) != n || (len && fwrite(data, 1, len, s->pipe) != len))
        s->failed = 1;
}

static void sink_attr(drop_sink *s, const char *name, const char *value)
{
    if (s->qw) {
        if (queue_writer_attr(s->qw, name, value) < 0)
            s->failed = 1;
        return;
    }
    strbuf rec;
    strbuf_init(&rec, 0);
    strbuf_printf(&rec, "%s=%s", name, value);
    pipe_record(s, REC_ATTR, rec.data, rec.len);
    strbuf_free(&rec);
}

static void sink_sender(drop_sink *s, const char *sender)
{
    if (s->qw) {
        if (queue_writer_sender(s->qw, sender) < 0)
            s->failed = 1;
        return;
    }
    pipe_record(s, REC_SENDER, sender, strlen(sender));
}

static void sink_recipient(drop_sink *s, const char *rcpt, int notify)
{
    if (s->qw) {
        if (queue_writer_recipient(s->qw, rcpt, NULL, notify, NULL) < 0)
            s->failed = 1;
        return;
    }
    if (notify) {
        char bits[16];
        int n = snprintf(bits, sizeof(bits), "%d", notify);
        pipe_record(s, REC_DSN_NOTIFY, bits, (size_t)n);
    }
    pipe_record(s, REC_RCPT, rcpt, strlen(rcpt));
}

static void sink_content_start(drop_sink *s)
{
    if (s->qw) {
        if (queue_writer_content_start(s->qw) < 0)
            s->failed = 1;
        return;
    }
    pipe_record(s, REC_MESSAGE, "", 0);
}

static void sink_line(drop_sink *s, const char *line, size_t len)
{
    if (s->qw) {
        if (queue_writer_line(s->qw, line, len) < 0)
            s->failed = 1;
        return;
    }
    pipe_record(s, REC_NORM, line, len);
}

static void sink_abort(drop_sink *s)
{
    if (s->qw) {
        queue_writer_abort(s->qw);
        s->qw = NULL;
    }
    if (s->pipe) { /* postdrop removes its file when the input ends without an end record */
        fclose(s->pipe);
        s->pipe = NULL;
        int status;
        while (waitpid(s->postdrop_pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
}

/* Path of the postdrop to run: $command_directory/postdrop when it is there, else this binary
 * (a command_directory too long for a path holds no postdrop either). */
static void postdrop_program(char *buf, size_t len)
{
    if (fixed_printf(buf, len, "%s/postdrop", cfg_str("command_directory")) == 0 &&
        access(buf, X_OK) == 0)
        return;
    if (fixed_copy(buf, len, "/proc/self/exe") < 0)
        log_fatal_status(EX_SOFTWARE, "postdrop_program: a %zu-byte buffer", len);
}

static int sink_open(drop_sink *s, const char *queue_dir, const char *config_dir, strbuf *err)
{
    memset(s, 0, sizeof(*s));
    char maildrop[PATH_MAX]; /* queue_dir is at most QUEUE_DIR_MAX (mail_conf_start) */
    if (fixed_printf(maildrop, sizeof(maildrop), "%s/maildrop", queue_dir) < 0) {
        strbuf_printf(err, "%s/maildrop: %s", queue_dir, strerror(errno));
        return -1;
    }
    if (geteuid() == 0 || access(maildrop, W_OK | X_OK) == 0) {
        s->qw = queue_writer_create(queue_dir, "maildrop", err);
        return s->qw ? 0 : -1;
    }
    int fds[2];
    if (pipe(fds) < 0) {
        strbuf_printf(err, "pipe: %s", strerror(errno));
        return -1;
    }
    char program[PATH_MAX];
    postdrop_program(program, sizeof(program));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        strbuf_printf(err, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        char *args[] = {"postdrop", "-r", NULL, NULL, NULL};
        if (config_dir) {
            args[2] = "-c";
            args[3] = (char *)config_dir;
        }
        execv(program, args);
        _exit(EX_TEMPFAIL);
    }
    close(fds[0]);
    s->pipe = fdopen(fds[1], "w");
    s->postdrop_pid = pid;
    if (s->pipe == NULL) {
        strbuf_printf(err, "fdopen: %s", strerror(errno));
        close(fds[1]);
        return -1;
    }
    return 0;
}

/* Returns 0, or an exit status with err set. */
static int sink_finish(drop_sink *s, strbuf *err)
{
    if (s->failed) {
        strbuf_printf(err, "error writing the queue file: %s", strerror(errno));
        sink_abort(s);
        return EX_TEMPFAIL;
    }
    if (s->qw) {
        char *path = xstrdup(queue_writer_path(s->qw)); /* the writer goes at commit */
        queue_writer *qw = s->qw;
        s->qw = NULL;
        int committed = queue_writer_commit(qw, err) == 0;
        /* pickup runs as mail_owner: it must be able to read a file root wrote. */
        if (committed && chmod(path, 0744) < 0 && errno != ENOENT)
            log_warning("chmod %s: %s", path, strerror(errno));
        free(path);
        return committed ? 0 : EX_TEMPFAIL;
    }
    pipe_record(s, REC_END, "", 0);
    if (fclose(s->pipe) != 0)
        s->failed = 1;
    s->pipe = NULL;
    int status = 0;
    while (waitpid(s->postdrop_pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !s->failed)
        return 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : EX_TEMPFAIL;
    strbuf_printf(err, "postdrop failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
                  WIFEXITED(status) ? code : WTERMSIG(status));
    return code >= EX__BASE && code <= EX__MAX ? code : EX_TEMPFAIL;
}

/* ---- reading the message ---- */

typedef struct reader_state {
    drop_sink *sink;
    const sendmail_opts *opts;
    long size;
    long limit;
    long lines;
    int done; /* a "." line was seen */
} reader_state;

/* Returns -1 when the message got too big. */
static int take_line(reader_state *rs, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (rs->done)
        return 0;
    if (rs->lines++ == 0 && len >= 5 && memcmp(line, "From ", 5) == 0)
        return 0; /* mbox separator, as Postfix skips it */
    if (rs->opts->dot_ends && len == 1 && line[0] == '.') {
        rs->done = 1;
        return 0;
    }
    rs->size += (long)len + 1;
    if (rs->limit > 0 && rs->size > rs->limit)
        return -1;
    sink_line(rs->sink, line, len);
    return 0;
}

/* Copies stdin into the sink; -1 when it is too big. */
static int copy_message(reader_state *rs)
{
    long line_limit = rs->limit > 0 ? rs->limit + 2 : SENDMAIL_LINE_LIMIT_DEFAULT;
    strbuf line;
    strbuf_init(&line, (size_t)line_limit);
    char buf[65536];
    int status = 0;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            log_fatal_status(EX_TEMPFAIL, "error reading input: %s", strerror(errno));
        if (n == 0)
            break;
        const char *p = buf, *end = buf + n;
        while (p < end && status == 0) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t piece = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (strbuf_append(&line, p, piece) < 0) {
                status = -1;
                break;
            }
            p += piece;
            if (nl) {
                p++;
                status = take_line(rs, line.data ? line.data : "", line.len);
                strbuf_reset(&line);
            }
        }
        if (status != 0 || rs->done)
            break;
    }
    if (status == 0 && line.len > 0 && !rs->done)
        status = take_line(rs, line.data, line.len);
    strbuf_free(&line);
    return status;
}

/* ---- modes ---- */

static void wake_pickup(const char *queue_dir)
{
    char path[PATH_MAX]; /* queue_dir is at most QUEUE_DIR_MAX (mail_conf_start) */
    if (fixed_printf(path, sizeof(path), "%s/public/pickup", queue_dir) < 0 ||
        access(path, F_OK) != 0) {
        log_warning("unable to look up public/pickup: %s", strerror(errno));
        return;
    }
    if (mail_trigger(queue_dir, "public/pickup", 'W') < 0)
        log_warning("unable to wake up the pickup service: %s", strerror(errno));
}

static int submit(const sendmail_opts *opts, rcpt_list *rcpts)
{
    const char *user = login_name();
    strbuf who; /* "user(uid)" for error messages */
    strbuf_init(&who, 0);
    strbuf_printf(&who, "%s(%ld)", user ? user : "unknown", (long)getuid());
    const char *uid_user = who.data;
    if (rcpts->n == 0 && !opts->extract)
        log_fatal_status(EX_USAGE, "Recipient addresses must be specified on the command line or "
                               "via the -t option");
    const char *sender = opts->sender;
    if (sender == NULL) {
        if (user == NULL)
            log_fatal_status(EX_TEMPFAIL, "no login name found for user ID %ld", (long)getuid());
        sender = user;
    }
    const char *queue_dir = cfg_str("queue_directory");
    drop_sink sink;
    strbuf err;
    strbuf_init(&err, 0);
    if (sink_open(&sink, queue_dir, opts->config_dir, &err) != 0)
        log_fatal_status(EX_TEMPFAIL, "%s: %s", uid_user, err.data ? err.data : "cannot submit");

    if (opts->full_name && opts->full_name[0])
        sink_attr(&sink, "full_name", opts->full_name);
    if (opts->extract)
        sink_attr(&sink, "extract_recipients", "yes");
    if (opts->envid)
        sink_attr(&sink, "envelope_id", opts->envid);
    if (opts->dsn_ret)
        sink_attr(&sink, "dsn_ret", opts->dsn_ret);
    sink_sender(&sink, sender);
    for (size_t i = 0; i < rcpts->n; i++)
        sink_recipient(&sink, rcpts->items[i], opts->notify);
    sink_content_start(&sink);

    reader_state rs = {&sink, opts, 0, (long)cfg_size("message_size_limit"), 0, 0};
    if (copy_message(&rs) != 0) {
        sink_abort(&sink);
        log_fatal_status(EX_UNAVAILABLE, "%s: message file too big", uid_user);
    }
    int status = sink_finish(&sink, &err);
    if (status != 0)
        log_fatal_status(status, "%s: %s", uid_user, err.data ? err.data : "cannot submit");
    strbuf_free(&err);
    strbuf_free(&who);
    wake_pickup(queue_dir);
    return 0;
}

/* Runs another program of this binary ("postern NAME -c DIR args...") in place of sendmail. */
static void run_program(const sendmail_opts *opts, const char *name, const char *arg1,
                        const char *arg2)
{
    const char *args[8];
    int n = 0;
    args[n++] = "postern";
    args[n++] = name;
    if (opts->config_dir) {
        args[n++] = "-c";
        args[n++] = opts->config_dir;
    }
    if (arg1)
        args[n++] = arg1;
    if (arg2)
        args[n++] = arg2;
    args[n] = NULL;
    fflush(NULL);
    execv("/proc/self/exe", (char *const *)args);
    log_fatal_status(EX_OSERR, "execute %s: %s", name, strerror(errno));
}

static void parse_b_option(sendmail_opts *opts, const char *value)
{
    if (value[0] == '\0' || value[1] != '\0')
        log_fatal_status(EX_USAGE, "unsupported: -b%s", value);
    switch (value[0]) {
    case 'm':
    case 's':
    case 'p':
    case 'i':
    case 'd':
    case 'D':
        opts->mode = value[0];
        break;
    case 'a':
    case 'h':
    case 'H':
    case 't':
    case 'v':
    default:
        log_fatal_status(EX_USAGE, "unsupported: -b%s", value);
    }
}

static void parse_q_option(sendmail_opts *opts, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        opts->mode = 'q';
    } else if (value[0] == 'R' || value[0] == 'S') {
        opts->mode = 'q';
        opts->flush_site = value + 1;
    } else if (value[0] >= '0' && value[0] <= '9') {
        /* -q interval: a Sendmail queue-runner daemon; the queue manager already runs. */
        if (opts->mode == 0)
            opts->mode = 'd';
    } else {
        log_fatal_status(EX_USAGE, "-q%s is not implemented", value);
    }
}

static void parse_options(sendmail_opts *opts, int argc, char **argv)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt(argc, argv, "+B:C:c:F:GIL:N:O:R:UV:X:b:e:f:h:imno:p:r:q::tvx")) != -1) {
        switch (c) {
        case 'C':
        case 'c': {
            /* -C may name main.cf itself; its directory is the configuration directory. */
            struct stat st;
            if (stat(optarg, &st) == 0 && S_ISREG(st.st_mode)) {
                char *copy = xstrdup(optarg);
                char *slash = strrchr(copy, '/');
                if (slash)
                    *slash = '\0';
                opts->config_dir = slash ? copy : ".";
                if (!slash)
                    free(copy);
            } else {
                opts->config_dir = optarg;
            }
            break;
        }
        case 'F':
            opts->full_name = optarg;
            break;
        case 'I':
            opts->mode = 'i';
            break;
        case 'N':
            opts->notify = parse_notify(optarg);
            break;
        case 'R':
            if (strcasecmp(optarg, "full") == 0)
                opts->dsn_ret = "1";
            else if (strcasecmp(optarg, "hdrs") == 0)
                opts->dsn_ret = "2";
            else
                log_fatal_status(EX_USAGE, "bad -R option value: %s", optarg);
            break;
        case 'V':
            opts->envid = optarg;
            break;
        case 'b':
            parse_b_option(opts, optarg);
            break;
        case 'f':
        case 'r':
            opts->sender = strip_angles(optarg);
            break;
        case 'i':
            opts->dot_ends = 0;
            break;
        case 'o':
            if (optarg[0] == 'i' && optarg[1] == '\0')
                opts->dot_ends = 0;
            /* other -oX options are Sendmail's: ignored */
            break;
        case 'q':
            parse_q_option(opts, optarg);
            break;
        case 't':
            opts->extract = 1;
            break;
        case 'B':
        case 'G':
        case 'L':
        case 'O':
        case 'U':
        case 'X':
        case 'e':
        case 'h':
        case 'm':
        case 'n':
        case 'p':
        case 'v':
        case 'x':
            break; /* accepted for compatibility; no effect */
        default:
            usage();
        }
    }
    if (opts->mode == 0)
        opts->mode = 'm';
}

int sendmail_main(int argc, char **argv)
{
    sendmail_opts opts;
    memset(&opts, 0, sizeof(opts));
    opts.dot_ends = 1;
    log_init("sendmail");
    log_set_stderr(1);
    signal(SIGPIPE, SIG_IGN);
    parse_options(&opts, argc, argv);

    config *cfg = mail_conf_start(opts.config_dir, EX_CONFIG);

    switch (opts.mode) {
    case 's':
        run_program(&opts, "smtpd", "-S", NULL);
        break;
    case 'p':
        run_program(&opts, "postqueue", "-p", NULL);
        break;
    case 'i':
        run_program(&opts, "newaliases", NULL, NULL);
        break;
    case 'q':
        if (opts.flush_site)
            run_program(&opts, "postqueue", "-s", opts.flush_site);
        run_program(&opts, "postqueue", "-f", NULL);
        break;
    case 'd':
        run_program(&opts, "postfix", "start", NULL);
        break;
    case 'D':
        run_program(&opts, "postfix", "start-fg", NULL);
        break;
    default:
        break;
    }

    const char *user = login_name();
    if (!user_authorized(cfg_str("authorized_submit_users"), user ? user : ""))
        log_fatal_status(EX_NOPERM, "User %s(%ld) is not allowed to submit mail",
                     user ? user : "unknown", (long)getuid());
    rcpt_list rcpts = {NULL, 0, 0};
    for (int i = optind; i < argc; i++)
        rcpt_add_arg(&rcpts, argv[i]);
    int status = submit(&opts, &rcpts);
    rcpt_list_free(&rcpts);
    config_free(cfg);
    return status;
}

/*
 * local.c: the local delivery agent, for domains in mydestination.
 *
 * For each recipient user[+ext]@domain (lookups use the lowercased local part):
 *   1. alias_maps, for "user+ext" then "user" ("\user" skips this and step 3). The value is
 *      expanded (local_expand.h): addresses recurse, "/file" and "|command" are delivered with
 *      the default_privs identity when running as root (allow_mail_to_files and
 *      allow_mail_to_commands must include "alias"; ":include:" files add "include").
 *      A name that appears in its own expansion goes to its mailbox. When alias_maps cannot be
 *      opened (hash: table without its .lmdb), every recipient is deferred with "4.3.0 alias
 *      database unavailable", as Postfix does.
 *   2. the passwd entry of "user"; none: bounce 5.1.1 unknown user.
 *   3. ~/.forward, read and expanded with the user's identity (class "forward").
 *   4. the mailbox, as the user: mailbox_command when set, else home_mailbox (Maildir when it
 *      ends in '/', else an mbox file in the home directory), else mail_spool_directory/user
 *      (mbox, locked per mailbox_delivery_lock, bounded by mailbox_size_limit).
 * Started as root, each write runs with the owner's uid/gid; started as a normal user every
 * local user's mail is delivered as that user (to that user's passwd home), for test and
 * `make run` instances. Addresses in an expansion that this agent does not deliver are
 * forwarded: one new message per recipient, queued through cleanup (see "forwarding" below),
 * logged "status=sent (forwarded as NEWID)". Each leaf delivery is logged (relay=local); the
 * recipient's reply is the worst outcome (deferred over bounced over sent).
 */
#include "cleanup/cleanup.h"
#include "deliver/addr_parts.h"
#include "deliver/deliver_privs.h"
#include "deliver/deliver_server.h"
#include "deliver/local_expand.h"
#include "deliver/local_settings.h"
#include "deliver/mail_copy.h"
#include "deliver/maildir.h"
#include "deliver/mbox.h"
#include "global/mail_addr.h"
#include "global/mail_params.h"
#include "global/resolve.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/word_list.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "master/mail_server.h"
#include "queue/queue_dir.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOCAL_MAX_DEPTH 20
#define LOCAL_FILE_LIMIT (1024 * 1024) /* .forward and :include: files */
/* The start of a command's output goes into the reason, as Postfix's pipe_command keeps the
 * first 4096 bytes (one stream buffer); the rest is not read. */
#define COMMAND_OUTPUT_MAX 4096

typedef struct local_agent {
    map_list *aliases; /* NULL until opened; reopened when the file changes */
    resolver *res;
} local_agent;

typedef struct identity {
    uid_t uid;
    gid_t gid;
    char user[LOGIN_NAME_MAX + 1];
    char home[PATH_MAX]; /* a longer home directory is refused, never cut */
} identity;

/* One top-level recipient being delivered. */
typedef struct local_state {
    local_agent *agent;
    deliver_request *req;
    mail_source *src;
    deliver_rcpt *rcpt;
    strmap *seen;   /* leaf destinations already delivered in this expansion */
    char **forward; /* non-local destinations, resubmitted as one message at the end */
    size_t nforward;
    int worst; /* 2, 5 or 4 */
    char dsn[DSN_MAX];
    strbuf reason;
} local_state;

/* The child of a command delivery, for the time limit (signal handler state). */
static volatile pid_t command_child;
static volatile sig_atomic_t command_timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    if (command_child > 0) {
        command_timed_out = 1;
        kill(-command_child, SIGKILL);
    }
}

static int rank(int cls)
{
    return cls == 4 ? 3 : cls == 5 ? 2 : 1;
}

/* Records and logs one leaf outcome. */
static void leaf_result(local_state *st, const char *to, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void leaf_result(local_state *st, const char *to, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = strbuf_vformat(0, fmt, ap); /* a reason is never dropped for its length */
    va_end(ap);
    char status[DSN_MAX];
    deliver_status(dsn, status);
    deliver_log(st->req, to, st->rcpt->orig, "local", status, text);
    int cls = status[0] - '0';
    if (rank(cls) > rank(st->worst)) {
        st->worst = cls;
        memcpy(st->dsn, status, sizeof(status));
        strbuf_reset(&st->reason);
        strbuf_append_str(&st->reason, text);
    }
    free(text);
}

/* Is this class ("alias", "forward", "include") allowed by the parameter's list? */
static int class_allowed(const char *list, const char *cls)
{
    return word_list_has(list, cls, WORD_LIST_FOLD_CASE);
}

/* 0, -1 for an unknown user, -2 when the name or home directory is longer than a system
 * path or login name can be (errno = ENAMETOOLONG). */
static int identity_of_user(const char *name, identity *id)
{
    struct passwd *pw = getpwnam(name);
    if (pw == NULL)
        return -1;
    size_t ulen = strlen(pw->pw_name), hlen = strlen(pw->pw_dir);
    if (ulen >= sizeof(id->user) || hlen >= sizeof(id->home)) {
        errno = ENAMETOOLONG;
        return -2;
    }
    id->uid = pw->pw_uid;
    id->gid = pw->pw_gid;
    memcpy(id->user, pw->pw_name, ulen + 1);
    memcpy(id->home, pw->pw_dir, hlen + 1);
    return 0;
}

/* The identity for alias files and commands: default_privs (root never writes them). */
static void identity_default_privs(identity *id)
{
    if (identity_of_user(local_settings_current()->default_privs, id) < 0 || id->uid == 0) {
        *id = (identity){.uid = 65534, .gid = 65534, .user = "nobody", .home = "/"};
    }
    if (!deliver_privs_root()) {
        /* A normal user delivers everything as itself. */
        id->uid = getuid();
        id->gid = getgid();
    }
}

/* ---- leaves ---- */

static void deliver_to_file(local_state *st, const char *to, const char *path, const identity *id,
                            const char *delivered_to)
{
    strbuf why;
    strbuf_init(&why, 0);
    char dsn[DSN_MAX] = "4.3.0";
    if (deliver_privs_enter(id->uid, id->gid, &why) < 0) {
        leaf_result(st, to, "4.3.0", "%s", why.data);
        strbuf_free(&why);
        return;
    }
    int rc;
    size_t len = strlen(path);
    if (len > 0 && path[len - 1] == '/')
        rc = maildir_deliver(path, st->src, st->req->sender, delivered_to,
                             mail_params_current()->mailbox_size_limit, dsn, &why);
    else
        rc = mbox_deliver(path, st->src, st->req->sender, delivered_to,
                          mail_params_current()->mailbox_size_limit,
                          local_settings_current()->mailbox_lock_methods, dsn, &why);
    deliver_privs_leave();
    if (rc == 0)
        leaf_result(st, to, "2.0.0", "delivered to file: %s", path);
    else
        leaf_result(st, to, dsn, "%s", why.data);
    strbuf_free(&why);
}

static void command_environment(local_state *st, const identity *id, const char *to)
{
    addr_parts parts;
    addr_parts_split(&parts, to, mail_params_current()->recipient_delimiter);
    clearenv();
    setenv("PATH", "/usr/bin:/bin", 1);
    setenv("SHELL", "/bin/sh", 1);
    setenv("HOME", id->home, 1);
    setenv("USER", id->user, 1);
    setenv("LOGNAME", id->user, 1);
    setenv("SENDER", st->req->sender, 1);
    setenv("RECIPIENT", to, 1);
    setenv("ORIGINAL_RECIPIENT", st->rcpt->orig, 1);
    setenv("LOCAL", parts.local, 1); /* the whole local part, extension included (local(8)) */
    setenv("DOMAIN", parts.domain, 1);
    setenv("EXTENSION", parts.ext, 1);
    addr_parts_free(&parts);
}

/* Runs /bin/sh -c command with the message on stdin. */
static void deliver_to_command(local_state *st, const char *to, const char *cmdline,
                               const identity *id, const char *delivered_to)
{
    int in[2];
    FILE *out = tmpfile();
    if (out == NULL || pipe2(in, O_CLOEXEC) < 0) {
        leaf_result(st, to, "4.3.0", "cannot run command: %s", strerror(errno));
        if (out)
            fclose(out);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        leaf_result(st, to, "4.3.0", "cannot fork: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        fclose(out);
        return;
    }
    if (pid == 0) {
        setsid();
        dup2(in[0], 0);
        dup2(fileno(out), 1);
        dup2(fileno(out), 2);
        if (deliver_privs_root()) {
            deliver_privs_leave();
            if (setgroups(1, &id->gid) < 0 || setgid(id->gid) < 0 || setuid(id->uid) < 0)
                _exit(75);
        }
        if (chdir(id->home) < 0 && chdir("/") < 0)
            _exit(75);
        signal(SIGPIPE, SIG_DFL);
        command_environment(st, id, to);
        execl("/bin/sh", "sh", "-c", cmdline, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    command_timed_out = 0;
    command_child = pid;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    alarm((unsigned)local_settings_current()->command_time_limit);
    mail_copy_opts opts = {.from_line = 1, .return_path = 1, .delivered_to = delivered_to};
    strbuf why;
    strbuf_init(&why, 0);
    int copy = mail_copy(st->src, st->req->sender, in[1], &opts, NULL, &why);
    int copy_errno = errno;
    close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    command_child = 0;

    char output[COMMAND_OUTPUT_MAX + 1];
    size_t olen = 0;
    if (fseek(out, 0, SEEK_SET) == 0)
        olen = fread(output, 1, COMMAND_OUTPUT_MAX, out);
    fclose(out);
    output[olen] = '\0';
    for (size_t i = 0; i < olen; i++)
        if (output[i] == '\n' || output[i] == '\r' || (unsigned char)output[i] < 0x20)
            output[i] = ' ';
    while (olen > 0 && output[olen - 1] == ' ')
        output[--olen] = '\0';
    const char *sep = olen ? ". Command output: " : "";

    if (command_timed_out) {
        leaf_result(st, to, "5.3.0", "Command time limit exceeded: \"%s\"%s%s", cmdline, sep,
                    output);
    } else if (WIFSIGNALED(status)) {
        leaf_result(st, to, "5.3.0", "Command died with signal %d: \"%s\"%s%s", WTERMSIG(status),
                    cmdline, sep, output);
    } else if (WEXITSTATUS(status) == 75) {
        leaf_result(st, to, "4.3.0", "temporary failure. Command output: %s",
                    olen ? output : "(none)");
    } else if (WEXITSTATUS(status) != 0) {
        leaf_result(st, to, "5.3.0", "Command died with status %d: \"%s\"%s%s",
                    WEXITSTATUS(status), cmdline, sep, output);
    } else if (copy == MAIL_COPY_READ_ERROR) {
        leaf_result(st, to, "4.3.0", "%s", why.data);
    } else {
        (void)copy_errno; /* a cmdline may exit 0 without reading all of its input */
        leaf_result(st, to, "2.0.0", "delivered to command: %s", cmdline);
    }
    strbuf_free(&why);
}

static void deliver_to_mailbox(local_state *st, const char *to, const identity *user)
{
    strbuf why;
    strbuf_init(&why, 0);
    int loop = mail_copy_loop_check(st->src, to, &why);
    if (loop != 0) {
        leaf_result(st, to, loop > 0 ? "5.4.6" : "4.3.0", "%s", why.data);
        strbuf_free(&why);
        return;
    }
    identity id = *user;
    if (!deliver_privs_root()) {
        id.uid = getuid();
        id.gid = getgid();
    }
    const char *cmdline = local_settings_current()->mailbox_command;
    if (cmdline[0] != '\0') {
        strbuf expanded, err;
        strbuf_init(&expanded, 0);
        strbuf_init(&err, 0);
        if (config_expand(config_current(), cmdline, &expanded, &err) < 0)
            strbuf_append_str(&expanded, cmdline);
        deliver_to_command(st, to, expanded.data, &id, to);
        strbuf_free(&expanded);
        strbuf_free(&err);
        strbuf_free(&why);
        return;
    }
    const char *home_mailbox = local_settings_current()->home_mailbox;
    strbuf path;
    strbuf_path_init(&path);
    int maildir = 0, in_spool = 0, built;
    if (home_mailbox[0] != '\0') {
        built = strbuf_path_printf(&path, "%s/%s", id.home, home_mailbox);
        maildir = home_mailbox[strlen(home_mailbox) - 1] == '/';
    } else {
        built = strbuf_path_printf(&path, "%s/%s", local_settings_current()->mail_spool_directory, id.user);
        in_spool = 1;
    }
    char dsn[DSN_MAX] = "4.3.0";
    int rc;
    if (built < 0) {
        rc = -1;
        dsn_set(dsn, sizeof(dsn), "4.3.5");
        strbuf_printf(&why, "mailbox path for %s: %s", id.user, strerror(errno));
    } else if (deliver_privs_enter(id.uid, id.gid, &why) < 0) {
        rc = -1;
    } else {
        if (maildir)
            rc = maildir_deliver(path.data, st->src, st->req->sender, to,
                                 mail_params_current()->mailbox_size_limit, dsn, &why);
        else
            rc = mbox_deliver(path.data, st->src, st->req->sender, to,
                              mail_params_current()->mailbox_size_limit,
                              local_settings_current()->mailbox_lock_methods, dsn, &why);
        deliver_privs_leave();
    }
    (void)in_spool;
    if (rc == 0)
        leaf_result(st, to, "2.0.0", "delivered to %s", maildir ? "maildir" : "mailbox");
    else
        leaf_result(st, to, dsn, "%s", why.data);
    strbuf_free(&path);
    strbuf_free(&why);
}

/* ---- forwarding ----
 *
 * An expansion that reaches an address this agent does not deliver (another domain, or a local
 * one that transport_maps sends elsewhere) is forwarded as Postfix's local does: every such
 * address of one recipient goes into ONE new queue file written through cleanup (so virtual
 * aliases, canonical qualification and header checks apply again), with the original envelope
 * sender, the recipient's DSN settings and orig = its original address, rewrite_context=local,
 * and "Delivered-To: recipient" in front of the content. The Delivered-To: header is what ends a
 * forwarding loop: a message that comes back with it is bounced with 5.4.6.
 */

static void forward_add(local_state *st, const char *address)
{
    strbuf key;
    strbuf_init(&key, 0);
    strbuf_printf(&key, "forward-to:%s", address);
    for (size_t i = 0; i < key.len; i++)
        key.data[i] = (char)tolower((unsigned char)key.data[i]);
    if (!strmap_has(st->seen, key.data)) {
        strmap_put(st->seen, key.data, NULL);
        st->forward = xrealloc(st->forward, (st->nforward + 1) * sizeof(*st->forward));
        st->forward[st->nforward++] = xstrdup(address);
    }
    strbuf_free(&key);
}

static void forward_free(local_state *st)
{
    for (size_t i = 0; i < st->nforward; i++)
        free(st->forward[i]);
    free(st->forward);
    st->forward = NULL;
    st->nforward = 0;
}

/* One result for every forwarded address. */
static void forward_result(local_state *st, const char *dsn, const char *text)
{
    for (size_t i = 0; i < st->nforward; i++)
        leaf_result(st, st->forward[i], dsn, "%s", text);
}

static int forward_piece(const char *data, size_t len, int partial, void *ctx)
{
    return cleanup_line_part(ctx, data, len, partial) < 0 ? 1 : 0;
}

/* The queue manager runs as mail_owner and rewrites the file (done recipients): a file this
 * agent creates while running as root must belong to mail_owner before anyone can see it, or
 * the queue manager could neither read nor update it. 0, or -1 with why. */
static int forward_give_to_mail_owner(cleanup *c, strbuf *why)
{
    if (!deliver_privs_root())
        return 0; /* already written by the user everything runs as */
    struct passwd *pw = getpwnam(mail_params_current()->mail_owner);
    if (pw == NULL) {
        strbuf_printf(why, "unknown mail_owner \"%s\"", mail_params_current()->mail_owner);
        return -1;
    }
    if (fchown(cleanup_sync_fd(c), pw->pw_uid, pw->pw_gid) < 0) {
        strbuf_printf(why, "cannot change the owner of the forward queue file: %s",
                      strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes the envelope: attributes, sender, the forward addresses. */
static void forward_envelope(local_state *st, cleanup *c)
{
    cleanup_attr(c, "rewrite_context", "local");
    const char *envid = queue_envelope_attr(&st->src->env, "envelope_id");
    if (envid && envid[0])
        cleanup_attr(c, "envelope_id", envid);
    const char *ret = queue_envelope_attr(&st->src->env, "dsn_ret");
    if (ret && ret[0])
        cleanup_attr(c, "dsn_ret", ret);
    cleanup_sender(c, st->req->sender);
    const char *orcpt = st->rcpt->orcpt && st->rcpt->orcpt[0] ? st->rcpt->orcpt : NULL;
    for (size_t i = 0; i < st->nforward; i++)
        cleanup_recipient(c, st->forward[i], st->rcpt->orig, st->rcpt->notify, orcpt);
}

/* Splits a cleanup reply ("554 5.4.0 Error: too many hops") into DSN and text. */
static void forward_failure(local_state *st, int status)
{
    const char *reply = cleanup_status_reply(status);
    char dsn[DSN_MAX] = "4.3.0";
    const char *text = reply;
    if (strlen(reply) > 4 && dsn_class(reply + 4)) {
        size_t n = strcspn(reply + 4, " ");
        if (n < sizeof(dsn)) {
            memcpy(dsn, reply + 4, n);
            dsn[n] = '\0';
            text = reply + 4 + n + (reply[4 + n] == ' ');
        }
    }
    strbuf why;
    strbuf_init(&why, 0);
    strbuf_printf(&why, "cannot forward: %s", text);
    forward_result(st, dsn, why.data);
    strbuf_free(&why);
}

/* Sends the collected forward addresses of one recipient as one new message. */
static void forward_flush(local_state *st)
{
    if (st->nforward == 0)
        return;
    const char *delivered = st->rcpt->address;
    strbuf why;
    strbuf_init(&why, 0);
    int loop = mail_copy_loop_check(st->src, delivered, &why);
    if (loop != 0) {
        forward_result(st, loop > 0 ? "5.4.6" : "4.3.0", why.data);
        strbuf_free(&why);
        return;
    }
    cleanup *c = cleanup_open("incoming", &why);
    if (c == NULL || forward_give_to_mail_owner(c, &why) < 0) {
        cleanup_abort(c);
        strbuf reason;
        strbuf_init(&reason, 0);
        strbuf_printf(&reason, "cannot forward: %s", why.data);
        forward_result(st, "4.3.0", reason.data);
        strbuf_free(&reason);
        strbuf_free(&why);
        return;
    }
    char *new_id = xstrdup(cleanup_queue_id(c));
    forward_envelope(st, c);
    strbuf_reset(&why);
    strbuf_printf(&why, "Delivered-To: %s", delivered);
    cleanup_line(c, why.data, why.len);
    int rc = queue_content_each(st->src->fd, &st->src->env, forward_piece, c);
    if (rc != 0) {
        /* the original is unreadable (-1) or cleanup could not write (1): try again later */
        cleanup_abort(c);
        forward_result(st, "4.3.0",
                       rc < 0 ? "cannot forward: error reading the queue file"
                              : "cannot forward: queue file write error");
        strbuf_free(&why);
        free(new_id);
        return;
    }
    int status = cleanup_close(c);
    if (status != CLEANUP_STAT_OK) {
        forward_failure(st, status);
    } else {
        mail_trigger(mail_params_current()->queue_directory, "public/qmgr", 'A');
        strbuf_reset(&why);
        strbuf_printf(&why, "forwarded as %s", new_id);
        forward_result(st, "2.0.0", why.data);
    }
    free(new_id);
    strbuf_free(&why);
}

/* ---- expansion ---- */

static void deliver_address(local_state *st, const char *address, int depth, int no_alias);
static void deliver_local_part(local_state *st, const char *to, const char *local,
                               const char *bare, int depth, int no_alias);

/* Reads a small file with the given identity. 1 read, 0 missing, -1 error (why). */
static int read_small_file(const char *path, const identity *id, int must_own, strbuf *text,
                           strbuf *why)
{
    if (deliver_privs_enter(id->uid, id->gid, why) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    int rc = 1;
    if (fd < 0) {
        rc = errno == ENOENT ? 0 : -1;
        if (rc < 0)
            strbuf_printf(why, "cannot open %s: %s", path, strerror(errno));
    } else {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (must_own && st.st_uid != id->uid && st.st_uid != 0 && deliver_privs_root())) {
            strbuf_printf(why, "%s is not a regular file owned by %s", path, id->user);
            rc = -1;
        } else {
            char buf[8192];
            ssize_t n;
            while ((n = read(fd, buf, sizeof(buf))) > 0) {
                if (text->len + (size_t)n > LOCAL_FILE_LIMIT ||
                    strbuf_append(text, buf, (size_t)n) < 0) {
                    strbuf_printf(why, "%s is too large", path);
                    rc = -1;
                    break;
                }
            }
            if (n < 0) {
                strbuf_printf(why, "cannot read %s: %s", path, strerror(errno));
                rc = -1;
            }
        }
        close(fd);
    }
    deliver_privs_leave();
    return rc;
}

/* Expands a list. cls is "alias", "forward" or "include"; id the identity for files and
 * commands; self the local part whose own name means "its mailbox"; to the address that
 * expanded (for logs of files and commands). */
static void expand_list(local_state *st, const char *text, const char *cls, const identity *id,
                        const char *self, const char *to, int depth)
{
    local_item_list items;
    if (local_expand_parse(text, &items) < 0) {
        leaf_result(st, to, "5.3.5", "malformed %s expansion for %s", cls, to);
        return;
    }
    strbuf key;
    strbuf_init(&key, 0);
    for (size_t i = 0; i < items.count; i++) {
        const local_item *it = &items.items[i];
        strbuf_reset(&key);
        strbuf_printf(&key, "%s:%s", local_item_type_name(it->type), it->text);
        if (it->type == LOCAL_ITEM_FILE || it->type == LOCAL_ITEM_COMMAND) {
            if (strmap_has(st->seen, key.data))
                continue;
            strmap_put(st->seen, key.data, NULL);
        }
        switch (it->type) {
        case LOCAL_ITEM_FILE:
            if (!class_allowed(local_settings_current()->allow_mail_to_files, cls))
                leaf_result(st, to, "5.7.1", "mail to file is restricted");
            else
                deliver_to_file(st, to, it->text, id, to);
            break;
        case LOCAL_ITEM_COMMAND:
            if (!class_allowed(local_settings_current()->allow_mail_to_commands, cls))
                leaf_result(st, to, "5.7.1", "mail to command is restricted");
            else
                deliver_to_command(st, to, it->text, id, to);
            break;
        case LOCAL_ITEM_INCLUDE: {
            if (depth >= LOCAL_MAX_DEPTH) {
                leaf_result(st, to, "5.4.6", "mail forwarding loop for %s", to);
                break;
            }
            strbuf body, why;
            strbuf_init(&body, LOCAL_FILE_LIMIT + 1);
            strbuf_init(&why, 0);
            int rc = read_small_file(it->text, id, 0, &body, &why);
            if (rc <= 0)
                leaf_result(st, to, rc == 0 ? "5.3.5" : "4.3.0", "%s",
                            rc == 0 ? "include file not found" : why.data);
            else
                expand_list(st, body.data, "include", id, self, to, depth + 1);
            strbuf_free(&body);
            strbuf_free(&why);
            break;
        }
        case LOCAL_ITEM_MAILBOX:
            deliver_address(st, it->text, depth + 1, 1);
            break;
        case LOCAL_ITEM_ADDRESS: {
            addr_parts parts;
            addr_parts_split(&parts, it->text, "");
            int own = self && strcasecmp(parts.local, self) == 0 &&
                      (parts.domain[0] == '\0' || strchr(to, '@') == NULL ||
                       strcasecmp(parts.domain, strchr(to, '@') + 1) == 0);
            addr_parts_free(&parts);
            deliver_address(st, it->text, depth + 1, own);
            break;
        }
        }
    }
    strbuf_free(&key);
    local_item_list_free(&items);
}

/* Opens or reopens alias_maps. 0, or -1 (logged) when the tables cannot be opened. */
static int open_aliases(local_agent *a)
{
    if (a->aliases && !map_list_changed(a->aliases))
        return 0;
    if (a->aliases)
        map_list_close(a->aliases);
    strbuf err;
    strbuf_init(&err, 0);
    a->aliases = map_list_open(local_settings_current()->alias_maps, &err);
    if (a->aliases == NULL)
        log_warning("alias_maps: %s", err.data);
    strbuf_free(&err);
    return a->aliases ? 0 : -1;
}

/* Strips the extension unless owner_request_special protects owner-x / x-request names. */
static void strip_extension(char *local, char *ext, size_t extlen)
{
    const char *delims = mail_params_current()->recipient_delimiter;
    ext[0] = '\0';
    if (delims[0] == '\0')
        return;
    if (local_settings_current()->owner_request_special && strchr(delims, '-')) {
        size_t len = strlen(local);
        if (strncasecmp(local, "owner-", 6) == 0 ||
            (len > 8 && strcasecmp(local + len - 8, "-request") == 0))
            return;
    }
    mail_addr_strip_extension(local, delims, ext, extlen);
}

static void lowercase(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void deliver_address(local_state *st, const char *address, int depth, int no_alias)
{
    if (depth > LOCAL_MAX_DEPTH) {
        leaf_result(st, address, "5.4.6", "mail forwarding loop for %s", address);
        return;
    }
    resolved res;
    strbuf err;
    strbuf_init(&err, 0);
    if (resolve_address(st->agent->res, address, &res, &err) < 0) {
        leaf_result(st, address, "4.3.0", "address resolver failure: %s", err.data);
        strbuf_free(&err);
        return;
    }
    strbuf_free(&err);
    const char *to = res.address;
    if (res.cls != ADDR_CLASS_LOCAL || strcmp(res.transport, "local") != 0) {
        forward_add(st, to);
        return;
    }
    addr_parts parts; /* the whole local part, however long: no lookup sees a cut name */
    addr_parts_split(&parts, to, "");
    lowercase(parts.local);
    lowercase(parts.bare);
    strip_extension(parts.bare, parts.ext, strlen(parts.local) + 1);
    deliver_local_part(st, to, parts.local, parts.bare, depth, no_alias);
    addr_parts_free(&parts);
}

/* Steps 1-4 for one local recipient: local is its lowercased local part, bare the same without
 * the extension. */
static void deliver_local_part(local_state *st, const char *to, const char *local,
                               const char *bare, int depth, int no_alias)
{
    strbuf key;
    strbuf_init(&key, 0);
    if (!no_alias) {
        if (open_aliases(st->agent) < 0) {
            leaf_result(st, to, "4.3.0", "alias database unavailable");
            strbuf_free(&key);
            return;
        }
        strbuf value;
        strbuf_init(&value, LOCAL_FILE_LIMIT);
        int found = map_list_lookup(st->agent->aliases, local, &value);
        const char *name = local;
        if (found == 0 && strcmp(bare, local) != 0) {
            found = map_list_lookup(st->agent->aliases, bare, &value);
            name = bare;
        }
        if (found < 0) {
            leaf_result(st, to, "4.3.0", "alias database unavailable");
        } else if (found > 0) {
            identity id;
            identity_default_privs(&id);
            expand_list(st, value.data, "alias", &id, name, to, depth);
        }
        strbuf_free(&value);
        if (found != 0) {
            strbuf_free(&key);
            return;
        }
    }
    identity user;
    int known = identity_of_user(bare, &user);
    if (known < 0) {
        if (known == -2)
            leaf_result(st, to, "4.3.5", "user \"%s\": home directory or name too long", bare);
        else
            leaf_result(st, to, "5.1.1", "unknown user: \"%s\"", bare);
        strbuf_free(&key);
        return;
    }
    strbuf_printf(&key, "forward:%s", bare);
    if (!no_alias && !strmap_has(st->seen, key.data)) {
        strmap_put(st->seen, key.data, NULL);
        strbuf body, why;
        strbuf_init(&body, LOCAL_FILE_LIMIT + 1);
        strbuf_init(&why, 0);
        strbuf path;
        strbuf_path_init(&path);
        identity fwd = user;
        if (!deliver_privs_root()) {
            fwd.uid = getuid();
            fwd.gid = getgid();
        }
        int rc = -1;
        if (strbuf_path_printf(&path, "%s/.forward", user.home) < 0)
            strbuf_printf(&why, "%s/.forward: %s", user.home, strerror(errno));
        else
            rc = read_small_file(path.data, &fwd, 1, &body, &why);
        strbuf_free(&path);
        if (rc < 0) {
            log_warning("%s: %s", st->req->queue_id, why.data);
        } else if (rc > 0) {
            local_item_list items;
            int nonempty = local_expand_parse(body.data, &items) == 0 && items.count > 0;
            if (nonempty)
                local_item_list_free(&items);
            if (nonempty) {
                expand_list(st, body.data, "forward", &fwd, bare, to, depth);
                strbuf_free(&body);
                strbuf_free(&why);
                strbuf_free(&key);
                return;
            }
        }
        strbuf_free(&body);
        strbuf_free(&why);
    }
    strbuf_reset(&key);
    strbuf_printf(&key, "mailbox:%s", bare);
    if (!strmap_has(st->seen, key.data)) {
        strmap_put(st->seen, key.data, NULL);
        deliver_to_mailbox(st, to, &user);
    }
    strbuf_free(&key);
}

static void local_deliver(deliver_request *req, void *ctx)
{
    local_agent *agent = ctx;
    mail_source src;
    if (mail_source_open_or_defer(&src, req, "local") < 0)
        return;
    for (size_t i = 0; i < req->nrcpt; i++) {
        local_state st = {.agent = agent, .req = req, .src = &src, .rcpt = &req->rcpts[i],
                          .worst = 2};
        st.seen = strmap_new();
        strbuf_init(&st.reason, 0);
        dsn_set(st.dsn, sizeof(st.dsn), "2.0.0");
        deliver_address(&st, req->rcpts[i].address, 0, 0);
        forward_flush(&st);
        forward_free(&st);
        /* The result carries the worst outcome; soft_bounce was applied per leaf. */
        dsn_set(req->rcpts[i].dsn, DSN_MAX, st.dsn);
        free(req->rcpts[i].reason);
        req->rcpts[i].reason = xstrdup(st.reason.len ? st.reason.data : "delivered");
        strmap_free(st.seen, NULL);
        strbuf_free(&st.reason);
    }
    mail_source_close(&src);
}

int local_main(int argc, char **argv)
{
    mail_server srv;
    mail_server_init(&srv, "local", argc, argv);
    local_agent agent = {0};
    strbuf err;
    strbuf_init(&err, 0);
    if (local_settings_check(local_settings_current(), &err) < 0)
        log_fatal("%s", err.data);
    agent.res = resolver_open(&err);
    if (agent.res == NULL)
        log_fatal("address resolver: %s", err.data);
    strbuf_free(&err);
    int rc = deliver_server_run(&srv, local_deliver, &agent);
    if (agent.aliases)
        map_list_close(agent.aliases);
    resolver_close(agent.res);
    return rc;
}

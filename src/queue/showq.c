/* showq.c: reading the queue for listings and formatting them as Postfix does (see showq.h). */
#include "queue/showq.h"

#include "lib/attr.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_dir.h"
#include "queue/queue_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOWQ_REASON_COLUMN 76 /* a reason line ends here (when it fits) */
#define SHOWQ_WALK_DEPTH 4     /* hash_queue_depth is at most a few levels */

/* ---- entries ---- */

int showq_entry_init(showq_entry *e, const char *queue_name, const char *queue_id)
{
    memset(e, 0, sizeof(*e));
    if (fixed_copy(e->queue_name, sizeof(e->queue_name), queue_name) < 0 ||
        fixed_copy(e->queue_id, sizeof(e->queue_id), queue_id) < 0)
        return -1;
    return 0;
}

/* Replaces bytes that would garble a terminal (controls, DEL) with '?'. */
static void make_printable(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* Non-zero when a local part cannot be shown bare (RFC 5322 dot-atom rules). */
static int local_part_needs_quotes(const char *local, size_t len)
{
    if (len == 0)
        return 0;
    if (local[0] == '"')
        return 0; /* already quoted */
    if (local[0] == '.' || local[len - 1] == '.')
        return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c <= ' ' || c == 0x7f || strchr("()<>,;:\\\"[]@", c) != NULL)
            return 1;
        if (c == '.' && i + 1 < len && local[i + 1] == '.')
            return 1;
    }
    return 0;
}

/* Returns a new string: addr with its local part quoted when needed, printable. */
static char *quote_address(const char *addr, int quote)
{
    strbuf sb;
    strbuf_init(&sb, 0);
    const char *at = strrchr(addr, '@');
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    if (quote && local_part_needs_quotes(addr, local_len)) {
        strbuf_append_char(&sb, '"');
        for (size_t i = 0; i < local_len; i++) {
            if (addr[i] == '"' || addr[i] == '\\')
                strbuf_append_char(&sb, '\\');
            strbuf_append_char(&sb, addr[i]);
        }
        strbuf_append_char(&sb, '"');
        strbuf_append_str(&sb, addr + local_len);
    } else {
        strbuf_append_str(&sb, addr);
    }
    char *out = strbuf_detach(&sb);
    if (out == NULL)
        out = xstrdup("");
    make_printable(out);
    return out;
}

void showq_entry_set_sender(showq_entry *e, const char *sender, const char *empty_address)
{
    free(e->sender);
    if (sender == NULL || sender[0] == '\0')
        sender = empty_address && empty_address[0] ? empty_address : "MAILER-DAEMON";
    e->sender = quote_address(sender, 1);
}

void showq_entry_add_rcpt(showq_entry *e, const char *address, const char *reason, int quote)
{
    char *shown = quote_address(address && address[0] ? address : "MAILER-DAEMON", quote);
    /* Recipients from the queue file that the defer log already listed are not repeated. */
    if (quote) {
        for (size_t i = 0; i < e->ndeferred && i < e->nrcpt; i++) {
            if (strcmp(e->rcpts[i].address, shown) == 0) {
                free(shown);
                return;
            }
        }
    }
    if (e->nrcpt == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->rcpts = xrealloc(e->rcpts, e->cap * sizeof(*e->rcpts));
    }
    char *why = xstrdup(reason ? reason : "");
    make_printable(why);
    e->rcpts[e->nrcpt].address = shown;
    e->rcpts[e->nrcpt].reason = why;
    e->nrcpt++;
}

void showq_entry_free(showq_entry *e)
{
    for (size_t i = 0; i < e->nrcpt; i++) {
        free(e->rcpts[i].address);
        free(e->rcpts[i].reason);
    }
    free(e->rcpts);
    free(e->sender);
    memset(e, 0, sizeof(*e));
}

/* ---- text output ---- */

/* asctime()'s layout without the year, independent of the locale: "Sat Nov  8 20:42:07". */
static void format_arrival(char *buf, size_t len, time_t when)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (localtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
        tm.tm_mon > 11 ||
        fixed_printf(buf, len, "%s %s %2d %02d:%02d:%02d", days[tm.tm_wday], months[tm.tm_mon],
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) < 0) {
        if (fixed_copy(buf, len, "??") < 0) /* cannot happen: callers give 40 bytes */
            return;
    }
}

void showq_format_heading(strbuf *out, int long_ids)
{
    if (long_ids)
        strbuf_printf(out, "%-17s %8s %-19s %s\n", "----Queue ID-----", "--Size--",
                      "---Arrival Time----", "--Sender/Recipient------");
    else
        strbuf_printf(out, "%-11s %7s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----",
                      "-Sender/Recipient-------");
}

void showq_format_message(strbuf *out, const showq_entry *e, int long_ids)
{
    char id_status[sizeof(e->queue_id) + 2]; /* the id, a queue mark and an expiry mark */
    const char *mark = strcmp(e->queue_name, "active") == 0 ? "*"
                       : strcmp(e->queue_name, "hold") == 0 ? "!"
                                                            : "";
    if (fixed_printf(id_status, sizeof(id_status), "%s%s%s", e->queue_id, mark,
                     e->forced_expire ? "#" : "") < 0)
        return; /* cannot happen: sized for the id and both marks */
    char when[40];
    format_arrival(when, sizeof(when), e->arrival);
    const char *sender = e->sender ? e->sender : "";
    if (long_ids)
        strbuf_printf(out, "%-17s %8ld %-19.19s %s\n", id_status, e->size, when, sender);
    else
        strbuf_printf(out, "%-11s %7ld %-20.20s %s\n", id_status, e->size, when, sender);

    const char *previous_reason = "";
    for (size_t i = 0; i < e->nrcpt; i++) {
        const showq_rcpt *r = &e->rcpts[i];
        if (strcmp(previous_reason, r->reason) != 0) {
            previous_reason = r->reason;
            const char *shown = r->reason[0] ? r->reason : "reason unavailable";
            int padding = SHOWQ_REASON_COLUMN - (int)strlen(shown);
            strbuf_printf(out, "%*s(%s)\n", padding > 0 ? padding : 0, "", shown);
        }
        if (long_ids)
            strbuf_printf(out, "%-17s %8s %-19s %s\n", "", "", "", r->address);
        else
            strbuf_printf(out, "%-11s %7s %-20s %s\n", "", "", "", r->address);
    }
}

void showq_format_summary(strbuf *out, unsigned long messages, unsigned long total_size)
{
    if (messages == 0)
        strbuf_append_str(out, "Mail queue is empty\n");
    else
        strbuf_printf(out, "\n-- %lu Kbytes in %lu Request%s.\n", total_size / 1024, messages,
                      messages == 1 ? "" : "s");
}

/* ---- JSON output ---- */

static void json_string(strbuf *out, const char *s)
{
    strbuf_append_char(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            strbuf_append_str(out, "\\\"");
            break;
        case '\\':
            strbuf_append_str(out, "\\\\");
            break;
        case '\b':
            strbuf_append_str(out, "\\b");
            break;
        case '\f':
            strbuf_append_str(out, "\\f");
            break;
        case '\n':
            strbuf_append_str(out, "\\n");
            break;
        case '\r':
            strbuf_append_str(out, "\\r");
            break;
        case '\t':
            strbuf_append_str(out, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                strbuf_printf(out, "\\u%04X", *p);
            else
                strbuf_append_char(out, (char)*p);
        }
    }
    strbuf_append_char(out, '"');
}

void showq_format_json(strbuf *out, const showq_entry *e)
{
    strbuf_append_str(out, "{\"queue_name\": ");
    json_string(out, e->queue_name);
    strbuf_append_str(out, ", \"queue_id\": ");
    json_string(out, e->queue_id);
    strbuf_printf(out, ", \"arrival_time\": %lld, \"message_size\": %ld, \"forced_expire\": %s",
                  (long long)e->arrival, e->size, e->forced_expire ? "true" : "false");
    strbuf_append_str(out, ", \"sender\": ");
    json_string(out, e->sender ? e->sender : "");
    strbuf_append_str(out, ", \"recipients\": [");
    for (size_t i = 0; i < e->nrcpt; i++) {
        strbuf_append_str(out, i ? ", {\"address\": " : "{\"address\": ");
        json_string(out, e->rcpts[i].address);
        if (e->rcpts[i].reason[0]) {
            strbuf_append_str(out, ", \"delay_reason\": ");
            json_string(out, e->rcpts[i].reason);
        }
        strbuf_append_char(out, '}');
    }
    strbuf_append_str(out, "]}\n");
}

/* ---- defer log ---- */

/* Raw "name=value" lines, for a record that attr_parse() refuses: the last field wins. */
static char *raw_field(const char *text, size_t len, const char *name)
{
    size_t name_len = strlen(name);
    char *value = NULL;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
        size_t content_len = line_len;
        if (content_len > 0 && text[pos + content_len - 1] == '\r')
            content_len--;
        if (content_len > name_len && memcmp(text + pos, name, name_len) == 0 &&
            text[pos + name_len] == '=') {
            free(value);
            value = xstrndup(text + pos + name_len + 1, content_len - name_len - 1);
        }
        pos += line_len + (nl ? 1 : 0);
    }
    return value;
}

/* One record (its lines, without the blank line): adds its recipient and reason. */
static int defer_record(showq_entry *e, const char *text, size_t len)
{
    attr_record rec;
    attr_record_init(&rec);
    strbuf err;
    strbuf_init(&err, 1024);
    char *recipient = NULL, *reason = NULL;
    strbuf lf; /* the record with CRLF line ends made LF */
    strbuf_init(&lf, 0);
    for (size_t i = 0; i < len; i++)
        if (!(text[i] == '\r' && (i + 1 == len || text[i + 1] == '\n')))
            strbuf_append_char(&lf, text[i]);
    text = lf.data ? lf.data : "";
    len = lf.len;
    if (attr_parse(text, len, &rec, &err) == 0) {
        const char *r = attr_get(&rec, "recipient"), *why = attr_get(&rec, "reason");
        recipient = r ? xstrdup(r) : NULL;
        reason = why ? xstrdup(why) : NULL;
    } else {
        recipient = raw_field(text, len, "recipient");
        reason = raw_field(text, len, "reason");
    }
    attr_record_free(&rec);
    strbuf_free(&err);
    strbuf_free(&lf);
    int found = recipient != NULL && recipient[0] != '\0';
    if (found) {
        showq_entry_add_rcpt(e, recipient, reason ? reason : "", 0);
        e->ndeferred = e->nrcpt;
    }
    free(recipient);
    free(reason);
    return found;
}

size_t showq_parse_defer_log(showq_entry *e, const char *text, size_t len)
{
    size_t found = 0, record_start = 0, pos = 0;
    while (pos <= len) {
        const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
        size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
        int blank = line_len == 0 || (line_len == 1 && text[pos] == '\r');
        if (blank || nl == NULL) {
            size_t record_end = blank ? pos : len;
            if (record_end > record_start)
                found += (size_t)defer_record(e, text + record_start, record_end - record_start);
            record_start = pos + line_len + 1;
        }
        if (nl == NULL)
            break;
        pos += line_len + 1;
    }
    return found;
}

/* Reads at most limit bytes of path into sb; a missing file leaves sb empty. */
static int read_small_file(const char *path, strbuf *sb, size_t limit)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char buf[8192];
    while (sb->len < limit) {
        size_t want = limit - sb->len < sizeof(buf) ? limit - sb->len : sizeof(buf);
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        strbuf_append(sb, buf, (size_t)n);
    }
    close(fd);
    return 0;
}

/* ---- reading the queue ---- */

static int load_open_file(int fd, const struct stat *st, const char *queue_dir,
                          const char *empty_address, showq_entry *e, strbuf *err)
{
    queue_envelope env;
    memset(&env, 0, sizeof(env));
    if (queue_envelope_read(fd, &env, err) != 0) {
        queue_envelope_free(&env);
        return -1;
    }
    e->arrival = env.arrival.tv_sec > 0 ? env.arrival.tv_sec : st->st_mtime;
    e->size = env.message_size >= 0 ? env.message_size : (long)st->st_size;
    e->forced_expire = (st->st_mode & S_IXGRP) != 0;
    showq_entry_set_sender(e, env.sender, empty_address);

    /* The defer log comes first: its recipients carry the reasons. */
    char path[4096];
    if (queue_path(path, sizeof(path), queue_dir, "defer", e->queue_id, 0) == 0) {
        strbuf log_text;
        strbuf_init(&log_text, SHOWQ_DEFER_LOG_LIMIT);
        if (read_small_file(path, &log_text, SHOWQ_DEFER_LOG_LIMIT) == 0)
            showq_parse_defer_log(e, log_text.data ? log_text.data : "", log_text.len);
        strbuf_free(&log_text);
    }
    for (size_t i = 0; i < env.nrcpt; i++)
        if (!env.rcpts[i].done && env.rcpts[i].address)
            showq_entry_add_rcpt(e, env.rcpts[i].address, "", 1);
    queue_envelope_free(&env);
    return 0;
}

typedef struct walk_state {
    const char *queue_dir;
    const char *queue_name;
    const char *empty_address;
    int (*fn)(const showq_entry *e, void *ctx);
    void *ctx;
} walk_state;

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names in dir (no dot entries); NULL when dir cannot be read. */
static char **list_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    size_t n = 0, cap = 16;
    char **names = xmalloc(cap * sizeof(*names));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap *= 2;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), compare_names);
    *count = n;
    return names;
}

static int walk_file(walk_state *ws, const char *path, const char *id)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT) /* a file that just moved on is normal */
            log_warning("open %s %s: %s", ws->queue_name, id, strerror(errno));
        return 0;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR)) {
        showq_entry e;
        strbuf err;
        strbuf_init(&err, 1024);
        int loaded = -1;
        if (showq_entry_init(&e, ws->queue_name, id) < 0)
            strbuf_printf(&err, "queue name or id too long");
        else
            loaded = load_open_file(fd, &st, ws->queue_dir, ws->empty_address, &e, &err);
        if (loaded == 0)
            rc = ws->fn(&e, ws->ctx);
        else
            log_warning("%s/%s: %s -- skipped", ws->queue_name, id, err.data ? err.data : "");
        showq_entry_free(&e);
        strbuf_free(&err);
    }
    close(fd);
    return rc;
}

static int walk_dir(walk_state *ws, const char *dir, int depth)
{
    size_t n = 0;
    char **names = list_dir(dir, &n);
    if (names == NULL)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path)) {
            struct stat st;
            if (lstat(path, &st) == 0) {
                if (S_ISDIR(st.st_mode) && depth < SHOWQ_WALK_DEPTH)
                    rc = walk_dir(ws, path, depth + 1);
                else if (S_ISREG(st.st_mode) && queue_id_valid(names[i]))
                    rc = walk_file(ws, path, names[i]);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int showq_walk(const char *queue_dir, const char *empty_address,
               int (*fn)(const showq_entry *e, void *ctx), void *ctx)
{
    static const char *const order[] = {"maildrop", "active", "incoming", "deferred", "hold"};
    walk_state ws = {queue_dir, NULL, empty_address, fn, ctx};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        char dir[4096];
        if (snprintf(dir, sizeof(dir), "%s/%s", queue_dir, order[i]) >= (int)sizeof(dir))
            continue;
        ws.queue_name = order[i];
        int rc = walk_dir(&ws, dir, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

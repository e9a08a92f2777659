/*
 * postconf_edit.c: in-place editing of main.cf for postconf -e, -# and -X (see postconf_edit.h).
 */
#include "cmd/postconf_edit.h"
#include "lib/config.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EDIT_TMP_SUFFIX ".tmp"
#define EDIT_LOCK_ATTEMPTS 100

/* White space as main.cf's syntax sees it. */
static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int valid_name(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

static char *skip_blanks(char *s)
{
    while (is_blank((unsigned char)*s))
        s++;
    return s;
}

static void trim_trailing_blanks(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && is_blank((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

void postconf_edit_init(postconf_edit_list *list, postconf_edit_mode mode)
{
    list->mode = mode;
    list->reqs = NULL;
    list->count = 0;
}

void postconf_edit_free(postconf_edit_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->reqs[i].name);
        free(list->reqs[i].value);
    }
    free(list->reqs);
    list->reqs = NULL;
    list->count = 0;
}

static postconf_edit_req *find_request(postconf_edit_list *list, const char *name, size_t len)
{
    for (size_t i = 0; i < list->count; i++)
        if (strlen(list->reqs[i].name) == len && memcmp(list->reqs[i].name, name, len) == 0)
            return &list->reqs[i];
    return NULL;
}

const char *postconf_split_name_value(char *text, char **name, char **value)
{
    char *np = skip_blanks(text);
    if (*np == '\0' || *np == '=')
        return "missing attribute name";
    char *ep = np;
    while (*ep && !is_blank((unsigned char)*ep) && *ep != '=')
        ep++;
    char *cp = skip_blanks(ep);
    if (*cp != '=')
        return "missing '=' after attribute name";
    *ep = '\0';
    char *vp = skip_blanks(cp + 1);
    trim_trailing_blanks(vp);
    *name = np;
    *value = vp;
    return NULL;
}

int postconf_edit_add(postconf_edit_list *list, const char *arg, strbuf *err)
{
    if (strchr(arg, '\n') != NULL) {
        strbuf_printf(err, "-e, -X, or -# accepts no multi-line input");
        return -1;
    }
    char *copy = xstrdup(arg);
    char *text = skip_blanks(copy);
    char *name, *value = NULL;
    int rc = 0;
    if (*text == '#') {
        strbuf_printf(err, "-e, -X, or -# accepts no comment input");
        rc = -1;
    } else if (list->mode == POSTCONF_EDIT_SET) {
        const char *why = postconf_split_name_value(text, &name, &value);
        if (why) {
            strbuf_printf(err, "%s: \"%s\"", why, arg);
            rc = -1;
        }
    } else if (*text == '\0') {
        strbuf_printf(err, "-X or -# requires non-blank parameter names");
        rc = -1;
    } else if (strchr(text, '=') != NULL) {
        strbuf_printf(err, "-X or -# requires parameter names without value");
        rc = -1;
    } else {
        name = text;
        trim_trailing_blanks(name);
    }
    /* Postern's main.cf parser refuses other names: writing one would break the whole file.
     * Removing or commenting out one is how an administrator repairs such a file. */
    if (rc == 0 && list->mode == POSTCONF_EDIT_SET && !valid_name(name)) {
        strbuf_printf(err, "bad parameter name: \"%s\"", name);
        rc = -1;
    }
    if (rc == 0) {
        postconf_edit_req *old = find_request(list, name, strlen(name));
        if (old) {
            if (old->value)
                strbuf_printf(err, "ignoring earlier request: '%s = %s'", old->name, old->value);
            else
                strbuf_printf(err, "ignoring earlier request: '%s'", old->name);
            free(old->value);
            old->value = value ? xstrdup(value) : NULL;
            rc = 1;
        } else {
            list->reqs = xrealloc(list->reqs, (list->count + 1) * sizeof(*list->reqs));
            postconf_edit_req *r = &list->reqs[list->count++];
            r->name = xstrdup(name);
            r->value = value ? xstrdup(value) : NULL;
            r->found = 0;
        }
    }
    free(copy);
    return rc;
}

static int compare_requests(const void *a, const void *b)
{
    const postconf_edit_req *const *ra = a, *const *rb = b;
    return strcmp((*ra)->name, (*rb)->name);
}

static int append_new_settings(postconf_edit_list *list, strbuf *out)
{
    postconf_edit_req **missing = xcalloc(list->count + 1, sizeof(*missing));
    size_t n = 0;
    for (size_t i = 0; i < list->count; i++)
        if (list->reqs[i].found == 0)
            missing[n++] = &list->reqs[i];
    qsort(missing, n, sizeof(*missing), compare_requests);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = strbuf_printf(out, "%s = %s\n", missing[i]->name, missing[i]->value);
    free(missing);
    return rc;
}

/* Copies one physical line (with its newline, adding one when missing), optionally after '#'. */
static int copy_line(strbuf *out, const char *line, size_t len, int comment_out)
{
    if (comment_out && strbuf_append_char(out, '#') < 0)
        return -1;
    if (strbuf_append(out, line, len) < 0)
        return -1;
    if ((len == 0 || line[len - 1] != '\n') && strbuf_append_char(out, '\n') < 0)
        return -1;
    return 0;
}

/* Handles the first line of a logical line; returns whether the logical line is being edited. */
static int edit_first_line(postconf_edit_list *list, const char *line, size_t len, strbuf *out,
                           int *rc)
{
    size_t key_len = 0;
    while (key_len < len && !is_blank((unsigned char)line[key_len]) && line[key_len] != '=')
        key_len++;
    postconf_edit_req *req = find_request(list, line, key_len);
    if (req == NULL) {
        *rc = copy_line(out, line, len, 0);
        return 0;
    }
    req->found++;
    switch (list->mode) {
    case POSTCONF_EDIT_SET:
        *rc = strbuf_printf(out, "%s = %s\n", req->name, req->value);
        break;
    case POSTCONF_EDIT_COMMENT:
        *rc = copy_line(out, line, len, 1);
        break;
    case POSTCONF_EDIT_REMOVE:
        *rc = 0;
        break;
    }
    return 1;
}

int postconf_edit_text(postconf_edit_list *list, const char *in, size_t len, strbuf *out)
{
    for (size_t i = 0; i < list->count; i++)
        list->reqs[i].found = 0;
    int editing = 0, rc = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        const char *line = in + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) + 1 : len - pos;
        pos += line_len;
        size_t first = 0;
        while (first < line_len && is_blank((unsigned char)line[first]))
            first++;
        if (first == line_len || line[first] == '#') /* comment or blank: always kept */
            rc = copy_line(out, line, line_len, 0);
        else if (first > 0) /* continuation of the current logical line */
            rc = editing
                     ? (list->mode == POSTCONF_EDIT_COMMENT ? copy_line(out, line, line_len, 1) : 0)
                     : copy_line(out, line, line_len, 0);
        else
            editing = edit_first_line(list, line, line_len, out, &rc);
    }
    if (rc == 0 && list->mode == POSTCONF_EDIT_SET)
        rc = append_new_settings(list, out);
    return rc < 0 ? -1 : 0;
}

/* Opens and locks path.tmp. A lock won on a file that a previous editor already renamed into
 * place is useless, so check the name still leads to the locked file, and retry if not. */
static int lock_temp_file(const char *tmp, strbuf *err)
{
    for (int attempt = 0; attempt < EDIT_LOCK_ATTEMPTS; attempt++) {
        int fd = open(tmp, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            strbuf_printf(err, "open %s: %s", tmp, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX) < 0) {
            strbuf_printf(err, "lock %s: %s", tmp, strerror(errno));
            close(fd);
            return -1;
        }
        struct stat by_fd, by_name;
        if (fstat(fd, &by_fd) == 0 && stat(tmp, &by_name) == 0 && by_fd.st_dev == by_name.st_dev &&
            by_fd.st_ino == by_name.st_ino) {
            if (!S_ISREG(by_fd.st_mode)) {
                strbuf_printf(err, "%s: not a regular file", tmp);
                close(fd);
                return -1;
            }
            return fd;
        }
        close(fd);
    }
    strbuf_printf(err, "lock %s: too many concurrent editors", tmp);
    return -1;
}

/* Reads the whole file, bounded like config_load(). Returns NULL with err set. */
static char *read_original(const char *path, struct stat *st, size_t *len, strbuf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        strbuf_printf(err, "open %s for reading: %s", path, strerror(errno));
        return NULL;
    }
    strbuf sb;
    strbuf_init(&sb, CONFIG_MAX_FILE_SIZE);
    int rc = fstat(fd, st) < 0 ? -1 : 0;
    char chunk[8192];
    while (rc == 0) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            strbuf_printf(err, "read %s: %s", path, strerror(errno));
            rc = -1;
        } else if (n == 0) {
            break;
        } else if (strbuf_append(&sb, chunk, (size_t)n) < 0) {
            strbuf_printf(err, "%s: file too large", path);
            rc = -1;
        }
    }
    close(fd);
    if (rc == 0 && memchr(sb.data, '\0', sb.len) != NULL) {
        strbuf_printf(err, "%s: file contains a NUL byte", path);
        rc = -1;
    }
    if (rc < 0) {
        if (err->len == 0)
            strbuf_printf(err, "stat %s: %s", path, strerror(errno));
        strbuf_free(&sb);
        return NULL;
    }
    *len = sb.len;
    return strbuf_detach(&sb);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_parent_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes the new text into the locked temp file with the original's mode and owner. */
static int fill_temp_file(int fd, const char *tmp, const strbuf *text, const struct stat *orig,
                          strbuf *err)
{
    const char *step = NULL;
    if (ftruncate(fd, 0) < 0)
        step = "truncate";
    else if (write_all(fd, text->data, text->len) < 0)
        step = "write";
    else if (geteuid() == 0 && fchown(fd, orig->st_uid, orig->st_gid) < 0)
        step = "chown";
    else if (fchmod(fd, orig->st_mode & 07777) < 0)
        step = "chmod";
    else if (fsync(fd) < 0)
        step = "fsync";
    if (step == NULL)
        return 0;
    strbuf_printf(err, "%s %s: %s", step, tmp, strerror(errno));
    return -1;
}

int postconf_edit_file(postconf_edit_list *list, const char *path, strbuf *err)
{
    strbuf tmp_name;
    strbuf_init(&tmp_name, 0);
    strbuf_printf(&tmp_name, "%s%s", path, EDIT_TMP_SUFFIX);
    char *tmp = strbuf_detach(&tmp_name);
    int fd = lock_temp_file(tmp, err);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    struct stat orig;
    size_t len = 0;
    char *text = read_original(path, &orig, &len, err);
    int rc = text ? 0 : -1;
    strbuf out;
    strbuf_init(&out, CONFIG_MAX_FILE_SIZE);
    if (rc == 0 && postconf_edit_text(list, text, len, &out) < 0) {
        strbuf_printf(err, "%s: edited file would be too large", path);
        rc = -1;
    }
    if (rc == 0)
        rc = fill_temp_file(fd, tmp, &out, &orig, err);
    if (rc == 0 && rename(tmp, path) < 0) {
        strbuf_printf(err, "rename %s to %s: %s", tmp, path, strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        unlink(tmp); /* not renamed, so still ours alone while we hold the lock */
    } else if (fsync_parent_dir(path) < 0) {
        strbuf_printf(err, "fsync directory of %s: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    strbuf_free(&out);
    free(text);
    free(tmp);
    return rc;
}

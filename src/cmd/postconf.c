/*
 * postconf.c: the postconf command, compatible with Postfix's postconf(1) for main.cf.
 *
 *   postconf [-dfhHnqvx] [-c config_dir] [-C class] [-o name=value] [name...]
 *   postconf [-c config_dir] [-e] name=value...
 *   postconf [-c config_dir] -# name...      postconf [-c config_dir] -X name...
 *
 * Showing: every parameter (or the named ones) as "name = value", sorted by name, with the value
 * set in main.cf or else the default, unexpanded. -d shows defaults only, -n only what main.cf
 * sets, -x expands $name, -h drops "name = ", -H shows names only, -f folds long lines, -o
 * overrides a value for this run, -C limits the listing to builtin, service or user parameters.
 * As in Postfix, white space inside values is shown normalised to single spaces. A main.cf name
 * that is neither a known parameter nor used as $name anywhere (main.cf, defaults, master.cf -o)
 * gets an "unused parameter" warning after the output, unless -q.
 *
 * Fail closed (issue 9): -d lists only the parameters Postern implements. A Postfix parameter
 * Postern does not implement is listed when main.cf sets it, and gets a warning after the
 * output, unless -q: "no effect on mail flow" for an inert one, "refusing to run without it"
 * when postfix start would refuse it (config_audit.h). -U prints every Postfix parameter (or
 * the named ones) as "name = implemented|inert|required", and the per-transport rules as
 * "<service>_suffix = class".
 *
 * Editing (postconf_edit.h): -e, or any first argument containing '=', replaces or appends
 * settings; -# comments them out; -X removes them. main.cf is rewritten atomically.
 *
 * Messages go to stderr as "postconf: warning: ..." and "postconf: fatal: ..." (exit 1); bad
 * usage exits with 64.
 */
#include "cmd/commands.h"
#include "cmd/postconf_edit.h"
#include "lib/config.h"
#include "lib/config_params.h"
#include "lib/log.h"
#include "lib/param_class.h"
#include "lib/strbuf.h"
#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "master/config_audit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Option bits, named after Postfix's postconf options. */
enum {
    SHOW_DEFS = 1 << 0,   /* -d */
    EDIT_CONF = 1 << 1,   /* -e */
    FOLD_LINE = 1 << 2,   /* -f */
    HIDE_NAME = 1 << 3,   /* -h */
    HIDE_VALUE = 1 << 4,  /* -H */
    SHOW_NONDEF = 1 << 5, /* -n */
    MAIN_OVER = 1 << 6,   /* -o */
    SHOW_EVAL = 1 << 7,   /* -x */
    EDIT_EXCL = 1 << 8,   /* -X */
    COMMENT_OUT = 1 << 9, /* -# */
    CLASSIFY = 1 << 10,   /* -U (Postern): implemented, inert or required */
};

/* Parameter classes for -C. */
enum {
    CLASS_BUILTIN = 1 << 0,
    CLASS_SERVICE = 1 << 1,
    CLASS_USER = 1 << 2,
    CLASS_ALL = CLASS_BUILTIN | CLASS_SERVICE | CLASS_USER,
};

#define FOLD_LINE_LIMIT 80
#define FOLD_INDENT "    "
#define VALUE_SEPARATORS " \t\r\n"
#define MASTER_CF_FIXED_FIELDS 8

/* Option letters and the mode bits they set, in the order Postfix names them in messages. */
static const struct option_flag {
    char letter;
    int flag;
} option_flags[] = {
    {'d', SHOW_DEFS},  {'e', EDIT_CONF},   {'f', FOLD_LINE}, {'h', HIDE_NAME},
    {'H', HIDE_VALUE}, {'n', SHOW_NONDEF}, {'o', MAIN_OVER}, {'x', SHOW_EVAL},
    {'X', EDIT_EXCL},  {'#', COMMENT_OUT}, {'U', CLASSIFY},
};

#define OPTION_FLAG_COUNT (sizeof(option_flags) / sizeof(option_flags[0]))

/* Options that make no sense together; Postfix rejects the same combinations. */
static const int exclusive_options[] = {
    SHOW_DEFS | EDIT_CONF | SHOW_NONDEF | COMMENT_OUT | EDIT_EXCL | CLASSIFY,
    FOLD_LINE | EDIT_CONF | COMMENT_OUT | EDIT_EXCL,
    SHOW_EVAL | EDIT_CONF | COMMENT_OUT | EDIT_EXCL,
    MAIN_OVER | SHOW_DEFS | EDIT_CONF | COMMENT_OUT | EDIT_EXCL,
    HIDE_NAME | EDIT_CONF | COMMENT_OUT | EDIT_EXCL | HIDE_VALUE,
};

struct postconf_opts {
    int mode;
    int quiet;
    int param_class;
    const char *config_dir;
    const char **overrides; /* -o name=value arguments */
    size_t override_count;
};

static int usage(void)
{
    fprintf(stderr, "postconf: fatal: usage: postconf"
                    " [-c config_dir] [-C param_class] [-d (parameter defaults)]"
                    " [-e (edit configuration)] [-f (fold lines)] [-h (no names)]"
                    " [-H (no values)] [-n (non-default parameters)]"
                    " [-o name=value (override parameter value)] [-p (main.cf, default)]"
                    " [-q (quiet)] [-U (Postern: implemented, inert or required)]"
                    " [-v (verbose)] [-x (expand parameter values)]"
                    " [-X (exclude)] [-# (comment-out)] [name...]\n");
    return EX_USAGE_CODE;
}

static void check_exclusive_options(int mode)
{
    for (size_t g = 0; g < sizeof(exclusive_options) / sizeof(exclusive_options[0]); g++) {
        int set = mode & exclusive_options[g];
        if (set == 0 || (set & (set - 1)) == 0)
            continue;
        strbuf names;
        strbuf_init(&names, 0);
        for (size_t i = 0; i < OPTION_FLAG_COUNT; i++)
            if (set & option_flags[i].flag)
                strbuf_printf(&names, "%s-%c", names.len ? " " : "", option_flags[i].letter);
        log_fatal("specify one of %s", names.data);
    }
}

/* -C: a list of builtin, service, user, all. Returns the class bits; fatal when malformed. */
static int parse_param_class(const char *arg)
{
    static const struct {
        const char *name;
        int bits;
    } classes[] = {{"builtin", CLASS_BUILTIN},
                   {"service", CLASS_SERVICE},
                   {"user", CLASS_USER},
                   {"all", CLASS_ALL}};
    char *copy = xstrdup(arg);
    int bits = 0;
    char *save = NULL;
    for (char *word = strtok_r(copy, ", \t\r\n", &save); word;
         word = strtok_r(NULL, ", \t\r\n", &save)) {
        int found = 0;
        for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
            if (strcasecmp(word, classes[i].name) == 0)
                found = classes[i].bits;
        if (found == 0)
            log_fatal("unknown -C option value \"%s\" in \"%s\"", word, arg);
        bits |= found;
    }
    free(copy);
    return bits;
}

static int option_flag(int letter)
{
    for (size_t i = 0; i < OPTION_FLAG_COUNT; i++)
        if (option_flags[i].letter == letter)
            return option_flags[i].flag;
    return 0;
}

/* Returns the index of the first operand, or -1 after a usage error. */
static int parse_options(int argc, char **argv, struct postconf_opts *opts)
{
    int ch;
    opts->overrides = xcalloc((size_t)argc + 1, sizeof(*opts->overrides));
    /* '+': stop at the first operand, so values that start with '-' stay operands. */
    while ((ch = getopt(argc, argv, "+c:C:defhHno:pqUvxX#")) != -1) {
        if (ch == 'c')
            opts->config_dir = optarg;
        else if (ch == 'C')
            opts->param_class = parse_param_class(optarg);
        else if (ch == 'q')
            opts->quiet = 1;
        else if (ch == 'o')
            opts->overrides[opts->override_count++] = optarg;
        else if (ch != 'p' && ch != 'v' && option_flag(ch) == 0)
            return -1; /* -p (main.cf) is the only mode there is; -v changes nothing */
        opts->mode |= option_flag(ch);
    }
    return optind;
}

/* Prints one line with white space normalised, folded at FOLD_LINE_LIMIT columns with -f. */
static void print_line(int mode, const char *text)
{
    size_t line_len = 0;
    const char *p = text;
    for (;;) {
        p += strspn(p, VALUE_SEPARATORS);
        if (*p == '\0')
            break;
        size_t word_len = strcspn(p, VALUE_SEPARATORS);
        if (line_len > 0) {
            if ((mode & FOLD_LINE) == 0 || line_len + word_len < FOLD_LINE_LIMIT) {
                fputc(' ', stdout);
                line_len++;
            } else {
                fputs("\n" FOLD_INDENT, stdout);
                line_len = strlen(FOLD_INDENT);
            }
        }
        fwrite(p, 1, word_len, stdout);
        line_len += word_len;
        p += word_len;
    }
    fputc('\n', stdout);
}

/* Records in user every $name in text that main.cf sets but the table does not know. */
static void scan_references(config *cfg, const char *text, strmap *user)
{
    for (const char *p = strchr(text, '$'); p; p = strchr(p, '$')) {
        p++;
        if (*p == '$') {
            p++;
            continue;
        }
        if (*p == '{' || *p == '(')
            p++;
        size_t n = 0;
        while (isalnum((unsigned char)p[n]) || p[n] == '_')
            n++;
        if (n == 0)
            continue;
        char *name = xstrndup(p, n);
        if (param_lookup(name) == NULL && config_is_set(cfg, name))
            strmap_put(user, name, cfg);
        free(name);
        p += n; /* the text of ${name?text} is scanned as the loop goes on */
    }
}

static int is_raw(const char *name)
{
    const param_def *p = param_lookup(name);
    return p && p->type == PARAM_RAW;
}

/* master.cf: scans the values of "-o name=value" and "-o { name = value }" service arguments. */
static void scan_master_logical_line(config *cfg, char *line, strmap *user)
{
    char *save = NULL;
    int field = 0;
    enum { PLAIN, AFTER_O, IN_GROUP } state = PLAIN;
    for (char *tok = strtok_r(line, VALUE_SEPARATORS, &save); tok;
         tok = strtok_r(NULL, VALUE_SEPARATORS, &save)) {
        if (++field <= MASTER_CF_FIXED_FIELDS)
            continue;
        if (state == IN_GROUP) {
            scan_references(cfg, tok, user);
            if (tok[strlen(tok) - 1] == '}')
                state = PLAIN;
        } else if (state == AFTER_O) {
            const char *eq = strchr(tok, '=');
            scan_references(cfg, eq ? eq + 1 : tok, user);
            state = tok[0] == '{' && tok[strlen(tok) - 1] != '}' ? IN_GROUP : PLAIN;
        } else if (strcmp(tok, "-o") == 0) {
            state = AFTER_O;
        } else if (strncmp(tok, "-o", 2) == 0) {
            const char *eq = strchr(tok, '=');
            scan_references(cfg, eq ? eq + 1 : tok + 2, user);
        }
    }
}

/* Reads a whole file into sb, bounded by CONFIG_MAX_FILE_SIZE. Returns 0, or -1 with errno set. */
static int read_bounded(const char *path, strbuf *sb)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        if (strbuf_append(sb, chunk, n) < 0) {
            errno = EFBIG;
            rc = -1;
        }
    if (rc == 0 && ferror(fp)) {
        errno = EIO;
        rc = -1;
    }
    fclose(fp);
    return rc;
}

static void scan_master_cf(config *cfg, strmap *user)
{
    strbuf path, text, logical;
    strbuf_init(&path, 0);
    strbuf_init(&text, CONFIG_MAX_FILE_SIZE);
    strbuf_init(&logical, CONFIG_MAX_FILE_SIZE);
    strbuf_printf(&path, "%s/master.cf", config_directory(cfg));
    if (read_bounded(path.data, &text) < 0)
        log_warning("open %s: %s", path.data, strerror(errno));
    else
        text.len = strlen(text.data); /* a NUL byte ends the text */
    for (size_t pos = 0; pos < text.len;) {
        char *line = text.data + pos;
        char *nl = memchr(line, '\n', text.len - pos);
        size_t len = nl ? (size_t)(nl - line) + 1 : text.len - pos;
        pos += len;
        size_t first = strspn(line, VALUE_SEPARATORS);
        if (first >= len || line[first] == '#')
            continue;
        if (first == 0 && logical.len > 0) {
            scan_master_logical_line(cfg, logical.data, user);
            strbuf_reset(&logical);
        }
        strbuf_append(&logical, line, len); /* cannot exceed: same bound as the file */
    }
    if (logical.len > 0)
        scan_master_logical_line(cfg, logical.data, user);
    strbuf_free(&logical);
    strbuf_free(&text);
    strbuf_free(&path);
}

/* User-defined parameters, as Postfix finds them: names that main.cf sets and that are used as
 * $name in a default, in a main.cf value, in master.cf -o values, or in smtpd_restriction_classes.
 */
static strmap *find_user_parameters(config *cfg)
{
    strmap *user = strmap_new();
    size_t count;
    const param_def *table = param_table(&count);
    for (size_t i = 0; i < count; i++)
        if (table[i].type != PARAM_RAW && !config_is_set(cfg, table[i].name))
            scan_references(cfg, config_get_default(cfg, table[i].name), user);
    const char **names = config_set_names(cfg);
    for (size_t i = 0; names[i]; i++)
        if (!is_raw(names[i]))
            scan_references(cfg, config_get_raw(cfg, names[i]), user);
    free(names);
    char *classes = xstrdup(config_get(cfg, "smtpd_restriction_classes"));
    char *save = NULL;
    for (char *w = strtok_r(classes, ", \t\r\n", &save); w; w = strtok_r(NULL, ", \t\r\n", &save))
        if (param_lookup(w) == NULL && config_is_set(cfg, w))
            strmap_put(user, w, cfg);
    free(classes);
    scan_master_cf(cfg, user);
    /* Postfix parameters Postern does not implement are shown when main.cf sets them. */
    const char **set = config_set_names(cfg);
    for (size_t i = 0; set[i]; i++)
        if (param_lookup(set[i]) == NULL && param_class_of(set[i]) != PARAM_CLASS_UNKNOWN)
            strmap_put(user, set[i], cfg);
    free(set);
    return user;
}

/* The value to show, or NULL when the parameter is not shown in this mode. */
static const char *lookup_value(config *cfg, int mode, const char *name)
{
    if (mode & SHOW_DEFS)
        return config_get_default(cfg, name);
    if (config_is_set(cfg, name))
        return config_get_raw(cfg, name);
    if (mode & SHOW_NONDEF)
        return NULL;
    return config_get_default(cfg, name);
}

static void print_parameter(config *cfg, int mode, const char *name)
{
    const char *value = lookup_value(cfg, mode, name);
    if (value == NULL)
        return;
    if (mode & HIDE_VALUE) {
        print_line(mode, name);
        return;
    }
    if ((mode & SHOW_EVAL) && !is_raw(name))
        value = config_get(cfg, name);
    if (mode & HIDE_NAME) {
        print_line(mode, value);
        return;
    }
    strbuf line;
    strbuf_init(&line, 0);
    strbuf_printf(&line, "%s = %s", name, value);
    print_line(mode, line.data);
    strbuf_free(&line);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* All parameters of the requested classes, sorted: the table plus user-defined ones. */
static void show_all(config *cfg, int mode, int classes, strmap *user)
{
    size_t count;
    const param_def *table = param_table(&count);
    const char **user_names = strmap_sorted_keys(user);
    size_t user_count = strmap_count(user);
    const char **names = xcalloc(count + user_count + 1, sizeof(*names));
    size_t n = 0;
    if (classes & CLASS_BUILTIN)
        for (size_t i = 0; i < count; i++)
            names[n++] = table[i].name;
    if (classes & CLASS_USER)
        for (size_t i = 0; i < user_count; i++)
            names[n++] = user_names[i];
    qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++)
        print_parameter(cfg, mode, names[i]);
    free(names);
    free(user_names);
}

static void show_named(config *cfg, int mode, strmap *user, char **names)
{
    for (char **np = names; *np; np++) {
        param_class cls = param_class_of(*np);
        if (param_lookup(*np) == NULL && !strmap_has(user, *np) && cls != PARAM_CLASS_UNKNOWN) {
            fflush(stdout);
            log_warning("%s: not implemented by Postern (%s); Postfix's default is \"%s\"", *np,
                        param_class_name(cls),
                        param_class_postfix_default(*np) ? param_class_postfix_default(*np) : "");
        } else if (param_lookup(*np) == NULL && !strmap_has(user, *np)) {
            fflush(stdout);
            log_warning("%s: unknown parameter", *np);
        } else {
            print_parameter(cfg, mode, *np);
        }
    }
}

static void warn_unused(config *cfg, strmap *user)
{
    config_audit audit;
    config_audit_run(cfg, NULL, &audit);
    for (size_t i = 0; i < audit.count; i++) {
        fflush(stdout);
        log_warning("%s", audit.items[i].text);
    }
    config_audit_free(&audit);
    const char **names = config_set_names(cfg);
    for (size_t i = 0; names[i]; i++) {
        if (param_lookup(names[i]) != NULL || strmap_has(user, names[i]))
            continue;
        fflush(stdout);
        log_warning("%s: unused parameter: %s=%s", config_main_cf(cfg), names[i],
                    config_get_raw(cfg, names[i]));
    }
    free(names);
}

static void apply_overrides(config *cfg, const struct postconf_opts *opts)
{
    for (size_t i = 0; i < opts->override_count; i++) {
        char *copy = xstrdup(opts->overrides[i]);
        char *name, *value;
        const char *why = postconf_split_name_value(copy, &name, &value);
        if (why)
            log_fatal("invalid parameter override: %s: \"%s\"", why, opts->overrides[i]);
        config_override(cfg, name, value);
        free(copy);
    }
}

static void show_parameters(const struct postconf_opts *opts, char **names)
{
    config *cfg;
    if (opts->mode & SHOW_DEFS) {
        cfg = config_defaults(opts->config_dir);
    } else {
        strbuf err;
        strbuf_init(&err, 0);
        cfg = config_load(opts->config_dir, &err);
        if (cfg == NULL)
            log_fatal("%s", err.data);
        strbuf_free(&err);
        apply_overrides(cfg, opts);
    }
    strmap *user = (opts->mode & SHOW_DEFS) ? strmap_new() : find_user_parameters(cfg);
    if (*names)
        show_named(cfg, opts->mode, user, names);
    else
        show_all(cfg, opts->mode, opts->param_class, user);
    if ((opts->mode & SHOW_DEFS) == 0 && !opts->quiet)
        warn_unused(cfg, user);
    strmap_free(user, NULL);
    config_free(cfg);
}

static void show_class(const char *name, param_class cls)
{
    printf("%s = %s\n", name, param_class_name(cls));
}

/* -U: the classification, of every Postfix parameter or of the named ones. */
static void show_classes(char **names)
{
    for (char **np = names; *np; np++)
        show_class(*np, param_class_of(*np));
    if (*names)
        return;
    size_t count;
    const param_class_entry *t = param_class_table(&count);
    for (size_t i = 0; i < count; i++)
        show_class(t[i].name, t[i].cls);
    const param_class_entry *rules = param_class_service_rules(&count);
    for (size_t i = 0; i < count; i++)
        printf("<service>_%s = %s\n", rules[i].name, param_class_name(rules[i].cls));
}

static void edit_main_cf(const struct postconf_opts *opts, int argc, char **argv)
{
    postconf_edit_mode how = (opts->mode & EDIT_CONF)     ? POSTCONF_EDIT_SET
                             : (opts->mode & COMMENT_OUT) ? POSTCONF_EDIT_COMMENT
                                                          : POSTCONF_EDIT_REMOVE;
    postconf_edit_list list;
    postconf_edit_init(&list, how);
    strbuf msg;
    strbuf_init(&msg, 0);
    for (int i = 0; i < argc; i++) {
        strbuf_reset(&msg);
        int rc = postconf_edit_add(&list, argv[i], &msg);
        if (rc < 0)
            log_fatal("%s", msg.data);
        if (rc > 0)
            log_warning("%s", msg.data);
    }
    const char *dir = config_choose_dir(opts->config_dir);
    strbuf path;
    strbuf_init(&path, 0);
    strbuf_printf(&path, "%s/main.cf", dir);
    strbuf_reset(&msg);
    if (postconf_edit_file(&list, path.data, &msg) < 0)
        log_fatal("%s", msg.data);
    for (size_t i = 0; i < list.count; i++)
        if (list.reqs[i].found > 1)
            log_warning("%s: multiple entries for \"%s\"", path.data, list.reqs[i].name);
    /* Postern refuses to start on a main.cf it cannot load: say so now, not at reload time. */
    strbuf_reset(&msg);
    config *cfg = config_load(dir, &msg);
    if (cfg == NULL)
        log_warning("%s", msg.data);
    config_free(cfg);
    postconf_edit_free(&list);
    strbuf_free(&msg);
    strbuf_free(&path);
}

int postconf_main(int argc, char **argv)
{
    log_init("postconf");
    log_set_stderr(1);
    struct postconf_opts opts = {.param_class = CLASS_ALL};
    int first = parse_options(argc, argv, &opts);
    if (first < 0) {
        free(opts.overrides);
        return usage();
    }
    char **operands = argv + first;
    int operand_count = argc - first;
    /* Postfix 2.8 and later: "postconf name=value" edits, like -e. */
    if (operand_count > 0 && strchr(operands[0], '=') != NULL)
        opts.mode |= EDIT_CONF;
    check_exclusive_options(opts.mode);
    if ((opts.mode & EDIT_CONF) && operand_count == 0)
        log_fatal("-e requires name=value argument");
    if (opts.mode & CLASSIFY) {
        show_classes(operands);
    } else if (opts.mode & (EDIT_CONF | COMMENT_OUT | EDIT_EXCL)) {
        if (operand_count == 0)
            log_fatal("missing service argument");
        edit_main_cf(&opts, operand_count, operands);
    } else {
        show_parameters(&opts, operands);
    }
    free(opts.overrides);
    if (fflush(stdout) == EOF || ferror(stdout))
        log_fatal("write error on standard output: %s", strerror(errno));
    return 0;
}

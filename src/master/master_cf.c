/*
 * master_cf.c: the master.cf parser (see master_cf.h).
 *
 * The file is split into logical lines (continuations joined, comments dropped), each logical
 * line into tokens ("{ ... }" groups kept whole), and the tokens into one master_cf_entry.
 */
#include "master/master_cf.h"
#include "lib/log.h"
#include "lib/str_trim.h"
#include "lib/xalloc.h"
#include "master/mail_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MASTER_CF_LINE_LIMIT (64u * 1024)
#define MASTER_CF_MAX_TOKENS 1024
#define MASTER_CF_MAX_ADDRS 64

/* Ports Postern knows even when /etc/services does not list them. */
static const struct {
    const char *name;
    int port;
} builtin_ports[] = {
    {"smtp", 25}, {"submission", 587}, {"smtps", 465}, {"submissions", 465},
    {"lmtp", 24}, {"urd", 465},        {"pop3", 110},  {"imap", 143},
};

int master_cf_port(const char *text)
{
    if (text == NULL || *text == '\0')
        return -1;
    if (isdigit((unsigned char)text[0])) {
        char *end;
        errno = 0;
        long n = strtol(text, &end, 10);
        if (*end || errno || n < 1 || n > 65535)
            return -1;
        return (int)n;
    }
    struct servent *se = getservbyname(text, "tcp");
    if (se)
        return ntohs((uint16_t)se->s_port);
    for (size_t i = 0; i < sizeof(builtin_ports) / sizeof(builtin_ports[0]); i++)
        if (strcmp(builtin_ports[i].name, text) == 0)
            return builtin_ports[i].port;
    return -1;
}

int master_cf_program_implemented(const char *program)
{
    for (const char *const *p = mail_server_programs; *p; p++)
        if (strcmp(*p, program) == 0)
            return 1;
    return 0;
}

/* Parser state for one file. */
typedef struct parser {
    config *cfg;
    const char *path;
    int line; /* first line of the logical line being parsed */
    strbuf *err;
    master_cf *mcf;
} parser;

static int parse_error(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int parse_error(parser *p, const char *fmt, ...)
{
    va_list ap;
    strbuf_reset(p->err);
    strbuf_printf(p->err, "%s, line %d: ", p->path, p->line);
    va_start(ap, fmt);
    strbuf_vprintf(p->err, fmt, ap);
    va_end(ap);
    return -1;
}

static void free_entry(master_cf_entry *e)
{
    free(e->name);
    free(e->program);
    for (size_t i = 0; i < e->noverrides; i++) {
        free(e->overrides[i].name);
        free(e->overrides[i].value);
    }
    free(e->overrides);
    for (size_t i = 0; i < e->nargs; i++)
        free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->naddrs; i++)
        free(e->addrs[i]);
    free(e->addrs);
}

void master_cf_free(master_cf *mcf)
{
    if (mcf == NULL)
        return;
    for (size_t i = 0; i < mcf->count; i++)
        free_entry(&mcf->entries[i]);
    free(mcf->entries);
    free(mcf->path);
    free(mcf);
}

/* Splits a logical line into tokens in place; "{ text }" is one token without the braces. */
static int tokenize(parser *p, char *s, char **tokens, size_t *ntokens)
{
    size_t n = 0;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        if (n == MASTER_CF_MAX_TOKENS)
            return parse_error(p, "too many fields");
        if (*s == '{') {
            int depth = 1;
            char *start = s + 1, *q = start;
            for (; *q && depth > 0; q++) {
                if (*q == '{')
                    depth++;
                else if (*q == '}')
                    depth--;
            }
            if (depth > 0)
                return parse_error(p, "missing '}' after \"%.40s\"", s);
            char *close = q - 1; /* the matching '}' */
            if (*q && !isspace((unsigned char)*q))
                return parse_error(p, "text after '}': \"%.40s\"", q);
            *close = '\0';
            while (isspace((unsigned char)*start))
                start++;
            for (char *t = close; t > start && isspace((unsigned char)t[-1]); t--)
                t[-1] = '\0';
            tokens[n++] = start;
            s = *q ? q + 1 : q;
            continue;
        }
        tokens[n++] = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
    *ntokens = n;
    return 0;
}

static int parse_type(const char *text, master_service_type *type, const char **name)
{
    static const struct {
        const char *name;
        master_service_type type;
    } types[] = {{"inet", MASTER_TYPE_INET},
                 {"unix", MASTER_TYPE_UNIX},
                 {"unix-dgram", MASTER_TYPE_UNIX_DGRAM},
                 {"fifo", MASTER_TYPE_FIFO},
                 {"pass", MASTER_TYPE_PASS}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(types[i].name, text) == 0) {
            *type = types[i].type;
            *name = types[i].name;
            return 0;
        }
    }
    return -1;
}

static int parse_flag(parser *p, const char *field, const char *text, int *out)
{
    if (strcmp(text, "-") == 0 || strcmp(text, "y") == 0)
        *out = 1;
    else if (strcmp(text, "n") == 0)
        *out = 0;
    else
        return parse_error(p, "field \"%s\": bad value \"%s\" (use y, n or -)", field, text);
    return 0;
}

static int parse_count(parser *p, const char *field, const char *text, int allow_query, int *out,
                       int *query)
{
    if (query)
        *query = 0;
    char *end;
    errno = 0;
    long n = isdigit((unsigned char)text[0]) ? strtol(text, &end, 10) : -1;
    if (n >= 0 && allow_query && *end == '?' && end[1] == '\0') {
        *query = 1;
        end++;
    }
    if (n < 0 || *end || errno || n > INT_MAX)
        return parse_error(p, "field \"%s\": bad value \"%s\"", field, text);
    *out = (int)n;
    return 0;
}

static int add_override(parser *p, master_cf_entry *e, const char *text)
{
    const char *eq = strchr(text, '=');
    char *name = eq ? str_trim_copy(text, eq) : NULL;
    if (name == NULL || name[0] == '\0') {
        free(name);
        return parse_error(p, "service %s: bad -o argument \"%s\" (want name=value)", e->name,
                           text);
    }
    for (const char *c = name; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '_') {
            parse_error(p, "service %s: bad parameter name in -o \"%s\"", e->name, text);
            free(name);
            return -1;
        }
    }
    e->overrides = xrealloc(e->overrides, (e->noverrides + 1) * sizeof(*e->overrides));
    e->overrides[e->noverrides].name = name;
    e->overrides[e->noverrides].value = str_trim_copy(eq + 1, eq + 1 + strlen(eq + 1));
    e->noverrides++;
    return 0;
}

static void add_arg(master_cf_entry *e, const char *text)
{
    e->args = xrealloc(e->args, (e->nargs + 1) * sizeof(*e->args));
    e->args[e->nargs++] = xstrdup(text);
}

static int parse_args(parser *p, master_cf_entry *e, char **tokens, size_t ntokens)
{
    for (size_t i = 0; i < ntokens; i++) {
        const char *t = tokens[i];
        if (strcmp(t, "-o") == 0) {
            if (i + 1 == ntokens)
                return parse_error(p, "service %s: -o needs a name=value argument", e->name);
            if (add_override(p, e, tokens[++i]) < 0)
                return -1;
        } else if (strncmp(t, "-o", 2) == 0) {
            if (add_override(p, e, t + 2) < 0)
                return -1;
        } else {
            add_arg(e, t);
        }
    }
    return 0;
}

static int add_address(parser *p, master_cf_entry *e, const char *host, const char *what)
{
    char numeric[INET6_ADDRSTRLEN];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        hints.ai_flags = AI_ADDRCONFIG;
        rc = getaddrinfo(host, NULL, &hints, &res);
    }
    if (rc != 0 || res == NULL)
        return parse_error(p, "service %s: %s: cannot find address of host \"%s\": %s", e->name,
                           what, host, rc ? gai_strerror(rc) : "no address");
    const void *a = res->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, a, numeric, sizeof(numeric));
    freeaddrinfo(res);
    for (size_t i = 0; i < e->naddrs; i++)
        if (strcmp(e->addrs[i], numeric) == 0)
            return 0;
    if (e->naddrs == MASTER_CF_MAX_ADDRS)
        return parse_error(p, "service %s: too many addresses", e->name);
    e->addrs = xrealloc(e->addrs, (e->naddrs + 1) * sizeof(*e->addrs));
    e->addrs[e->naddrs++] = xstrdup(numeric);
    return 0;
}

/* "[v6]" -> "v6" in place; other text unchanged. */
static char *strip_brackets(char *host)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return host + 1;
    }
    return host;
}

static int add_inet_interfaces(parser *p, master_cf_entry *e)
{
    char *list = xstrdup(config_get(p->cfg, "inet_interfaces"));
    int rc = 0, any = 0;
    char *save = NULL;
    for (char *item = strtok_r(list, ", \t", &save); item && rc == 0;
         item = strtok_r(NULL, ", \t", &save)) {
        any = 1;
        if (strcasecmp(item, "all") == 0)
            rc = add_address(p, e, "0.0.0.0", "inet_interfaces");
        else if (strcasecmp(item, "loopback-only") == 0)
            rc = add_address(p, e, "127.0.0.1", "inet_interfaces");
        else
            rc = add_address(p, e, strip_brackets(item), "inet_interfaces");
    }
    free(list);
    if (rc == 0 && !any)
        rc = add_address(p, e, "0.0.0.0", "inet_interfaces");
    return rc;
}

/* Fills e->addrs and e->port from an inet service name. */
static int parse_inet_name(parser *p, master_cf_entry *e)
{
    char *name = xstrdup(e->name);
    char *host = NULL, *port = name;
    if (name[0] == '[') {
        char *close = strchr(name, ']');
        if (close == NULL || close[1] != ':') {
            free(name);
            return parse_error(p, "service %s: bad address, want [address]:port", e->name);
        }
        *close = '\0';
        host = name + 1;
        port = close + 2;
    } else {
        char *colon = strrchr(name, ':');
        if (colon) {
            *colon = '\0';
            host = name;
            port = colon + 1;
            if (strchr(host, ':')) {
                free(name);
                return parse_error(p, "service %s: write IPv6 addresses as [address]:port",
                                   e->name);
            }
        }
    }
    int rc = 0;
    e->port = master_cf_port(port);
    if (e->port < 0)
        rc = parse_error(p, "service %s: unknown port \"%s\"", e->name, port);
    else if (host && *host && strcmp(host, "*") != 0)
        rc = add_address(p, e, host, "service name");
    else
        rc = add_inet_interfaces(p, e);
    free(name);
    return rc;
}

static int check_duplicate(parser *p, const master_cf_entry *e)
{
    for (size_t i = 0; i < p->mcf->count; i++) {
        const master_cf_entry *o = &p->mcf->entries[i];
        if (o->type == e->type && strcmp(o->name, e->name) == 0)
            return parse_error(p, "duplicate service %s type %s (first at line %d)", e->name,
                               e->type_name, o->line);
    }
    return 0;
}

static int parse_entry(parser *p, char *text)
{
    char *tokens[MASTER_CF_MAX_TOKENS];
    size_t n = 0;
    if (tokenize(p, text, tokens, &n) < 0)
        return -1;
    if (n < 8)
        return parse_error(p,
                           "want at least 8 fields (service type private unpriv chroot "
                           "wakeup maxproc command), found %zu",
                           n);
    master_cf_entry e = {.line = p->line};
    e.name = xstrdup(tokens[0]);
    int rc = 0;
    if (parse_type(tokens[1], &e.type, &e.type_name) < 0)
        rc = parse_error(p, "service %s: unknown service type \"%s\"", e.name, tokens[1]);
    if (rc == 0)
        rc = parse_flag(p, "private", tokens[2], &e.private_);
    if (rc == 0)
        rc = parse_flag(p, "unpriv", tokens[3], &e.unpriv);
    if (rc == 0)
        rc = parse_flag(p, "chroot", tokens[4], &e.chroot);
    if (rc == 0 && strcmp(tokens[5], "-") != 0)
        rc = parse_count(p, "wakeup", tokens[5], 1, &e.wakeup, &e.wakeup_if_used);
    if (rc == 0) {
        if (strcmp(tokens[6], "-") == 0) {
            long limit = config_get_int(p->cfg, "default_process_limit");
            e.maxproc = limit < 0 ? 0 : limit > INT_MAX ? INT_MAX : (int)limit;
        } else {
            rc = parse_count(p, "maxproc", tokens[6], 0, &e.maxproc, NULL);
        }
    }
    if (rc == 0) {
        e.program = xstrdup(tokens[7]);
        e.skipped = !master_cf_program_implemented(e.program);
        if (e.type == MASTER_TYPE_INET && e.name[0] == '\0')
            rc = parse_error(p, "empty service name");
    }
    /* Arguments and addresses of services Postern skips are not its business. */
    if (rc == 0 && !e.skipped)
        rc = parse_args(p, &e, tokens + 8, n - 8);
    if (rc == 0 && !e.skipped && e.type == MASTER_TYPE_INET)
        rc = parse_inet_name(p, &e);
    if (rc == 0)
        rc = check_duplicate(p, &e);
    if (rc < 0) {
        free_entry(&e);
        return -1;
    }
    p->mcf->entries = xrealloc(p->mcf->entries, (p->mcf->count + 1) * sizeof(e));
    p->mcf->entries[p->mcf->count++] = e;
    return 0;
}

/* Non-zero when the physical line is blank or a comment. */
static int ignorable_line(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    return i == len || s[i] == '#';
}

master_cf *master_cf_parse(config *cfg, const char *path, const char *text, strbuf *err)
{
    parser p = {.cfg = cfg, .path = path, .err = err};
    p.mcf = xcalloc(1, sizeof(*p.mcf));
    p.mcf->path = xstrdup(path);
    strbuf logical;
    strbuf_init(&logical, MASTER_CF_LINE_LIMIT);
    int lineno = 0, rc = 0, have = 0;
    const char *s = text;
    while (rc == 0 && *s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        lineno++;
        if (!ignorable_line(s, len)) {
            if (isspace((unsigned char)s[0])) {
                if (!have) {
                    p.line = lineno;
                    rc = parse_error(&p, "continuation line without a service entry before it");
                }
            } else {
                if (have)
                    rc = parse_entry(&p, logical.data);
                strbuf_reset(&logical);
                p.line = lineno;
                have = 1;
            }
            if (rc == 0 &&
                (strbuf_append_char(&logical, ' ') < 0 || strbuf_append(&logical, s, len) < 0)) {
                p.line = lineno;
                rc = parse_error(&p, "entry too long");
            }
        }
        s = nl ? nl + 1 : s + len;
    }
    if (rc == 0 && have)
        rc = parse_entry(&p, logical.data);
    strbuf_free(&logical);
    if (rc < 0) {
        master_cf_free(p.mcf);
        return NULL;
    }
    return p.mcf;
}

master_cf *master_cf_load(config *cfg, strbuf *err)
{
    strbuf path;
    strbuf_init(&path, 0);
    strbuf_printf(&path, "%s/master.cf", config_directory(cfg));
    strbuf_reset(err);
    char *text = config_read_file(path.data, CONFIG_MAX_FILE_SIZE, err);
    master_cf *mcf = text ? master_cf_parse(cfg, path.data, text, err) : NULL;
    free(text);
    strbuf_free(&path);
    return mcf;
}

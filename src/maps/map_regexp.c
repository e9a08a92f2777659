/*
 * map_regexp.c: regexp:/path and pcre:/path tables (Postfix's regexp_table(5) and pcre_table(5)),
 * both compiled with PCRE2 when the table is opened.
 *
 * Each logical line is one of
 *     /pattern/flags result         the key matches pattern
 *     !/pattern/flags result        the key does not match (the result may not use $n)
 *     /pat1/!/pat2/ result          regexp: only: pat1 matches and pat2 does not
 *     if /pattern/flags ... endif   (also "if !/pattern/") the rules in between apply only then
 * The delimiter is the first character of the pattern (usually '/'); a backslash escapes it.
 * Flags: i toggles case-insensitive matching (on by default); m multi-line; for pcre: also s, x,
 * A (anchored), E (dollar matches only at end), U (ungreedy), X (accepted, no effect). For
 * regexp:, '.' matches a newline unless m is given, as POSIX regcomp without REG_NEWLINE; the
 * x flag (POSIX basic syntax) is not supported and is ignored with a warning.
 * In the result, $n, ${n} and $(n) insert capture n (empty when it did not take part) and $$ is a
 * '$'. Malformed rules are logged with file and line and skipped, as Postfix does. Keys are not
 * lowercased: the i flag makes matching case-insensitive. Matching has a backtracking limit; a
 * key that exceeds it is treated as not matching that rule, with a warning.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "lib/log.h"
#include "lib/str_trim.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <ctype.h>
#include <stdarg.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define REGEXP_MATCH_LIMIT 1000000
#define REGEXP_DEPTH_LIMIT 10000

typedef enum { RX_MATCH, RX_IF, RX_ENDIF } rx_kind;

typedef struct rx_rule {
    rx_kind kind;
    int negate;
    pcre2_code *code;
    pcre2_code *except; /* regexp: /pat1/!/pat2/ */
    char *result;
    size_t skip_to; /* RX_IF: index after the matching endif */
} rx_rule;

typedef struct rx_table {
    const char *type; /* "regexp" or "pcre" */
    char *file;
    rx_rule *rules;
    size_t count;
    pcre2_match_context *mctx;
    pcre2_match_data *mdata;
} rx_table;

typedef struct rx_parse {
    rx_table *t;
    int is_pcre;
    int line;
    size_t *open_ifs;
    size_t depth, cap;
} rx_parse;

static void rx_warn(const rx_parse *p, const char *what)
{
    log_warning("%s map %s, line %d: %s: skipping this rule", p->t->type, p->t->file, p->line,
                what);
}

/* rx_warn() with a formatted reason. */
static void rx_warnf(const rx_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rx_warnf(const rx_parse *p, const char *fmt, ...)
{
    strbuf what;
    strbuf_init(&what, 0);
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&what, fmt, ap);
    va_end(ap);
    rx_warn(p, what.data);
    strbuf_free(&what);
}

/* Applies one pattern flag to the PCRE2 options; -1 when the type does not know the flag. */
static int apply_flag(const rx_parse *p, char flag, uint32_t *options)
{
    static const struct {
        char flag;
        uint32_t set;
    } pcre_only[] = {{'s', PCRE2_DOTALL},         {'x', PCRE2_EXTENDED}, {'A', PCRE2_ANCHORED},
                     {'E', PCRE2_DOLLAR_ENDONLY}, {'U', PCRE2_UNGREEDY}, {'X', 0}};
    if (flag == 'i') {
        *options ^= PCRE2_CASELESS;
        return 0;
    }
    if (flag == 'm') {
        *options |= PCRE2_MULTILINE;
        if (!p->is_pcre) /* POSIX REG_NEWLINE: '.' stops matching newlines */
            *options &= ~(uint32_t)PCRE2_DOTALL;
        return 0;
    }
    if (!p->is_pcre) {
        if (flag != 'x')
            return -1;
        log_warning("%s map %s, line %d: flag x (POSIX basic syntax) is not supported; using "
                    "extended syntax",
                    p->t->type, p->t->file, p->line);
        return 0;
    }
    for (size_t i = 0; i < sizeof(pcre_only) / sizeof(pcre_only[0]); i++) {
        if (pcre_only[i].flag == flag) {
            *options |= pcre_only[i].set;
            return 0;
        }
    }
    return -1;
}

/* Parses DELIM pattern DELIM flags at *s; compiles it. NULL (warning logged) when malformed. */
static pcre2_code *parse_regex(rx_parse *p, char **s)
{
    char *q = *s;
    char delim = *q;
    if (delim == '\0' || isspace((unsigned char)delim) || delim == '\\') {
        rx_warn(p, "missing pattern delimiter");
        return NULL;
    }
    char *start = ++q;
    while (*q && *q != delim) {
        if (*q == '\\' && q[1])
            q++;
        q++;
    }
    if (*q != delim) {
        rx_warn(p, "missing closing pattern delimiter");
        return NULL;
    }
    size_t pattern_len = (size_t)(q - start);
    q++;
    uint32_t options = PCRE2_CASELESS | (p->is_pcre ? 0 : PCRE2_DOTALL);
    for (; *q && !isspace((unsigned char)*q) && *q != '!'; q++) {
        if (apply_flag(p, *q, &options) < 0) {
            rx_warnf(p, "unknown regexp option \"%c\"", *q);
            return NULL;
        }
    }
    *s = q;
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)start, pattern_len, options, &errcode, &erroff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR text[256]; /* pcre2 cuts its own (short) messages to fit */
        pcre2_get_error_message(errcode, text, sizeof(text));
        rx_warnf(p, "error in regex at offset %zu: %s", (size_t)erroff, (const char *)text);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort: falls back to the interpreter */
    return code;
}

/*
 * Walks the $-references of result: fn(ctx, literal, len) for text and fn(ctx, NULL, n) for
 * capture n. Returns -1 with *bad describing the problem.
 */
static int walk_result(const char *result, void (*fn)(void *ctx, const char *text, size_t n),
                       void *ctx, const char **bad)
{
    const char *s = result;
    while (*s) {
        const char *dollar = strchr(s, '$');
        if (dollar == NULL) {
            fn(ctx, s, strlen(s));
            return 0;
        }
        if (dollar > s)
            fn(ctx, s, (size_t)(dollar - s));
        s = dollar + 1;
        if (*s == '$') {
            fn(ctx, "$", 1);
            s++;
            continue;
        }
        char close = *s == '{' ? '}' : *s == '(' ? ')' : '\0';
        if (close)
            s++;
        if (!isdigit((unsigned char)*s)) {
            *bad = "non-numeric replacement index";
            return -1;
        }
        size_t n = 0;
        while (isdigit((unsigned char)*s)) {
            n = n * 10 + (size_t)(*s++ - '0');
            if (n > 99) {
                *bad = "out of range replacement index";
                return -1;
            }
        }
        if (close && *s++ != close) {
            *bad = "unbalanced replacement index";
            return -1;
        }
        fn(ctx, NULL, n);
    }
    return 0;
}

static void note_max_index(void *ctx, const char *text, size_t n)
{
    size_t *max = ctx;
    if (text == NULL && n > *max)
        *max = n;
}

/* Checks result's $n against the pattern's captures. 0 ok, -1 (warning logged). */
static int check_result(rx_parse *p, const rx_rule *r)
{
    const char *bad = NULL;
    size_t max = 0;
    if (walk_result(r->result, note_max_index, &max, &bad) < 0) {
        rx_warn(p, bad);
        return -1;
    }
    uint32_t captures = 0;
    pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &captures);
    if (max > 0 && r->negate) {
        rx_warn(p, "$number in result of negated pattern");
        return -1;
    }
    if (max > captures) {
        rx_warn(p, "out of range replacement index");
        return -1;
    }
    return 0;
}

static rx_rule *add_rule(rx_table *t, rx_kind kind)
{
    t->rules = xrealloc(t->rules, (t->count + 1) * sizeof(*t->rules));
    rx_rule *r = &t->rules[t->count++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    return r;
}

static void free_rule_parts(rx_rule *r)
{
    pcre2_code_free(r->code);
    pcre2_code_free(r->except);
    free(r->result);
}

static void push_if(rx_parse *p)
{
    if (p->depth == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->open_ifs = xrealloc(p->open_ifs, p->cap * sizeof(*p->open_ifs));
    }
    p->open_ifs[p->depth++] = p->t->count - 1;
}

static void close_if(rx_parse *p)
{
    add_rule(p->t, RX_ENDIF);
    p->t->rules[p->open_ifs[--p->depth]].skip_to = p->t->count;
}

static int is_keyword(const char *s, const char *word)
{
    size_t n = strlen(word);
    return strncmp(s, word, n) == 0 && (s[n] == '\0' || isspace((unsigned char)s[n]));
}

static void parse_line(rx_parse *p, char *line)
{
    char *s = line;
    if (is_keyword(s, "endif")) {
        if (p->depth == 0)
            log_warning("%s map %s, line %d: ignoring ENDIF without matching IF", p->t->type,
                        p->t->file, p->line);
        else
            close_if(p);
        return;
    }
    int is_if = is_keyword(s, "if");
    if (is_if)
        for (s += 2; isspace((unsigned char)*s); s++)
            ;
    rx_rule rule;
    memset(&rule, 0, sizeof(rule));
    rule.kind = is_if ? RX_IF : RX_MATCH;
    if (*s == '!') {
        rule.negate = 1;
        s++;
    }
    if ((rule.code = parse_regex(p, &s)) == NULL)
        return;
    if (!p->is_pcre && !rule.negate && *s == '!' && s[1] && !isspace((unsigned char)s[1])) {
        s++;
        if ((rule.except = parse_regex(p, &s)) == NULL) {
            free_rule_parts(&rule);
            return;
        }
    }
    if (*s && !isspace((unsigned char)*s)) {
        rx_warn(p, "garbage after pattern");
        free_rule_parts(&rule);
        return;
    }
    s = str_trim(s);
    if (is_if) {
        if (*s) {
            rx_warn(p, "garbage after IF pattern");
            free_rule_parts(&rule);
            return;
        }
    } else {
        if (*s == '\0' || strlen(s) > MAP_VALUE_MAX) {
            rx_warn(p, *s ? "result too long" : "no lookup result");
            free_rule_parts(&rule);
            return;
        }
        rule.result = xstrdup(s);
        if (check_result(p, &rule) < 0) {
            free_rule_parts(&rule);
            return;
        }
    }
    *add_rule(p->t, rule.kind) = rule;
    if (is_if)
        push_if(p);
}

static void rx_close(void *handle)
{
    rx_table *t = handle;
    for (size_t i = 0; i < t->count; i++)
        free_rule_parts(&t->rules[i]);
    free(t->rules);
    pcre2_match_data_free(t->mdata);
    pcre2_match_context_free(t->mctx);
    free(t->file);
    free(t);
}

static void *rx_open_type(const char *name, int is_pcre, strbuf *err)
{
    map_source src;
    if (map_source_open(&src, name, MAP_FILE_MAX, err) < 0)
        return NULL;
    rx_table *t = xcalloc(1, sizeof(*t));
    t->type = is_pcre ? "pcre" : "regexp";
    t->file = xstrdup(name);
    rx_parse p = {.t = t, .is_pcre = is_pcre};
    int status;
    while ((status = map_source_next(&src, err)) == 1) {
        p.line = src.lineno;
        parse_line(&p, src.line.data);
    }
    if (status == 0 && p.depth > 0) {
        log_warning("%s map %s, line %d: IF has no matching ENDIF", t->type, name, src.phys_lineno);
        while (p.depth > 0)
            close_if(&p);
    }
    free(p.open_ifs);
    map_source_close(&src);
    t->mctx = pcre2_match_context_create(NULL);
    t->mdata = pcre2_match_data_create(100, NULL);
    if (t->mctx == NULL || t->mdata == NULL) {
        strbuf_printf(err, "%s: out of memory", name);
        status = -1;
    }
    if (status < 0) {
        rx_close(t);
        return NULL;
    }
    pcre2_set_match_limit(t->mctx, REGEXP_MATCH_LIMIT);
    pcre2_set_depth_limit(t->mctx, REGEXP_DEPTH_LIMIT);
    return t;
}

static void *regexp_open(const char *name, strbuf *err)
{
    return rx_open_type(name, 0, err);
}

static void *pcre_open(const char *name, strbuf *err)
{
    return rx_open_type(name, 1, err);
}

/* 1 match, 0 no match (errors such as the backtracking limit are logged and count as no). */
static int rx_match(rx_table *t, pcre2_code *code, const char *key)
{
    int rc = pcre2_match(code, (PCRE2_SPTR)key, strlen(key), 0, 0, t->mdata, t->mctx);
    if (rc >= 0)
        return 1;
    if (rc != PCRE2_ERROR_NOMATCH) {
        PCRE2_UCHAR text[256];
        pcre2_get_error_message(rc, text, sizeof(text));
        log_warning("%s map %s: matching error: %s", t->type, t->file, (const char *)text);
    }
    return 0;
}

typedef struct subst_ctx {
    strbuf *out;
    const char *key;
    PCRE2_SIZE *ovector;
    uint32_t pairs;
    int overflow;
} subst_ctx;

static void append_part(void *ctx, const char *text, size_t n)
{
    subst_ctx *sc = ctx;
    int rc = 0;
    if (text) {
        rc = strbuf_append(sc->out, text, n);
    } else if (n < sc->pairs && sc->ovector[2 * n] != PCRE2_UNSET) {
        rc = strbuf_append(sc->out, sc->key + sc->ovector[2 * n],
                           sc->ovector[2 * n + 1] - sc->ovector[2 * n]);
    }
    if (rc < 0 || sc->out->len > MAP_VALUE_MAX)
        sc->overflow = 1;
}

static int rx_lookup(void *handle, const char *key, strbuf *result)
{
    rx_table *t = handle;
    for (size_t i = 0; i < t->count;) {
        rx_rule *r = &t->rules[i];
        if (r->kind == RX_ENDIF) {
            i++;
            continue;
        }
        int hit = rx_match(t, r->code, key);
        if (hit && r->except)
            hit = !rx_match(t, r->except, key);
        if (r->kind == RX_IF) {
            i = hit != r->negate ? i + 1 : r->skip_to;
            continue;
        }
        if (hit == r->negate) {
            i++;
            continue;
        }
        if (!hit) { /* a negated rule: no captures to substitute */
            return strbuf_append_str(result, r->result) < 0 ? -1 : 1;
        }
        if (r->except) /* the except match overwrote the captures: match again */
            rx_match(t, r->code, key);
        subst_ctx sc = {result, key, pcre2_get_ovector_pointer(t->mdata),
                        pcre2_get_ovector_count(t->mdata), 0};
        const char *bad = NULL;
        walk_result(r->result, append_part, &sc, &bad);
        if (sc.overflow) {
            strbuf_reset(result);
            strbuf_printf(result, "%s map %s: result is too long", t->type, t->file);
            return -1;
        }
        return 1;
    }
    return 0;
}

const map_ops map_regexp_ops = {"regexp", regexp_open, rx_lookup, rx_close};
const map_ops map_pcre_ops = {"pcre", pcre_open, rx_lookup, rx_close};

/*
 * map_cidr.c: cidr:/path tables (Postfix's cidr_table(5)), read into memory when opened.
 *
 * Each logical line is one of
 *     pattern result        the key is inside the block "pattern" (address or address/len)
 *     !pattern result       the key is not inside it
 *     if pattern / if !pattern ... endif    the rules in between apply only when it matches
 * Rules are tried in file order; the first match gives the result. A malformed line (bad
 * address, host bits set past the length, missing result) is logged as a warning with the file
 * and line and skipped, as Postfix does; a missing or extra "endif" is a warning too. A key
 * that is not a numeric address matches nothing.
 */
#include "lib/inet_addr.h"
#include "lib/log.h"
#include "lib/str_trim.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CIDR_MATCH, CIDR_IF, CIDR_ENDIF } cidr_kind;

typedef struct cidr_rule {
    cidr_kind kind;
    int negate;
    inet_cidr block;
    char *result;   /* CIDR_MATCH */
    size_t skip_to; /* CIDR_IF: index after the matching endif */
} cidr_rule;

typedef struct cidr_table {
    cidr_rule *rules;
    size_t count;
} cidr_table;

static cidr_rule *add_rule(cidr_table *t, cidr_kind kind)
{
    t->rules = xrealloc(t->rules, (t->count + 1) * sizeof(*t->rules));
    cidr_rule *r = &t->rules[t->count++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    return r;
}

/* Splits off the first word of *p (advancing *p past it and following white space). */
static char *next_word(char **p)
{
    char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    char *word = s;
    while (*s && !isspace((unsigned char)*s))
        s++;
    if (*s)
        *s++ = '\0';
    while (isspace((unsigned char)*s))
        s++;
    *p = s;
    return word;
}

/* Parses "[!]pattern" into r; logs and returns -1 when malformed. */
static int parse_pattern(const char *file, int line, const char *word, cidr_rule *r)
{
    r->negate = word[0] == '!';
    strbuf err;
    strbuf_init(&err, 1024);
    int status = inet_cidr_parse(word + r->negate, &r->block, &err);
    if (status < 0)
        log_warning("cidr map %s, line %d: %s: skipping this rule", file, line, err.data);
    strbuf_free(&err);
    return status;
}

/* One logical line; open_ifs is the stack of unmatched "if" rule indexes. */
static void parse_line(cidr_table *t, const char *file, int line, char *text, size_t *open_ifs,
                       size_t *depth)
{
    char *rest = text;
    char *word = next_word(&rest);
    rest = str_trim(rest);
    if (strcmp(word, "endif") == 0) {
        if (*depth == 0) {
            log_warning("cidr map %s, line %d: ignoring ENDIF without matching IF", file, line);
            return;
        }
        add_rule(t, CIDR_ENDIF);
        t->rules[open_ifs[--*depth]].skip_to = t->count;
        return;
    }
    int is_if = strcmp(word, "if") == 0;
    if (is_if)
        word = next_word(&rest);
    cidr_rule probe;
    memset(&probe, 0, sizeof(probe));
    if (*word == '\0' || parse_pattern(file, line, word, &probe) < 0) {
        if (*word == '\0')
            log_warning("cidr map %s, line %d: missing address pattern: skipping this rule", file,
                        line);
        return;
    }
    if (is_if) {
        if (*rest) {
            log_warning("cidr map %s, line %d: garbage after IF pattern: skipping this rule", file,
                        line);
            return;
        }
        cidr_rule *r = add_rule(t, CIDR_IF);
        r->negate = probe.negate;
        r->block = probe.block;
        open_ifs[(*depth)++] = t->count - 1;
        return;
    }
    if (*rest == '\0') {
        log_warning("cidr map %s, line %d: no lookup result: skipping this rule", file, line);
        return;
    }
    if (strlen(rest) > MAP_VALUE_MAX) {
        log_warning("cidr map %s, line %d: result too long: skipping this rule", file, line);
        return;
    }
    cidr_rule *r = add_rule(t, CIDR_MATCH);
    r->negate = probe.negate;
    r->block = probe.block;
    r->result = xstrdup(rest);
}

static void cidr_close(void *handle)
{
    cidr_table *t = handle;
    for (size_t i = 0; i < t->count; i++)
        free(t->rules[i].result);
    free(t->rules);
    free(t);
}

static void *cidr_open(const char *name, strbuf *err)
{
    map_source src;
    if (map_source_open(&src, name, MAP_FILE_MAX, err) < 0)
        return NULL;
    cidr_table *t = xcalloc(1, sizeof(*t));
    size_t cap = 16, depth = 0;
    size_t *open_ifs = xmalloc(cap * sizeof(*open_ifs));
    int status;
    while ((status = map_source_next(&src, err)) == 1) {
        if (depth == cap) {
            cap *= 2;
            open_ifs = xrealloc(open_ifs, cap * sizeof(*open_ifs));
        }
        parse_line(t, name, src.lineno, src.line.data, open_ifs, &depth);
    }
    if (status == 0 && depth > 0) {
        log_warning("cidr map %s, line %d: IF has no matching ENDIF", name, src.phys_lineno);
        while (depth > 0) {
            add_rule(t, CIDR_ENDIF);
            t->rules[open_ifs[--depth]].skip_to = t->count;
        }
    }
    free(open_ifs);
    map_source_close(&src);
    if (status < 0) {
        cidr_close(t);
        return NULL;
    }
    return t;
}

static int cidr_lookup(void *handle, const char *key, strbuf *result)
{
    cidr_table *t = handle;
    inet_address addr;
    if (inet_addr_parse(key, &addr) < 0)
        return 0;
    for (size_t i = 0; i < t->count;) {
        const cidr_rule *r = &t->rules[i];
        int hit = r->kind != CIDR_ENDIF && inet_cidr_match(&r->block, &addr) != r->negate;
        if (r->kind == CIDR_IF && !hit) {
            i = r->skip_to;
            continue;
        }
        if (r->kind == CIDR_MATCH && hit)
            return strbuf_append_str(result, r->result) < 0 ? -1 : 1;
        i++;
    }
    return 0;
}

const map_ops map_cidr_ops = {"cidr", cidr_open, cidr_lookup, cidr_close};

/*
 * param_class.c: the classification table compiled from param_class.def (see param_class.h).
 */
#include "lib/param_class.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMPLEMENTED PARAM_CLASS_IMPLEMENTED
#define INERT PARAM_CLASS_INERT
#define REQUIRED PARAM_CLASS_REQUIRED

static const param_class_entry params[] = {
#define PARAM(n, c, d) {#n, c, d},
#define SERVICE_PARAM(s, c)
#include "lib/param_class.def"
#undef PARAM
#undef SERVICE_PARAM
};

static const param_class_entry service_rules[] = {
#define PARAM(n, c, d)
#define SERVICE_PARAM(s, c) {#s, c, NULL},
#include "lib/param_class.def"
#undef PARAM
#undef SERVICE_PARAM
};


#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int compare_name(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const param_class_entry *)elem)->name);
}

const param_class_entry *param_class_lookup(const char *name)
{
    return bsearch(name, params, COUNT(params), sizeof(params[0]), compare_name);
}

/* The service rule whose "_suffix" ends name after a non-empty service name, or NULL. */
static const param_class_entry *service_rule(const char *name)
{
    size_t len = strlen(name);
    const param_class_entry *best = NULL;
    for (size_t i = 0; i < COUNT(service_rules); i++) {
        size_t slen = strlen(service_rules[i].name);
        if (len < slen + 2 || name[len - slen - 1] != '_' ||
            strcmp(name + len - slen, service_rules[i].name) != 0)
            continue;
        /* "x_destination_recipient_limit" also ends in "_recipient_limit": longest wins. */
        if (best == NULL || strlen(best->name) < slen)
            best = &service_rules[i];
    }
    return best;
}

param_class param_class_of(const char *name)
{
    const param_class_entry *e = param_class_lookup(name);
    if (e)
        return e->cls;
    e = service_rule(name);
    return e ? e->cls : PARAM_CLASS_UNKNOWN;
}

/* Postfix's default of default_<suffix>, which every <service>_<suffix> inherits. */
static const char *service_default(const char *suffix)
{
    char name[128];
    size_t n = strlen(suffix);
    if (n + sizeof("default_") > sizeof(name))
        return NULL;
    memcpy(name, "default_", 8);
    memcpy(name + 8, suffix, n + 1);
    const param_class_entry *e = param_class_lookup(name);
    return e ? e->postfix_default : NULL;
}

const char *param_class_postfix_default(const char *name)
{
    const param_class_entry *e = param_class_lookup(name);
    if (e)
        return e->postfix_default;
    e = service_rule(name);
    return e ? service_default(e->name) : NULL;
}

const param_class_entry *param_class_table(size_t *count)
{
    *count = COUNT(params);
    return params;
}

const param_class_entry *param_class_service_rules(size_t *count)
{
    *count = COUNT(service_rules);
    return service_rules;
}

const char *param_class_name(param_class cls)
{
    switch (cls) {
    case PARAM_CLASS_IMPLEMENTED:
        return "implemented";
    case PARAM_CLASS_INERT:
        return "inert";
    case PARAM_CLASS_REQUIRED:
        return "required";
    default:
        return "unknown";
    }
}

/* Next folded word of s (start in *word, length in *len); returns the position after it, or NULL at
 * the end. */
static const char *next_word(const char *s, const char **word, size_t *len)
{
    s += strspn(s, " ,\t\r\n");
    if (*s == '\0')
        return NULL;
    *word = s;
    *len = strcspn(s, " ,\t\r\n");
    return s + *len;
}

/* "0", "0s", "0m", ... are all zero. */
static int is_zero(const char *w, size_t n)
{
    size_t i = 0;
    while (i < n && w[i] == '0')
        i++;
    return i > 0 && (i == n || (i + 1 == n && strchr("smhdw", w[i]) != NULL));
}

int param_class_same_value(const char *a, const char *b)
{
    const char *wa, *wb;
    size_t la, lb;
    for (;;) {
        a = next_word(a, &wa, &la);
        b = next_word(b, &wb, &lb);
        if (a == NULL || b == NULL)
            return a == b;
        int same =
            (la == lb && strncasecmp(wa, wb, la) == 0) || (is_zero(wa, la) && is_zero(wb, lb));
        if (!same)
            return 0;
    }
}



/* Non-zero when value is "$default_<suffix>" (or "${default_<suffix>}") for a service rule. */
static int is_service_default_reference(const char *name, const char *value)
{
    if (param_class_lookup(name) != NULL)
        return 0;
    const param_class_entry *e = service_rule(name);
    if (e == NULL)
        return 0;
    const char *w;
    size_t n;
    const char *rest = next_word(value, &w, &n);
    if (rest == NULL || next_word(rest, &w, &n) != NULL)
        return 0;
    next_word(value, &w, &n);
    size_t sl = strlen(e->name);
    int braced = n >= 3 && w[1] == '{' && w[n - 1] == '}';
    size_t off = braced ? 2 : 1;
    size_t len = braced ? n - 3 : n - 1;
    return w[0] == '$' && len == 8 + sl && strncmp(w + off, "default_", 8) == 0 &&
           strncmp(w + off + 8, e->name, sl) == 0;
}

param_verdict param_class_judge(const char *name, const char *value)
{
    param_class cls = param_class_of(name);
    if (cls == PARAM_CLASS_INERT)
        return PARAM_VERDICT_INERT;
    if (cls != PARAM_CLASS_REQUIRED)
        return PARAM_VERDICT_OK;
    const char *def = param_class_postfix_default(name);
    if ((def && param_class_same_value(value, def)) || is_service_default_reference(name, value))
        return PARAM_VERDICT_OK;
    return PARAM_VERDICT_REFUSE;
}

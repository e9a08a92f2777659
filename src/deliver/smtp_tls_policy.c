/* smtp_tls_policy.c: TLS security levels and policy-table entries (see smtp_tls_policy.h). */
#include "deliver/smtp_param.h"
#include "deliver/smtp_tls_policy.h"
#include "lib/config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = {"none",   "may",    "encrypt", "fingerprint",
                                          "verify", "secure", "dane",    "dane-only"};
#define NLEVELS (sizeof(level_names) / sizeof(level_names[0]))

int smtp_tls_level_parse(const char *name)
{
    for (size_t i = 0; i < NLEVELS; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *smtp_tls_level_name(int level)
{
    return level >= 0 && (size_t)level < NLEVELS ? level_names[level] : "?";
}

int smtp_tls_level_mandatory(int level)
{
    return level >= SMTP_TLS_ENCRYPT && level != SMTP_TLS_DANE;
}

static const char *param(const char *prefix, const char *name, char *buf, size_t len)
{
    (void)len; /* SMTP_PARAM_NAME_MAX */
    return cfg_str(smtp_param_name(buf, prefix, name));
}

/* Copies value into a bounded field; -1 with err when it does not fit. */
static int set_field(char *field, size_t size, const char *name, const char *value, size_t len,
                     strbuf *err)
{
    if (len >= size) {
        strbuf_reset(err);
        strbuf_printf(err, "TLS policy attribute %s is too long (%zu bytes, at most %zu)", name,
                      len, size - 1);
        return -1;
    }
    memcpy(field, value, len);
    field[len] = '\0';
    return 0;
}

/* The level main.cf asks for, with Postfix's legacy switches when the level is empty. */
static int default_level(const char *prefix, strbuf *err)
{
    char n[SMTP_PARAM_NAME_MAX];
    const char *v = param(prefix, "tls_security_level", n, sizeof(n));
    if (v[0] != '\0') {
        int level = smtp_tls_level_parse(v);
        if (level < 0) {
            strbuf_reset(err);
            strbuf_printf(err, "%s: unknown TLS security level \"%s\"", n, v);
        }
        return level;
    }
    smtp_param_name(n, prefix, "enforce_tls");
    if (cfg_bool(n)) {
        smtp_param_name(n, prefix, "tls_enforce_peername");
        return cfg_bool(n) ? SMTP_TLS_VERIFY : SMTP_TLS_ENCRYPT;
    }
    smtp_param_name(n, prefix, "use_tls");
    return cfg_bool(n) ? SMTP_TLS_MAY : SMTP_TLS_NONE;
}

int smtp_tls_policy_defaults(const char *prefix, smtp_tls_policy *p, strbuf *err)
{
    char n[SMTP_PARAM_NAME_MAX];
    memset(p, 0, sizeof(*p));
    p->level = default_level(prefix, err);
    if (p->level < 0)
        return -1;
    const char *sni = param(prefix, "tls_servername", n, sizeof(n));
    smtp_param_name(n, prefix, "tls_connection_reuse");
    p->connection_reuse = cfg_bool(n);
    return set_field(p->servername, sizeof(p->servername), "servername", sni, strlen(sni), err);
}

/* One "name=value" attribute. */
static int apply_attribute(smtp_tls_policy *p, const char *word, size_t len, unsigned *seen,
                           strbuf *err)
{
    static const char *const names[] = {"match",   "protocols",  "ciphers",
                                        "exclude", "servername", "connection_reuse"};
    const char *eq = memchr(word, '=', len);
    size_t nlen = eq ? (size_t)(eq - word) : len;
    for (size_t i = 0; eq && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) != nlen || strncasecmp(word, names[i], nlen) != 0)
            continue;
        if (*seen & (1u << i)) {
            strbuf_reset(err);
            strbuf_printf(err, "TLS policy attribute %s given twice", names[i]);
            return -1;
        }
        *seen |= 1u << i;
        const char *v = eq + 1;
        size_t vlen = len - nlen - 1;
        switch (i) {
        case 0:
            return set_field(p->match, sizeof(p->match), names[i], v, vlen, err);
        case 1:
            return set_field(p->protocols, sizeof(p->protocols), names[i], v, vlen, err);
        case 2:
            return set_field(p->ciphers, sizeof(p->ciphers), names[i], v, vlen, err);
        case 3:
            return set_field(p->exclude, sizeof(p->exclude), names[i], v, vlen, err);
        case 4:
            return set_field(p->servername, sizeof(p->servername), names[i], v, vlen, err);
        default: {
            char b[8];
            if (set_field(b, sizeof(b), names[i], v, vlen, err) < 0 ||
                config_parse_bool(b) < 0) {
                strbuf_reset(err);
                strbuf_printf(err, "TLS policy attribute connection_reuse: \"%.*s\" is not yes "
                                   "or no", (int)vlen, v);
                return -1;
            }
            p->connection_reuse = config_parse_bool(b);
            return 0;
        }
        }
    }
    strbuf_reset(err);
    strbuf_printf(err, "unknown or malformed TLS policy attribute \"%.*s\"", (int)len, word);
    return -1;
}

int smtp_tls_policy_parse(const char *entry, smtp_tls_policy *p, strbuf *err)
{
    const char *s = entry;
    s += strspn(s, " \t\r\n");
    size_t len = strcspn(s, " \t\r\n");
    char level[32];
    if (len == 0 || len >= sizeof(level)) {
        strbuf_reset(err);
        strbuf_printf(err, "TLS policy \"%s\": missing or invalid security level", entry);
        return -1;
    }
    memcpy(level, s, len);
    level[len] = '\0';
    int lev = smtp_tls_level_parse(level);
    if (lev < 0) {
        strbuf_reset(err);
        strbuf_printf(err, "TLS policy \"%s\": unknown security level \"%s\"", entry, level);
        return -1;
    }
    p->level = lev;
    p->match[0] = p->protocols[0] = p->ciphers[0] = p->exclude[0] = '\0';
    unsigned seen = 0;
    for (s += len;;) {
        s += strspn(s, " \t\r\n");
        len = strcspn(s, " \t\r\n");
        if (len == 0)
            return 0;
        if (apply_attribute(p, s, len, &seen, err) < 0)
            return -1;
        s += len;
    }
}

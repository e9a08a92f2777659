/*
 * smtpd_proto_parse.c: SMTP command-line parsing, pure functions (see smtpd_proto_parse.h).
 */
#include "smtpd/smtpd_proto_parse.h"
#include "global/mail_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

smtpd_line_status smtpd_line_next(const char *buf, size_t len, size_t limit, smtpd_line *out)
{
    memset(out, 0, sizeof(*out));
    /* A valid line has at most limit bytes plus CR LF: look no further than that. */
    size_t window = len < limit + 2 ? len : limit + 2;
    const char *lf = memchr(buf, '\n', window);
    if (lf == NULL) {
        if (len <= limit + 1)
            return SMTPD_LINE_NEED_MORE;
        /* Too long: drop it through its LF if that is here, else all of it. */
        lf = memchr(buf + window, '\n', len - window);
        out->consumed = lf ? (size_t)(lf - buf) + 1 : len;
        return lf ? SMTPD_LINE_TOO_LONG : SMTPD_LINE_TOO_LONG_PARTIAL;
    }
    size_t end = (size_t)(lf - buf);
    out->consumed = end + 1;
    out->bare_lf = !(end > 0 && buf[end - 1] == '\r');
    if (!out->bare_lf)
        end--;
    out->text = buf;
    out->len = end;
    if (end > limit)
        return SMTPD_LINE_TOO_LONG;
    out->has_nul = memchr(buf, '\0', end) != NULL;
    return SMTPD_LINE_OK;
}

int smtpd_line_skip(const char *buf, size_t len, size_t *consumed)
{
    const char *lf = memchr(buf, '\n', len);
    if (lf == NULL) {
        *consumed = len;
        return 0;
    }
    *consumed = (size_t)(lf - buf) + 1;
    return 1;
}

static const struct {
    const char *verb;
    const char *name;
} command_table[SMTPD_CMD_COUNT] = {
    [SMTPD_CMD_UNKNOWN] = {"", "unknown"}, [SMTPD_CMD_HELO] = {"HELO", "helo"},
    [SMTPD_CMD_EHLO] = {"EHLO", "ehlo"},   [SMTPD_CMD_STARTTLS] = {"STARTTLS", "starttls"},
    [SMTPD_CMD_AUTH] = {"AUTH", "auth"},   [SMTPD_CMD_MAIL] = {"MAIL", "mail"},
    [SMTPD_CMD_RCPT] = {"RCPT", "rcpt"},   [SMTPD_CMD_DATA] = {"DATA", "data"},
    [SMTPD_CMD_RSET] = {"RSET", "rset"},   [SMTPD_CMD_NOOP] = {"NOOP", "noop"},
    [SMTPD_CMD_VRFY] = {"VRFY", "vrfy"},   [SMTPD_CMD_ETRN] = {"ETRN", "etrn"},
    [SMTPD_CMD_QUIT] = {"QUIT", "quit"},
};

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p)
{
    while (is_blank((unsigned char)*p))
        p++;
    return p;
}

smtpd_cmd smtpd_command_lookup(const char *line, const char **args)
{
    const char *p = skip_blanks(line);
    size_t n = 0;
    while (p[n] && !is_blank((unsigned char)p[n]))
        n++;
    if (args)
        *args = skip_blanks(p + n);
    for (int c = SMTPD_CMD_HELO; c < SMTPD_CMD_COUNT; c++)
        if (n == strlen(command_table[c].verb) && strncasecmp(p, command_table[c].verb, n) == 0)
            return (smtpd_cmd)c;
    return SMTPD_CMD_UNKNOWN;
}

const char *smtpd_command_name(smtpd_cmd cmd)
{
    return cmd >= 0 && cmd < SMTPD_CMD_COUNT ? command_table[cmd].name : "unknown";
}

const char *smtpd_command_state(smtpd_cmd cmd)
{
    return cmd > SMTPD_CMD_UNKNOWN && cmd < SMTPD_CMD_COUNT ? command_table[cmd].verb : "UNKNOWN";
}

void smtpd_command_verb(const char *line, char *out, size_t outlen)
{
    const char *p = skip_blanks(line);
    size_t n = 0;
    while (p[n] && !is_blank((unsigned char)p[n]) && n + 1 < outlen) {
        unsigned char c = (unsigned char)p[n];
        out[n] = isprint(c) ? (char)toupper(c) : '?';
        n++;
    }
    if (outlen)
        out[n] = '\0';
}

int smtpd_command_is_forbidden(const char *line)
{
    const char *p = skip_blanks(line);
    size_t n = 0;
    while (p[n] && !is_blank((unsigned char)p[n]) && p[n] != ':')
        n++;
    if (n == 0)
        return 0;
    if (p[n] == ':') {
        /* "Subject:" or "From:" -- a header name is printable ASCII without blanks. */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c < 33 || c > 126)
                return 0;
        }
        /* "MAIL FROM:" never gets here: the first word is MAIL. */
        return 1;
    }
    static const char *const other_protocols[] = {"CONNECT", "GET", "POST"};
    for (size_t i = 0; i < sizeof(other_protocols) / sizeof(other_protocols[0]); i++)
        if (strlen(other_protocols[i]) == n && strncasecmp(p, other_protocols[i], n) == 0)
            return 1;
    return 0;
}

/* RFC 5322 atext, plus '.' (dot-atom; Postfix tolerates odd dot placement). */
static int is_atom_char(int c)
{
    return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static int is_domain_char(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* Converts the text between the angle brackets into the internal form. */
static smtpd_path_status internalize(const char *in, size_t inlen, int allow_null, char *addr,
                                     size_t addrlen)
{
    const char *p = in, *end = in + inlen;
    /* Source route "@a,@b:" -- obsolete (RFC 5321 section 4.1.2); parsed and dropped. */
    if (p < end && *p == '@') {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL)
            return SMTPD_PATH_BAD_ADDRESS;
        for (const char *r = p; r < colon; r++)
            if (!(is_domain_char((unsigned char)*r) || *r == '@' || *r == ',' || *r == '[' ||
                  *r == ']'))
                return SMTPD_PATH_BAD_ADDRESS;
        p = colon + 1;
    }
    if (p == end) {
        if (!allow_null)
            return SMTPD_PATH_BAD_ADDRESS;
        addr[0] = '\0';
        return SMTPD_PATH_OK;
    }
    size_t n = 0;
    size_t cap = addrlen < SMTPD_ADDR_MAX + 1 ? addrlen : SMTPD_ADDR_MAX + 1;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n + 1 >= cap)                                                                          \
            return SMTPD_PATH_BAD_ADDRESS;                                                         \
        addr[n++] = (ch);                                                                          \
    } while (0)
    /* Local part: a quoted string or atoms with quoted-pairs. */
    if (*p == '"') {
        p++;
        for (;;) {
            if (p == end)
                return SMTPD_PATH_BAD_ADDRESS;
            unsigned char c = (unsigned char)*p;
            if (c == '"')
                break;
            if (c == '\\') {
                if (++p == end)
                    return SMTPD_PATH_BAD_ADDRESS;
                c = (unsigned char)*p;
            }
            if ((c < 32 && c != '\t') || c > 126)
                return SMTPD_PATH_BAD_ADDRESS;
            PUT((char)c);
            p++;
        }
        p++; /* closing quote */
        if (n == 0)
            return SMTPD_PATH_BAD_ADDRESS;
    } else {
        while (p < end && *p != '@') {
            unsigned char c = (unsigned char)*p;
            if (c == '\\') {
                if (++p == end)
                    return SMTPD_PATH_BAD_ADDRESS;
                c = (unsigned char)*p;
                if (c < 32 || c > 126)
                    return SMTPD_PATH_BAD_ADDRESS;
            } else if (!is_atom_char(c)) {
                return SMTPD_PATH_BAD_ADDRESS;
            }
            PUT((char)c);
            p++;
        }
        if (n == 0)
            return SMTPD_PATH_BAD_ADDRESS;
    }
    if (p == end) {
        addr[n] = '\0';
        return SMTPD_PATH_OK; /* bare local part, as Postfix accepts ("postmaster") */
    }
    if (*p != '@' || p + 1 == end)
        return SMTPD_PATH_BAD_ADDRESS;
    PUT('@');
    p++;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL || close + 1 != end || close == p + 1)
            return SMTPD_PATH_BAD_ADDRESS;
        PUT('[');
        for (const char *r = p + 1; r < close; r++) {
            unsigned char c = (unsigned char)*r;
            if (c < 33 || c > 126 || c == '\\' || c == '[')
                return SMTPD_PATH_BAD_ADDRESS;
            PUT((char)c);
        }
        PUT(']');
    } else {
        for (; p < end; p++) {
            unsigned char c = (unsigned char)*p;
            if (!is_domain_char(c))
                return SMTPD_PATH_BAD_ADDRESS;
            PUT((char)c);
        }
    }
#undef PUT
    addr[n] = '\0';
    return SMTPD_PATH_OK;
}

smtpd_path_status smtpd_parse_path(const char *args, const char *keyword, int strict,
                                   int allow_null, char *addr, size_t addrlen,
                                   const char **params)
{
    size_t kwlen = strlen(keyword);
    if (strncasecmp(args, keyword, kwlen) != 0)
        return SMTPD_PATH_BAD_SYNTAX;
    const char *p = skip_blanks(args + kwlen);
    if (*p == '\0')
        return SMTPD_PATH_BAD_SYNTAX;
    const char *start, *stop, *after;
    if (*p == '<') {
        start = p + 1;
        const char *q = start;
        int quoted = 0;
        for (;; q++) {
            if (*q == '\0')
                return SMTPD_PATH_BAD_ADDRESS;
            if (*q == '\\' && q[1] != '\0') {
                q++;
                continue;
            }
            if (*q == '"')
                quoted = !quoted;
            else if (*q == '>' && !quoted)
                break;
        }
        stop = q;
        after = q + 1;
    } else {
        if (strict)
            return SMTPD_PATH_BAD_ADDRESS;
        start = p;
        const char *q = p;
        while (*q && !is_blank((unsigned char)*q))
            q++;
        stop = q;
        after = q;
    }
    if (*after != '\0' && !is_blank((unsigned char)*after))
        return SMTPD_PATH_BAD_ADDRESS;
    smtpd_path_status st = internalize(start, (size_t)(stop - start), allow_null, addr, addrlen);
    if (st != SMTPD_PATH_OK)
        return st;
    if (params)
        *params = skip_blanks(after);
    return SMTPD_PATH_OK;
}

long smtpd_xtext_decode(const char *in, size_t inlen, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '+') {
            if (i + 2 >= inlen)
                return -1;
            char hex[3] = {in[i + 1], in[i + 2], 0};
            if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]))
                return -1;
            c = (unsigned char)strtol(hex, NULL, 16);
            if (c < 32 || c == 127)
                return -1; /* control characters have no place in an envelope */
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return -1;
        }
        if (n + 1 >= outlen)
            return -1;
        out[n++] = (char)c;
    }
    if (outlen == 0)
        return -1;
    out[n] = '\0';
    return (long)n;
}

/* Splits params at blanks and hands each "KEY[=VALUE]" word to fn; stops at fn's error. */
typedef int (*param_fn)(const char *word, size_t len, void *ctx, strbuf *reply);

static int for_each_param(const char *params, param_fn fn, void *ctx, strbuf *reply)
{
    const char *p = skip_blanks(params);
    while (*p) {
        size_t n = 0;
        while (p[n] && !is_blank((unsigned char)p[n]))
            n++;
        if (fn(p, n, ctx, reply) < 0)
            return -1;
        p = skip_blanks(p + n);
    }
    return 0;
}

static int word_is(const char *word, size_t len, const char *key)
{
    size_t k = strlen(key);
    return len >= k && strncasecmp(word, key, k) == 0;
}

static int unsupported(const char *word, size_t len, strbuf *reply)
{
    strbuf_reset(reply);
    strbuf_printf(reply, "555 5.5.4 Unsupported option: %.*s", (int)(len > 100 ? 100 : len),
                  word);
    return -1;
}

static int fail(strbuf *reply, const char *text)
{
    strbuf_reset(reply);
    strbuf_append_str(reply, text);
    return -1;
}

static int mail_param(const char *word, size_t len, void *ctx, strbuf *reply)
{
    smtpd_mail_params *mp = ctx;
    if (word_is(word, len, "SIZE=")) {
        const char *v = word + 5;
        size_t vlen = len - 5;
        if (vlen == 0)
            return fail(reply, "501 5.5.4 Bad message size syntax");
        long long size = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (!isdigit((unsigned char)v[i]))
                return fail(reply, "501 5.5.4 Bad message size syntax");
            int d = v[i] - '0';
            if (size > (__LONG_LONG_MAX__ - d) / 10)
                return fail(reply, "552 5.3.4 Message size exceeds file system imposed limit");
            size = size * 10 + d;
        }
        mp->size = size;
    } else if (word_is(word, len, "BODY=")) {
        if (len == 9 && strncasecmp(word, "BODY=7BIT", 9) == 0)
            mp->body_8bit = 0;
        else if (len == 13 && strncasecmp(word, "BODY=8BITMIME", 13) == 0)
            mp->body_8bit = 1;
        else
            return unsupported(word, len, reply);
        mp->body_seen = 1;
    } else if (word_is(word, len, "RET=")) {
        if (mp->ret != 0)
            return fail(reply, "501 5.5.4 Bad RET parameter syntax");
        if (len == 8 && strncasecmp(word, "RET=FULL", 8) == 0)
            mp->ret = SMTPD_DSN_RET_FULL;
        else if (len == 8 && strncasecmp(word, "RET=HDRS", 8) == 0)
            mp->ret = SMTPD_DSN_RET_HDRS;
        else
            return fail(reply, "501 5.5.4 Bad RET parameter syntax");
    } else if (word_is(word, len, "AUTH=")) {
        /* RFC 4954: the submitter's identity, xtext or "<>"; Postern records nothing of it. */
        char auth[SMTPD_ADDR_MAX + 1];
        if (mp->has_auth || len == 5 ||
            smtpd_xtext_decode(word + 5, len - 5, auth, sizeof(auth)) < 0)
            return fail(reply, "501 5.5.4 Bad AUTH parameter syntax");
        mp->has_auth = 1;
    } else if (word_is(word, len, "ENVID=")) {
        if (mp->has_envid || len == 6 ||
            smtpd_xtext_decode(word + 6, len - 6, mp->envid, sizeof(mp->envid)) < 0)
            return fail(reply, "501 5.5.4 Bad ENVID parameter syntax");
        mp->has_envid = 1;
    } else {
        return unsupported(word, len, reply);
    }
    return 0;
}

int smtpd_parse_mail_params(const char *params, smtpd_mail_params *out, strbuf *reply)
{
    memset(out, 0, sizeof(*out));
    out->size = -1;
    return for_each_param(params, mail_param, out, reply);
}

static int parse_notify(const char *v, size_t vlen)
{
    int mask = 0;
    size_t i = 0;
    if (vlen == 0)
        return -1;
    while (i <= vlen) {
        size_t j = i;
        while (j < vlen && v[j] != ',')
            j++;
        size_t n = j - i;
        int bit;
        if (n == 5 && strncasecmp(v + i, "NEVER", 5) == 0)
            bit = SMTPD_DSN_NOTIFY_NEVER;
        else if (n == 7 && strncasecmp(v + i, "SUCCESS", 7) == 0)
            bit = SMTPD_DSN_NOTIFY_SUCCESS;
        else if (n == 7 && strncasecmp(v + i, "FAILURE", 7) == 0)
            bit = SMTPD_DSN_NOTIFY_FAILURE;
        else if (n == 5 && strncasecmp(v + i, "DELAY", 5) == 0)
            bit = SMTPD_DSN_NOTIFY_DELAY;
        else
            return -1;
        mask |= bit;
        i = j + 1;
    }
    /* NEVER excludes everything else (RFC 3461 section 4.1). */
    if ((mask & SMTPD_DSN_NOTIFY_NEVER) && mask != SMTPD_DSN_NOTIFY_NEVER)
        return -1;
    return mask;
}

static int rcpt_param(const char *word, size_t len, void *ctx, strbuf *reply)
{
    smtpd_rcpt_params *rp = ctx;
    if (word_is(word, len, "NOTIFY=")) {
        int mask = rp->notify ? -1 : parse_notify(word + 7, len - 7);
        if (mask < 0)
            return fail(reply, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
        rp->notify = mask;
    } else if (word_is(word, len, "ORCPT=")) {
        const char *v = word + 6;
        size_t vlen = len - 6;
        const char *semi = memchr(v, ';', vlen);
        if (rp->orcpt[0] || semi == NULL || semi == v || semi + 1 == v + vlen)
            return fail(reply, "501 5.5.4 Error: Bad ORCPT parameter syntax");
        size_t tlen = (size_t)(semi - v);
        for (size_t i = 0; i < tlen; i++)
            if (!isalnum((unsigned char)v[i]) && v[i] != '-')
                return fail(reply, "501 5.5.4 Error: Bad ORCPT parameter syntax");
        if (tlen + 2 > sizeof(rp->orcpt))
            return fail(reply, "501 5.5.4 Error: Bad ORCPT parameter syntax");
        for (size_t i = 0; i < tlen; i++)
            rp->orcpt[i] = (char)tolower((unsigned char)v[i]);
        rp->orcpt[tlen] = ';';
        if (smtpd_xtext_decode(semi + 1, vlen - tlen - 1, rp->orcpt + tlen + 1,
                               sizeof(rp->orcpt) - tlen - 1) < 0) {
            rp->orcpt[0] = '\0';
            return fail(reply, "501 5.5.4 Error: Bad ORCPT parameter syntax");
        }
    } else {
        return unsupported(word, len, reply);
    }
    return 0;
}

int smtpd_parse_rcpt_params(const char *params, smtpd_rcpt_params *out, strbuf *reply)
{
    memset(out, 0, sizeof(*out));
    return for_each_param(params, rcpt_param, out, reply);
}

static int local_needs_quoting(const char *local, size_t len)
{
    if (len == 0 || local[0] == '.' || local[len - 1] == '.')
        return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (!is_atom_char(c) || (c == '.' && i + 1 < len && local[i + 1] == '.'))
            return 1;
    }
    return 0;
}

int smtpd_quote_address(const char *addr, char *out, size_t outlen)
{
    if (outlen == 0)
        return -1;
    const char *at = strrchr(addr, '@');
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    size_t n = 0;
    int overflow = 0;
#define OUT(ch)                                                                                    \
    do {                                                                                           \
        if (n + 1 < outlen)                                                                        \
            out[n++] = (ch);                                                                       \
        else                                                                                       \
            overflow = 1;                                                                          \
    } while (0)
    if (addr[0] != '\0' && local_needs_quoting(addr, llen)) {
        OUT('"');
        for (size_t i = 0; i < llen; i++) {
            if (addr[i] == '"' || addr[i] == '\\')
                OUT('\\');
            OUT(addr[i]);
        }
        OUT('"');
    } else {
        for (size_t i = 0; i < llen; i++)
            OUT(addr[i]);
    }
    if (at)
        for (const char *p = at; *p; p++)
            OUT(*p);
#undef OUT
    out[overflow ? 0 : n] = '\0'; /* never a cut address */
    return overflow ? -1 : 0;
}

static int valid_address_literal(const char *helo)
{
    size_t len = strlen(helo);
    if (len < 3 || helo[len - 1] != ']')
        return 0;
    char inner[128];
    if (len - 2 >= sizeof(inner))
        return 0;
    memcpy(inner, helo + 1, len - 2);
    inner[len - 2] = '\0';
    unsigned char bin[16];
    if (strncasecmp(inner, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, inner + 5, bin) == 1;
    return inet_pton(AF_INET, inner, bin) == 1;
}

int smtpd_helo_is_valid(const char *helo)
{
    if (helo[0] == '[')
        return valid_address_literal(helo);
    return mail_hostname_dots(helo) >= 0;
}

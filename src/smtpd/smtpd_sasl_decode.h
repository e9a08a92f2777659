/*
 * smtpd_sasl_decode.h: pure decoding of SMTP AUTH (RFC 4954) client input: the AUTH command's
 * arguments, RFC 4648 base64 (strict: no blanks, correct padding), and the PLAIN mechanism's
 * message (RFC 4616: [authzid] NUL authcid NUL passwd). No I/O, no allocation; every output is
 * bounded by the size it is given, and input that does not fit is an error, never cut short.
 */
#ifndef POSTERN_SMTPD_SASL_DECODE_H
#define POSTERN_SMTPD_SASL_DECODE_H

#include <stddef.h>

#define SASL_NAME_MAX 255     /* authcid/authzid bytes */
#define SASL_PASSWORD_MAX 1023 /* password bytes */
#define SASL_MECH_MAX 20      /* RFC 4422 mechanism names */

/* Decoded length, or -1 (bad character or padding, or out too small). "=" alone (RFC 4954's
 * empty initial response) is not base64: callers handle it. out gets no NUL. */
long sasl_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen);
/* Encoded length (NUL-terminated), or -1 when out is too small. */
long sasl_base64_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen);

/* "MECH [initial-response]": mech upper-cased into mech; *initial is NULL when absent. -1 when
 * the mechanism name is empty, too long or not RFC 4422 characters, or more words follow. */
int sasl_auth_args(const char *args, char *mech, size_t mechlen, const char **initial);

typedef struct sasl_plain {
    char authzid[SASL_NAME_MAX + 1];
    char authcid[SASL_NAME_MAX + 1];
    char passwd[SASL_PASSWORD_MAX + 1];
} sasl_plain;

/* Splits a decoded PLAIN message. -1 when it does not have exactly two NULs, the authcid or
 * password is empty, or a field is too long. */
int sasl_plain_split(const unsigned char *msg, size_t len, sasl_plain *out);

#endif

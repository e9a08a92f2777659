/*
 * postern_passwd.c: the postern-passwd command: prints a crypt(3) hash of a password for
 * smtpd_sasl_password_maps (smtpd_sasl_type = postern).
 *
 *   postern-passwd [-m yescrypt|sha512] [password]
 *
 * Without a password argument it reads one line from standard input (so the password stays out
 * of the process list and shell history). Hashes come from libcrypt: "$y$" yescrypt (the
 * default, as Debian's passwd) or "$6$" SHA-512-crypt, with a fresh random salt.
 * A table line is then "user@example.com $y$j9T$...".
 */
#include "cmd/commands.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: postern-passwd [-m yescrypt|sha512] [password]\n");
    return EX_USAGE_CODE;
}

/* One line of standard input into buf; -1 with a message when there is none or it is longer
 * than the buffer (a password is never hashed cut). */
static int read_password(char *buf, size_t size)
{
    if (fgets(buf, (int)size, stdin) == NULL) {
        fprintf(stderr, "postern-passwd: no password on standard input\n");
        return -1;
    }
    size_t len = strcspn(buf, "\n");
    int c = buf[len] == '\0' ? getchar() : '\n'; /* no newline yet: is there more? */
    if (c != EOF && c != '\n') {
        explicit_bzero(buf, size);
        fprintf(stderr, "postern-passwd: password on standard input is longer than %zu bytes\n",
                size - 1);
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int postern_passwd_main(int argc, char **argv)
{
    const char *prefix = "$y$";
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-m") == 0) {
        if (strcmp(argv[i + 1], "yescrypt") == 0)
            prefix = "$y$";
        else if (strcmp(argv[i + 1], "sha512") == 0)
            prefix = "$6$";
        else
            return usage();
        i += 2;
    }
    if (argc - i > 1)
        return usage();
    char line[1024];
    const char *password;
    if (i < argc) {
        password = argv[i];
    } else {
        if (read_password(line, sizeof(line)) < 0)
            return 1;
        password = line;
    }
    if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
        explicit_bzero(line, sizeof(line));
        fprintf(stderr,
                "postern-passwd: password is longer than %d bytes, the most crypt(3) takes\n",
                CRYPT_MAX_PASSPHRASE_SIZE - 1);
        return 1;
    }
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)) == NULL) {
        fprintf(stderr, "postern-passwd: cannot make a salt: %m\n");
        return 1;
    }
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *hash = crypt_r(password, setting, &cd);
    if (hash == NULL || hash[0] == '*') {
        fprintf(stderr, "postern-passwd: crypt failed\n");
        return 1;
    }
    printf("%s\n", hash);
    explicit_bzero(line, sizeof(line));
    explicit_bzero(&cd, sizeof(cd));
    return 0;
}

/*
 * smtpd_sasl_postern.c: Postern's own SASL password check (smtpd_sasl_type = postern).
 *
 * smtpd_sasl_password_maps maps a login name to a crypt(3) hash ("$y$..." yescrypt, "$6$..."
 * SHA-512-crypt, anything libcrypt knows; make one with postern-passwd). The table lookup runs
 * in the loop (tables are local files or memory); the hash, slow on purpose, runs on the smtpd
 * worker pool (lib/worker_pool.h). An unknown user is checked against a dummy hash made at
 * start, so a reply's timing does not tell which names exist. The table holds hashes only;
 * the password the client sent is wiped as soon as the hash is computed.
 */
#include "lib/config.h"
#include "lib/fixed_str.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "maps/map.h"
#include "smtpd/smtpd_sasl_backend.h"
#include "smtpd/smtpd_sasl_decode.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

typedef struct sasl_postern {
    map_list *maps;
    worker_pool *workers;
    char dummy_hash[CRYPT_OUTPUT_SIZE];
} sasl_postern;

typedef struct check_job {
    char hash[CRYPT_OUTPUT_SIZE];
    char password[SASL_PASSWORD_MAX + 1];
    char *user;
    int known;
    int ok;
    int cancelled;
    worker_job *wj;
    sasl_done_fn done;
    void *ctx;
} check_job;

void *sasl_postern_open(worker_pool *workers, strbuf *err)
{
    const char *value = cfg_str("smtpd_sasl_password_maps");
    if (*value == '\0') {
        strbuf_append_str(err, "smtpd_sasl_type = postern needs smtpd_sasl_password_maps");
        return NULL;
    }
    sasl_postern *sp = xcalloc(1, sizeof(*sp));
    sp->workers = workers;
    sp->maps = map_list_open(value, err);
    if (sp->maps == NULL) {
        free(sp);
        return NULL;
    }
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *h = crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting))
                        ? crypt_r("postern-dummy", setting, &cd)
                        : NULL;
    if (h == NULL || h[0] != '$' || fixed_copy(sp->dummy_hash, sizeof(sp->dummy_hash), h) < 0)
        memcpy(sp->dummy_hash, "*", 2); /* matches no password */
    return sp;
}

static void hash_work(void *arg)
{
    check_job *j = arg;
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(j->password, j->hash, cd);
    size_t hl = strlen(j->hash);
    j->ok = j->known && h != NULL && h[0] == '$' && strlen(h) == hl &&
            CRYPTO_memcmp(h, j->hash, hl) == 0;
    OPENSSL_cleanse(j->password, sizeof(j->password));
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
}

static void hash_done(void *arg, int cancelled)
{
    check_job *j = arg;
    if (!cancelled && !j->cancelled)
        j->done(j->ctx, j->ok ? SASL_RESULT_OK : SASL_RESULT_FAIL, j->user,
                j->ok ? "" : "authentication failure");
    OPENSSL_cleanse(j->user, strlen(j->user));
    free(j->user);
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
}

static void *postern_check(void *impl, const sasl_credentials *cred, sasl_done_fn done,
                           void *ctx, strbuf *err)
{
    sasl_postern *sp = impl;
    if (strlen(cred->password) >= sizeof(((check_job *)0)->password)) {
        strbuf_append_str(err, "credentials too long"); /* smtpd_sasl.c decodes no more */
        return NULL;
    }
    strbuf found;
    strbuf_init(&found, 4096);
    int rc = map_list_lookup(sp->maps, cred->user, &found);
    if (rc < 0) {
        strbuf_printf(err, "cannot read smtpd_sasl_password_maps");
        strbuf_free(&found);
        return NULL;
    }
    check_job *j = xcalloc(1, sizeof(*j));
    j->done = done;
    j->ctx = ctx;
    j->user = xstrdup(cred->user);
    memcpy(j->password, cred->password, strlen(cred->password) + 1); /* checked above */
    /* The value's first word is the hash; the rest is for later use. */
    size_t hl = rc == 1 ? strcspn(found.data, " \t,") : 0;
    if (hl >= sizeof(j->hash)) /* no crypt(3) hash is this long: a broken table entry */
        log_warning("smtpd_sasl_password_maps: the hash of %s is longer than %zu bytes; "
                    "refusing the login", cred->user, sizeof(j->hash) - 1);
    j->known = hl > 0 && hl < sizeof(j->hash);
    if (j->known) {
        memcpy(j->hash, found.data, hl);
        j->hash[hl] = '\0';
    } else {
        memcpy(j->hash, sp->dummy_hash, sizeof(j->hash)); /* same size */
    }
    strbuf_free(&found);
    j->wj = worker_pool_submit(sp->workers, hash_work, hash_done, j);
    return j;
}

static void postern_cancel(void *impl, void *handle)
{
    sasl_postern *sp = impl;
    check_job *j = handle;
    j->cancelled = 1; /* hash_done() still runs, and frees it */
    worker_pool_cancel(sp->workers, j->wj);
}

static void postern_close(void *impl)
{
    sasl_postern *sp = impl;
    map_list_close(sp->maps); /* the pool, owned by smtpd_io.c, finishes the jobs */
    free(sp);
}

const sasl_backend_ops sasl_postern_ops = {postern_check, postern_cancel, postern_close};

/*
 * map_lmdb.c: hash:NAME and lmdb:NAME tables, both stored in the LMDB file NAME.lmdb.
 *
 * Tables are immutable once built: map_lmdb_builder writes a temporary file next to the table
 * (NAME.lmdb.XXXXXX), syncs it and renames it over NAME.lmdb, so readers keep the old file
 * until they reopen. Because no process ever writes a table file in place, readers open it
 * read-only with MDB_NOLOCK and need no lock file (and no write access to the directory).
 * Keys are stored as given (postmap lowercases them unless -f); values without a NUL.
 * LMDB limits keys to mdb_env_get_maxkeysize() bytes (511 by default); longer keys are refused
 * when building and never match.
 */
#include "lib/xalloc.h"
#include "maps/map.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LMDB_INITIAL_MAP_SIZE ((size_t)64 * 1024 * 1024)
#define LMDB_MAX_MAP_SIZE ((size_t)64 * 1024 * 1024 * 1024)
#define LMDB_BATCH 512         /* puts per write transaction */
#define BUILDER_FAILED (-1000) /* builder_op: an error is in err (never an MDB status) */

void map_lmdb_file_name(const char *name, strbuf *out)
{
    strbuf_reset(out);
    strbuf_printf(out, "%s.lmdb", name);
}

/* Reading. */

typedef struct lmdb_table {
    MDB_env *env;
    MDB_dbi dbi;
    char *path;
} lmdb_table;

static int lmdb_open_env(const char *path, MDB_env **envp, MDB_dbi *dbi, strbuf *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        strbuf_printf(err, "open database %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        strbuf_printf(err, "open database %s: not a regular file", path);
        return -1;
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, dbi);
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        strbuf_printf(err, "open database %s: %s", path, mdb_strerror(rc));
        mdb_env_close(env);
        return -1;
    }
    *envp = env;
    return 0;
}

static void *lmdb_open(const char *name, strbuf *err)
{
    strbuf path;
    strbuf_init(&path, 0);
    map_lmdb_file_name(name, &path);
    lmdb_table *t = xcalloc(1, sizeof(*t));
    if (lmdb_open_env(path.data, &t->env, &t->dbi, err) < 0) {
        strbuf_free(&path);
        free(t);
        return NULL;
    }
    t->path = strbuf_detach(&path);
    return t;
}

static int lmdb_lookup(void *handle, const char *key, strbuf *result)
{
    lmdb_table *t = handle;
    size_t len = strlen(key);
    if (len == 0 || len > (size_t)mdb_env_get_maxkeysize(t->env))
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        strbuf_printf(result, "%s: %s", t->path, mdb_strerror(rc));
        return -1;
    }
    MDB_val k = {len, (void *)key}, v;
    rc = mdb_get(txn, t->dbi, &k, &v);
    int status;
    if (rc == MDB_NOTFOUND) {
        status = 0;
    } else if (rc != 0) {
        strbuf_printf(result, "%s: lookup error: %s", t->path, mdb_strerror(rc));
        status = -1;
    } else if (v.mv_size > MAP_VALUE_MAX || strbuf_append(result, v.mv_data, v.mv_size) < 0) {
        strbuf_printf(result, "%s: value is too long", t->path);
        status = -1;
    } else {
        status = 1;
    }
    mdb_txn_abort(txn);
    return status;
}

static void lmdb_close(void *handle)
{
    lmdb_table *t = handle;
    mdb_env_close(t->env);
    free(t->path);
    free(t);
}

const map_ops map_hash_ops = {"hash", lmdb_open, lmdb_lookup, lmdb_close};
const map_ops map_lmdb_ops = {"lmdb", lmdb_open, lmdb_lookup, lmdb_close};

int map_lmdb_dump(const char *path, int (*fn)(const char *key, const char *value, void *ctx),
                  void *ctx, strbuf *err)
{
    MDB_env *env;
    MDB_dbi dbi;
    if (lmdb_open_env(path, &env, &dbi, err) < 0)
        return -1;
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, dbi, &cursor);
    MDB_val k, v;
    int status = 0;
    strbuf key, value;
    strbuf_init(&key, 0);
    strbuf_init(&value, 0);
    for (MDB_cursor_op op = MDB_FIRST; rc == 0 && status == 0; op = MDB_NEXT) {
        rc = mdb_cursor_get(cursor, &k, &v, op);
        if (rc != 0)
            break;
        strbuf_reset(&key);
        strbuf_reset(&value);
        strbuf_append(&key, k.mv_data, k.mv_size);
        strbuf_append(&value, v.mv_data, v.mv_size);
        status = fn(key.data, value.data, ctx);
    }
    strbuf_free(&key);
    strbuf_free(&value);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        strbuf_printf(err, "%s: read error: %s", path, mdb_strerror(rc));
        status = -1;
    }
    if (cursor)
        mdb_cursor_close(cursor);
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return status < 0 ? -1 : 0;
}

/* Building. */

typedef enum { OP_PUT, OP_DELETE } batch_op;

typedef struct batch_entry {
    batch_op op;
    int dup_mode;
    char *key;
    char *value;
} batch_entry;

struct map_lmdb_builder {
    char *path;
    char *tmp;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    size_t map_size;
    /* Operations of the open transaction, replayed after growing the map. */
    batch_entry batch[LMDB_BATCH];
    size_t batch_len;
};

static void batch_clear(map_lmdb_builder *b)
{
    for (size_t i = 0; i < b->batch_len; i++) {
        free(b->batch[i].key);
        free(b->batch[i].value);
    }
    b->batch_len = 0;
}

static int begin_txn(map_lmdb_builder *b)
{
    int rc = mdb_txn_begin(b->env, NULL, 0, &b->txn);
    if (rc == 0)
        rc = mdb_dbi_open(b->txn, NULL, 0, &b->dbi);
    return rc;
}

/* One operation inside the open transaction: MDB status (MDB_KEYEXIST, MDB_NOTFOUND allowed). */
static int apply_op(map_lmdb_builder *b, const batch_entry *e)
{
    MDB_val k = {strlen(e->key), e->key};
    if (e->op == OP_DELETE)
        return mdb_del(b->txn, b->dbi, &k, NULL);
    MDB_val v = {strlen(e->value), e->value};
    return mdb_put(b->txn, b->dbi, &k, &v, e->dup_mode == MAP_DUP_REPLACE ? 0 : MDB_NOOVERWRITE);
}

/* After MDB_MAP_FULL: abort, double the map, replay the batch. 0 or an MDB error. */
static int grow_and_replay(map_lmdb_builder *b)
{
    for (;;) {
        mdb_txn_abort(b->txn);
        b->txn = NULL;
        if (b->map_size >= LMDB_MAX_MAP_SIZE)
            return MDB_MAP_FULL;
        b->map_size *= 2;
        int rc = mdb_env_set_mapsize(b->env, b->map_size);
        if (rc == 0)
            rc = begin_txn(b);
        for (size_t i = 0; rc == 0 && i < b->batch_len; i++) {
            rc = apply_op(b, &b->batch[i]);
            if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc != MDB_MAP_FULL)
            return rc;
    }
}

/* Commits the open transaction (growing the map if needed) and starts the next one. */
static int commit_batch(map_lmdb_builder *b, int begin_next)
{
    for (;;) {
        int rc = mdb_txn_commit(b->txn);
        b->txn = NULL;
        if (rc == MDB_MAP_FULL) {
            if (begin_txn(b) != 0)
                return rc;
            if ((rc = grow_and_replay(b)) != 0)
                return rc;
            continue;
        }
        if (rc != 0)
            return rc;
        batch_clear(b);
        return begin_next ? begin_txn(b) : 0;
    }
}

static int builder_fail(map_lmdb_builder *b, strbuf *err, const char *what, int rc)
{
    strbuf_printf(err, "%s: %s: %s", b->tmp ? b->tmp : b->path, what, mdb_strerror(rc));
    return -1;
}

/* Records and applies one operation; returns the MDB status of the operation itself. */
static int builder_op(map_lmdb_builder *b, batch_op op, const char *key, const char *value,
                      int dup_mode, strbuf *err)
{
    if (b->batch_len == LMDB_BATCH) {
        int rc = commit_batch(b, 1);
        if (rc != 0) {
            builder_fail(b, err, "commit", rc);
            return BUILDER_FAILED;
        }
    }
    batch_entry *e = &b->batch[b->batch_len++];
    e->op = op;
    e->dup_mode = dup_mode;
    e->key = xstrdup(key);
    e->value = value ? xstrdup(value) : NULL;
    int rc = apply_op(b, e);
    if (rc == MDB_MAP_FULL) {
        rc = grow_and_replay(b);
        if (rc != 0) {
            builder_fail(b, err, "write", rc);
            return BUILDER_FAILED;
        }
        return 0; /* the replay applied it */
    }
    if (rc != 0 && rc != MDB_KEYEXIST && rc != MDB_NOTFOUND) {
        builder_fail(b, err, "write", rc);
        return BUILDER_FAILED;
    }
    return rc;
}

static int seed_entry(const char *key, const char *value, void *ctx)
{
    void **args = ctx;
    return builder_op(args[0], OP_PUT, key, value, MAP_DUP_REPLACE, args[1]) == BUILDER_FAILED ? -1
                                                                                               : 0;
}

map_lmdb_builder *map_lmdb_builder_open(const char *path, int seed_existing, strbuf *err)
{
    map_lmdb_builder *b = xcalloc(1, sizeof(*b));
    b->path = xstrdup(path);
    strbuf tmp;
    strbuf_init(&tmp, 0);
    strbuf_printf(&tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp.data);
    if (fd < 0) {
        strbuf_printf(err, "create %s: %s", tmp.data, strerror(errno));
        strbuf_free(&tmp);
        map_lmdb_builder_abort(b);
        return NULL;
    }
    close(fd);
    b->tmp = strbuf_detach(&tmp);
    b->map_size = LMDB_INITIAL_MAP_SIZE;
    struct stat st;
    if (seed_existing && stat(path, &st) == 0)
        while (b->map_size < (size_t)st.st_size * 2 && b->map_size < LMDB_MAX_MAP_SIZE)
            b->map_size *= 2;
    int rc = mdb_env_create(&b->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(b->env, b->map_size);
    if (rc == 0)
        rc = mdb_env_open(b->env, b->tmp, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc == 0)
        rc = begin_txn(b);
    if (rc != 0) {
        builder_fail(b, err, "open", rc);
        map_lmdb_builder_abort(b);
        return NULL;
    }
    if (seed_existing && access(path, F_OK) == 0) {
        void *args[2] = {b, err};
        if (map_lmdb_dump(path, seed_entry, args, err) < 0) {
            map_lmdb_builder_abort(b);
            return NULL;
        }
    }
    return b;
}

int map_lmdb_builder_put(map_lmdb_builder *b, const char *key, const char *value, int dup_mode,
                         strbuf *err)
{
    size_t key_len = strlen(key);
    if (key_len == 0) {
        strbuf_printf(err, "empty lookup key is not allowed");
        return 1;
    }
    if (key_len > (size_t)mdb_env_get_maxkeysize(b->env)) {
        strbuf_printf(err, "key is longer than %d bytes: \"%.60s...\"",
                      mdb_env_get_maxkeysize(b->env), key);
        return 1;
    }
    if (strlen(value) > MAP_VALUE_MAX) {
        strbuf_printf(err, "value of \"%.60s\" is longer than %u bytes", key, MAP_VALUE_MAX);
        return 1;
    }
    int rc = builder_op(b, OP_PUT, key, value, dup_mode, err);
    if (rc == BUILDER_FAILED)
        return -1;
    if (rc == MDB_KEYEXIST) {
        if (dup_mode == MAP_DUP_WARN)
            strbuf_printf(err, "duplicate entry: \"%s\"", key);
        return 1;
    }
    return 0;
}

int map_lmdb_builder_delete(map_lmdb_builder *b, const char *key, strbuf *err)
{
    size_t key_len = strlen(key);
    if (key_len == 0 || key_len > (size_t)mdb_env_get_maxkeysize(b->env))
        return 0;
    int rc = builder_op(b, OP_DELETE, key, NULL, MAP_DUP_REPLACE, err);
    if (rc == BUILDER_FAILED)
        return -1;
    return rc == MDB_NOTFOUND ? 0 : 1;
}

/* fsyncs the directory that holds path, so the rename is durable. */
static int sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int map_lmdb_builder_commit(map_lmdb_builder *b, unsigned mode, long owner_uid, long owner_gid,
                            strbuf *err)
{
    int rc = commit_batch(b, 0);
    if (rc == 0)
        rc = mdb_env_sync(b->env, 1);
    if (rc != 0) {
        builder_fail(b, err, "commit", rc);
        map_lmdb_builder_abort(b);
        return -1;
    }
    mdb_env_close(b->env);
    b->env = NULL;
    int status = 0;
    if (chmod(b->tmp, mode) != 0) {
        strbuf_printf(err, "chmod %s: %s", b->tmp, strerror(errno));
        status = -1;
    } else if (owner_uid >= 0 && geteuid() == 0 &&
               chown(b->tmp, (uid_t)owner_uid, (gid_t)owner_gid) != 0) {
        strbuf_printf(err, "chown %s: %s", b->tmp, strerror(errno));
        status = -1;
    } else if (rename(b->tmp, b->path) != 0) {
        strbuf_printf(err, "rename %s to %s: %s", b->tmp, b->path, strerror(errno));
        status = -1;
    } else {
        free(b->tmp);
        b->tmp = NULL;
        sync_parent_dir(b->path);
    }
    map_lmdb_builder_abort(b);
    return status;
}

void map_lmdb_builder_abort(map_lmdb_builder *b)
{
    if (b == NULL)
        return;
    if (b->txn)
        mdb_txn_abort(b->txn);
    if (b->env)
        mdb_env_close(b->env);
    if (b->tmp) {
        unlink(b->tmp);
        free(b->tmp);
    }
    batch_clear(b);
    free(b->path);
    free(b);
}

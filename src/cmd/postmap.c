/*
 * postmap.c: the postmap program, Postfix lookup table management.
 *
 *   postmap [-fiorw] [-c config_dir] [type:]file...        build file.lmdb from file
 *   postmap [-c config_dir] -q key [type:]name...           query; "-q -" reads keys from stdin
 *   postmap [-c config_dir] -s [type:]file                  dump every "key<TAB>value"
 *   postmap [-f] [-c config_dir] -d key [type:]file...      delete key
 *
 * Building reads "key whitespace value" lines (comments, continuation lines as in postmap(1)),
 * lowercases keys unless -f, and writes hash:/lmdb: tables as FILE.lmdb through a temporary file
 * renamed into place. -i adds the lines read from standard input to the existing table instead.
 * Duplicate keys: the first wins with a warning (default), silently (-w), or the last wins (-r).
 * The table gets the source file's group/other read bits and, when run as root, its owner
 * (unless -o). -q works on every table type (inline:, pcre:, cidr:, ...); keys are folded as
 * each type does. Exit status: 0 success or key found, 1 not found or error, 64 bad usage.
 * Without a type, default_database_type (hash) is used.
 */
#include "cmd/commands.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "maps/map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct postmap_opts {
    int fold;     /* lowercase keys when building / deleting */
    int dup_mode; /* MAP_DUP_* */
    int as_owner; /* give the table the source file's owner when root */
    int incremental;
} postmap_opts;

static int usage(void)
{
    fprintf(stderr, "usage: postmap [-fiorsw] [-c config_dir] [-d key] [-q key] "
                    "[map_type:]file...\n");
    return EX_USAGE_CODE;
}

/* Splits "type:name" or applies the default type; returns the type in *type (malloc'd). */
static const char *split_map_arg(const char *arg, char **type)
{
    const char *p = arg;
    while (strncmp(p, "proxy:", 6) == 0)
        p += 6;
    const char *colon = strchr(p, ':');
    if (colon && colon != p) {
        *type = xstrndup(p, (size_t)(colon - p));
        return colon + 1;
    }
    const char *def = cfg_str("default_database_type");
    *type = xstrdup(def && *def ? def : "hash");
    return p;
}

static int is_lmdb_type(const char *type)
{
    return strcmp(type, "hash") == 0 || strcmp(type, "lmdb") == 0;
}

/* The "type:name" spec map_open wants for a command-line argument. */
static char *full_spec(const char *arg)
{
    char *type;
    const char *name = split_map_arg(arg, &type);
    strbuf spec;
    strbuf_init(&spec, 0);
    strbuf_printf(&spec, "%s:%s", type, name);
    free(type);
    return strbuf_detach(&spec);
}

static int query_one(map **maps, int count, const char *key, strbuf *value, int with_key)
{
    for (int i = 0; i < count; i++) {
        int status = map_lookup(maps[i], key, value);
        if (status < 0)
            log_fatal("table %s: query error: %s", map_spec(maps[i]), value->data);
        if (status > 0) {
            if (with_key)
                printf("%s\t%s\n", key, value->data);
            else
                printf("%s\n", value->data);
            return 1;
        }
    }
    return 0;
}

static int postmap_query(const char *key, char **args, int count)
{
    map **maps = xcalloc((size_t)count, sizeof(*maps));
    strbuf err, value, line;
    strbuf_init(&err, 0);
    strbuf_init(&value, 0);
    for (int i = 0; i < count; i++) {
        char *spec = full_spec(args[i]);
        maps[i] = map_open(spec, &err);
        free(spec);
        if (maps[i] == NULL)
            log_fatal("%s", err.data);
    }
    int found = 0;
    if (strcmp(key, "-") != 0) {
        found = query_one(maps, count, key, &value, 0);
    } else {
        strbuf_init(&line, MAP_KEY_MAX);
        int c;
        do {
            c = getchar();
            if (c == EOF || c == '\n') {
                if (line.len)
                    found |= query_one(maps, count, line.data, &value, 1);
                strbuf_reset(&line);
            } else if (strbuf_append_char(&line, (char)c) < 0) {
                log_fatal("standard input: key is longer than %u bytes", MAP_KEY_MAX);
            }
        } while (c != EOF);
        strbuf_free(&line);
    }
    fflush(stdout);
    for (int i = 0; i < count; i++)
        map_close(maps[i]);
    free(maps);
    strbuf_free(&err);
    strbuf_free(&value);
    return found ? 0 : 1;
}

static int print_entry(const char *key, const char *value, void *ctx)
{
    (void)ctx;
    printf("%s\t%s\n", key, value);
    return 0;
}

static int postmap_dump(const char *arg)
{
    char *type;
    const char *name = split_map_arg(arg, &type);
    if (!is_lmdb_type(type))
        log_fatal("table %s:%s: -s is supported for hash: and lmdb: tables only", type, name);
    strbuf path, err;
    strbuf_init(&path, 0);
    strbuf_init(&err, 0);
    map_lmdb_file_name(name, &path);
    if (map_lmdb_dump(path.data, print_entry, NULL, &err) < 0)
        log_fatal("%s", err.data);
    fflush(stdout);
    strbuf_free(&path);
    strbuf_free(&err);
    free(type);
    return 0;
}

static int postmap_delete(const char *key, char **args, int count, const postmap_opts *opts)
{
    int found = 0;
    char *folded = xstrdup(key);
    if (opts->fold)
        map_lowercase(folded);
    strbuf path, err;
    strbuf_init(&path, 0);
    strbuf_init(&err, 0);
    for (int i = 0; i < count; i++) {
        char *type;
        const char *name = split_map_arg(args[i], &type);
        if (!is_lmdb_type(type))
            log_fatal("table %s:%s: -d is supported for hash: and lmdb: tables only", type, name);
        map_lmdb_file_name(name, &path);
        struct stat st;
        if (stat(path.data, &st) != 0)
            log_fatal("open database %s: No such file or directory", path.data);
        map_lmdb_builder *b = map_lmdb_builder_open(path.data, 1, &err);
        if (b == NULL)
            log_fatal("%s", err.data);
        int rc = map_lmdb_builder_delete(b, folded, &err);
        if (rc < 0)
            log_fatal("%s", err.data);
        found |= rc;
        if (map_lmdb_builder_commit(b, st.st_mode & 07777, (long)st.st_uid, (long)st.st_gid, &err) <
            0)
            log_fatal("%s", err.data);
        free(type);
    }
    free(folded);
    strbuf_free(&path);
    strbuf_free(&err);
    return found ? 0 : 1;
}

/* Adds every "key value" line of src to b. */
static void load_source(map_lmdb_builder *b, map_source *src, const postmap_opts *opts)
{
    strbuf err;
    strbuf_init(&err, 0);
    int status;
    while ((status = map_source_next(src, &err)) == 1) {
        char *key, *value;
        if (map_split_key_value(src->line.data, &key, &value) < 0) {
            log_warning("%s, line %d: expected format: key whitespace value", src->name,
                        src->lineno);
            continue;
        }
        size_t key_len = strlen(key);
        if (key_len > 1 && key[key_len - 1] == ':')
            log_warning("%s, line %d: record is in \"key: value\" format; is this an alias "
                        "file?",
                        src->name, src->lineno);
        if (opts->fold)
            map_lowercase(key);
        strbuf_reset(&err);
        int rc = map_lmdb_builder_put(b, key, value, opts->dup_mode, &err);
        if (rc < 0)
            log_fatal("%s", err.data);
        if (rc == 1 && err.len)
            log_warning("%s, line %d: %s", src->name, src->lineno, err.data);
    }
    if (status < 0)
        log_fatal("%s", err.data);
    strbuf_free(&err);
}

static void postmap_build(const char *arg, const postmap_opts *opts)
{
    char *type;
    const char *name = split_map_arg(arg, &type);
    if (!is_lmdb_type(type)) {
        if (map_type_supported(type))
            log_fatal("table %s:%s: postmap builds hash: and lmdb: tables only (%s: tables are "
                      "read as they are)",
                      type, name, type);
        log_fatal("unsupported dictionary type: %s", type);
    }
    strbuf path, err;
    strbuf_init(&path, 0);
    strbuf_init(&err, 0);
    map_lmdb_file_name(name, &path);
    map_source src;
    struct stat st;
    unsigned mode = 0644;
    long uid = -1, gid = -1;
    if (opts->incremental) {
        map_source_init(&src, stdin, "standard input");
        if (stat(path.data, &st) == 0) {
            mode = st.st_mode & 07777;
            uid = (long)st.st_uid;
            gid = (long)st.st_gid;
        }
    } else {
        if (map_source_open(&src, name, (size_t)-1, &err) < 0)
            log_fatal("%s", err.data);
        if (fstat(fileno(src.fp), &st) == 0) {
            mode = (st.st_mode & 0644) | 0600;
            if (opts->as_owner) {
                uid = (long)st.st_uid;
                gid = (long)st.st_gid;
            }
        }
    }
    map_lmdb_builder *b = map_lmdb_builder_open(path.data, opts->incremental, &err);
    if (b == NULL)
        log_fatal("%s", err.data);
    load_source(b, &src, opts);
    map_source_close(&src);
    if (map_lmdb_builder_commit(b, mode, uid, gid, &err) < 0)
        log_fatal("%s", err.data);
    strbuf_free(&path);
    strbuf_free(&err);
    free(type);
}

static void load_config(const char *dir)
{
    strbuf err;
    strbuf_init(&err, 0);
    config *cfg = config_load(dir, &err);
    if (cfg == NULL) {
        log_warning("%s; using default settings", err.data);
        cfg = config_defaults(dir);
    }
    config_set_current(cfg);
    log_configure();
    strbuf_free(&err);
}

int postmap_main(int argc, char **argv)
{
    log_init("postmap");
    log_set_stderr(1);
    postmap_opts opts = {1, MAP_DUP_WARN, 1, 0};
    const char *config_dir = NULL, *query = NULL, *delete_key = NULL;
    int sequence = 0, ch;
    optind = 1;
    while ((ch = getopt(argc, argv, "c:d:fiNnopq:rsvw")) != -1) {
        switch (ch) {
        case 'c':
            config_dir = optarg;
            break;
        case 'd':
            delete_key = optarg;
            break;
        case 'f':
            opts.fold = 0;
            break;
        case 'i':
            opts.incremental = 1;
            break;
        case 'o':
            opts.as_owner = 0;
            break;
        case 'q':
            query = optarg;
            break;
        case 'r':
            opts.dup_mode = MAP_DUP_REPLACE;
            break;
        case 's':
            sequence = 1;
            break;
        case 'w':
            opts.dup_mode = MAP_DUP_IGNORE;
            break;
        case 'N':
        case 'n':
        case 'p':
        case 'v':
            break; /* accepted for compatibility */
        default:
            return usage();
        }
    }
    if ((query != NULL) + (delete_key != NULL) + sequence > 1) {
        fprintf(stderr, "postmap: fatal: specify only one of -s -q or -d\n");
        return EX_USAGE_CODE;
    }
    if (optind >= argc)
        return usage();
    load_config(config_dir);
    if (query)
        return postmap_query(query, argv + optind, argc - optind);
    if (sequence)
        return postmap_dump(argv[optind]);
    if (delete_key)
        return postmap_delete(delete_key, argv + optind, argc - optind, &opts);
    for (int i = optind; i < argc; i++)
        postmap_build(argv[i], &opts);
    return 0;
}

/*
 * map.h: Postfix lookup tables behind one interface.
 *
 * A table is named "type:name" as in main.cf: inline:{ key=value, ... }, static:value,
 * texthash:/path, hash:/path (LMDB, built by postmap), cidr:/path, regexp:/path, pcre:/path,
 * unix:passwd.byname. One file per type, map_<type>.c, each providing a map_ops.
 * Keys are matched case-insensitively (lowercased) unless the type says otherwise, as Postfix does.
 *
 * Postern specifics:
 *  - hash: and lmdb: are the same LMDB format; the file is NAME.lmdb for both (Postfix's hash
 *    would be NAME.db). postmap and newaliases build a temporary file and rename it into place,
 *    so a table file is never modified while a reader has it open.
 *  - regexp: and pcre: are both compiled with PCRE2.
 *  - "proxy:type:name" is accepted and opens type:name directly (there is no proxymap).
 *  - Keys longer than MAP_KEY_MAX never match; table files larger than MAP_FILE_MAX and logical
 *    lines longer than MAP_LINE_MAX are errors.
 */
#ifndef POSTERN_MAP_H
#define POSTERN_MAP_H

#include "lib/strbuf.h"

#include <stdio.h>
#include <sys/stat.h>

#define MAP_KEY_MAX (1024u * 1024)        /* longest lookup key (header_checks keys are long) */
#define MAP_VALUE_MAX (1024u * 1024)      /* longest table value */
#define MAP_LINE_MAX (2u * 1024 * 1024)   /* longest logical line in a table source file */
#define MAP_FILE_MAX (256u * 1024 * 1024) /* largest source file read into memory */

typedef struct map map;

typedef struct map_ops {
    const char *type;
    /* Opens name (the part after "type:"); on error returns NULL with a message in err. */
    void *(*open)(const char *name, strbuf *err);
    /* 1 found (value in result), 0 not found, -1 temporary failure (message in result). */
    int (*lookup)(void *handle, const char *key, strbuf *result);
    void (*close)(void *handle);
} map_ops;

/* The table types (map_<type>.c). */
extern const map_ops map_inline_ops;
extern const map_ops map_static_ops;
extern const map_ops map_texthash_ops;
extern const map_ops map_hash_ops; /* hash: and lmdb: (map_lmdb.c) */
extern const map_ops map_lmdb_ops;
extern const map_ops map_cidr_ops;
extern const map_ops map_regexp_ops; /* regexp: and pcre: (map_regexp.c) */
extern const map_ops map_pcre_ops;
extern const map_ops map_unix_ops;

/* Opens "type:name". */
map *map_open(const char *spec, strbuf *err);
int map_lookup(map *m, const char *key, strbuf *result);
const char *map_spec(const map *m);
void map_close(map *m);
/* 1 when the file behind m was replaced or changed since it was opened (daemons then restart,
 * as Postfix's do); 0 for types without a file. */
int map_changed(const map *m);
/* 1 when type (without ':') names a supported table type. */
int map_type_supported(const char *type);
/* The name of the Postfix lookup table type at type (len bytes), whether Postern has it or not,
 * or NULL when Postfix has no such type. */
const char *map_type_postfix_name(const char *type, size_t len);
/* Whether spec has the "type:name" form with a type Postern or Postfix has (one only Postfix
 * has is postfix check's to judge), without opening it: 0, or -1 with map_open()'s reason in
 * err. */
int map_spec_check(const char *spec, strbuf *err);
/* The same for the len bytes at type (a "type:name" spec's prefix). */
int map_type_supported_n(const char *type, size_t len);
/* The type in spec ("type:name", after any "proxy:" prefixes): its first byte, with its length
 * in *len; NULL when spec has no "type:" (no colon, or nothing before it). */
const char *map_spec_type(const char *spec, size_t *len);

/* A parameter's list of tables ("hash:/etc/aliases, texthash:/x"), searched in order. */
typedef struct map_list map_list;
map_list *map_list_open(const char *value, strbuf *err);
/* Like map_list_open, but a table that cannot be opened becomes one whose lookups fail
 * temporarily (-1) with the open error, as Postfix does; err receives those open errors ("; "
 * separated) for the caller to log. Returns NULL only for list syntax errors. */
map_list *map_list_open_lenient(const char *value, strbuf *err);
int map_list_lookup(map_list *ml, const char *key, strbuf *result);
int map_list_empty(const map_list *ml);
int map_list_changed(const map_list *ml);
void map_list_close(map_list *ml);

/*
 * Splits a list parameter value into entries separated by commas or white space, keeping
 * "{ ... }" groups (which may hold commas and spaces, and nest) inside one entry. Calls fn for
 * each entry; fn returning non-zero stops the walk with that status. Returns -1 with err set on
 * unbalanced braces.
 */
int map_split_list(const char *value, int (*fn)(const char *entry, void *ctx), void *ctx,
                   strbuf *err);

/*
 * Reading table source files (postmap input, texthash, cidr, regexp, aliases): logical lines.
 * Blank lines and lines whose first non-blank character is '#' are skipped; a line starting with
 * white space continues the logical line before it (the newline is dropped). A continuation line
 * with nothing before it is skipped with a warning.
 */
typedef struct map_source {
    FILE *fp;
    int owns_fp;
    char *name;
    int lineno;      /* first physical line of the logical line last returned */
    int phys_lineno; /* physical lines read so far */
    strbuf line;     /* the logical line */
    strbuf peek;     /* one physical line of lookahead */
    int have_peek;
} map_source;

/* Opens path for reading when it is a regular file (its status in *st); NULL with err naming
 * the file. */
FILE *map_open_regular(const char *path, struct stat *st, strbuf *err);
/* Opens a regular file of at most max_size bytes; -1 with err naming the file. */
int map_source_open(map_source *src, const char *path, size_t max_size, strbuf *err);
/* Reads from an open stream (not closed by map_source_close); name is for messages. */
void map_source_init(map_source *src, FILE *fp, const char *name);
/* 1 with src->line set, 0 at end of file, -1 with err set (overlong line, NUL byte, I/O). */
int map_source_next(map_source *src, strbuf *err);
void map_source_close(map_source *src);

/* Splits a postmap-style "key whitespace value" line in place. Returns 0, or -1 when there is
 * no value. Leading/trailing white space of both parts is removed. */
int map_split_key_value(char *line, char **key, char **value);
/* Lowercases s in place (ASCII only, as Postfix's lowercase()). */
void map_lowercase(char *s);

/* lookup and close for a table held in memory as a strmap of strings (inline:, texthash:). */
int map_strmap_lookup(void *handle, const char *key, strbuf *result);
void map_strmap_close(void *handle);

/* LMDB table building (map_lmdb.c), used by postmap and newaliases. */
typedef struct map_lmdb_builder map_lmdb_builder;
/* Dupe handling for map_lmdb_builder_put: first entry wins with a warning (Postfix's default),
 * first entry wins silently (postmap -w), or last entry wins (postmap -r). */
enum { MAP_DUP_WARN, MAP_DUP_IGNORE, MAP_DUP_REPLACE };
/* Starts building path ("NAME.lmdb") in a temporary file next to it. When seed_existing is set,
 * the current content of path (if any) is copied in first (postmap -i, -d). */
map_lmdb_builder *map_lmdb_builder_open(const char *path, int seed_existing, strbuf *err);
/* 0 stored (a replaced duplicate too); 1 not stored (a duplicate, an empty or overlong
 * key or value), with a warning in err when there is something to say; -1 error (err set; the
 * build is then unusable). */
int map_lmdb_builder_put(map_lmdb_builder *b, const char *key, const char *value, int dup_mode,
                         strbuf *err);
/* 1 deleted, 0 not present, -1 error. */
int map_lmdb_builder_delete(map_lmdb_builder *b, const char *key, strbuf *err);
/* Syncs and renames the temporary file into place; the file gets mode and, when running as
 * root, the owner given (owner -1: unchanged). Frees b. */
int map_lmdb_builder_commit(map_lmdb_builder *b, unsigned mode, long owner_uid, long owner_gid,
                            strbuf *err);
/* Removes the temporary file and frees b. */
void map_lmdb_builder_abort(map_lmdb_builder *b);
/* Calls fn for every entry of the table at path (postmap -s). Returns 0 or -1 with err set. */
int map_lmdb_dump(const char *path, int (*fn)(const char *key, const char *value, void *ctx),
                  void *ctx, strbuf *err);
/* The file a hash:/lmdb: table called name lives in: name + ".lmdb". */
void map_lmdb_file_name(const char *name, strbuf *out);

#endif

/*
 * alias_file.h: reading aliases(5) source files.
 *
 * An entry is "name: value, value, ..." on one logical line (lines starting with white space
 * continue it; blank lines and lines starting with '#' are ignored). The name ends at the first
 * ':' outside double quotes; a quoted name ("john doe": ...) may hold white space, ':', '#' and
 * '@', and a backslash inside quotes escapes the next character; the quotes are removed. Names
 * are lowercased, as Postfix's postalias does. The value is kept as written, with surrounding
 * white space removed; it is split into addresses by the local delivery agent, not here.
 *
 * Malformed entries (no ':', empty name, empty value, unbalanced quote, overlong name) are
 * reported through the warning callback with file and line and skipped, so one typo does not
 * stop newaliases; I/O errors and overlong lines stop the walk.
 */
#ifndef POSTERN_ALIAS_FILE_H
#define POSTERN_ALIAS_FILE_H

#include "lib/strbuf.h"

#include <stdio.h>

#define ALIAS_NAME_MAX 511 /* LMDB's key limit */

typedef struct alias_file_callbacks {
    /* One entry; returning non-zero stops the walk with that status. */
    int (*entry)(const char *name, const char *value, int lineno, void *ctx);
    /* A skipped malformed line (message names file and line); may be NULL (then logged). */
    void (*warning)(const char *message, void *ctx);
} alias_file_callbacks;

/* Reads fp (name is for messages). Returns 0, the non-zero status of a callback, or -1 with err
 * set on a read error or an overlong line. */
int alias_file_parse(FILE *fp, const char *name, const alias_file_callbacks *cb, void *ctx,
                     strbuf *err);

/* Splits one logical line; 0 with name (unquoted, lowercased) and value set, or -1 with a reason
 * in err. Exposed for unit tests. */
int alias_parse_line(const char *line, strbuf *name, strbuf *value, strbuf *err);

/* Builds the LMDB alias database db_path (NAME.lmdb) from the aliases(5) file source, through a
 * temporary file renamed into place. Malformed entries and duplicates are logged as warnings
 * (the first of duplicate names wins). Returns 0, or -1 with err set. */
int alias_file_build(const char *source, const char *db_path, strbuf *err);

#endif

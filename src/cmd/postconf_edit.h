/*
 * postconf_edit.h: in-place editing of main.cf for postconf -e, -# and -X.
 *
 * postconf_edit_add() turns one command-line argument into an edit request, checking it as
 * Postfix's postconf does: one line, not a comment, "name=value" for -e (blanks around the name
 * and value are dropped, the value may contain spaces), a bare name for -X and -#. A later request
 * for the same name replaces an earlier one.
 *
 * postconf_edit_text() copies main.cf text while applying the requests. A logical line is a line
 * that starts in column 1 plus the indented lines that follow it. For each logical line that sets
 * a requested name: -e writes "name = value" in place of the whole logical line, -# puts '#' in
 * front of each of its lines, -X drops it. With -e, requested names that no line sets are
 * appended at the end, sorted by name. Every other byte (comments and blank lines, even those in
 * the middle of a logical line) is copied unchanged; a missing final newline is added.
 *
 * postconf_edit_file() does the whole job on a file, atomically: it serialises concurrent
 * editors with an exclusive lock on FILE.tmp, reads FILE, writes the result to FILE.tmp, gives it
 * FILE's mode (and owner, when run as root), fsyncs it, renames it over FILE and fsyncs the
 * directory. FILE must exist. On error nothing is changed and err says why.
 */
#ifndef POSTERN_POSTCONF_EDIT_H
#define POSTERN_POSTCONF_EDIT_H

#include "lib/strbuf.h"

#include <stddef.h>

typedef enum {
    POSTCONF_EDIT_SET,     /* -e name=value */
    POSTCONF_EDIT_COMMENT, /* -# name */
    POSTCONF_EDIT_REMOVE,  /* -X name */
} postconf_edit_mode;

typedef struct postconf_edit_req {
    char *name;
    char *value; /* NULL unless POSTCONF_EDIT_SET */
    int found;   /* logical lines matched by the last postconf_edit_text() */
} postconf_edit_req;

typedef struct postconf_edit_list {
    postconf_edit_mode mode;
    postconf_edit_req *reqs;
    size_t count;
} postconf_edit_list;

/* Splits "name = value" in place, dropping blanks around name and value, as Postfix's
 * split_nameval() does. Returns NULL, or the reason the text is malformed. */
const char *postconf_split_name_value(char *text, char **name, char **value);

void postconf_edit_init(postconf_edit_list *list, postconf_edit_mode mode);
void postconf_edit_free(postconf_edit_list *list);

/* Returns 0; 1 when the request replaced an earlier one for the same name (err holds the
 * warning text); -1 when the argument is unacceptable (err holds the reason). */
int postconf_edit_add(postconf_edit_list *list, const char *arg, strbuf *err);

/* Appends the edited text to out. Returns 0, or -1 when out would exceed its limit. */
int postconf_edit_text(postconf_edit_list *list, const char *in, size_t len, strbuf *out);

/* Edits path in place as described above. Returns 0, or -1 with err set. */
int postconf_edit_file(postconf_edit_list *list, const char *path, strbuf *err);

#endif

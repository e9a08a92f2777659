/*
 * word_list.h: membership in a parameter value that lists words.
 *
 * Many parameters are lists of words separated by commas and/or white space
 * (allow_mail_to_commands = alias, forward; defer_transports; propagate_unmatched_extensions).
 */
#ifndef POSTERN_WORD_LIST_H
#define POSTERN_WORD_LIST_H

#define WORD_LIST_EXACT 0
#define WORD_LIST_FOLD_CASE 1

/* 1 when list names word, else 0. */
int word_list_has(const char *list, const char *word, int fold_case);

#endif

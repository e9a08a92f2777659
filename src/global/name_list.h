/*
 * name_list.h: Postfix's lists of names for access control.
 *
 * authorized_submit_users, authorized_mailq_users, authorized_flush_users and
 * alternate_config_directories hold names and type:table lookups separated by commas or white
 * space; "!" before an entry negates it; the first entry that matches decides, and no match means
 * "not allowed", as in Postfix. static:anyone matches every name.
 */
#ifndef POSTERN_NAME_LIST_H
#define POSTERN_NAME_LIST_H

#define NAME_LIST_FOLD_CASE 0 /* user names: compared case-insensitively */
#define NAME_LIST_EXACT 1     /* path names: compared exactly, no table lookups */

/* 1 when list allows name, 0 when it does not. */
int name_list_allows(const char *list, const char *name, int mode);

#endif

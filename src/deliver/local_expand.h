/*
 * local_expand.h: parsing alias values, :include: files and .forward files.
 *
 * A value is a list of destinations separated by commas or newlines: "user", "user@domain",
 * "\user" (deliver to the mailbox, no further expansion), "/file/name" (mbox, or Maildir when
 * it ends in '/'), "|command", ":include:/file/name", and any of these inside double quotes
 * ("|cmd with, comma"). Lines starting with '#' are comments (in files). White space around
 * an item is dropped. Limits: LOCAL_EXPAND_MAX_ITEMS items, LOCAL_EXPAND_ITEM_MAX bytes each.
 */
#ifndef POSTERN_LOCAL_EXPAND_H
#define POSTERN_LOCAL_EXPAND_H

#include <stddef.h>

#define LOCAL_EXPAND_MAX_ITEMS 1000
#define LOCAL_EXPAND_ITEM_MAX 4096

typedef enum {
    LOCAL_ITEM_ADDRESS,
    LOCAL_ITEM_MAILBOX, /* "\user" */
    LOCAL_ITEM_FILE,
    LOCAL_ITEM_COMMAND,
    LOCAL_ITEM_INCLUDE,
} local_item_type;

typedef struct local_item {
    local_item_type type;
    char *text; /* address, user, path or command (without '|', '\\' or ":include:") */
} local_item;

typedef struct local_item_list {
    local_item *items;
    size_t count;
} local_item_list;

/* Splits text into items. Returns 0, or -1 when a limit is exceeded or a quote is open. */
int local_expand_parse(const char *text, local_item_list *out);
void local_item_list_free(local_item_list *list);
const char *local_item_type_name(local_item_type t);

#endif

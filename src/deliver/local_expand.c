/* local_expand.c: alias / .forward / :include: value parsing (see local_expand.h). */
#include "deliver/local_expand.h"
#include "lib/str_trim.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *local_item_type_name(local_item_type t)
{
    switch (t) {
    case LOCAL_ITEM_ADDRESS:
        return "address";
    case LOCAL_ITEM_MAILBOX:
        return "mailbox";
    case LOCAL_ITEM_FILE:
        return "file";
    case LOCAL_ITEM_COMMAND:
        return "command";
    case LOCAL_ITEM_INCLUDE:
        return "include";
    }
    return "unknown";
}

void local_item_list_free(local_item_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].text);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* Classifies one raw item; returns -1 when it is empty (ignored). */
static int add_item(local_item_list *out, char *raw)
{
    raw = str_trim(raw);
    size_t len = strlen(raw);
    if (len >= 2 && raw[0] == '"' && raw[len - 1] == '"') {
        raw[len - 1] = '\0';
        raw = str_trim(raw + 1);
    }
    if (raw[0] == '\0')
        return -1;
    local_item it;
    const char *text = raw;
    if (raw[0] == '|') {
        it.type = LOCAL_ITEM_COMMAND;
        text = raw + 1;
    } else if (raw[0] == '/') {
        it.type = LOCAL_ITEM_FILE;
    } else if (strncasecmp(raw, ":include:", 9) == 0) {
        it.type = LOCAL_ITEM_INCLUDE;
        text = raw + 9;
    } else if (raw[0] == '\\') {
        it.type = LOCAL_ITEM_MAILBOX;
        text = raw + 1;
    } else {
        it.type = LOCAL_ITEM_ADDRESS;
    }
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0')
        return -1;
    it.text = xstrdup(text);
    out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
    out->items[out->count++] = it;
    return 0;
}

int local_expand_parse(const char *text, local_item_list *out)
{
    out->items = NULL;
    out->count = 0;
    char item[LOCAL_EXPAND_ITEM_MAX];
    size_t len = 0;
    int in_quote = 0, at_line_start = 1, in_comment = 0;
    for (const char *p = text;; p++) {
        char c = *p;
        if (in_comment) {
            if (c == '\n')
                in_comment = 0, at_line_start = 1;
            if (c == '\0')
                break;
            continue;
        }
        if (at_line_start && c == '#') {
            len = 0; /* only white space came before it on this line */
            in_comment = 1;
            continue;
        }
        if (at_line_start && !isspace((unsigned char)c))
            at_line_start = 0;
        if (c == '"')
            in_quote = !in_quote;
        if (c == '\0' || (!in_quote && (c == ',' || c == '\n'))) {
            if (c == '\0' && in_quote) {
                local_item_list_free(out);
                return -1;
            }
            item[len] = '\0';
            add_item(out, item);
            len = 0;
            if (out->count > LOCAL_EXPAND_MAX_ITEMS) {
                local_item_list_free(out);
                return -1;
            }
            if (c == '\0')
                break;
            if (c == '\n')
                at_line_start = 1;
            continue;
        }
        if (len + 1 >= sizeof(item)) {
            local_item_list_free(out);
            return -1;
        }
        item[len++] = c;
    }
    return 0;
}

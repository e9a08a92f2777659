/*
 * strmap.h: a string-keyed hash map with owned keys.
 *
 * Keys are copied; values are opaque pointers the caller owns (strmap_free takes an optional
 * destructor). Used for configuration entries, caches and in-memory lookup tables.
 */
#ifndef POSTERN_STRMAP_H
#define POSTERN_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

strmap *strmap_new(void);
void strmap_free(strmap *m, void (*free_value)(void *));
/* Stores value under key; returns the previous value (or NULL) so the caller can free it. */
void *strmap_put(strmap *m, const char *key, void *value);
void *strmap_get(const strmap *m, const char *key);
int strmap_has(const strmap *m, const char *key);
void *strmap_remove(strmap *m, const char *key);
size_t strmap_count(const strmap *m);
/* Returns a NULL-terminated, sorted array of the keys (free the array, not the strings). */
const char **strmap_sorted_keys(const strmap *m);

#endif

/* strmap.c: open-addressing string hash map (see strmap.h). */
#include "lib/strmap.h"
#include "lib/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_slot {
    char *key; /* NULL = empty; TOMBSTONE = deleted */
    void *value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap;  /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
};

static char tombstone_marker;
#define TOMBSTONE (&tombstone_marker)

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

strmap *strmap_new(void)
{
    strmap *m = xcalloc(1, sizeof(*m));
    m->cap = 16;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    return m;
}

void strmap_free(strmap *m, void (*free_value)(void *))
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        char *k = m->slots[i].key;
        if (k && k != TOMBSTONE) {
            if (free_value)
                free_value(m->slots[i].value);
            free(k);
        }
    }
    free(m->slots);
    free(m);
}

static struct strmap_slot *find_slot(const strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash_string(key) & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMBSTONE && strcmp(s->key, key) == 0)
            return s;
    }
}

static void insert_fresh(strmap *m, char *key, void *value)
{
    size_t mask = m->cap - 1;
    size_t i = hash_string(key) & mask;
    while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->live++;
}

static void grow(strmap *m)
{
    struct strmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    if (m->live * 2 >= m->cap)
        m->cap *= 2;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    m->used = m->live = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key && old[i].key != TOMBSTONE)
            insert_fresh(m, old[i].key, old[i].value);
    free(old);
}

void *strmap_put(strmap *m, const char *key, void *value)
{
    struct strmap_slot *s = find_slot(m, key);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        grow(m);
    insert_fresh(m, xstrdup(key), value);
    return NULL;
}

void *strmap_get(const strmap *m, const char *key)
{
    struct strmap_slot *s = find_slot(m, key);
    return s ? s->value : NULL;
}

int strmap_has(const strmap *m, const char *key)
{
    return find_slot(m, key) != NULL;
}

void *strmap_remove(strmap *m, const char *key)
{
    struct strmap_slot *s = find_slot(m, key);
    if (s == NULL)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->live--;
    return v;
}

size_t strmap_count(const strmap *m)
{
    return m->live;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **strmap_sorted_keys(const strmap *m)
{
    const char **keys = xcalloc(m->live + 1, sizeof(*keys));
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        char *k = m->slots[i].key;
        if (k && k != TOMBSTONE)
            keys[n++] = k;
    }
    qsort(keys, n, sizeof(*keys), compare_keys);
    return keys;
}

/*
 * param_docs.c: writes docs/parameters.md's generated part from the parameter tables.
 *
 *   param_docs < docs/parameters.md > new.md
 *
 * Copies its input up to and including the marker line, then appends one table row per
 * Postfix parameter (src/lib/param_class.def): its class, Postfix's default, and Postern's
 * default (src/lib/config_params.c) where it differs. "make docs" runs it; "make check" fails
 * when the checked-in file differs from its output.
 */
#include "lib/config_params.h"
#include "lib/param_class.h"

#include <stdio.h>
#include <string.h>

#define MARKER "<!-- Generated below by make docs from src/lib/param_class.def; do not edit. -->"

/* Prints text as a table cell: <code> with HTML escapes, so '|' and '`' are safe. */
static void print_code(const char *text)
{
    fputs("<code>", stdout);
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", stdout);
            break;
        case '>':
            fputs("&gt;", stdout);
            break;
        case '&':
            fputs("&amp;", stdout);
            break;
        case '|':
            fputs("&#124;", stdout);
            break;
        case '`':
            fputs("&#96;", stdout);
            break;
        default:
            putchar(*p);
            break;
        }
    }
    fputs("</code>", stdout);
}

static void print_row(const param_class_entry *e)
{
    const param_def *def = param_lookup(e->name);
    printf("| `%s` | %s | ", e->name, param_class_name(e->cls));
    if (e->postfix_default)
        print_code(e->postfix_default);
    else if (def && def->compute == NULL)
        fputs("(Postern only)", stdout);
    else
        fputs("(computed)", stdout);
    fputs(" | ", stdout);
    if (def && def->def && (e->postfix_default == NULL || strcmp(def->def, e->postfix_default)))
        print_code(def->def);
    else if (def && def->compute && e->postfix_default)
        fputs("(computed)", stdout);
    fputs(" |\n", stdout);
}

static void print_counts(const param_class_entry *t, size_t n)
{
    size_t counts[4] = {0};
    for (size_t i = 0; i < n; i++)
        counts[t[i].cls]++;
    printf("%zu names: %zu implemented, %zu inert, %zu required.\n\n", n,
           counts[PARAM_CLASS_IMPLEMENTED], counts[PARAM_CLASS_INERT],
           counts[PARAM_CLASS_REQUIRED]);
}

int main(void)
{
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), stdin)) {
        fputs(line, stdout);
        found = strncmp(line, MARKER, strlen(MARKER)) == 0;
    }
    if (!found) {
        fprintf(stderr, "param_docs: marker line not found in input\n");
        return 1;
    }
    size_t n;
    const param_class_entry *t = param_class_table(&n);
    putchar('\n');
    print_counts(t, n);
    puts("| parameter | class | Postfix 3.7 default | Postern default where it differs |");
    puts("|---|---|---|---|");
    for (size_t i = 0; i < n; i++)
        print_row(&t[i]);
    const param_class_entry *rules = param_class_service_rules(&n);
    puts("\nPer-transport parameters, named after each master.cf service "
         "(`relay_destination_concurrency_limit`), default `$default_<suffix>`:\n");
    puts("| parameter | class |");
    puts("|---|---|");
    for (size_t i = 0; i < n; i++)
        printf("| `<service>_%s` | %s |\n", rules[i].name, param_class_name(rules[i].cls));
    return ferror(stdout) ? 1 : 0;
}

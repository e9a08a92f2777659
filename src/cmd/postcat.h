/*
 * postcat.h: formatting a queue file the way Postfix's postcat shows it.
 *
 * postcat_format() reads the records of the queue file open on fd (a pipe works too) and
 * prints them to out: "*** ENVELOPE RECORDS label ***", one "name: value" line per envelope
 * record, "*** MESSAGE CONTENTS label ***", the content lines, "*** HEADER EXTRACTED label ***",
 * the extracted records and "*** MESSAGE FILE END label ***". The flags select envelope,
 * header and body output (none = all), record offsets (-o), decimal record types (-d) and
 * record names for text records (-v). Returns 0; 1 when the input is not a queue file (a
 * warning, as Postfix gives); -1 on a malformed record.
 */
#ifndef POSTERN_POSTCAT_H
#define POSTERN_POSTCAT_H

#include <stdio.h>

#define POSTCAT_ENV 0x01
#define POSTCAT_HEADER 0x02
#define POSTCAT_BODY 0x04
#define POSTCAT_OFFSET 0x08
#define POSTCAT_DECIMAL 0x10
#define POSTCAT_VERBOSE 0x20
#define POSTCAT_ALL (POSTCAT_ENV | POSTCAT_HEADER | POSTCAT_BODY)

int postcat_format(int fd, const char *label, int flags, FILE *out);
/* The same, with the reason for a -1 in *why. */
int postcat_format_why(int fd, const char *label, int flags, FILE *out, const char **why);

#endif

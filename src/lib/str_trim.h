/*
 * str_trim.h: white space removed from both ends of a string (isspace in the C locale).
 */
#ifndef POSTERN_STR_TRIM_H
#define POSTERN_STR_TRIM_H

/* Cuts trailing white space off s in place; returns s past its leading white space. */
char *str_trim(char *s);

/* A new string (xalloc): [start, end) without its leading and trailing white space. */
char *str_trim_copy(const char *start, const char *end);

#endif

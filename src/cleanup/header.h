/*
 * header.h: recognising RFC 5322 header lines.
 *
 * header_name_length() says whether a content line starts a header field ("Name:" with the
 * name made of printable ASCII other than ':', optionally followed by blanks before the
 * colon, as Postfix accepts) and how long the name is. header_is_continuation() says whether
 * a line continues the previous field (it starts with a space or a tab). header_name_is()
 * compares a line's field name with a name, ignoring case. Used by cleanup to parse the
 * header section and by postcat to find where the body starts.
 */
#ifndef POSTERN_HEADER_H
#define POSTERN_HEADER_H

#include <stddef.h>

size_t header_name_length(const char *line, size_t len);
int header_is_continuation(const char *line, size_t len);
int header_name_is(const char *line, size_t len, const char *name);
/* Offset of the field value (just after the colon); 0 when the line is not a header. */
size_t header_value_offset(const char *line, size_t len);

#endif

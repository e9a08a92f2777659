/* smtp_param.c: PREFIX_* parameter names (see smtp_param.h). */
#include "deliver/smtp_param.h"
#include "lib/fixed_str.h"
#include "lib/log.h"

const char *smtp_param_name(char buf[SMTP_PARAM_NAME_MAX], const char *prefix, const char *name)
{
    if (fixed_printf(buf, SMTP_PARAM_NAME_MAX, "%s_%s", prefix, name) < 0)
        log_fatal("parameter name %s_%s is longer than %d bytes", prefix, name,
                  SMTP_PARAM_NAME_MAX - 1);
    return buf;
}

/*
 * smtpd_settings.h: smtpd's start-up settings checked without starting smtpd.
 *
 * smtpd reads its settings once at start and refuses to run on a value it cannot honour (a
 * TLS level it does not know, a SASL option, a bare-newline mode, a network list that does not
 * parse, TLS that encrypt demands but cannot set up). postfix check, start and reload run
 * smtpd_settings_check() for main.cf and for each smtpd service with its -o overrides, so such
 * a value stops the start instead of each smtpd as a client connects.
 */
#ifndef POSTERN_SMTPD_SETTINGS_H
#define POSTERN_SMTPD_SETTINGS_H

#include "lib/config.h"
#include "lib/strbuf.h"

/* 0, or -1 with "parameter NAME: ..." in err. warn gets what smtpd would only warn about (TLS
 * at level may that cannot be set up: STARTTLS is not offered, as in Postfix). */
int smtpd_settings_check(config *cfg, strbuf *err, strbuf *warn);

#endif

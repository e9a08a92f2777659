#!/bin/sh
# install.sh: installs build/bin/postern as a system mail server (make install).
# DESTDIR is honoured for packaging. Creates /etc/postern with a starting main.cf/master.cf when
# missing, the queue directory, and the command links in $sbindir.
set -eu
cd "$(dirname "$0")/.."
DESTDIR=${DESTDIR:-}
sbindir=${SBINDIR:-/usr/sbin}
confdir=${CONFDIR:-/etc/postern}
install -d "$DESTDIR$sbindir" "$DESTDIR$confdir" "$DESTDIR/var/spool/postern" "$DESTDIR/var/lib/postern"
install -m 0755 build/bin/postern "$DESTDIR$sbindir/postern"
# postdrop is a real copy, setgid to setgid_group (postdrop), so that unprivileged users' sendmail
# can write into maildrop/ (mode 0730) without the rest of Postern being setgid.
group=postdrop
getent group "$group" >/dev/null 2>&1 || groupadd -r "$group" 2>/dev/null || group=
install -m 0755 build/bin/postern "$DESTDIR$sbindir/postdrop"
if [ -n "$group" ] && [ -z "$DESTDIR" ]; then
    chgrp "$group" "$DESTDIR$sbindir/postdrop" && chmod 2755 "$DESTDIR$sbindir/postdrop"
fi
for l in postfix postconf postqueue postcat postsuper postmap sendmail mailq newaliases; do
    # Never replace another MTA's commands (Debian's postfix): install Postern's as postern-NAME.
    if [ -e "$DESTDIR$sbindir/$l" ] && [ ! -L "$DESTDIR$sbindir/$l" ]; then
        ln -sf postern "$DESTDIR$sbindir/postern-$l"
    else
        ln -sf postern "$DESTDIR$sbindir/$l"
    fi
done
[ -f "$DESTDIR$confdir/main.cf" ] || printf '# Postern main.cf: see postconf -d for every default.\n' > "$DESTDIR$confdir/main.cf"
if [ ! -f "$DESTDIR$confdir/master.cf" ]; then
    cat > "$DESTDIR$confdir/master.cf" <<EOM
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
qmgr      unix  n       -       n       300     1       qmgr
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
EOM
fi
echo "installed Postern in $DESTDIR$sbindir (config $DESTDIR$confdir)"

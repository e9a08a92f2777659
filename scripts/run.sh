#!/bin/sh
# run.sh: creates a self-contained instance in ./run/ (if it does not exist yet) and runs Postern
# in the foreground on 127.0.0.1:2525 (STARTTLS offered) with a submission service on the next
# port (STARTTLS required, AUTH against run/etc/sasl_passwd). Called by `make run`; needs no
# root and no database.
#   run/etc/      main.cf, master.cf, vmailbox (virtual mailbox table), tls/ (self-signed
#                 certificate made with the openssl CLI), sasl_passwd (users and crypt hashes)
#   run/queue/    the queue directory
#   run/mail/     virtual Maildirs: run/mail/you/new/ receives mail for you@localhost
#   run/log/maillog
set -eu
cd "$(dirname "$0")/.."
top=$PWD
inst=$top/run
port=${POSTERN_PORT:-2525}
subport=$((port + 1))
bin=$top/build/bin

if [ "$(id -u)" = 0 ]; then
    # As root the daemons that talk to the network still drop privileges: to the postfix account
    # (created by Debian's postfix package that install-deps.sh installs as a test peer).
    owner=postfix
    id "$owner" >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin -d /nonexistent "$owner"
else
    owner=$(id -un)
fi
uid=$(id -u "$owner")
gid=$(id -g "$owner")

if [ ! -f "$inst/etc/main.cf" ]; then
    mkdir -p "$inst/etc" "$inst/queue" "$inst/data" "$inst/mail" "$inst/log"
    cat > "$inst/etc/main.cf" <<EOM
# Postern instance created by 'make run'. Edit with: build/bin/postconf -c run/etc -e 'name = value'
myhostname = localhost.localdomain
mydomain = localdomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
queue_directory = $inst/queue
data_directory = $inst/data
maillog_file = $inst/log/maillog
mail_owner = $owner
setgid_group = $(id -gn "$owner")
virtual_mailbox_domains = localhost, example.test
virtual_mailbox_base = $inst/mail
virtual_mailbox_maps = texthash:\$config_directory/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = 0
alias_maps =
local_recipient_maps =
queue_run_delay = 30s
minimal_backoff_time = 30s
# TLS with the instance's self-signed certificate (run/etc/tls/); STARTTLS on every port.
smtpd_tls_chain_files = \$config_directory/tls/server.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
# SMTP AUTH on the submission port, against Postern's own table (make hashes with
# build/bin/postern-passwd); the password of "you" is "secret".
smtpd_sasl_type = postern
smtpd_sasl_password_maps = texthash:\$config_directory/sasl_passwd
EOM
    cat > "$inst/etc/vmailbox" <<EOM
# address              mailbox (relative to virtual_mailbox_base; a trailing / means Maildir)
you@localhost          you/
postmaster@localhost   postmaster/
@example.test          example/
EOM
    cat > "$inst/etc/master.cf" <<EOM
# service          type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$port    inet  n       -       n       -       -       smtpd
127.0.0.1:$subport inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup             unix  n       -       n       60      1       pickup
qmgr               unix  n       -       n       300     1       qmgr
smtp               unix  -       -       n       -       -       smtp
relay              unix  -       -       n       -       -       smtp
local              unix  -       n       n       -       -       local
virtual            unix  -       n       n       -       -       virtual
EOM
    mkdir -p "$inst/etc/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost.localdomain" \
        -addext "subjectAltName=DNS:localhost.localdomain,DNS:localhost,IP:127.0.0.1" \
        -keyout "$inst/etc/tls/key.pem" -out "$inst/etc/tls/cert.pem" 2>/dev/null
    cat "$inst/etc/tls/key.pem" "$inst/etc/tls/cert.pem" > "$inst/etc/tls/server.pem"
    chmod 600 "$inst/etc/tls/key.pem" "$inst/etc/tls/server.pem"
    printf 'you@localhost %s\n' "$("$bin/postern-passwd" secret)" > "$inst/etc/sasl_passwd"
    chmod 600 "$inst/etc/sasl_passwd"
    [ "$(id -u)" = 0 ] && chown -R "$owner" "$inst/etc/tls" "$inst/etc/sasl_passwd"
    [ "$(id -u)" = 0 ] && chown -R "$owner" "$inst/queue" "$inst/data" "$inst/mail" "$inst/log"
    echo "created instance in $inst"
fi

cat <<EOM
Postern runs in the foreground on 127.0.0.1:$port (STARTTLS offered) and 127.0.0.1:$subport
(submission: STARTTLS and AUTH required). Ctrl-C stops it. Send it a first message:
    swaks --server 127.0.0.1:$port --from me@example.org --to you@localhost
  or through submission with TLS and AUTH (user you@localhost, password secret):
    swaks --server 127.0.0.1:$subport --tls --auth PLAIN --auth-user you@localhost \\
          --auth-password secret --from you@localhost --to you@localhost
  or
    printf 'Subject: hi\n\nhello\n' | $bin/sendmail -C $inst/etc you@localhost
and read it in $inst/mail/you/new/. Logs: $inst/log/maillog.
Other commands: $bin/postqueue -c $inst/etc -p, $bin/postconf -c $inst/etc -n
EOM
exec "$bin/postfix" -c "$inst/etc" start-fg

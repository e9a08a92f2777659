#!/bin/sh
# install-deps.sh: installs every Debian package Postern's build, tests and benchmarks need.
# Idempotent and non-interactive. Debian's postfix is installed only as a test peer (smtp-source,
# smtp-sink, side-by-side benchmarks): it is configured as "No configuration" and never started, so
# no system MTA is left listening on port 25.
set -eu

PKGS="build-essential make pkg-config clang libclang-rt-14-dev
 libssl-dev liblmdb-dev libpcre2-dev libpq-dev
 libc-ares-dev libcrypt-dev
 python3 python3-pytest swaks postfix dnsmasq-base gnuplot-nox openssl procps iproute2
 dovecot-core fail2ban pflogsumm unbound ldnsutils
 libnet-ssleay-perl libio-socket-ssl-perl"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# Keep package scripts from starting services (the postfix test peer must not bind port 25).
policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=yes
fi
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
[ "$created_policy" = yes ] && rm -f "$policy"
# If a previous install left Debian's postfix running, stop it: it is only a test peer.
if [ -x /usr/sbin/postfix ] && /usr/sbin/postfix status >/dev/null 2>&1; then
    /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi
exit 0

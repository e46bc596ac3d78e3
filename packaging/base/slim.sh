#!/bin/sh
# Run inside the debootstrapped root (chroot) by scripts/images: adds the
# little every Knot image needs (CA certificates, time zones, busybox (nc for the
# health checks, httpd for the local runtime's file server), the
# unprivileged user 10001 "knot"), then removes what a container that runs one
# static Swift executable never needs, package manager included, so the base
# stays small. Keeps libc, libstdc++, zlib and /bin/sh (dash); busybox stands
# in for coreutils, grep, sed, find and the other tools, as on Alpine.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get -qq update
apt-get -qq install -y --no-install-recommends ca-certificates tzdata busybox >/dev/null
apt-get -qq clean
# Then everything a container that runs one static Swift executable never
# needs: the package manager and its database, perl, bash (dash is /bin/sh),
# PAM, login tools, util-linux, TLS libraries (the services carry BoringSSL)...
# Files are removed by each package's own list; what is left is checked below.
remove="apt libapt-pkg6.0 perl-base bash login passwd libpam-modules libpam-modules-bin \
  libpam-runtime libpam0g util-linux libmount1 libblkid1 libsmartcols1 libuuid1 \
  libgnutls30 libp11-kit0 libtasn1-6 libnettle8 libhogweed6 libidn2-0 libunistring2 \
  libgcrypt20 libgpg-error0 libdb5.3 libsemanage2 libsemanage-common libsepol2 libaudit1 \
  libaudit-common libcap-ng0 libsystemd0 libudev1 libzstd1 liblz4-1 libxxhash0 \
  openssl libssl3 gpgv debian-archive-keyring tar diffutils ncurses-bin ncurses-base \
  sysvinit-utils debconf mawk hostname e2fsprogs logsave libext2fs2 libss2 libcom-err2 \
  libcrypt1 libdebconfclient0 adduser \
  coreutils dpkg findutils grep sed gzip libc-bin bsdutils libgmp10 libpcre2-8-0 libselinux1 \
  libacl1 libattr1 libbz2-1.0 liblzma5 libmd0 libtinfo6 libcap2"
# Every file first (dpkg and rm are among what goes), then busybox removes them.
list=/tmp/slim.files
: >"$list"
for pkg in $remove; do dpkg -L "$pkg" 2>/dev/null >>"$list" || true; done
bb=/usr/bin/busybox
while IFS= read -r path; do
  # Never a folder, nor a symbolic link to one (/bin, /lib64 with merged /usr).
  if [ -d "$path" ]; then continue; fi
  if [ -f "$path" ] || [ -L "$path" ]; then $bb rm -f "$path"; fi
done <"$list"
$bb rm -f "$list"
# The tools that are left: busybox's applets, as links where nothing else is.
$bb --install -s
rm -rf /var/lib/dpkg /var/cache/debconf /etc/apt /usr/lib/x86_64-linux-gnu/perl-base /usr/share/perl5 \
  /usr/share/debconf /usr/lib/terminfo /etc/pam.d /etc/security
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
  /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/lintian/* /usr/share/locale/* \
  /usr/share/common-licenses/* /var/log/* /tmp/* /var/tmp/* /root/.cache \
  /usr/lib/x86_64-linux-gnu/gconv/[A-Z]* /usr/share/zoneinfo/right /usr/share/zoneinfo/posix \
  /usr/share/perl5/Debian /usr/share/bash-completion /etc/cron.daily /etc/cron.d
# What is left must still run.
for tool in sh ls cat head base64 tr mv rm chown chmod mkdir id stat mktemp xzcat sha256sum busybox; do
  path="$(command -v "$tool")" || { echo "slim: $tool is gone" >&2; exit 1; }
  if /lib64/ld-linux-x86-64.so.2 --list "$path" 2>&1 | grep -q "not found"; then echo "slim: $tool misses a library" >&2; exit 1; fi
done
find / -xdev \( -name '*.pyc' -o -name __pycache__ \) -prune -exec rm -rf {} + 2>/dev/null || true
# Containers have no machine id; an empty one is what systemd-less images ship.
: >/etc/machine-id
# The one user every Knot image runs as (also numeric in each Containerfile,
# so Kubernetes' runAsNonRoot can check it), and the folders it writes.
grep -q '^knot:' /etc/group || echo 'knot:x:10001:' >>/etc/group
grep -q '^knot:' /etc/passwd || echo 'knot:x:10001:10001:Knot:/var/lib/knot:/usr/sbin/nologin' >>/etc/passwd
mkdir -p /var/lib/knot/files /var/lib/knot/state
chown -R 10001:10001 /var/lib/knot
chmod 750 /var/lib/knot

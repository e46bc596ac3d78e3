# Writes Knot's secrets once, into the folder /run/secrets/knot (a volume):
# the deployment secret (service tokens, sealing of the signing keys, CSRF)
# and the database password. Kept when present, so a restart or an upgrade
# keeps sessions, keys and the database. Run by compose's `secrets` service
# (and by scripts/images --smoke) as root in a Knot image; POSIX sh.
set -eu
dir=/run/secrets/knot
umask 077
mkdir -p "$dir"
for name in internal-secret db-password; do
  if [ ! -s "$dir/$name" ]; then
    head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 48 >"$dir/$name.new"
    mv "$dir/$name.new" "$dir/$name"
    echo "made $dir/$name"
  fi
done
# Readable by the services (uid 10001) and by PostgreSQL's start-up.
chown 10001:10001 "$dir" "$dir/internal-secret" "$dir/db-password"
chmod 750 "$dir"
chmod 440 "$dir/internal-secret" "$dir/db-password"

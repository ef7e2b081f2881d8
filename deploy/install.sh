#!/usr/bin/env bash
# Install kong-log-relay for systemd from a built checkout (run `npm ci` first, which builds dist/):
#   sudo deploy/install.sh              # system user, /opt/kong-log-relay, /etc/kong-log-relay, the unit
#   deploy/install.sh --root /tmp/x     # the same files under /tmp/x (no user, no ownership: for tests and packaging)
# It never overwrites an existing config.yaml or env file, so running it again upgrades the code only.
# Then: edit /etc/kong-log-relay/config.yaml and env, and `systemctl daemon-reload && systemctl enable --now kong-log-relay`.
set -euo pipefail

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --root DIR (install under DIR), --skip-deps (do not run npm ci in the install directory)"
}

root=/
skip_deps=false
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --skip-deps) skip_deps=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

src=$(cd "$(dirname "$0")/.." && pwd)
root=$(mkdir -p "$root" && cd "$root" && pwd)
prefix=${root%/}
app=$prefix/opt/kong-log-relay
etc=$prefix/etc/kong-log-relay
unit_dir=$prefix/etc/systemd/system
user=kong-log-relay
system=false
[ "$root" = / ] && system=true

say() { printf 'install.sh: %s\n' "$*"; }

[ -f "$src/dist/src/main.js" ] || { echo "install.sh: $src/dist is missing: run \`npm ci\` in $src first (it builds dist/)" >&2; exit 1; }
if ! command -v node >/dev/null 2>&1; then
  say "warning: node is not on PATH; the unit runs /usr/bin/node (Node.js 22 or later)"
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  say "warning: node $(node --version) is older than 22, the oldest Node.js kong-log-relay supports"
fi

if $system; then
  [ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo), or give --root DIR" >&2; exit 1; }
  if ! id "$user" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/kong-log-relay --no-create-home --shell /usr/sbin/nologin "$user"
    say "created system user $user"
  fi
  getent group kong >/dev/null 2>&1 ||
    say "warning: there is no group 'kong': the unit's SupplementaryGroups=kong needs it (the group that can read Kong's logs)"
fi

# The code: package files, the built dist/, example configs, the unit; production dependencies only.
install -d -m 0755 "$app"
rm -rf "$app/dist"
install -d -m 0755 "$app/dist"
cp -R "$src/dist/src" "$app/dist/"
cp -R "$src/package.json" "$src/package-lock.json" "$src/config" "$src/systemd" "$app/"
if $skip_deps; then
  say "skipped npm ci in $app (--skip-deps)"
else
  (cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
fi

# Config and secrets: created once, never overwritten.
install -d -m 0750 "$etc"
group_opt=()
$system && group_opt=(-g "$user")
if [ -e "$etc/config.yaml" ]; then
  say "kept the existing $etc/config.yaml"
else
  install -m 0640 "${group_opt[@]}" "$src/config/example.yaml" "$etc/config.yaml"
  say "wrote $etc/config.yaml (from config/example.yaml): edit it"
fi
if [ -e "$etc/env" ]; then
  say "kept the existing $etc/env"
else
  install -m 0600 /dev/null "$etc/env"
  say "wrote an empty $etc/env (mode 0600): RELAY_TOKEN=…, AWS_*, webhook tokens, one VAR=value a line"
fi
$system && chgrp "$user" "$etc"

install -d -m 0755 "$unit_dir"
install -m 0644 "$src/systemd/kong-log-relay.service" "$unit_dir/kong-log-relay.service"
say "installed $unit_dir/kong-log-relay.service"
$system && say "next: edit $etc/config.yaml and $etc/env, then: systemctl daemon-reload && systemctl enable --now kong-log-relay"
exit 0

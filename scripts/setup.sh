#!/usr/bin/env bash
# Set up a Debian machine for ezctl: the system packages its processes and benchmarks need, then
# the npm dependencies and the build. Idempotent and quick when everything is already there.
#
#   ./scripts/setup.sh          # as root, or as a user with sudo
#
# The distro's own MariaDB/Redis/nginx services are never left running by this script: ezctl runs
# private instances on its own ports and data directories.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# mariadb-server: one MariaDB per eZone; redis-server: one cache per eZone;
# libzookeeper-java + default-jre-headless: ZooKeeper (GZS HA); nginx-light + wrk: benchmarks;
# sysbench: the DAL through its paces (tests and bench:dal); haproxy: bench:dal's C-proxy reference;
# openssh-server + openssh-client: remote mode's test hosts (scripts/test-hosts.sh, a private sshd each).
PACKAGES=(mariadb-server redis-server libzookeeper-java default-jre-headless nginx-light wrk sysbench haproxy chromium openssh-server openssh-client)
# services those packages may start on install (Debian does on hosts with an init system); ssh only
# when this run installed openssh-server: an sshd already running may be how you reach this machine
SERVICES=(mariadb redis-server nginx haproxy ssh)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# --- system packages --------------------------------------------------------------------------
command -v dpkg-query >/dev/null || die "not a Debian-like system (no dpkg-query): install ${PACKAGES[*]} by hand"
missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done

if [ ${#missing[@]} -eq 0 ]; then
  say "system packages present (${PACKAGES[*]})"
else
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    die "missing packages: ${missing[*]}; run this script as root (or install sudo)"
  fi
  say "installing ${missing[*]}"
  # policy-rc.d exit 101 = "action forbidden": maintainer scripts do not start the services
  # (the Debian mechanism invoke-rc.d and deb-systemd-invoke honour); an existing one is kept
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  cleanup_policy() { if [ "$own_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
  trap cleanup_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  t0=$(date +%s)
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  cleanup_policy
  trap - EXIT
  say "installed ${missing[*]} in $(($(date +%s) - t0)) s"

  # belt and braces: if an install started a service anyway, stop it and keep it from booting
  for s in "${SERVICES[@]}"; do
    if [ "$s" = ssh ] && [[ " ${missing[*]} " != *" openssh-server "* ]]; then continue; fi
    if [ -d /run/systemd/system ] && systemctl is-active --quiet "$s" 2>/dev/null; then
      "${SUDO[@]}" systemctl disable --now "$s" >/dev/null 2>&1 || true
      say "stopped and disabled the distro's $s service (ezctl runs private instances)"
    elif [ -x "/etc/init.d/$s" ] && "/etc/init.d/$s" status >/dev/null 2>&1; then
      "${SUDO[@]}" "/etc/init.d/$s" stop >/dev/null 2>&1 || true
      say "stopped the distro's $s service (ezctl runs private instances)"
    fi
  done
fi

# --- node dependencies and build --------------------------------------------------------------
command -v node >/dev/null || die "node is not installed (ezctl needs Node 20.19+ or 22+)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a===20&&b>=19||a>=22?0:1)' ||
  die "node $(node -v) is too old: ezctl needs Node 20.19+ or 22+"

# npm keeps node_modules/.package-lock.json in step with what it installed
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (node_modules missing or older than package-lock.json; also builds dist/)"
  t0=$(date +%s)
  npm ci --no-audit --no-fund --loglevel=error
  say "npm ci done in $(($(date +%s) - t0)) s"
else
  say "node_modules up to date; npm run build"
  npm run --silent build
fi
say "ready: node bin/run.js --help"

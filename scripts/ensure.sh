#!/usr/bin/env bash
# Installs what Switchyard needs to run and test on a Debian machine that has only
# Node.js 20 and npm: the npm packages (from the lock file), the OS services the tests
# start privately (redis-server, slapd, ldap-utils, openssl, a Samba AD DC), and the
# compiled CLI. Idempotent and quiet when all is there.
#
#   scripts/ensure.sh run    what `npm start` needs (Redis)
#   scripts/ensure.sh test   what the tests and benchmarks need too (slapd, Samba AD, Chromium, …)
#   scripts/ensure.sh bench  and Postfix (smtp-source, smtp-sink, the B3 peer's maps)
set -euo pipefail
cd "$(dirname "$0")/.."
level="${1:-test}"

need_pkgs=()
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_pkgs+=(redis-tools)
if [ "$level" = test ] || [ "$level" = bench ]; then
{ command -v slapd || [ -x /usr/sbin/slapd ]; } >/dev/null 2>&1 || need_pkgs+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need_pkgs+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# A real AD DC for the tests where AD behaviour matters (Samba), and what sets it up.
{ command -v samba || [ -x /usr/sbin/samba ]; } >/dev/null 2>&1 || need_pkgs+=(samba samba-ad-dc)
command -v samba-tool >/dev/null 2>&1 || need_pkgs+=(samba-ad-dc)
# provisioning data (schema, setup LDIFs): only a Recommends of samba-ad-dc
[ -d /usr/share/samba/setup ] || need_pkgs+=(samba-ad-provision)
command -v ldbmodify >/dev/null 2>&1 || need_pkgs+=(ldb-tools)
{ command -v ip || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; } >/dev/null 2>&1 || need_pkgs+=(iproute2)
# the status page is tested in a real headless browser (playwright-core drives it)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
# `test mailflow` is tested against private Postfix next hops (testkit/embedded-postfix.ts)
{ command -v postfix || [ -x /usr/sbin/postfix ]; } >/dev/null 2>&1 || need_pkgs+=(postfix)
fi
if [ "$level" = bench ]; then
  { command -v smtp-source || [ -x /usr/sbin/smtp-source ]; } >/dev/null 2>&1 || [[ " ${need_pkgs[*]} " == *" postfix "* ]] || need_pkgs+=(postfix)
  [ -f /usr/lib/postfix/postfix-ldap.so ] || need_pkgs+=(postfix-ldap)
  [ -f /usr/lib/postfix/postfix-lmdb.so ] || need_pkgs+=(postfix-lmdb)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure: installing ${need_pkgs[*]} from the OS packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Postfix only for smtp-source/smtp-sink and private benchmark instances: no system mailer
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
    # The packages start system-wide servers (Redis on :6379, slapd on :389); Switchyard
    # never uses them: tests and benchmarks start private ones on free loopback ports.
    for svc in redis-server slapd samba-ad-dc smbd nmbd winbind postfix; do (service "$svc" stop || systemctl stop "$svc") >/dev/null 2>&1 || true; done
  else
    echo "ensure: missing ${need_pkgs[*]}; run as root: apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

if [ -L node_modules ]; then
  # A worktree sharing another checkout's packages: `npm ci` would empty the shared
  # directory through the link (every worktree using it loses its packages).
  [ -d node_modules/ ] || { echo "ensure: node_modules links to a missing directory" >&2; exit 1; }
  if [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "ensure: package-lock.json is newer than the linked node_modules; install in the checkout it links to" >&2
  fi
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure: installing npm packages (npm ci)" >&2
  # A registry that lacks other platforms' optional binaries (msgpackr-extract for macOS and
  # Windows, pulled in by BullMQ) makes `npm ci` refuse the lock file as incomplete; then
  # install from the same lock without rewriting it (versions stay pinned).
  if ! npm ci --no-audit --no-fund --loglevel=error >&2 2>/tmp/switchyard-npm-ci.log; then
    echo "ensure: npm ci refused the lock file ($(grep -m1 'Missing:' /tmp/switchyard-npm-ci.log || tail -n1 /tmp/switchyard-npm-ci.log)); installing from it with npm install --no-save" >&2
    npm install --no-save --no-audit --no-fund --loglevel=error >&2
  fi
fi

# Rebuild when any TypeScript or Lua source is newer than the last build.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src jobs testkit bench tsconfig.json tsconfig.build.json -newer "$stamp" \( -name '*.ts' -o -name '*.json' -o -name '*.lua' \) -print -quit)" ]; then
  npm run --silent build # tsc, and the Lua scripts beside the compiled store
  touch "$stamp"
fi

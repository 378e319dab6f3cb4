#!/usr/bin/env bash
# Installs the system pieces the project runs for real: Chromium, Redis, PostgreSQL.
# Debian packages only (Playwright's own browser download does not work offline).
set -euo pipefail

missing=()
have_chromium() {
  command -v chromium >/dev/null 2>&1 || ls "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium-*/chrome-linux*/chrome >/dev/null 2>&1
}
have_chromium || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package starts a cluster and a redis on the default ports; the project never
# uses them (tests and the demo start private instances), so they are left as they are.
echo "installed: ${missing[*]}"

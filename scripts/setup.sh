#!/usr/bin/env bash
# Takes a fresh Debian 12 machine with Node 20+ to a built sanshift: Debian packages for the
# native libvirt binding, npm dependencies, a check that the binding's .node file exists,
# and the TypeScript build. Idempotent and quick when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: FAILED: %s\n' "$*" >&2; exit 1; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node 20 or newer is needed (found $(node --version))"

# Debian packages: the binding compiles against libvirt-dev with node-gyp (python3, make, g++);
# chromium is the real browser the timeline page's test opens (playwright-core drives it and
# downloads no browser of its own).
need=()
for pkg in libvirt-dev pkg-config g++ make python3 chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    fail "missing Debian packages: ${need[*]} (run as root, or install them: apt-get install ${need[*]})"
  fi
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm dependencies: reinstall when package-lock.json changed since the last install.
stamp=node_modules/.sanshift-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installing npm dependencies"
  # `npm install` with the lock file, not `npm ci`: npm 11's ci refuses this lock over the
  # other platforms' optional bindings of unrs-resolver (a jest dependency) that it never
  # records; install honours the locked versions all the same.
  npm install --no-save --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# npm 11 may skip install scripts it has not been told to trust; the binding is useless
# without its compiled addon, so check for the file itself and build it if it is missing.
addon=node_modules/@unraid/libvirt/build/Release/libvirt.node
if [ ! -f "$addon" ]; then
  say "building the libvirt binding from source"
  (cd node_modules/@unraid/libvirt && npx --no-install node-gyp rebuild >/dev/null 2>&1) ||
    npm rebuild @unraid/libvirt --foreground-scripts >/dev/null 2>&1 || true
fi
[ -f "$addon" ] || fail "the native libvirt binding was not built ($addon is missing); is libvirt-dev installed?"
node -e "import('@unraid/libvirt').then(() => {}, (e) => { console.error(e.message); process.exit(1); })" ||
  fail "the native libvirt binding does not load"

[ -x /usr/bin/chromium ] || fail "Debian's chromium is not at /usr/bin/chromium (the timeline page's browser test needs it)"

say "building sanshift (tsc)"
npx --no-install tsc -p tsconfig.build.json
say "ready: $(node -p 'require("./package.json").version') on Node $(node --version), libvirt binding OK, $(/usr/bin/chromium --version 2>/dev/null | head -1)"

#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs the reference
# Supervisor (only for tests) into a git-ignored virtualenv, builds every
# binary and plugin, then runs every test. It runs no benchmark.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# venv DIR PIN...: make DIR a virtualenv holding exactly these pins. A stamp
# file inside it lists the pins last installed, so adding or changing a pin
# reinstalls on the next run instead of trusting an old venv; a venv whose
# python no longer runs (the system python moved) is made anew.
venv() {
    local dir=$1
    shift
    local want stamp="$dir/.pins"
    want=$(printf '%s\n' "$@")
    if ! "$dir/bin/python" -c '' 2>/dev/null; then
        rm -rf "$dir"
        python3 -m venv "$dir"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
        printf '%s\n' "$want" >"$stamp"
    fi
}

# The reference daemon and the Python packages tests run against it.
pins=(supervisor==4.3.0 superlance==2.0.0 prometheus_client==0.26.0 supervisor_twiddler==1.0.0 supervisor_cache==1.1.0 supervisor-wildcards==0.1.3 supervisor-serialrestart==0.1.1)
venv "$root/tests/.venv" "${pins[@]}"

# Tools the tests run that need their own dependencies: schemathesis drives
# the JSON API from its OpenAPI document.
tool_pins=(schemathesis==4.32.5)
venv "$root/tests/.venv-tools" "${tool_pins[@]}"

# The browser tests: Debian's chromium and node from apt, playwright-core
# pinned by tests/browser/package-lock.json (reinstalled when it changes).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}"
fi
browser="$root/tests/browser"
if ! cmp -s "$browser/package-lock.json" "$browser/node_modules/.installed-lock.json"; then
    (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$browser/package-lock.json" "$browser/node_modules/.installed-lock.json"
fi

cargo build --workspace --locked
cargo test --workspace --locked "$@"

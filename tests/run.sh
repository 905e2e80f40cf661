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
pins=(supervisor==4.3.0 superlance==2.0.0)
venv "$root/tests/.venv" "${pins[@]}"

cargo build --workspace --locked
cargo test --workspace --locked "$@"

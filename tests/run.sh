#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs the reference
# Supervisor (only for tests) into a git-ignored virtualenv, builds every
# binary and plugin, then runs every test. It runs no benchmark.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

venv="$root/tests/.venv"
pins=(supervisor==4.3.0 superlance==2.0.0 prometheus_client==0.26.0)
if ! "$venv/bin/python" -c 'import supervisor, superlance' 2>/dev/null \
   || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("supervisor"))' 2>/dev/null)" != 4.3.0 ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi

cargo build --workspace --locked
cargo test --workspace --locked "$@"

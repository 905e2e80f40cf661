#!/usr/bin/env bash
# Writes core/link-order.ld, a linker script that lays out together, ahead
# of the rest of .text, the functions of the release supervisord (see
# core/build.rs): first every function an empty daemon runs from its start until it idles, then those a
# `supervisorctl status` and the shutdown add, each group in the address
# order of the current build.
#
# Why: the kernel maps a binary's code in 64 kB windows around each page it
# touches (fault-around), and the code an idle daemon has run (about 0.8 MB
# of functions) is spread over most of the 5.5 MB of .text, so nearly all
# of it stayed resident (3.9 MB of the empty daemon's 6.5 MB). Laid out
# together those functions fill a few windows.
#
# The names are the linker's section names (`.text.` and the mangled
# symbol), with the hashes rustc derives from each crate's version,
# features and toolchain left as wildcards where that still names one
# function; generics instantiated many times keep their exact names. So a
# build with other features (`-p supervisord` rather than `--workspace`)
# or another toolchain misses some of them: the linker puts those back in
# .text and the idle daemon's resident memory grows a little. Run this
# again after such changes (and large changes to start-up code), rebuild,
# and commit the file.
#
# The hashes also differ between `cargo build --release --workspace` and
# `-p supervisord` (the .deb, `cargo install`): features are unified over
# the packages built. So it is run on both, the second with --add, which
# keeps the names already in the file:
#   cargo build --release --workspace && core/link-order.sh
#   cargo build --release -p supervisord && core/link-order.sh --add
# (needs valgrind; takes a few seconds each).
set -euo pipefail
core="$(cd "$(dirname "$0")" && pwd)"
bin="$core/../target/release/supervisord"
ctl="$core/../target/release/supervisorctl"
[ -x "$bin" ] && [ -x "$ctl" ] || { echo "build first: cargo build --release -p supervisord" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# shellcheck source=../tests/bench/lib.sh
. "$core/../tests/bench/lib.sh"
{ supervisord_section "$work" info 1024; cat <<EOF
[unix_http_server]
file=$work/s.sock
[supervisorctl]
serverurl=unix://$work/s.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
EOF
} >"$work/sd.conf"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg.%p" \
    "$bin" -c "$work/sd.conf" >/dev/null 2>"$work/valgrind.log" &
pid=$!
for _ in $(seq 600); do
    grep -q "supervisord started" "$work/main.log" 2>/dev/null && [ -S "$work/s.sock" ] && break
    sleep 0.1
done
[ -S "$work/s.sock" ] || { echo "the daemon did not start" >&2; kill "$pid"; exit 1; }
sleep 3
# The first dump is the start and the idle daemon; counts restart after it.
callgrind_control -d "$pid" >/dev/null 2>&1
"$ctl" -c "$work/sd.conf" status >/dev/null || true
kill -TERM "$pid"
wait "$pid" || true
nm "$bin" | python3 -c '
import collections, re, sys, glob
address = {}
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        address.setdefault(parts[2], int(parts[0], 16))

# A name without the hashes rustc derives from the crate (its version,
# features, toolchain) and the instantiation, when that still names one
# function here; a generic instantiated many times keeps its exact name.
def pattern(name):
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h*E", name)
    return re.sub(r"Cs[0-9A-Za-z]+_(?=[0-9])", "Cs*_", name)
functions_per_pattern = collections.Counter(pattern(n) for n in address)

# cg.PID.1 is the dump taken at idle, cg.PID the one written at exit.
def rank(path):
    tail = path.rsplit(".", 1)[1]
    return int(tail) if path.count(".") > 1 else 1 << 30
dumps = sorted(glob.glob(sys.argv[1] + "/cg.*"), key=rank)
# --add: the groups of the file as it is come first.
kept = [[], []]
if sys.argv[2] == "--add":
    group = -1
    for line in open(sys.argv[3]):
        if line.strip() == "*(":
            group += 1
        elif line.startswith("      .text."):
            kept[group].append(line.split()[0][len(".text."):])
seen, groups = set(), []
for path in dumps:
    names = set()
    for line in open(path, errors="replace"):
        m = re.match(r"c?fn=\(\d+\)(?: (.*))?$", line.rstrip("\n"))
        if m and m.group(1):
            names.add(re.sub(r"\x27\d+$", "", m.group(1)))
    group = sorted((n for n in names if n in address and n not in seen), key=address.get)
    seen.update(group)
    groups.append([p if functions_per_pattern[p] == 1 else n for n in group for p in [pattern(n)]])
for i, names in enumerate(kept[: len(groups)]):
    earlier = {p for g in kept[:i] for p in g}
    groups[i] = names + [p for p in groups[i] if p not in set(names) and p not in earlier]
    for later in groups[i + 1 :]:
        later[:] = [p for p in later if p not in set(names)]
print("/* Generated by core/link-order.sh: the functions the idle empty daemon")
print("   has run, then those a status request and the shutdown add (see there). */")
print("SECTIONS {\n  .text.idle : {")
for group in groups:
    print("    *(")
        # A #[cold] function (a vector growing, a table rehashing) is in
    # .text.unlikely.NAME.
    print("\n".join(f"      .text.{p} .text.unlikely.{p}" for p in group))
    print("    )")
print("  }\n} INSERT BEFORE .text;")
' "$work" "${1:-}" "$core/link-order.ld" >"$work/link-order.ld"
mv "$work/link-order.ld" "$core/link-order.ld"
echo "$(grep -c "^      .text" "$core/link-order.ld") functions in $core/link-order.ld"

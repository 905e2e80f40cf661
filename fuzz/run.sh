#!/usr/bin/env bash
# Long libFuzzer runs of the targets in fuzz/fuzz_targets (not part of CI;
# `cargo test -p supervisor-tests --test fuzz_replay` replays the corpus on
# stable). Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`).
#
# Usage: fuzz/run.sh [-t SECONDS_PER_TARGET] [-j JOBS] [TARGET...]
#   default: every target, 360 s each (an hour for the ten), one job.
# New inputs go to fuzz/work/<target>/ (git-ignored); the committed seeds in
# fuzz/corpus/<target>/ are read, never written. A crash leaves its input in
# fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/ with the
# fix, so the replay test keeps it found. The report gives, per target,
# executions, executions per second, coverage (edges) and features,
# crashes (timeouts and out-of-memory included) and slow units; the exit
# status is 1 if any target crashed.
set -u
cd "$(dirname "$0")"
seconds=360
jobs=1
while getopts "t:j:" opt; do
    case $opt in
        t) seconds=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build -O || exit 2
mkdir -p work logs
# Crashes are the artifacts this run leaves, not those of earlier runs.
touch logs/.start
run_one() {
    local t=$1
    mkdir -p "work/$t" "artifacts/$t"
    cargo +nightly fuzz run -O "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
        -timeout=10 >"logs/$t.log" 2>&1
    echo $? >"logs/$t.rc"
}
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
status=0
printf '%-18s %12s %10s %8s %8s %8s %6s\n' target execs execs/s cov ft crashes slow
for t in "${targets[@]}"; do
    log="logs/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    ft=$(grep -o 'ft: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    # Crashes, timeouts and out-of-memory inputs fail the run; slow units
    # (over -report_slow_units, 10 s) are only counted.
    crashes=$(find "artifacts/$t" -type f -newer logs/.start ! -name 'slow-unit-*' 2>/dev/null | wc -l)
    slow=$(find "artifacts/$t" -type f -newer logs/.start -name 'slow-unit-*' 2>/dev/null | wc -l)
    if [ "$(cat "logs/$t.rc")" != 0 ] || [ "$crashes" -gt 0 ]; then
        status=1
    fi
    printf '%-18s %12s %10s %8s %8s %8s %6s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes" "$slow"
done
exit $status

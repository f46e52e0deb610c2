#!/usr/bin/env bash
# The benchmark of issue 5 (docs/benchmarks.md): generates batches and measures, side by side on
# the same files, the floor (a bare csv-crate parse, a bare calamine read) and muster. Prints a
# Markdown table of wall time, peak RSS and the ratio to the floor.
#
#   benches/bench.sh                  # 100,000 and 1,000,000 rows
#   benches/bench.sh 100000           # only these sizes
#   MUSTER_BENCH_MEM_KB=16000000 ...  # the address-space cap for muster runs (default 16 GB)
#   MUSTER_BENCH_REPEAT=3 ...         # runs per row of up to 100,000 rows, best wall kept
#                                     # (default 3; larger sizes run once)
#   MUSTER_BENCH_PAIR_REPEAT=5 ...    # up to 100,000 rows, the pairs that take turns (-j 1 and
#                                     # -j 2; validate and re-import): default 5; larger
#                                     # sizes MUSTER_BENCH_BIG_PAIR_REPEAT, default 2
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100000 1000000)
cap=${MUSTER_BENCH_MEM_KB:-16000000}
repeat=${MUSTER_BENCH_REPEAT:-3}
pair_repeat=${MUSTER_BENCH_PAIR_REPEAT:-5}
big_pair_repeat=${MUSTER_BENCH_BIG_PAIR_REPEAT:-2}
out=target/bench
mkdir -p "$out"
cargo build --release --quiet --bin muster --example generate --example floor
muster=target/release/muster
generate=target/release/examples/generate
floor=target/release/examples/floor

# once COMMAND...: runs the command once (outputs of the run before removed first, $before run
# untimed) and sets W (wall seconds) and R (peak RSS, KiB); returns 1 when it ran out of the
# memory cap. The command's exit code does not matter (a batch with errors exits 1).
once() {
    rm -f "$out/time.txt" "$out/r.csv" "$out/o.jsonl" "$out/a.xlsx"
    [ -n "${before:-}" ] && eval "$before"
    ( ulimit -v "$cap"; /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" ) || true
    if grep -qiE "memory allocation|out of memory|cannot allocate" "$out/stderr.txt"; then
        return 1
    fi
    read -r W R < <(tail -n 1 "$out/time.txt")
}

# row LABEL WALL RSS_KIB FLOOR_SECONDS: one table row, with the ratio to the floor.
row() {
    local ratio="-"
    # A floor too quick to time (0.00 s at a few thousand rows) gives no ratio.
    [ "$4" != "-" ] && ratio=$(awk -v a="$2" -v b="$4" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else printf "-" }')
    echo "| $1 | $2 s | $(($3 / 1024)) MiB | $ratio |"
}

# faster A B: whether A < B (seconds); B empty counts as slower than anything.
faster() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# keep WALL_VAR RSS_VAR: the last run's wall into WALL_VAR if it is the best yet, its peak RSS
# into RSS_VAR if it is the largest yet.
keep() {
    if faster "$W" "${!1}"; then printf -v "$1" %s "$W"; fi
    if [ "$R" -gt "${!2}" ]; then printf -v "$2" %s "$R"; fi
}

# best N COMMAND...: the best wall time (BW) and largest peak RSS (BR) of N runs; returns 1 when
# a run ran out of the memory cap.
best() {
    local n=$1 i
    shift
    BW="" BR=0
    for ((i = 0; i < n; i++)); do
        once "$@" || return 1
        keep BW BR
    done
    return 0
}

# alternate N: the commands of the arrays A and B, run in turns (A, B, A, B, ...) N times each,
# so that a change in the machine's speed during the run falls on both: their best walls (WA,
# WB) and largest peak RSS (RA, RB); returns 1 when a run ran out of the memory cap.
alternate() {
    local n=$1 i
    WA="" WB="" RA=0 RB=0
    for ((i = 0; i < n; i++)); do
        once "${A[@]}" || return 1
        keep WA RA
        once "${B[@]}" || return 1
        keep WB RB
    done
    return 0
}

oom() { echo "| $1 | out of memory (cap $((cap / 1024 / 1024)) GB) | | |"; }

# measure LABEL FLOOR_SECONDS COMMAND...: one table row, the best wall time of $runs runs (and
# the largest peak RSS), or a row saying the command ran out of the memory cap.
measure() {
    local label=$1 base=$2
    shift 2
    if best "$runs" "$@"; then
        row "$label" "$BW" "$BR" "$base"
        LAST=$BW
    else
        oom "$label"
    fi
}

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), $(rustc --version)"
echo
echo "| run | wall | peak RSS | ratio to its floor |"
echo "| --- | --- | --- | --- |"
for rows in "${sizes[@]}"; do
    runs=1
    [ "$rows" -le 100000 ] && runs=$repeat
    csv="$out/batch-$rows.csv"
    [ -f "$csv" ] || "$generate" --rows "$rows" --error-rate 0.01 -o "$csv" 2>/dev/null
    # Every run reads the file from the page cache, the floor included.
    cat "$csv" > /dev/null
    measure "$rows rows: csv crate parse (floor)" - "$floor" csv "$csv"
    csv_floor=$LAST
    measure "$rows rows: validate --report --out" "$csv_floor" "$muster" validate "$csv" -q --report "$out/r.csv" --out "$out/o.jsonl"
    pair_runs=$big_pair_repeat
    [ "$rows" -le 100000 ] && pair_runs=$pair_repeat
    # The speed-up: -j 1 and -j 2 taking turns.
    A=("$muster" validate "$csv" -q -j 1 --report "$out/r.csv" --out "$out/o.jsonl")
    B=("$muster" validate "$csv" -q -j 2 --report "$out/r.csv" --out "$out/o.jsonl")
    if alternate "$pair_runs"; then
        row "$rows rows: validate -j 1" "$WA" "$RA" "$csv_floor"
        row "$rows rows: validate -j 2" "$WB" "$RB" "$csv_floor"
        echo "| $rows rows: speed-up 1 → 2 threads | $(awk -v a="$WA" -v b="$WB" 'BEGIN { printf "%.2f×", a / b }') | | |"
    else
        oom "$rows rows: validate -j 1 / -j 2"
    fi
    measure "$rows rows: validate --annotate" "$csv_floor" "$muster" validate "$csv" -q --annotate "$out/a.xlsx"
    # Each first import starts from an empty store (the last one's store is kept)...
    before='rm -f "$out/store.db" "$out/store.db-wal" "$out/store.db-shm"'
    best "$runs" "$muster" import "$csv" -q --partial --store "$out/store.db" || BW=oom
    before=""
    first_import=$BW first_import_rss=$BR
    # ...then validation with no outputs and the re-import of the same batch (which changes
    # nothing in the store) take turns: both import ratios are to that validation.
    A=("$muster" validate "$csv" -q)
    B=("$muster" import "$csv" -q --partial --store "$out/store.db")
    if [ "$first_import" != oom ] && alternate "$pair_runs"; then
        row "$rows rows: validate, no outputs" "$WA" "$RA" "$csv_floor"
        row "$rows rows: import into an empty store --partial" "$first_import" "$first_import_rss" "$WA"
        row "$rows rows: re-import the same batch" "$WB" "$RB" "$WA"
    else
        oom "$rows rows: validate, no outputs / import / re-import"
    fi
    if [ "$rows" -le 100000 ]; then
        xlsx="$out/batch-$rows.xlsx"
        [ -f "$xlsx" ] || "$generate" --rows "$rows" --error-rate 0.01 -o "$xlsx" 2>/dev/null
        cat "$xlsx" > /dev/null
        measure "$rows rows xlsx: calamine read (floor)" - "$floor" xlsx "$xlsx"
        measure "$rows rows xlsx: validate --report --out" "$LAST" "$muster" validate "$xlsx" -q --report "$out/r.csv" --out "$out/o.jsonl"
    fi
done

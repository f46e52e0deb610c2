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
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100000 1000000)
cap=${MUSTER_BENCH_MEM_KB:-16000000}
repeat=${MUSTER_BENCH_REPEAT:-3}
out=target/bench
mkdir -p "$out"
cargo build --release --quiet --bin muster --example generate --example floor
muster=target/release/muster
generate=target/release/examples/generate
floor=target/release/examples/floor

# measure LABEL FLOOR_SECONDS COMMAND...: one table row, the best wall time of $runs runs (and
# the largest peak RSS); the command's exit code does not matter (a batch with errors exits 1),
# but running out of the memory cap does. The outputs of the run before are removed first, so
# no run pays for deleting them, and $before (if set) is run before each run, untimed.
measure() {
    local label=$1 base=$2
    shift 2
    local wall="" rss=0 w r i
    for ((i = 0; i < runs; i++)); do
        rm -f "$out/time.txt" "$out/r.csv" "$out/o.jsonl" "$out/a.xlsx"
        [ -n "${before:-}" ] && eval "$before"
        ( ulimit -v "$cap"; /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" ) || true
        if grep -qiE "memory allocation|out of memory|cannot allocate" "$out/stderr.txt"; then
            echo "| $label | out of memory (cap $((cap / 1024 / 1024)) GB) | | |"
            return
        fi
        read -r w r < <(tail -n 1 "$out/time.txt")
        if [ -z "$wall" ] || awk -v a="$w" -v b="$wall" 'BEGIN { exit !(a < b) }'; then wall=$w; fi
        [ "$r" -gt "$rss" ] && rss=$r
    done
    local ratio="-"
    # A floor too quick to time (0.00 s at a few thousand rows) gives no ratio.
    [ "$base" != "-" ] && ratio=$(awk -v a="$wall" -v b="$base" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else printf "-" }')
    echo "| $label | ${wall} s | $((rss / 1024)) MiB | $ratio |"
    LAST=$wall
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
    measure "$rows rows: validate -j 1" "$csv_floor" "$muster" validate "$csv" -q -j 1 --report "$out/r.csv" --out "$out/o.jsonl"
    one=$LAST
    measure "$rows rows: validate -j 2" "$csv_floor" "$muster" validate "$csv" -q -j 2 --report "$out/r.csv" --out "$out/o.jsonl"
    echo "| $rows rows: speed-up 1 → 2 threads | $(awk -v a="$one" -v b="$LAST" 'BEGIN { printf "%.2f×", a / b }') | | |"
    measure "$rows rows: validate --annotate" "$csv_floor" "$muster" validate "$csv" -q --annotate "$out/a.xlsx"
    measure "$rows rows: validate, no outputs" "$csv_floor" "$muster" validate "$csv" -q
    validate_only=$LAST
    # Each import run starts from an empty store; the re-import runs on the store one made.
    before='rm -f "$out/store.db" "$out/store.db-wal" "$out/store.db-shm"'
    measure "$rows rows: import into an empty store --partial" "$validate_only" "$muster" import "$csv" -q --partial --store "$out/store.db"
    before=""
    measure "$rows rows: re-import the same batch" "$validate_only" "$muster" import "$csv" -q --partial --store "$out/store.db"
    if [ "$rows" -le 100000 ]; then
        xlsx="$out/batch-$rows.xlsx"
        [ -f "$xlsx" ] || "$generate" --rows "$rows" --error-rate 0.01 -o "$xlsx" 2>/dev/null
        cat "$xlsx" > /dev/null
        measure "$rows rows xlsx: calamine read (floor)" - "$floor" xlsx "$xlsx"
        measure "$rows rows xlsx: validate --report --out" "$LAST" "$muster" validate "$xlsx" -q --report "$out/r.csv" --out "$out/o.jsonl"
    fi
done

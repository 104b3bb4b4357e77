#!/usr/bin/env bash
# calllog.sh: the call log's writer and query, driven directly through their C interface
# (bench/calllog.c), without HTTP in the way, for the current build and, with BASE_DIR, a
# baseline build beside it in the same run:
#   - the writer's instructions per record, counted by callgrind (the same on a busy machine):
#     records spread over DAYS days without rollups (a large table's filling), and records
#     stamped as written, rollups on, in fixed batches of BATCH records (every build's writer
#     given the same batches; the timed merge of the rollups into their rows left out), as a
#     gateway's keyed callers (CONSUMERS) and as calls without a key on one route
#   - the writer thread's own CPU time per record (user and system, from /proc), in batches of
#     GW_BATCH records as a busy gateway's writer takes them (calls without a key), over the
#     second half of CPU_ROWS records; ROUNDS_CPU runs of each build, alternating, their median
#   - sustained records/s through the bounded queue into SQLite,
#     records stamped as they are written, analytics rollups on      target >= 50,000/s
#   - database bytes per million records                             (reported, no target)
#   - one consumer, one day, the first page, over a large table       target < 100 ms at 10 M rows
#     (the large table is generated in SQL, the same records the writer would store, by each
#     build's driver, in a bounded time; FILL=writer sends them through the writer instead,
#     and also gives its records/s into a large table)
#
#   bench/calllog.sh                     1,000,000 rows
#   ROWS=10000000 bench/calllog.sh       the full 10 M rows the query target is stated for
#   BASE_DIR=../portico-main bench/calllog.sh   also a baseline: a source tree whose build/ is made
# Knobs: ROWS, DAYS (30), CONSUMERS (1000), ROUNDS (50), WRITE_ROWS (300000, the fresh-file
# throughput run), INSTR_ROWS (30000; 0 skips callgrind), BATCH (200, the records per batch of the
# fixed-batch count), FILL (sql or writer), CPU_ROWS (4640000; 0 skips), GW_BATCH (1450), ROUNDS_CPU (5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run   # the toolchain and libraries it builds against, when missing

ROWS=${ROWS:-1000000}
WRITE_ROWS=${WRITE_ROWS:-300000}
DAYS=${DAYS:-30}
CONSUMERS=${CONSUMERS:-1000}
ROUNDS=${ROUNDS:-50}
INSTR_ROWS=${INSTR_ROWS:-30000}
BATCH=${BATCH:-200}
CPU_ROWS=${CPU_ROWS:-4640000}
GW_BATCH=${GW_BATCH:-1450}
ROUNDS_CPU=${ROUNDS_CPU:-5}
BUILD=${BUILD:-build}
BASE_DIR=${BASE_DIR:-}
FILL=${FILL:-sql}
case $FILL in sql|writer) ;; *) echo "bench: FILL is sql or writer" >&2; exit 1 ;; esac

PKGS="libuv jansson yaml-0.1 openssl sqlite3 libargon2 libpq"
# driver SRC_DIR LIB OUT: a tree's bench/calllog.c built against its headers and library (each
# tree's own driver: a layout the other's does not know needs its own way to fill a large log).
driver() {
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -g -D_GNU_SOURCE -I"$1/src" $(pkg-config --cflags $PKGS) -o "$3" "$1/bench/calllog.c" "$2" \
        $(pkg-config --libs $PKGS) -lpthread -lm
}
make --no-print-directory -j"$(nproc)" "$BUILD/libportico.a" >/dev/null
mkdir -p "$BUILD/bench"
declare -A BIN=([current]=$BUILD/bench/calllog)
driver . "$BUILD/libportico.a" "${BIN[current]}"
BUILDS=(current)
if [ -n "$BASE_DIR" ]; then
    [ -f "$BASE_DIR/build/libportico.a" ] || { echo "bench: $BASE_DIR/build/libportico.a is missing (make there)" >&2; exit 1; }
    BIN[base]=$BUILD/bench/calllog-base
    driver "$BASE_DIR" "$BASE_DIR/build/libportico.a" "${BIN[base]}"
    # the writer thread's CPU: this tree's driver (the same measuring) on the baseline's library
    CPU_BIN_BASE=$BUILD/bench/calllog-base-cpu
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -g -D_GNU_SOURCE -I"$BASE_DIR/src" $(pkg-config --cflags $PKGS) -o "$CPU_BIN_BASE" bench/calllog.c \
        "$BASE_DIR/build/libportico.a" $(pkg-config --libs $PKGS) -lpthread -lm
    BUILDS+=(base)
fi

T=$(mktemp -d /tmp/pt-bench-calllog.XXXXXX)
trap 'rm -rf "$T"' EXIT
field() { sed -nE "s/(^|.* )$1=([0-9.-]*).*/\2/p" <<<"$2"; }
declare -A instr=() keyed=() keyless=() w=() l=() q=() wcpu=() wusr=() wsys=()

# batch_instr DUMP ROWS: the writer's instructions per record in a callgrind dump of
# `calllog batch`: its batches (on_batch) less the rollups' timed merge into their rows,
# which runs every few seconds of the wall clock, slower under callgrind.
batch_instr() {
    callgrind_annotate --inclusive=yes --tree=calling "$1" 2>/dev/null | awk -v n="$2" '
        /^ *[0-9,]+ .*\*  .*calllog\.c:on_batch / { gsub(",", "", $1); b = $1; in_b = 1; next }
        /^$/ { in_b = 0 }
        in_b && />   .*calllog\.c:flush_rollups / { gsub(",", "", $1); f = $1 }
        END { printf "%d\n", (b - f) / n }'
}

if ((INSTR_ROWS > 0)) && command -v valgrind >/dev/null; then
    echo "writer instructions: $INSTR_ROWS records over $DAYS days under callgrind, the inserts' transactions counted"
    for b in "${BUILDS[@]}"; do
        valgrind --tool=callgrind --callgrind-out-file="$T/cg.$b" --toggle-collect=insert_some \
            "${BIN[$b]}" write "$T/instr-$b.db" "$INSTR_ROWS" "$DAYS" "$CONSUMERS" fill >/dev/null 2>"$T/cg.$b.err"
        total=$(sed -n 's/.*refs: *//p' "$T/cg.$b.err" | tr -d ',')
        instr[$b]=$((total / INSTR_ROWS))
        echo "  $b: ${instr[$b]} instructions per record"
    done
    echo "writer instructions: $INSTR_ROWS records stamped as written, rollups on, in batches of $BATCH, under callgrind"
    for b in "${BUILDS[@]}"; do
        for who in keyed keyless; do
            c=$CONSUMERS; [ "$who" = keyless ] && c=0
            valgrind --tool=callgrind --callgrind-out-file="$T/cgb.$b.$who" \
                "${BIN[$b]}" batch "$T/batch-$b-$who.db" "$INSTR_ROWS" "$BATCH" "$c" >/dev/null 2>&1 ||
                echo "bench: $b batch run ($who) failed" >&2
            v=$(batch_instr "$T/cgb.$b.$who" "$INSTR_ROWS")
            if [ "$who" = keyed ]; then keyed[$b]=$v; else keyless[$b]=$v; fi
            echo "  $b, $who calls: $v instructions per record"
        done
    done
fi
median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
if ((CPU_ROWS > 0)); then
    echo "writer thread CPU: $CPU_ROWS records without a key in batches of $GW_BATCH, the second half measured, $ROUNDS_CPU runs each"
    declare -A cpu_runs=() usr_runs=() sys_runs=()
    for ((round = 1; round <= ROUNDS_CPU; round++)); do
        for b in "${BUILDS[@]}"; do
            bin=${BIN[current]}
            [ "$b" = base ] && bin=$CPU_BIN_BASE
            out=$("$bin" batch "$T/cpu-$b.db" "$CPU_ROWS" "$GW_BATCH" 0)
            rm -f "$T/cpu-$b.db"*
            cpu_runs[$b]+="$(field writer_cpu_us_per_record "$out") "
            usr_runs[$b]+="$(field writer_user_us_per_record "$out") "
            sys_runs[$b]+="$(field writer_sys_us_per_record "$out") "
            echo "  $b: $out"
        done
    done
    for b in "${BUILDS[@]}"; do
        wcpu[$b]=$(tr ' ' '\n' <<<"${cpu_runs[$b]}" | grep . | median)
        wusr[$b]=$(tr ' ' '\n' <<<"${usr_runs[$b]}" | grep . | median)
        wsys[$b]=$(tr ' ' '\n' <<<"${sys_runs[$b]}" | grep . | median)
    done
fi
for b in "${BUILDS[@]}"; do
    echo "$b writer: $WRITE_ROWS records into a fresh file, stamped as written, rollups on"
    w[$b]=$("${BIN[$b]}" write "$T/write-$b.db" "$WRITE_ROWS" 0 "$CONSUMERS" 2>/dev/null)
    echo "  ${w[$b]}"
done
# The large table: written by each build's writer (FILL=writer), or generated in SQL by each
# build's driver (every build reads its own: two builds' layouts may differ).
for b in "${BUILDS[@]}"; do
    f=$T/large-$b.db
    if [ "$FILL" = writer ]; then
        echo "$b large table: $ROWS records over $DAYS days, $CONSUMERS consumers (records only, no rollups)"
        l[$b]=$("${BIN[$b]}" write "$f" "$ROWS" "$DAYS" "$CONSUMERS" fill 2>/dev/null)
    else
        echo "$b large table: $ROWS records over $DAYS days, $CONSUMERS consumers, generated in SQL"
        l[$b]=$("${BIN[$b]}" bulk "$f" "$ROWS" "$DAYS" "$CONSUMERS" 2>/dev/null)
    fi
    echo "  ${l[$b]}"
    q[$b]=$("${BIN[$b]}" query "$f" "$ROUNDS" "$DAYS" "$CONSUMERS")
    echo "  $b query: ${q[$b]}"
    rm -f "$f"*
done
rm -f "$T"/large-*

# row LABEL UNIT FIELD-FROM: "label: current X unit   (base Y unit)"
row() {
    local label=$1 cur=$2 base=${3:-}
    if [ -n "$base" ]; then printf '%-58s %12s   baseline %12s\n' "$label:" "$cur" "$base"; else printf '%-58s %12s\n' "$label:" "$cur"; fi
}
echo
B=${BASE_DIR:+base}
row "writer instructions per record (filling, no rollups)" "${instr[current]:-n/a}" "${B:+${instr[base]:-n/a}}"
row "writer instructions per record, batches of $BATCH, keyed" "${keyed[current]:-n/a}" "${B:+${keyed[base]:-n/a}}"
row "writer instructions per record, batches of $BATCH, no key" "${keyless[current]:-n/a}" "${B:+${keyless[base]:-n/a}}"
row "writer thread CPU us per record, batches of $GW_BATCH (median)" "${wcpu[current]:-n/a}" "${B:+${wcpu[base]:-n/a}}"
row "                                   of which user" "${wusr[current]:-n/a}" "${B:+${wusr[base]:-n/a}}"
row "                                   of which system" "${wsys[current]:-n/a}" "${B:+${wsys[base]:-n/a}}"
row "writer, sustained records/s (target >= 50000)" "$(field records_per_s "${w[current]}")" "${B:+$(field records_per_s "${w[base]:-}")}"
row "writer, CPU us per record (every thread of the process)" "$(field cpu_us_per_record "${w[current]}")" "${B:+$(field cpu_us_per_record "${w[base]:-}")}"
if [ "$FILL" = writer ]; then
    row "writer, into the large table, records/s" "$(field records_per_s "${l[current]}")" "${B:+$(field records_per_s "${l[base]:-}")}"
else
    row "large log generated in SQL and converted into chunks, rows/s" "$(field rows_per_s "${l[current]}")"
fi
row "database bytes per million records (the writer's file)" "$(field bytes_per_million "${w[current]}")" "${B:+$(field bytes_per_million "${w[base]:-}")}"
row "database bytes per million records (the large table)" "$(field bytes_per_million "${l[current]}")" "${B:+$(field bytes_per_million "${l[base]:-}")}"
row "one consumer, one day, first page at $ROWS rows, median ms" "$(field median_ms "${q[current]}")" "${B:+$(field median_ms "${q[base]:-}")}"
row "                                               slowest ms" "$(field max_ms "${q[current]}")" "${B:+$(field max_ms "${q[base]:-}")}"
row "a request id anywhere in the log at $ROWS rows, median ms" "$(field rid_median_ms "${q[current]}")"
row "                                               slowest ms" "$(field rid_max_ms "${q[current]}")"
echo "(query target: < 100 ms at 10 M rows)"

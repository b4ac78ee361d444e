#!/bin/sh
# Issue 13's serving benchmark (docs/PERFORMANCE.md): `accord serve` side by side with nginx
# serving the directory `accord publish` wrote from the same ledger, under load from wrk.
#
#   scripts/bench-serve.sh                               # 1,000,000 entries
#   ACCORD_BENCH_ENTRIES=100000 scripts/bench-serve.sh   # a quicker run
#
# First it runs benches/ledger.rs with ACCORD_BENCH_PUBLISH=1, which builds (or reuses) the
# cached ledger, publishes it to a new directory, appends 1,000 entries and publishes again,
# and prints the publish figures. Then, in rounds that alternate the two servers, wrk asks for
# (a) random tiles and entry bundles of the published tree and (b) the checkpoint, and the
# script prints requests per second and p99 latency of each, and accord's ratio to nginx.
#
# Needs wrk and nginx (Debian: apt-get install wrk nginx-light). Knobs: BENCH_SECONDS (10),
# BENCH_ROUNDS (3, median reported), BENCH_CONNECTIONS (64), BENCH_THREADS (2).
set -eu
cd "$(dirname "$0")/.."
: "${ACCORD_BENCH_ENTRIES:=1000000}"
: "${ACCORD_BENCH_ORGS:=300}"
: "${BENCH_SECONDS:=10}"
: "${BENCH_ROUNDS:=3}"
: "${BENCH_CONNECTIONS:=64}"
: "${BENCH_THREADS:=2}"
export ACCORD_BENCH_ENTRIES ACCORD_BENCH_ORGS
for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "bench-serve: $tool is not installed (apt-get install wrk nginx-light)" >&2; exit 2; }
done

cargo build --release --bin accord
ACCORD_BENCH_PUBLISH=1 cargo bench --bench ledger
base="target/accord-bench/ledger-${ACCORD_BENCH_ENTRIES}-o${ACCORD_BENCH_ORGS}"
public="$(pwd)/${base}-public"
ledger="$(pwd)/${base}-published-ledger"
[ -f "$public/checkpoint" ] || { echo "bench-serve: no published directory at $public" >&2; exit 1; }

work=$(mktemp -d)
nginx_pid=""
accord_pid=""
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    [ -n "$accord_pid" ] && kill "$accord_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Every tile and entry bundle of the published tree, as request paths.
(cd "$public" && find tile -type f | sed 's#^#/#') > "$work/paths"
echo "bench-serve: $(wc -l < "$work/paths") tile and bundle paths"
cat > "$work/tiles.lua" <<EOF
local paths = {}
for line in io.lines("$work/paths") do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function()
    return wrk.format("GET", paths[math.random(#paths)])
end
EOF

nginx_port=18081
accord_port=18082
cat > "$work/nginx.conf" <<EOF
user root;
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nginx_port;
        root $public;
        location /tile/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
        location = /checkpoint {
            default_type "text/plain; charset=utf-8";
            add_header Cache-Control "no-cache";
        }
    }
}
EOF
nginx -c "$work/nginx.conf" &
nginx_pid=$!
target/release/accord --ledger "$ledger" serve --listen "127.0.0.1:$accord_port" --max-connections-per-client 0 2>"$work/accord.log" &
accord_pid=$!
for port in $nginx_port $accord_port; do
    i=0
    until curl -sf -o /dev/null "http://127.0.0.1:$port/checkpoint"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "bench-serve: nothing listens on $port" >&2; cat "$work"/*.log >&2; exit 1; }
        sleep 0.1
    done
done
# Both serve the same checkpoint and the same bytes for a sample of tiles.
curl -sf "http://127.0.0.1:$nginx_port/checkpoint" > "$work/a"
curl -sf "http://127.0.0.1:$accord_port/checkpoint" > "$work/b"
cmp -s "$work/a" "$work/b" || { echo "bench-serve: the two checkpoints differ" >&2; exit 1; }
for p in $(shuf -n 20 "$work/paths"); do
    curl -sf "http://127.0.0.1:$nginx_port$p" > "$work/a"
    curl -sf "http://127.0.0.1:$accord_port$p" > "$work/b"
    cmp -s "$work/a" "$work/b" || { echo "bench-serve: $p differs" >&2; exit 1; }
done

# One wrk run: "requests/s p99_ms".
run() { # port script.lua-or-path
    if [ "${2%.lua}" != "$2" ]; then
        out=$(wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_SECONDS}s" --latency -s "$2" "http://127.0.0.1:$1")
    else
        out=$(wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_SECONDS}s" --latency "http://127.0.0.1:$1$2")
    fi
    if echo "$out" | grep -q "Non-2xx"; then
        echo "bench-serve: errors from port $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v = v / 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v = v * 1000}; print v}')
    echo "$rps $p99"
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

for what in tiles checkpoint; do
    : > "$work/nginx-$what"
    : > "$work/accord-$what"
done
r=1
while [ $r -le "$BENCH_ROUNDS" ]; do
    echo "bench-serve: round $r/$BENCH_ROUNDS"
    run $nginx_port "$work/tiles.lua" >> "$work/nginx-tiles"
    run $accord_port "$work/tiles.lua" >> "$work/accord-tiles"
    run $nginx_port /checkpoint >> "$work/nginx-checkpoint"
    run $accord_port /checkpoint >> "$work/accord-checkpoint"
    r=$((r + 1))
done
rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$accord_pid/status")

echo
echo "serve figures: $ACCORD_BENCH_ENTRIES entries (+1,000), wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_SECONDS}s, median of $BENCH_ROUNDS alternating rounds, $(nproc) cores; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| requests | nginx req/s | accord serve req/s | ratio | nginx p99 | accord p99 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for what in tiles checkpoint; do
    n=$(cut -d' ' -f1 "$work/nginx-$what" | median)
    a=$(cut -d' ' -f1 "$work/accord-$what" | median)
    np=$(cut -d' ' -f2 "$work/nginx-$what" | median)
    ap=$(cut -d' ' -f2 "$work/accord-$what" | median)
    label="random tiles and entry bundles"
    [ "$what" = checkpoint ] && label="the checkpoint"
    echo "| $label | $n | $a | $(echo "$a $n" | awk '{printf "%.2f", $1 / $2}') | ${np} ms | ${ap} ms |"
done
echo "accord serve peak RSS: $((rss_kb / 1024)) MiB"

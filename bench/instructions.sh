#!/usr/bin/env bash
# Instructions per HTTP request, counted by callgrind: unlike requests/s on a shared 2-core machine, the count does
# not move with the neighbours' load. Each server runs twice under valgrind, answering 10,000 then 50,000 requests
# (autocannon, 10 connections); the difference over the 40,000 extra requests cancels start-up and most of the JIT.
# Needs valgrind (Debian: apt-get install valgrind). Takes about 2 minutes per server.
#
#   bash bench/instructions.sh                 # node:http, and fiberapp's sync, gen and fiber handlers
#   bash bench/instructions.sh fastify         # one of: node fastify sync gen fiber sync-nometrics fiber-nometrics
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
built=$(dirname "$(npx tsx bench/run.ts --build 2>&1 | grep http-node.mjs | head -1)")

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

count() { # label amount script env...
  local label=$1 amount=$2 script=$3
  shift 3
  env PORT="$port" "$@" valgrind --tool=callgrind --callgrind-out-file="$out/$label-$amount" node "$script" \
    >"$out/$label-$amount.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do grep -q '"ready"' "$out/$label-$amount.log" && break; sleep 0.2; done
  node --input-type=module -e "
    import autocannon from 'autocannon'
    const r = await autocannon({ url: 'http://127.0.0.1:$port/', connections: 10, amount: $amount, timeout: 60 })
    if (r.requests.total !== $amount || r.non2xx > 0) { console.error('requests failed', r.requests.total, r.non2xx); process.exit(1) }
  "
  kill -TERM "$pid"
  wait "$pid" || true
  grep '^summary' "$out/$label-$amount" | awk '{print $2}'
}

run() { # label script env...
  local label=$1 script=$2
  shift 2
  local small large
  small=$(count "$label" 10000 "$script" "$@")
  large=$(count "$label" 50000 "$script" "$@")
  printf '%-8s %8d instructions/request\n' "$label" $(((large - small) / 40000))
}

servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=(node sync gen fiber)
for server in "${servers[@]}"; do
  case $server in
    node) run node "$built/bench_servers_http-node.mjs" ;;
    fastify) run fastify "$built/bench_servers_http-fastify.mjs" ;;
    sync | gen | fiber) run "$server" "$built/bench_servers_http-fiberapp.mjs" HANDLER="$server" ;;
    # the same servers, their app made with metrics: false: what the app's metrics cost per request
    sync-nometrics | fiber-nometrics)
      run "$server" "$built/bench_servers_http-fiberapp.mjs" HANDLER="${server%-nometrics}" METRICS=off ;;
    *) echo "unknown server $server (node fastify sync gen fiber sync-nometrics fiber-nometrics)" >&2; exit 2 ;;
  esac
done

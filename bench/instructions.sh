#!/usr/bin/env bash
# Instructions counted by callgrind: unlike times on a shared 2-core machine, the counts do not move with the
# neighbours' load. Node runs with --predictable (V8 compiles and collects on the main thread, at the same points each
# run); repeated, counts agree within about 1-3%, with a rare run far off, so compare medians. Needs valgrind
# (Debian: apt-get install valgrind).
#
# HTTP servers: instructions per request. The server answers WARM requests (default 15,000) first, from one
# connection, so that the JIT has settled; callgrind's counters are then zeroed (callgrind_control) and the next
# MEASURE requests (default 10,000) counted. One connection keeps every request alone in its turn of the event
# loop: with several, how many requests share a turn depends on timing, and so does the count. About 4 minutes each.
#
# Tasks: instructions per task of the add-then-complete bench (100k-task laps cut to TASKS, default 20,000): one run
# of 1 lap and one of 5 after the warm-up lap, the difference over the 4 extra laps. About 2 minutes each.
# Dispatch to one handler likewise: MESSAGES (default 20,000) dispatches against 5 times as many.
#
#   bash bench/instructions.sh                    # node:http, and fiberapp's sync, gen and fiber handlers
#   bash bench/instructions.sh fiber fiber-nometrics
#       servers: node fastify sync gen fiber sync-nometrics fiber-nometrics
#       tasks:   tasks-raw tasks tasks-nometrics
#       events:  dispatch dispatch-nometrics (dispatch to one handler)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"' EXIT
cd "$root"
built=$(dirname "$(npx tsx bench/run.ts --build 2>&1 | grep http-node.mjs | head -1)")
warm=${WARM:-15000}
measure=${MEASURE:-10000}
tasks=${TASKS:-20000}
messages=${MESSAGES:-20000}

load() { # port amount
  node --input-type=module -e "
    import autocannon from 'autocannon'
    const r = await autocannon({ url: 'http://127.0.0.1:$1/', connections: 1, amount: $2, timeout: 60 })
    if (r.requests.total !== $2 || r.non2xx > 0) { console.error('requests failed', r.requests.total, r.non2xx); process.exit(1) }
  "
}

server() { # label script env...
  local label=$1 script=$2
  shift 2
  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  env PORT="$port" "$@" valgrind --tool=callgrind --callgrind-out-file="$out/$label" node --predictable "$script" \
    >"$out/$label.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q '"ready"' "$out/$label.log" && break; sleep 0.2; done
  grep -q '"ready"' "$out/$label.log" || { cat "$out/$label.log" >&2; echo "$label did not start" >&2; exit 1; }
  load "$port" "$warm"
  callgrind_control --zero "$pid" >/dev/null
  load "$port" "$measure"
  callgrind_control --dump "$pid" >/dev/null
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
  local counted
  counted=$(grep -h '^summary\|^totals' "$out/$label.1" | head -1 | awk '{print $2}')
  printf '%-16s %8d instructions/request\n' "$label" $((counted / measure))
}

counted() { # label run env script args...: the instructions of a whole in-process run
  local label=$1 run=$2 env=$3 script=$4
  shift 4
  env $env valgrind --tool=callgrind --callgrind-out-file="$out/$label-$run" \
    node --predictable "$script" "$@" >"$out/$label-$run.log" 2>&1 || { cat "$out/$label-$run.log" >&2; exit 1; }
  grep '^summary' "$out/$label-$run" | awk '{print $2}'
}

per() { # label unit count env-of-one env-of-five script args...: a run, and one doing 5 × count, the difference
  local label=$1 unit=$2 count=$3 one=$4 five=$5 script=$6
  shift 6
  local small large
  small=$(counted "$label" 1 "$one" "$script" "$@")
  large=$(counted "$label" 5 "$five" "$script" "$@")
  [ -n "$small" ] && [ -n "$large" ] || exit 1
  printf '%-16s %8d instructions/%s\n' "$label" $(((large - small) / (4 * count))) "$unit"
}

task() { # label script args...: laps of `tasks` after the warm-up lap, 1 then 5
  per "$1" task "$tasks" "BENCH_TASKS=$tasks BENCH_LAPS=1" "BENCH_TASKS=$tasks BENCH_LAPS=5" "${@:2}"
}

dispatch() { # label script args...: dispatches to one handler, `messages` then 5 × as many
  local env="BENCH_LOOPS=10000 BENCH_LAPS=1 BENCH_MESSAGES"
  per "$1" dispatch "$messages" "$env=$messages" "$env=$((5 * messages))" "${@:2}"
}

servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=(node sync gen fiber)
for server in "${servers[@]}"; do
  case $server in
    node) server node "$built/bench_servers_http-node.mjs" ;;
    fastify) server fastify "$built/bench_servers_http-fastify.mjs" ;;
    sync | gen | fiber) server "$server" "$built/bench_servers_http-fiberapp.mjs" HANDLER="$server" ;;
    # the same servers, their app made with metrics: false: what the app's metrics cost per request
    sync-nometrics | fiber-nometrics)
      server "$server" "$built/bench_servers_http-fiberapp.mjs" HANDLER="${server%-nometrics}" METRICS=off ;;
    tasks-raw) task "$server" "$built/bench_cases_tasks-complete-raw.mjs" ;;
    tasks) task "$server" "$built/bench_cases_tasks-complete-fiberapp.mjs" ;;
    tasks-nometrics) task "$server" "$built/bench_cases_tasks-complete-fiberapp.mjs" metrics-off ;;
    dispatch) dispatch "$server" "$built/bench_cases_events-dispatch-fiberapp.mjs" ;;
    dispatch-nometrics) dispatch "$server" "$built/bench_cases_events-dispatch-fiberapp.mjs" metrics-off ;;
    *)
      echo "unknown $server (node fastify sync gen fiber sync-nometrics fiber-nometrics tasks-raw tasks tasks-nometrics dispatch dispatch-nometrics)" >&2
      exit 2
      ;;
  esac
done

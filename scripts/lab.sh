#!/usr/bin/env bash
# A fleet of boards on one Linux machine (root): network namespaces on a virtual switch, each
# board with its own IP, Docker engine and pifleet daemon, cables you can pull.
#
#   npm run lab -- up [N]            N boards (default 3), one fleet (mDNS, a shared token)
#   npm run lab -- status            boards, cables, daemons, and the fleet's status
#   npm run lab -- cut I | restore I pull / replug board I's cable
#   npm run lab -- kill I | start I  power board I's daemon off (kill -9) / on again
#   npm run lab -- pifleet I ARGS    the pifleet CLI on board I, e.g. `pifleet 1 get nodes -o wide`
#   npm run lab -- sh I              a shell on board I (DOCKER_HOST points at its engine)
#   npm run lab -- logs I            the daemon's log of board I (JSON lines)
#   npm run lab -- down              stop everything and remove the lab
#
# Uses test/lab/netns-lab.sh (LAB_PREFIX=demo, subnet 10.90.0): needs iproute2, nftables,
# docker.io, busybox-static. Test image: pifleet-test/busybox:1 on every board (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export LAB_PREFIX=${LAB_PREFIX:-demo}
SUBNET=${LAB_SUBNET:-10.90.0}
NETLAB="$ROOT/test/lab/netns-lab.sh"
STATE="/run/netns-lab/$LAB_PREFIX/pifleet"
CLUSTER=${LAB_CLUSTER:-lab}

die() { echo "lab: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, a Docker engine per board)"
[[ -f dist/daemon/src/main.js ]] || npm run --silent build

token() {
  mkdir -p "$STATE"
  [[ -f $STATE/token ]] || head -c 24 /dev/urandom | base64 | tr '+/' '-_' > "$STATE/token"
  cat "$STATE/token"
}

alive() { [[ -f $STATE/n$1.pid ]] && kill -0 "$(cat "$STATE/n$1.pid")" 2>/dev/null; }

start_board() {
  local i=$1
  alive "$i" && { echo "board $i: daemon already running (pid $(cat "$STATE/n$i.pid"))"; return; }
  mkdir -p "$STATE/n$i"
  "$NETLAB" exec "$i" env PIFLEET_TOKEN="$(token)" PIFLEET_NODE_ADDRESS="$SUBNET.$i" PIFLEET_RUNTIME_DIR="/dev/shm/pifleet-$LAB_PREFIX-n$i" \
    DOCKER_HOST="unix:///run/netns-lab/$LAB_PREFIX/d$i.sock" \
    node "$ROOT/bin/pifleet.js" daemon --state-dir "$STATE/n$i" --cluster "$CLUSTER" --node-name "node$i" --mqtt-ws-port 0 \
    >> "$STATE/n$i.log" 2>&1 < /dev/null &
  echo $! > "$STATE/n$i.pid"   # the daemon's own pid (netns-lab.sh execs)
  echo "board $i: pifleet daemon started (pid $!), log: npm run lab -- logs $i"
}

kill_board() {
  local i=$1
  alive "$i" || { echo "board $i: no daemon running"; return; }
  kill -9 "$(cat "$STATE/n$i.pid")"
  rm -f "$STATE/n$i.pid"
  echo "board $i: daemon killed (power off); its containers keep running"
}

boards() { ls "$STATE" 2>/dev/null | sed -n 's/^n\([0-9]*\)$/\1/p' | sort -n; }

cmd=${1:-help}; shift || true
case $cmd in
  up)
    n=${1:-3}
    "$NETLAB" up "$n" --docker --subnet "$SUBNET" >/dev/null
    for i in $(seq 1 "$n"); do
      DOCKER_HOST="unix:///run/netns-lab/$LAB_PREFIX/d$i.sock" npx --no-install tsx -e \
        "import('./test/harness/images.ts').then((m) => m.ensureTestImages())" || die "cannot import the test image on board $i"
    done
    for i in $(seq 1 "$n"); do start_board "$i"; done
    echo "waiting for the fleet to form..."
    for _ in $(seq 1 60); do
      if "$NETLAB" exec 1 node "$ROOT/bin/pifleet.js" --state-dir "$STATE/n1" status 2>/dev/null | grep -q "$n of $n voters reachable"; then break; fi
      sleep 1
    done
    "$NETLAB" exec 1 node "$ROOT/bin/pifleet.js" --state-dir "$STATE/n1" status || true
    echo; echo "try: npm run lab -- pifleet 1 apply -f docs/examples/lab-web.yaml; npm run lab -- cut 2"
    ;;
  status)
    "$NETLAB" status
    for i in $(boards); do
      if alive "$i"; then echo "board $i: daemon pid $(cat "$STATE/n$i.pid")"; else echo "board $i: no daemon"; fi
    done
    first=$(for i in $(boards); do alive "$i" && { echo "$i"; break; }; done)
    [[ -n $first ]] && "$NETLAB" exec "$first" node "$ROOT/bin/pifleet.js" --state-dir "$STATE/n$first" status || true
    ;;
  cut | restore | isolate | rejoin) "$NETLAB" "$cmd" "$@" ;;
  kill) kill_board "${1:?board number}" ;;
  start) start_board "${1:?board number}" ;;
  pifleet)
    i=${1:?board number}; shift
    exec "$NETLAB" exec "$i" node "$ROOT/bin/pifleet.js" --state-dir "$STATE/n$i" "$@"
    ;;
  sh) exec "$NETLAB" exec "${1:?board number}" bash ;;
  logs) exec tail -n 200 -f "$STATE/n${1:?board number}.log" ;;
  down)
    for i in $(boards); do alive "$i" && kill -9 "$(cat "$STATE/n$i.pid")" || true; done
    for i in $(boards); do
      for _ in $(seq 1 50); do alive "$i" || break; sleep 0.1; done
    done
    "$NETLAB" down
    rm -rf "$STATE" /dev/shm/pifleet-"$LAB_PREFIX"-n*
    echo "lab removed"
    ;;
  help | -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (try: npm run lab -- help)" ;;
esac

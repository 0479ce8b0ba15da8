#!/usr/bin/env bash
# The demo: from a fresh clone (root, Debian 12, Node 20) to a controller
# managing a local three-node fleet with the examples in desired/.
#
#   hack/demo.sh          start the fleet and run the controller in the foreground
#   hack/demo.sh down     stop the fleet (the controller stops with Ctrl-C)
#
# The three fog nodes are independent dockerd daemons under
# /var/run/fog-fleet/<node>/, matching the endpoints in desired/nodes/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = down ]; then
  exec hack/fleet.sh down
fi

[ -d node_modules ] || npm ci --no-audit --no-fund

hack/fleet.sh up \
  gateway-1:zone=line1,role=gateway:dev=/dev/ttyUSB0 \
  press-1:zone=line1,role=plc-edge \
  press-2:zone=line2,role=plc-edge

echo
echo "Fleet is up. Starting the controller (Ctrl-C stops it; containers keep running)."
# The dashboard on loopback, passing the page's requests to the controller's socket.
port="${FOG_DASHBOARD_PORT:-7420}"
node src/cli/fogctl.mjs dashboard --port "$port" >/dev/null &
dashboard=$!
trap 'kill "$dashboard" 2>/dev/null || true' EXIT
echo "Dashboard:            http://127.0.0.1:$port/  (read-only, loopback only; from another machine: ssh -L $port:127.0.0.1:$port GATEWAY)"
echo "In another terminal:  npx fogctl get services"
echo
node src/cli/fogctl.mjs run --desired desired/ "$@"

#!/usr/bin/env bash
# A local fog fleet: several independent Docker daemons on this host, one per
# fog node, each with its own data root, exec root (so its own containerd) and
# socket. Used by the demo, the tests (test/support/fleet.ts) and CI.
#
# Usage:
#   hack/fleet.sh up     [--dir DIR] [--no-image] NODE[:k=v,k=v][:dev=/path,/path] ...
#       Start each NODE (idempotent: a node already answering is left alone),
#       then load the fog/busybox:latest image into it (unless --no-image).
#       Labels become engine labels (`--label k=v`, plus fog.node=NODE).
#       dev= paths are made on the host as character devices (mknod c 1 3,
#       /dev/null's numbers) when missing, so a Node's spec.devices can name them.
#       Prints one line per node: `NODE unix://DIR/NODE/docker.sock`.
#       A node already up keeps its old labels: stop and start it to change them.
#       Optional parts :tcp=PORT (also listen on tcp://127.0.0.1:PORT) and
#       :tls=CERTDIR (mutual TLS on it: --tlsverify with CERTDIR/ca.pem,
#       server-cert.pem, server-key.pem), e.g. n1:tcp=23760:tls=/tmp/certs.
#   hack/fleet.sh image  [--dir DIR] [NODE ...]   build the image tar once, import it into the nodes
#   hack/fleet.sh stop   [--dir DIR] NODE ...     SIGTERM the node's dockerd, keep its data
#   hack/fleet.sh start  [--dir DIR] NODE ...     start a stopped node again with its saved flags
#   hack/fleet.sh freeze [--dir DIR] NODE ...     SIGSTOP dockerd and its containerd (a hung engine)
#   hack/fleet.sh thaw   [--dir DIR] NODE ...     SIGCONT them
#   hack/fleet.sh down   [--dir DIR]              stop every node, unmount, remove DIR and the devices made
#   hack/fleet.sh status [--dir DIR]              one line per node: NAME up|down ENDPOINT
#
# DIR defaults to $FOG_FLEET_DIR or /var/run/fog-fleet. Unix socket paths are
# limited to 108 bytes and containerd puts `x/containerd/containerd.sock.ttrpc`
# under the exec root, so DIR must be short (checked).
# Storage driver: $FOG_FLEET_STORAGE_DRIVER, default overlay2, falling back to
# vfs when overlay2 does not start (e.g. DIR on an overlay filesystem).
#
# Layout per node: DIR/NODE/{data/, x/ (exec root), docker.sock, pid, log, flags}.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=fog/busybox:latest
DIR=${FOG_FLEET_DIR:-/var/run/fog-fleet}
START_TIMEOUT=${FOG_FLEET_START_TIMEOUT:-30}
TAG=fleet
LABEL_RE='='
SPEC_KEYS='tcp tls'

# shellcheck source=lib/engine.sh
. "$HERE/lib/engine.sh"

cli() { local n=$1; shift; docker -H "unix://$(sock "$n")" "$@"; }
nodes_in_dir() { nodes_with flags; }

# Parse NODE[:k=v,k=v][:dev=/a,/b][:tcp=PORT][:tls=CERTDIR] into the node's
# flags file (one dockerd flag per line).
write_flags() {
  local spec=$1 name=${1%%:*}
  new_node "$name"
  {
    echo "--label"; echo "fog.node=$name"
    read_spec "$spec"
  } >"$DIR/$name/flags.new"
  mv "$DIR/$name/flags.new" "$DIR/$name/flags"
  echo "$name"
}

# One part of a node spec, as dockerd flags (devices need none).
on_spec() {
  local kind=$2 v=$3 f
  case $kind in
    label) echo "--label"; echo "$v" ;;
    tcp)
      [[ $v =~ ^[0-9]{1,5}$ ]] || die "bad port in 'tcp=$v' (want tcp=PORT)"
      echo "-H"; echo "tcp://127.0.0.1:$v"
      ;;
    tls)
      for f in ca.pem server-cert.pem server-key.pem; do [ -s "$v/$f" ] || die "tls=$v: missing $v/$f"; done
      echo "--tlsverify"
      echo "--tlscacert"; echo "$v/ca.pem"
      echo "--tlscert"; echo "$v/server-cert.pem"
      echo "--tlskey"; echo "$v/server-key.pem"
      ;;
  esac
}

start_dockerd() {
  local n=$1 driver=$2
  local -a base labels
  mapfile -t labels <"$DIR/$n/flags"
  mapfile -t base < <(engine_flags "$n")
  launch "$n" dockerd "${base[@]}" \
    --bridge none --iptables=false --ip-masq=false --ip6tables=false \
    --storage-driver "$driver" --log-level warn \
    "${labels[@]}"
}

start_node() {
  local n=$1 driver=${FOG_FLEET_STORAGE_DRIVER:-}
  [ -f "$DIR/$n/flags" ] || die "node '$n' is unknown in $DIR (start it with up first)"
  startable "$n" || return 0
  [ -f "$DIR/$n/driver" ] && driver=$(cat "$DIR/$n/driver")
  start_dockerd "$n" "${driver:-overlay2}"
  await_start "$n" "$driver" stop_nodes
}

wait_stopped() {
  local n=$1 c
  if ! await_exit "$n"; then
    kill -KILL "$(pid_of "$n")" 2>/dev/null || true
    sleep 0.5
  fi
  # Its containerd (started with --exec-root) goes with it; make sure. A dockerd
  # that had to be killed leaves its shims and their containers running: the
  # next dockerd of this node would find their tasks, and a down would leak them.
  for c in $(containerd_pids "$n"); do kill -KILL "$c" 2>/dev/null || true; done
  kill_node "$n"
}

stop_nodes() {
  local n
  for n in "$@"; do signal_stop "$n"; done
  for n in "$@"; do wait_stopped "$n"; done
}

build_image() {
  local tar="$DIR/image.tar" root
  [ -s "$tar" ] && return 0
  root=$(mktemp -d "$DIR/rootfs.XXXX")
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/var/www"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  mkdir -p "$root/usr"; ln -s ../bin "$root/usr/bin"; ln -s bin "$root/sbin"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  echo 'fog' >"$root/var/www/index.html"
  tar -C "$root" -cf "$tar.new" .
  rm -rf "$root"
  mv "$tar.new" "$tar"
}

load_image() {
  local n=$1
  cli "$n" image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  cli "$n" import --change 'CMD ["sh"]' "$DIR/image.tar" "$IMAGE" >/dev/null \
    || die "could not import $IMAGE into node '$n'"
}

# --- commands ---------------------------------------------------------------

cmd=${1:-}
case $cmd in -h | --help | help) usage_header; exit 0 ;; esac
[ -n "$cmd" ] || die "usage: $0 up|image|stop|start|freeze|thaw|down|status [--dir DIR] ..."
shift
parse_args -- "$@"

case $cmd in
  up)
    [ ${#args[@]} -gt 0 ] || die "up: name at least one NODE[:k=v,...][:dev=/path,...]"
    [ "$(id -u)" = 0 ] || die "up: dockerd needs root"
    ensure_tools
    mkdir -p "$DIR"
    names=()
    for spec in "${args[@]}"; do names+=("$(write_flags "$spec")"); done
    for n in "${names[@]}"; do start_node "$n"; done
    if [ $with_image = 1 ]; then
      build_image
      for n in "${names[@]}"; do load_image "$n"; done
    fi
    for n in "${names[@]}"; do echo "$n unix://$(sock "$n")"; done
    ;;
  image)
    ensure_tools
    build_image
    [ ${#args[@]} -gt 0 ] || mapfile -t args < <(nodes_in_dir)
    for n in "${args[@]}"; do load_image "$n"; done
    ;;
  start) for n in "${args[@]}"; do start_node "$n"; done ;;
  stop) stop_nodes "${args[@]}"; for n in "${args[@]}"; do say "$n stopped"; done ;;
  freeze) for n in "${args[@]}"; do alive "$n" || die "$n is not running"; freeze_node "$n"; done ;;
  thaw) for n in "${args[@]}"; do thaw_node "$n"; done ;;
  down)
    [ -d "$DIR" ] || exit 0
    mapfile -t all < <(nodes_in_dir)
    stop_nodes "${all[@]}"
    remove_dir
    ;;
  status)
    for n in $(nodes_in_dir); do
      if alive "$n" && pings "$n"; then s=up; elif alive "$n"; then s=unresponsive; else s=down; fi
      echo "$n $s unix://$(sock "$n")"
    done
    ;;
  *) die "unknown command '$cmd'" ;;
esac

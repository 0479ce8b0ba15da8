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

IMAGE=fog/busybox:latest
DIR=${FOG_FLEET_DIR:-/var/run/fog-fleet}
START_TIMEOUT=${FOG_FLEET_START_TIMEOUT:-30}

die() { echo "fleet: $*" >&2; exit 1; }
say() { echo "fleet: $*" >&2; }

ensure_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; } \
      || die "could not install ${missing[*]}"
  fi
  command -v docker >/dev/null || die "the docker CLI is missing (package docker.io or docker-cli)"
}

sock() { echo "$DIR/$1/docker.sock"; }
cli() { local n=$1; shift; docker -H "unix://$(sock "$n")" "$@"; }
pid_of() { [ -s "$DIR/$1/pid" ] && cat "$DIR/$1/pid"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }
pings() { timeout 3 docker -H "unix://$(sock "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
nodes_in_dir() { [ -d "$DIR" ] && find "$DIR" -mindepth 2 -maxdepth 2 -name flags -printf '%h\n' | xargs -r -n1 basename | sort; }

check_name() {
  [[ $1 =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "bad node name '$1' (lowercase letters, digits and '-')"
}

check_paths() {
  local longest="$DIR/$1/x/containerd/containerd.sock.ttrpc"
  [ ${#longest} -lt 104 ] || die "DIR is too long for unix sockets: $longest is ${#longest} bytes (max 103); use a shorter --dir"
}

# Parse NODE[:k=v,k=v][:dev=/a,/b] into the node's flags file (one dockerd flag per line).
write_flags() {
  local spec=$1 name rest part kv dev
  name=${spec%%:*}
  check_name "$name"
  check_paths "$name"
  mkdir -p "$DIR/$name"
  {
    echo "--label"; echo "fog.node=$name"
    rest=${spec#"$name"}
    IFS=':' read -r -a parts <<<"${rest#:}"
    for part in "${parts[@]}"; do
      [ -n "$part" ] || continue
      if [[ $part == dev=* ]]; then
        IFS=',' read -r -a devs <<<"${part#dev=}"
        for dev in "${devs[@]}"; do make_device "$dev"; done
      elif [[ $part == tcp=* ]]; then
        [[ ${part#tcp=} =~ ^[0-9]{1,5}$ ]] || die "bad port in '$part' (want tcp=PORT)"
        echo "-H"; echo "tcp://127.0.0.1:${part#tcp=}"
      elif [[ $part == tls=* ]]; then
        local certs=${part#tls=} f
        for f in ca.pem server-cert.pem server-key.pem; do [ -s "$certs/$f" ] || die "tls=$certs: missing $certs/$f"; done
        echo "--tlsverify"
        echo "--tlscacert"; echo "$certs/ca.pem"
        echo "--tlscert"; echo "$certs/server-cert.pem"
        echo "--tlskey"; echo "$certs/server-key.pem"
      else
        IFS=',' read -r -a kvs <<<"$part"
        for kv in "${kvs[@]}"; do
          [[ $kv == *=* ]] || die "bad label '$kv' in '$spec' (want k=v)"
          echo "--label"; echo "$kv"
        done
      fi
    done
  } >"$DIR/$name/flags.new"
  mv "$DIR/$name/flags.new" "$DIR/$name/flags"
  echo "$name"
}

make_device() {
  local dev=$1
  [[ $dev == /* ]] || die "device '$dev' must be an absolute path"
  if [ ! -e "$dev" ]; then
    mkdir -p "$(dirname "$dev")"
    mknod -m 666 "$dev" c 1 3
    echo "$dev" >>"$DIR/devices"
  elif [ ! -c "$dev" ]; then
    die "device '$dev' exists and is not a character device"
  fi
}

start_dockerd() {
  local n=$1 driver=$2 d="$DIR/$1"
  local -a labels
  mapfile -t labels <"$d/flags"
  mkdir -p "$d/data" "$d/x"
  rm -f "$d/pid" "$d/docker.sock"
  # setsid: a Ctrl-C in the caller's terminal must not take the fleet down.
  setsid dockerd \
    --data-root "$d/data" --exec-root "$d/x" --pidfile "$d/pid" \
    -H "unix://$d/docker.sock" \
    --bridge none --iptables=false --ip-masq=false --ip6tables=false \
    --storage-driver "$driver" --log-level warn \
    "${labels[@]}" </dev/null >>"$d/log" 2>&1 &
}

wait_ready() {
  local n=$1 i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    pings "$n" && return 0
    [ -s "$DIR/$n/pid" ] && ! alive "$n" && return 1
    # dockerd died before writing its pid file
    if ((i > 20)) && ! pgrep -f -- "--exec-root $DIR/$n/x " >/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

start_node() {
  local n=$1 driver=${FOG_FLEET_STORAGE_DRIVER:-}
  [ -f "$DIR/$n/flags" ] || die "node '$n' is unknown in $DIR (start it with up first)"
  if alive "$n" && pings "$n"; then say "$n already up"; return 0; fi
  alive "$n" && die "node '$n' has a live dockerd (pid $(pid_of "$n")) that does not answer; is it frozen? try: $0 thaw --dir $DIR $n"
  [ -f "$DIR/$n/driver" ] && driver=$(cat "$DIR/$n/driver")
  start_dockerd "$n" "${driver:-overlay2}"
  if ! wait_ready "$n"; then
    if [ -z "$driver" ]; then
      say "$n did not start with overlay2; trying vfs"
      stop_nodes "$n"
      rm -rf "$DIR/$n/data"
      start_dockerd "$n" vfs
      wait_ready "$n" || fail_start "$n"
      driver=vfs
    else
      fail_start "$n"
    fi
  fi
  echo "${driver:-overlay2}" >"$DIR/$n/driver"
}

fail_start() {
  echo "fleet: dockerd for node '$1' did not answer within ${START_TIMEOUT}s; last lines of $DIR/$1/log:" >&2
  tail -n 30 "$DIR/$1/log" >&2 || true
  exit 1
}

# Stopping is two phases so that several nodes shut down in parallel
# (dockerd takes 2-3 s to exit even when idle).
signal_stop() {
  local n=$1 p ids
  p=$(pid_of "$n") || return 0
  kill -0 "$p" 2>/dev/null || return 0
  # A frozen daemon cannot handle SIGTERM: thaw it first.
  thaw_node "$n"
  # Kill containers first so shutdown does not wait out their stop timeouts.
  ids=$(timeout 5 docker -H "unix://$(sock "$n")" ps -q 2>/dev/null || true)
  [ -z "$ids" ] || timeout 10 docker -H "unix://$(sock "$n")" kill $ids >/dev/null 2>&1 || true
  kill -TERM "$p" 2>/dev/null || true
}

wait_stopped() {
  local n=$1 p i c
  p=$(pid_of "$n") || true
  if [ -n "${p:-}" ]; then
    for ((i = 0; i < 200; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      say "$n: dockerd $p ignored SIGTERM for 20s; killing it"
      kill -KILL "$p" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  # Its containerd (started with --exec-root) goes with it; make sure.
  for c in $(pgrep -f -- "--config $DIR/$n/x/containerd/containerd.toml" || true); do kill -KILL "$c" 2>/dev/null || true; done
  unmount_under "$DIR/$n"
  rm -f "$DIR/$n/pid"
}

stop_nodes() {
  local n
  for n in "$@"; do signal_stop "$n"; done
  for n in "$@"; do wait_stopped "$n"; done
}

unmount_under() {
  local m base
  # /proc/self/mounts shows resolved paths (/var/run is a symlink to /run).
  base=$(realpath -m "$1")
  # Deepest first; lazily, so a busy netns file does not block teardown.
  for m in $(awk -v p="$base/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# dockerd and its containerd: both must stop, or the engine still answers in part.
engine_pids() {
  local p
  p=$(pid_of "$1") || return 0
  echo "$p"
  pgrep -f -- "--config $DIR/$1/x/containerd/containerd.toml" || true
}
freeze_node() { local p; for p in $(engine_pids "$1"); do kill -STOP "$p" 2>/dev/null || true; done; }
thaw_node() { local p; for p in $(engine_pids "$1"); do kill -CONT "$p" 2>/dev/null || true; done; }

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
case $cmd in -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;; esac
[ -n "$cmd" ] || die "usage: $0 up|image|stop|start|freeze|thaw|down|status [--dir DIR] ..."
shift
with_image=1
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
    --dir=*) DIR=${1#--dir=}; shift ;;
    --no-image) with_image=0; shift ;;
    -*) die "unknown option $1" ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ $DIR == /* ]] || DIR="$PWD/$DIR"

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
    if [ -f "$DIR/devices" ]; then
      while read -r dev; do [ -c "$dev" ] && rm -f "$dev"; done <"$DIR/devices"
    fi
    unmount_under "$DIR"
    rm -rf "$DIR"
    ;;
  status)
    for n in $(nodes_in_dir); do
      if alive "$n" && pings "$n"; then s=up; elif alive "$n"; then s=unresponsive; else s=down; fi
      echo "$n $s unix://$(sock "$n")"
    done
    ;;
  *) die "unknown command '$cmd'" ;;
esac

# shellcheck shell=bash
# What hack/fleet.sh and hack/lan.sh share: nodes that are each a dockerd of
# their own under DIR/NODE/{data/, x/ (exec root), docker.sock, pid, log,
# flags, driver}. Sourced, not run.
#
# The sourcing script sets, before calling anything here:
#   TAG            the prefix of messages (fleet, lan)
#   DIR            the fleet's directory
#   START_TIMEOUT  seconds a dockerd gets to answer on its socket
# and, where it uses them:
#   LABEL_RE       what a k=v label must match (read_spec)
#   NAME_MAX       the longest node name (check_name; none when unset)
#   SPEC_KEYS      the KEY=VALUE parts of a node spec that are not labels (read_spec)
#   EXTRA_PID_FILES  files under DIR/NODE removed with its pid file (engine_gone)
# and defines the hooks:
#   on_spec NODE KIND VALUE  one part of a node spec (read_spec)
#   start_dockerd NODE DRIVER  start the node's dockerd (await_start)
#   node_seed_pids NODE      pids of the node besides its engine's (live_node_pids)

die() { echo "$TAG: $*" >&2; exit 1; }
say() { echo "$TAG: $*" >&2; }

# The help: the script's header, from its second line to `set -euo`.
usage_header() { sed -n '2,/^set -euo/p' "$0" | sed '$d'; }

# ensure_tools [--APT-OPTION ...] [COMMAND=PACKAGE ...]: dockerd, a static
# busybox and each COMMAND, installed with apt-get (and the options) when missing.
ensure_tools() {
  local missing=() apt=() a
  command -v dockerd >/dev/null || missing+=(docker.io)
  if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
  for a in "$@"; do
    case $a in
      --*) apt+=("$a") ;;
      *) command -v "${a%%=*}" >/dev/null || missing+=("${a#*=}") ;;
    esac
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt[@]}" "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt[@]}" "${missing[@]}" >/dev/null; } \
      || die "could not install ${missing[*]}"
  fi
  command -v docker >/dev/null || die "the docker CLI is missing (package docker.io or docker-cli)"
}

# parse_args [NAME ...] -- ARG ...: the options after the command. --dir DIR
# (made absolute), --no-image (with_image=0) and, per NAME, --NAME VALUE into
# opt_NAME (all --X VALUE also as --X=VALUE); the other words into args.
parse_args() {
  local names=() o
  while [ "$1" != -- ]; do names+=("$1"); shift; done
  shift
  with_image=1
  args=()
  for o in "${names[@]}"; do printf -v "opt_$o" ''; done
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) DIR=${2:?--dir needs a value}; shift 2; continue ;;
      --dir=*) DIR=${1#--dir=}; shift; continue ;;
      --no-image) with_image=0; shift; continue ;;
    esac
    for o in "${names[@]}"; do
      case $1 in
        "--$o") printf -v "opt_$o" '%s' "${2:?--$o needs a value}"; shift 2; continue 2 ;;
        "--$o="*) printf -v "opt_$o" '%s' "${1#--"$o"=}"; shift; continue 2 ;;
      esac
    done
    case $1 in
      -*) die "unknown option $1" ;;
      *) args+=("$1"); shift ;;
    esac
  done
  [[ $DIR == /* ]] || DIR="$PWD/$DIR"
}

# --- a node's engine -------------------------------------------------------------

sock() { echo "$DIR/$1/docker.sock"; }
pid_of() { [ -s "$DIR/$1/pid" ] && echo "$(cat "$DIR/$1/pid")"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }
pings() { timeout 3 docker -H "unix://$(sock "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
# The fleet's nodes: the dirs of DIR with FILE in them.
nodes_with() { [ -d "$DIR" ] && find "$DIR" -mindepth 2 -maxdepth 2 -name "$1" -printf '%h\n' | xargs -r -n1 basename | sort; }

# How a node's processes show in the process table (pgrep -f, ps args): its
# dockerd, its containerd (started with --exec-root) and containerd's shims.
dockerd_pat() { echo "--exec-root $DIR/$1/x "; }
containerd_pat() { echo "--config $DIR/$1/x/containerd/containerd.toml"; }
shim_pat() { echo "-address $DIR/$1/x/containerd/containerd.sock"; }

check_name() {
  [[ $1 =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "bad node name '$1' (lowercase letters, digits and '-')"
  [ -z "${NAME_MAX:-}" ] || ((${#1} <= NAME_MAX)) || die "node name '$1' is too long ($NAME_MAX at most)"
}

check_paths() {
  local longest="$DIR/$1/x/containerd/containerd.sock.ttrpc"
  [ ${#longest} -lt 104 ] || die "DIR is too long for unix sockets: $longest is ${#longest} bytes (max 103); use a shorter --dir"
}

# A node named in a spec: a good name, short enough paths, and its dir.
new_node() {
  check_name "$1"
  check_paths "$1"
  mkdir -p "$DIR/$1"
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

# read_spec NODE[:k=v,k=v][:dev=/a,/b][:KEY=VALUE]: the parts after the name,
# in order, each to the script's on_spec NODE KIND VALUE: `dev PATH` per
# device (made with make_device first), `label K=V` per label (checked against
# LABEL_RE), `KEY VALUE` for a part KEY=VALUE with KEY in SPEC_KEYS.
read_spec() {
  local spec=$1 name rest part kv dev key
  local -a parts devs kvs
  name=${spec%%:*}
  rest=${spec#"$name"}
  IFS=':' read -r -a parts <<<"${rest#:}"
  for part in "${parts[@]}"; do
    [ -n "$part" ] || continue
    if [[ $part == dev=* ]]; then
      IFS=',' read -r -a devs <<<"${part#dev=}"
      for dev in "${devs[@]}"; do make_device "$dev"; on_spec "$name" dev "$dev"; done
      continue
    fi
    for key in ${SPEC_KEYS:-}; do
      if [[ $part == "$key="* ]]; then on_spec "$name" "$key" "${part#"$key="}"; continue 2; fi
    done
    IFS=',' read -r -a kvs <<<"$part"
    for kv in "${kvs[@]}"; do
      [[ $kv =~ $LABEL_RE ]] || die "bad label '$kv' in '$spec' (want k=v)"
      on_spec "$name" label "$kv"
    done
  done
}

# The flags that make a dockerd the node's: data root, exec root (so its own
# containerd), pid file and unix socket, one a line.
engine_flags() {
  local d="$DIR/$1"
  printf '%s\n' --data-root "$d/data" --exec-root "$d/x" --pidfile "$d/pid" -H "unix://$d/docker.sock"
}

# launch NODE COMMAND...: run the node's dockerd command line in the
# background, its output to DIR/NODE/log.
launch() {
  local d="$DIR/$1"
  shift
  mkdir -p "$d/data" "$d/x"
  rm -f "$d/pid" "$d/docker.sock"
  # setsid: a Ctrl-C in the caller's terminal must not take the fleet down.
  setsid "$@" </dev/null >>"$d/log" 2>&1 &
}

# 0 when ready, 1 when dockerd died or did not answer in time.
wait_ready() {
  local n=$1 i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    pings "$n" && return 0
    [ -s "$DIR/$n/pid" ] && ! alive "$n" && return 1
    # dockerd died before writing its pid file
    if ((i > 20)) && ! pgrep -f -- "$(dockerd_pat "$n")" >/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

fail_start() {
  echo "$TAG: dockerd for node '$1' did not answer within ${START_TIMEOUT}s; last lines of $DIR/$1/log:" >&2
  tail -n 30 "$DIR/$1/log" >&2 || true
  exit 1
}

# 0 when the node is to be started; 1 (said) when it is up already; dies when
# its dockerd lives but does not answer.
startable() {
  if alive "$1" && pings "$1"; then say "$1 already up"; return 1; fi
  if alive "$1"; then die "node '$1' has a live dockerd (pid $(pid_of "$1")) that does not answer; is it frozen? try: $0 thaw --dir $DIR $1"; fi
  return 0
}

# await_start NODE DRIVER STOP: wait for the node's dockerd, just started with
# DRIVER (overlay2 when empty: none chosen), and record the driver in
# DIR/NODE/driver. With none chosen, a dockerd that does not start on overlay2
# is stopped (STOP NODE), its data removed, and started again on vfs.
await_start() {
  local n=$1 driver=$2 stop=$3
  if wait_ready "$n"; then
    [ -f "$DIR/$n/driver" ] || echo "${driver:-overlay2}" >"$DIR/$n/driver"
  elif [ -z "$driver" ]; then
    say "$n did not start with overlay2; trying vfs"
    "$stop" "$n"
    rm -rf "$DIR/$n/data"
    start_dockerd "$n" vfs
    wait_ready "$n" || fail_start "$n"
    echo vfs >"$DIR/$n/driver"
  else
    fail_start "$n"
  fi
}

# --- freezing and stopping ---------------------------------------------------------

# dockerd and its containerd: both must stop, or the engine still answers in part.
containerd_pids() { pgrep -f -- "$(containerd_pat "$1")" || true; }
engine_pids() { pid_of "$1" || true; containerd_pids "$1"; }
freeze_node() { local p; for p in $(engine_pids "$1"); do kill -STOP "$p" 2>/dev/null || true; done; }
thaw_node() { local p; for p in $(engine_pids "$1"); do kill -CONT "$p" 2>/dev/null || true; done; }
frozen() { local p; p=$(pid_of "$1") && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ]; }

# Stopping is two phases so that several nodes shut down in parallel
# (dockerd takes 2-3 s to exit even when idle): signal_stop, then each waits.
signal_stop() {
  local n=$1 p ids
  p=$(pid_of "$n") || return 0
  kill -0 "$p" 2>/dev/null || return 0
  # A frozen daemon cannot handle SIGTERM: thaw it first.
  thaw_node "$n"
  # Kill containers first so shutdown does not wait out their stop timeouts.
  ids=$(timeout 5 docker -H "unix://$(sock "$n")" ps -q 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || timeout 10 docker -H "unix://$(sock "$n")" kill $ids >/dev/null 2>&1 || true
  kill -TERM "$p" 2>/dev/null || true
}

# Wait up to 20 s for the node's dockerd to exit; 1 (said) when it has not.
await_exit() {
  local n=$1 p i
  p=$(pid_of "$n") || return 0
  for ((i = 0; i < 200; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -0 "$p" 2>/dev/null || return 0
  say "$n: dockerd $p ignored SIGTERM for 20s; killing it"
  return 1
}

# Once its processes are gone: unmount what they left mounted under DIR/NODE
# and remove its pid file (and the EXTRA_PID_FILES).
engine_gone() {
  local f files=("$DIR/$1/pid")
  for f in ${EXTRA_PID_FILES:-}; do files+=("$DIR/$1/$f"); done
  unmount_under "$DIR/$1"
  rm -f "${files[@]}"
}

# The default: a node has no processes but its engine's.
node_seed_pids() { :; }

# Every live process that belongs to the nodes: dockerd, its containerd, the
# shims and everything under them (the containers), and what the script's
# node_seed_pids adds (with everything under it). One process-table snapshot
# for all the nodes; zombies and this script left out.
live_node_pids() {
  local n p list pats=() extra=()
  list=$(mktemp)
  for n in "$@"; do
    # Not the pid file: after a crash its pid may be someone else's by now.
    pats+=("$(dockerd_pat "$n")" "$(containerd_pat "$n")" "$(shim_pat "$n")")
    extra+=($(node_seed_pids "$n"))
  done
  for p in "${extra[@]}"; do echo "pid $p"; done >"$list"
  for p in "${pats[@]}"; do echo "pat $p"; done >>"$list"
  ps -eo pid=,ppid=,stat=,args= | awk -v self=$$ -v list="$list" '
    BEGIN { while ((getline l < list) > 0) { if (l ~ /^pid /) seed[substr(l, 5)] = 1; else pat[++np] = substr(l, 5) } }
    { pid = $1; ppid[pid] = $2; st[pid] = $3; args = $0; sub(/^ *[0-9]+ +[0-9]+ +[^ ]+ /, "", args)
      for (i = 1; i <= np; i++) if (index(args, pat[i]) > 0) seed[pid] = 1
      all[++n] = pid }
    END {
      # Everything under a seed (a shim'"'"'s containers), to any depth.
      do { grew = 0; for (i = 1; i <= n; i++) { p = all[i]; if (!(p in seed) && (ppid[p] in seed)) { seed[p] = 1; grew = 1 } } } while (grew)
      for (p in seed) if ((p in st) && st[p] !~ /^Z/ && p != self) print p
    }' | sort -n
  rm -f "$list"
}

# SIGKILL everything of the nodes', until nothing is left (a dying dockerd may
# still be starting a shim), then unmount what they left mounted.
kill_nodes() {
  local n i pids
  for ((i = 0; i < 100; i++)); do
    pids=$(live_node_pids "$@")
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.05
  done
  for n in "$@"; do
    pids=$(live_node_pids "$n")
    # shellcheck disable=SC2086
    [ -z "$pids" ] || say "$n: processes left after SIGKILL: $(ps -o pid=,stat=,wchan:20=,comm= -p "$(echo $pids | tr ' ' ,)" | tr '\n' ';')"
    engine_gone "$n"
  done
}
kill_node() { kill_nodes "$1"; }

unmount_under() {
  local m base
  # /proc/self/mounts shows resolved paths (/var/run is a symlink to /run).
  base=$(realpath -m "$1")
  # Deepest first; lazily, so a busy netns file does not block teardown.
  for m in $(awk -v p="$base/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# The end of down, once the nodes are stopped: remove the devices made (those
# still character devices), unmount what is left under DIR, remove DIR.
remove_dir() {
  local dev
  if [ -f "$DIR/devices" ]; then
    while read -r dev; do if [ -c "$dev" ]; then rm -f "$dev"; fi; done <"$DIR/devices"
  fi
  unmount_under "$DIR"
  rm -rf "$DIR"
}

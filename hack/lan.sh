#!/usr/bin/env bash
# A LAN of fog nodes on this host: each node is a network namespace with its
# own address on one Linux bridge that this script creates, and its own
# dockerd inside, with bridge networking and iptables (published ports really
# publish), reached from the host over TCP with mutual TLS. Faults are verbs:
# a silent partition, a power cut, a hung engine, a clean stop, added latency.
# The unix-socket fleet (hack/fleet.sh) stays for the quick demo; tests drive
# this one through test/support/lan.ts.
#
# Usage:
#   hack/lan.sh up [--dir DIR] [--bridge NAME] [--subnet 10.R.S.0/24] [--no-image] NODE[:k=v,k=v][:dev=/path,/path] ...
#       Create the bridge (NAME gets .1 of the subnet), then per NODE a network
#       namespace NAME-NODE joined to the bridge by a veth (nodes get .2, .3, ...
#       in the order first named), and a dockerd inside it (nsenter --net) with:
#       its own data root, exec root and containerd; a unix socket
#       DIR/NODE/docker.sock (plain, for direct checks); tcp://ADDR:2376 with
#       --tlsverify (a client must show a certificate of this fleet's CA);
#       docker0 on its own /24 and a /22 pool for user networks, distinct per
#       node (172.20.0.0/14, from the node's host number); containers in the
#       cgroup /fog-NAME-NODE; engine labels fog.node=NODE plus the k=v given.
#       dev= paths are made with mknod (c 1 3, /dev/null's numbers) when missing.
#       The CA, one server certificate per node (subjectAltName IP:ADDR) and one
#       client certificate are made with openssl into DIR/certs (client
#       material in DIR/certs/client/{ca,cert,key}.pem, DOCKER_CERT_PATH style).
#       The fog/busybox:latest image is loaded as hack/fleet.sh does.
#       A Node manifest per node is written to DIR/nodes/NODE.yaml.
#       Prints one line per node: `NODE tcp://ADDR:2376 unix://DIR/NODE/docker.sock`.
#       Idempotent: a node already answering is left alone; new nodes may be added.
#   hack/lan.sh partition [--dir DIR] NODE ...  pull the cable: every packet in or out of the node's eth0 is
#                                               dropped inside its namespace (raw PREROUTING -i eth0 and mangle
#                                               POSTROUTING -o eth0: the node's own and its containers'
#                                               forwarded traffic). Silent: no RST, no ICMP; the engine and its
#                                               containers keep running
#   hack/lan.sh heal [--dir DIR] NODE ...       plug it back in
#   hack/lan.sh powercut [--dir DIR] NODE ...   drop the node's traffic as partition does, then SIGKILL its
#                                               dockerd, containerd, every containerd-shim and container process
#                                               and anything else in its namespace, and unmount what they had
#                                               mounted (as a reboot would)
#   hack/lan.sh start [--dir DIR] NODE ...      power on / start: lift a power cut's drop (not a partition's)
#                                               and start dockerd again with its saved flags
#   hack/lan.sh stop [--dir DIR] NODE ...       clean stop: kill its containers, SIGTERM dockerd, wait for it;
#                                               the host sees the TCP connections closed
#   hack/lan.sh freeze [--dir DIR] NODE ...     SIGSTOP dockerd and its containerd: a hung engine. The kernel
#                                               still accepts TCP connections; nothing answers (not even TLS)
#   hack/lan.sh thaw [--dir DIR] NODE ...       SIGCONT them
#   hack/lan.sh slow [--dir DIR] NODE MS        add MS ms to every answer of the engine's TCP endpoint, as
#                                               `tc netem delay MS` on the node's egress would (netem is not
#                                               available): a small delaying TCP proxy (node) in the node's
#                                               namespace on port 2377, with a nat PREROUTING REDIRECT of eth0's
#                                               port 2376 to it. The endpoint, address and TLS stay the same;
#                                               only connections opened after the call are slowed (NAT applies
#                                               to new connections). MS=0 removes it
#   hack/lan.sh down [--dir DIR]                remove everything: processes (dockerd, containerd, shims,
#                                               containers, proxies), mounts, namespaces, veths, the bridge,
#                                               the FORWARD rule, cgroups, the devices made, and DIR
#   hack/lan.sh status [--dir DIR]              one line per node: NODE ADDR up|down|frozen|unresponsive
#                                               [partitioned] [powercut] [slow=MS] ENDPOINT SOCKET
#   hack/lan.sh env [--dir DIR] NODE            DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for the
#                                               docker CLI: eval "$(hack/lan.sh env n1)"; docker ps
#
# DIR defaults to $FOG_LAN_DIR or /var/run/fog-lan (short: unix socket paths
# are limited to 108 bytes), NAME to fogbr0 (at most 10 characters: veth names
# NAME + v + number must fit Linux's 15), the subnet to 10.213.0.0/24. The
# first `up` records NAME and the subnet in DIR/lan; later commands read them
# there. Two LAN fleets can run at once with different --dir, --bridge and
# --subnet (checked: an existing bridge or a subnet already on an interface is
# refused).
#
# The host (the controller, in the root namespace) reaches the nodes through
# the bridge address; nodes reach each other and the host on the subnet and
# nothing else (no default route, no forwarding by the host).
#
# Layout per node: DIR/NODE/{data/, x/ (exec root), docker.sock, pid, log,
# flags, addr, driver, partitioned, powercut, slow}; DIR/certs, DIR/nodes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=fog/busybox:latest
DIR=${FOG_LAN_DIR:-/var/run/fog-lan}
START_TIMEOUT=${FOG_LAN_START_TIMEOUT:-60}
PORT=2376
SLOW_PORT=2377
DEFAULT_BRIDGE=fogbr0
DEFAULT_SUBNET=10.213.0.0/24
CUT_TAG=fog-lan-cut
SLOW_TAG=fog-lan-slow
TAG=lan
NAME_MAX=40
LABEL_RE='^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*$'
EXTRA_PID_FILES=slow.pid

# shellcheck source=lib/engine.sh
. "$HERE/lib/engine.sh"

# --- the fleet's configuration (DIR/lan) ------------------------------------

BR=
NET= # the first three octets, e.g. 10.213.0

load_lan() {
  [ -f "$DIR/lan" ] || return 1
  # shellcheck disable=SC1091
  BR=$(sed -n 's/^bridge=//p' "$DIR/lan")
  NET=$(sed -n 's/^net=//p' "$DIR/lan")
  [ -n "$BR" ] && [ -n "$NET" ]
}

need_lan() { load_lan || die "no LAN fleet in $DIR (start one with: $0 up --dir $DIR NODE ...)"; }

init_lan() {
  local bridge=${opt_bridge:-$DEFAULT_BRIDGE} subnet=${opt_subnet:-$DEFAULT_SUBNET}
  [[ $bridge =~ ^[a-zA-Z][a-zA-Z0-9_-]{0,9}$ ]] || die "bad bridge name '$bridge' (1-10 letters, digits, '-', '_'; veths are NAME + v + number, 15 at most)"
  [[ $subnet =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.0/24$ ]] || die "bad subnet '$subnet' (want A.B.C.0/24)"
  local o
  for o in "${BASH_REMATCH[@]:1:3}"; do ((o <= 255)) || die "bad subnet '$subnet'"; done
  local net="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
  if load_lan; then
    [ -z "$opt_bridge" ] || [ "$opt_bridge" = "$BR" ] || die "$DIR is a LAN on bridge $BR, not $opt_bridge"
    [ -z "$opt_subnet" ] || [ "$net" = "$NET" ] || die "$DIR is a LAN on $NET.0/24, not $subnet"
    return 0
  fi
  # Refuse what is someone else's: an existing link of that name, or the subnet in use.
  ip link show "$bridge" >/dev/null 2>&1 && die "a link named $bridge already exists (another LAN fleet? use --bridge)"
  if ip -4 -o addr show | awk '{print $4}' | grep -q "^${net//./\\.}\."; then
    die "subnet $net.0/24 is already in use on this host (use --subnet)"
  fi
  if ip -4 route show | awk '{print $1}' | grep -qx "${net//./\\.}\.0/24"; then
    die "subnet $net.0/24 is already routed on this host (use --subnet)"
  fi
  BR=$bridge
  NET=$net
  mkdir -p "$DIR"
  printf 'bridge=%s\nnet=%s\n' "$BR" "$NET" >"$DIR/lan"
}

ns() { echo "$BR-$1"; }
nsfile() { echo "/run/netns/$(ns "$1")"; }
in_ns() { local n=$1; shift; nsenter --net="$(nsfile "$n")" "$@"; }
hostnum() { cat "$DIR/$1/hostnum"; }
addr() { echo "$NET.$(hostnum "$1")"; }
veth() { echo "${BR}v$(hostnum "$1")"; }
endpoint() { echo "tcp://$(addr "$1"):$PORT"; }
cgparent() { echo "fog-$BR-$1"; }
nodes_in_dir() { nodes_with hostnum; }
known() { [ -f "$DIR/$1/hostnum" ] || die "node '$1' is unknown in $DIR"; }

# The lowest host number from 2 not yet taken in this fleet.
alloc_hostnum() {
  local n=$1 i
  [ -f "$DIR/$n/hostnum" ] && return 0
  for ((i = 2; i <= 254; i++)); do
    grep -qx "$i" "$DIR"/*/hostnum 2>/dev/null || { echo "$i" >"$DIR/$n/hostnum"; return 0; }
  done
  die "no free address left in $NET.0/24"
}

# docker0 and the user-network pool of host number i: a /22 of 172.20.0.0/14.
bip() { local i=$1 o=$(($1 * 4)); echo "172.$((20 + o / 256)).$((o % 256)).1/24"; }
pool() { local i=$1 o=$(($1 * 4)); echo "base=172.$((20 + o / 256)).$((o % 256)).0/22,size=24"; }

# Parse NODE[:k=v,k=v][:dev=/a,/b]: labels to DIR/NODE/labels, devices to DIR/NODE/devices.
parse_spec() {
  local spec=$1 name=${1%%:*}
  new_node "$name"
  : >"$DIR/$name/labels.new"
  : >"$DIR/$name/devices.new"
  read_spec "$spec"
  mv "$DIR/$name/labels.new" "$DIR/$name/labels"
  mv "$DIR/$name/devices.new" "$DIR/$name/devices"
  echo "$name"
}

on_spec() {
  case $2 in
    dev) echo "$3" >>"$DIR/$1/devices.new" ;;
    label) echo "$3" >>"$DIR/$1/labels.new" ;;
  esac
}

# --- certificates -------------------------------------------------------------

make_ca() {
  local c="$DIR/certs"
  mkdir -p "$c/client"
  if [ ! -s "$c/ca.pem" ]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 30 \
      -subj "/CN=fog-lan-ca-$BR" -keyout "$c/ca-key.pem" -out "$c/ca.pem" 2>/dev/null || die "openssl: could not make the CA"
  fi
  if [ ! -s "$c/client/cert.pem" ]; then
    sign "$c/client" "fog-controller" "extendedKeyUsage=clientAuth"
    cp "$c/ca.pem" "$c/client/ca.pem"
  fi
}

# sign OUTDIR CN EXTENSIONS: OUTDIR/key.pem and OUTDIR/cert.pem signed by the fleet's CA.
sign() {
  local out=$1 cn=$2 ext=$3 c="$DIR/certs"
  mkdir -p "$out"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=$cn" \
    -keyout "$out/key.pem" -out "$out/csr.pem" 2>/dev/null || die "openssl: could not make a key for $cn"
  openssl x509 -req -in "$out/csr.pem" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -set_serial "0x$(openssl rand -hex 16)" -days 30 \
    -extfile <(printf '%s\n' "$ext") -out "$out/cert.pem" 2>/dev/null || die "openssl: could not sign $cn"
  rm -f "$out/csr.pem"
  chmod 600 "$out/key.pem"
}

make_server_cert() {
  local n=$1 out="$DIR/certs/$1"
  [ -s "$out/cert.pem" ] && return 0
  sign "$out" "$n" "$(printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth' "$(addr "$n")" "$n")"
}

# --- the network ----------------------------------------------------------------

fwd_rule() { echo "FORWARD -i $BR -o $BR -m comment --comment fog-lan:$BR -j ACCEPT"; }

bridge_up() {
  if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge
    echo "$BR" >"$DIR/links"
  fi
  ip addr replace "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  # With br_netfilter, traffic between two ports of the bridge crosses the host's
  # FORWARD chain: accept ours, whatever the host's policy.
  # shellcheck disable=SC2046
  iptables -C $(fwd_rule) 2>/dev/null || iptables -I $(fwd_rule)
}

node_net_up() {
  local n=$1 v p
  v=$(veth "$n")
  p="${BR}p$(hostnum "$n")"
  [ -e "$(nsfile "$n")" ] || ip netns add "$(ns "$n")"
  if ! ip link show "$v" >/dev/null 2>&1; then
    ip link add "$v" type veth peer name "$p"
    ip link set "$p" netns "$(ns "$n")"
    ip -n "$(ns "$n")" link set "$p" name eth0
  fi
  ip link set "$v" master "$BR" up
  ip -n "$(ns "$n")" addr replace "$(addr "$n")/24" dev eth0
  ip -n "$(ns "$n")" link set eth0 up
  ip -n "$(ns "$n")" link set lo up
}

# Partition and power cut share one pair of rules (TABLE CHAIN MATCH...); they
# stay while either holds. raw PREROUTING and mangle POSTROUTING catch the
# containers' forwarded traffic as well as the node's own, and dockerd does not
# manage those chains.
cut_rules() {
  echo "raw PREROUTING -i eth0 -m comment --comment $CUT_TAG -j DROP"
  echo "mangle POSTROUTING -o eth0 -m comment --comment $CUT_TAG -j DROP"
}

# DIR/NODE/cut records that the rules are in place, so that a start or heal of
# a node that was never cut costs no iptables call.
sync_cut() {
  local n=$1 t c r want=0
  [ -e "$(nsfile "$n")" ] || return 0
  if [ -f "$DIR/$n/partitioned" ] || [ -f "$DIR/$n/powercut" ]; then want=1; fi
  [ $want = 1 ] || [ -f "$DIR/$n/cut" ] || return 0
  while read -r t c r; do
    # shellcheck disable=SC2086
    if [ $want = 1 ]; then
      in_ns "$n" iptables -w -t "$t" -C "$c" $r 2>/dev/null || in_ns "$n" iptables -w -t "$t" -I "$c" $r
    else
      while in_ns "$n" iptables -w -t "$t" -C "$c" $r 2>/dev/null; do in_ns "$n" iptables -w -t "$t" -D "$c" $r; done
    fi
  done < <(cut_rules)
  if [ $want = 1 ]; then touch "$DIR/$n/cut"; else rm -f "$DIR/$n/cut"; fi
}

# --- dockerd ----------------------------------------------------------------------

write_flags() {
  local n=$1 d="$DIR/$1" c="$DIR/certs" i kv
  i=$(hostnum "$n")
  {
    engine_flags "$n"
    printf '%s\n' -H "tcp://$(addr "$n"):$PORT"
    printf '%s\n' --tlsverify --tlscacert "$c/ca.pem" --tlscert "$c/$n/cert.pem" --tlskey "$c/$n/key.pem"
    printf '%s\n' --bip "$(bip "$i")" --default-address-pool "$(pool "$i")"
    printf '%s\n' --iptables=true --ip-masq=true --ip6tables=false --ipv6=false
    printf '%s\n' --cgroup-parent "/$(cgparent "$n")" --log-level warn
    printf '%s\n' --label "fog.node=$n"
    while read -r kv; do printf '%s\n' --label "$kv"; done <"$d/labels"
  } >"$d/flags.new"
  mv "$d/flags.new" "$d/flags"
}

start_dockerd() {
  local n=$1 driver=$2
  local -a flags
  mapfile -t flags <"$DIR/$n/flags"
  # nsenter, not `ip netns exec`: that remounts /sys, which breaks dockerd's cgroups.
  launch "$n" nsenter --net="$(nsfile "$n")" dockerd "${flags[@]}" --storage-driver "$driver"
}

# Start several nodes' engines at once, then wait for each.
start_nodes() {
  local n driver
  local -a started=()
  for n in "$@"; do
    known "$n"
    rm -f "$DIR/$n/powercut"
    sync_cut "$n"
    startable "$n" || continue
    driver=$(cat "$DIR/$n/driver" 2>/dev/null || echo overlay2)
    start_dockerd "$n" "$driver"
    started+=("$n")
  done
  for n in "${started[@]}"; do await_start "$n" "$(cat "$DIR/$n/driver" 2>/dev/null || true)" kill_node; done
}

# What runs in the node's namespace (docker-proxy, host-network containers, the
# delay proxy) and whatever is in its cgroups: swept with its engine (kill_nodes).
node_seed_pids() {
  local cg
  if [ -e "$(nsfile "$1")" ]; then ip netns pids "$(ns "$1")" 2>/dev/null || true; fi
  cg=$(cgparent "$1")
  cat /sys/fs/cgroup/pids/"$cg"/cgroup.procs /sys/fs/cgroup/pids/"$cg"/*/cgroup.procs \
    /sys/fs/cgroup/"$cg"/cgroup.procs /sys/fs/cgroup/"$cg"/*/cgroup.procs 2>/dev/null || true
}

wait_stopped() {
  await_exit "$1" || true
  stop_slow "$1"
  kill_node "$1"
}

# --- latency: a delaying TCP proxy in the node's namespace -----------------------

# Answers (engine -> client) are held MS ms, in order; requests pass at once.
PROXY_JS='
const net = require("net");
const [port, host, target, ms] = process.argv.slice(1).map((v, i) => (i === 1 ? v : Number(v)));
const later = (f) => (ms > 0 ? setTimeout(f, ms) : f());
net.createServer((client) => {
  const up = net.connect(target, host);
  client.pipe(up);
  up.on("data", (b) => later(() => client.write(b)));
  up.on("end", () => later(() => client.end()));
  const close = () => { client.destroy(); up.destroy(); };
  up.on("error", close); client.on("error", close);
  client.on("close", () => up.destroy());
}).listen(port, "0.0.0.0");
'

slow_rule() { echo "PREROUTING -i eth0 -p tcp --dport $PORT -m comment --comment $SLOW_TAG -j REDIRECT --to-ports $SLOW_PORT"; }

stop_slow() {
  local n=$1 p c r
  p=$(cat "$DIR/$n/slow.pid" 2>/dev/null || true)
  [ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true
  rm -f "$DIR/$n/slow.pid" "$DIR/$n/slow"
  [ -e "$(nsfile "$n")" ] || return 0
  read -r c r < <(slow_rule)
  # shellcheck disable=SC2086
  while in_ns "$n" iptables -w -t nat -C "$c" $r 2>/dev/null; do in_ns "$n" iptables -w -t nat -D "$c" $r; done
}

slow_node() {
  local n=$1 ms=$2 r i
  [[ $ms =~ ^[0-9]+$ ]] || die "slow: MS must be a whole number of milliseconds, not '$ms'"
  stop_slow "$n"
  ((ms > 0)) || return 0
  command -v node >/dev/null || die "slow: needs node (Node.js) for its delaying proxy"
  setsid nsenter --net="$(nsfile "$n")" node -e "$PROXY_JS" "$SLOW_PORT" "$(addr "$n")" "$PORT" "$ms" </dev/null >>"$DIR/$n/log" 2>&1 &
  echo $! >"$DIR/$n/slow.pid"
  for ((i = 0; i < 50; i++)); do
    in_ns "$n" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SLOW_PORT" 2>/dev/null && break
    sleep 0.1
  done
  ((i < 50)) || die "slow: the delaying proxy for $n did not start"
  local c
  read -r c r < <(slow_rule)
  # shellcheck disable=SC2086
  in_ns "$n" iptables -w -t nat -I "$c" $r
  echo "$ms" >"$DIR/$n/slow"
}

# --- manifests ---------------------------------------------------------------------

write_manifest() {
  local n=$1 d="$DIR/$1" c="$DIR/certs/client" kv dev
  mkdir -p "$DIR/nodes"
  {
    echo "# Written by hack/lan.sh: node $n of the LAN fleet in $DIR (bridge $BR, $NET.0/24)."
    echo "apiVersion: fog/v1"
    echo "kind: Node"
    echo "metadata:"
    echo "  name: $n"
    if [ -s "$d/labels" ]; then
      echo "  labels:"
      while read -r kv; do echo "    ${kv%%=*}: \"${kv#*=}\""; done <"$d/labels"
    fi
    echo "spec:"
    echo "  endpoint: $(endpoint "$n")"
    echo "  tls: {ca: $c/ca.pem, cert: $c/cert.pem, key: $c/key.pem}"
    echo "  address: $(addr "$n")"
    if [ -s "$d/devices" ]; then
      echo "  devices:"
      while read -r dev; do echo "    - $dev"; done <"$d/devices"
    fi
  } >"$DIR/nodes/$n.yaml.new"
  mv "$DIR/nodes/$n.yaml.new" "$DIR/nodes/$n.yaml"
}

# --- down ----------------------------------------------------------------------------

down_all() {
  local n r
  [ -d "$DIR" ] || return 0
  load_lan || true
  local -a all
  mapfile -t all < <(nodes_in_dir)
  for n in "${all[@]}"; do thaw_node "$n"; done
  if [ -n "$BR" ]; then
    [ ${#all[@]} = 0 ] || kill_nodes "${all[@]}"
    for n in "${all[@]}"; do
      [ -e "$(nsfile "$n")" ] && ip netns del "$(ns "$n")" 2>/dev/null || true
      [ -f "$DIR/$n/hostnum" ] && ip link del "$(veth "$n")" 2>/dev/null || true
    done
    [ ${#all[@]} = 0 ] || rm_cgroups "${all[@]}"
    r=$(fwd_rule)
    # shellcheck disable=SC2086
    while iptables -w -C $r 2>/dev/null; do iptables -w -D $r; done
    if [ -f "$DIR/links" ] && ip link show "$BR" >/dev/null 2>&1; then ip link del "$BR"; fi
  fi
  remove_dir
}

# The nodes' cgroup dirs (empty once their processes are gone), children first.
rm_cgroups() {
  local n d pats=()
  for n in "$@"; do pats+=(-o -name "$(cgparent "$n")"); done
  find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d \( "${pats[@]:1}" \) -print0 2>/dev/null \
    | while IFS= read -r -d '' d; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
}

# --- commands ---------------------------------------------------------------------

cmd=${1:-}
case $cmd in -h | --help | help) usage_header; exit 0 ;; esac
[ -n "$cmd" ] || die "usage: $0 up|partition|heal|powercut|start|stop|freeze|thaw|slow|down|status|env [--dir DIR] ..."
shift
parse_args bridge subnet -- "$@"
DIR=${DIR%/}
case $cmd in up | down | status | env) ;; *) [ "$(id -u)" = 0 ] || die "$cmd: needs root" ;; esac

case $cmd in
  up)
    [ ${#args[@]} -gt 0 ] || die "up: name at least one NODE[:k=v,...][:dev=/path,...]"
    [ "$(id -u)" = 0 ] || die "up: needs root"
    ensure_tools
    init_lan
    # The image tar as hack/fleet.sh builds it (seconds: hundreds of links),
    # in a dir of its own where it finds no nodes, while the engines start.
    img_pid=
    if [ $with_image = 1 ] && [ ! -s "$DIR/image.tar" ]; then
      rm -rf "$DIR/img"
      mkdir -p "$DIR/img"
      bash "$HERE/fleet.sh" image --dir "$DIR/img" >&2 &
      img_pid=$!
      trap '[ -z "$img_pid" ] || kill "$img_pid" 2>/dev/null || true' EXIT
    fi
    names=()
    for spec in "${args[@]}"; do names+=("$(parse_spec "$spec")"); done
    for n in "${names[@]}"; do alloc_hostnum "$n"; done
    bridge_up
    make_ca
    # Per node in parallel: each step is many short commands.
    pids=()
    for n in "${names[@]}"; do (node_net_up "$n" && make_server_cert "$n" && write_flags "$n") & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || die "could not set up the network or certificates of a node"; done
    start_nodes "${names[@]}"
    if [ $with_image = 1 ]; then
      if [ -n "$img_pid" ]; then
        wait "$img_pid" || die "could not build the $IMAGE tar"
        img_pid=
        mv "$DIR/img/image.tar" "$DIR/image.tar"
        rm -rf "$DIR/img"
      fi
      pids=()
      for n in "${names[@]}"; do bash "$HERE/fleet.sh" image --dir "$DIR" "$n" >&2 & pids+=($!); done
      for p in "${pids[@]}"; do wait "$p" || die "could not load $IMAGE"; done
    fi
    for n in "${names[@]}"; do write_manifest "$n"; done
    for n in "${names[@]}"; do echo "$n $(endpoint "$n") unix://$(sock "$n")"; done
    ;;
  partition)
    need_lan
    for n in "${args[@]}"; do known "$n"; touch "$DIR/$n/partitioned"; sync_cut "$n"; done
    ;;
  heal)
    need_lan
    for n in "${args[@]}"; do known "$n"; rm -f "$DIR/$n/partitioned"; sync_cut "$n"; done
    ;;
  powercut)
    need_lan
    for n in "${args[@]}"; do known "$n"; touch "$DIR/$n/powercut"; sync_cut "$n"; done
    for n in "${args[@]}"; do stop_slow "$n"; kill_node "$n"; done
    ;;
  start) need_lan; start_nodes "${args[@]}" ;;
  stop)
    need_lan
    for n in "${args[@]}"; do known "$n"; signal_stop "$n"; done
    for n in "${args[@]}"; do wait_stopped "$n"; say "$n stopped"; done
    ;;
  freeze)
    need_lan
    for n in "${args[@]}"; do known "$n"; alive "$n" || die "$n is not running"; freeze_node "$n"; done
    ;;
  thaw) need_lan; for n in "${args[@]}"; do known "$n"; thaw_node "$n"; done ;;
  slow)
    need_lan
    [ ${#args[@]} = 2 ] || die "usage: $0 slow [--dir DIR] NODE MS"
    known "${args[0]}"
    slow_node "${args[0]}" "${args[1]}"
    ;;
  down) [ "$(id -u)" = 0 ] || die "down: needs root"; down_all ;;
  status)
    load_lan || exit 0
    for n in $(nodes_in_dir); do
      if frozen "$n"; then s=frozen; elif alive "$n" && pings "$n"; then s=up; elif alive "$n"; then s=unresponsive; else s=down; fi
      extra=
      [ -f "$DIR/$n/partitioned" ] && extra+=" partitioned"
      [ -f "$DIR/$n/powercut" ] && extra+=" powercut"
      [ -f "$DIR/$n/slow" ] && extra+=" slow=$(cat "$DIR/$n/slow")"
      echo "$n $(addr "$n") $s$extra $(endpoint "$n") unix://$(sock "$n")"
    done
    ;;
  env)
    need_lan
    [ ${#args[@]} = 1 ] || die "usage: $0 env [--dir DIR] NODE"
    known "${args[0]}"
    echo "export DOCKER_HOST=$(endpoint "${args[0]}") DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$DIR/certs/client"
    ;;
  *) die "unknown command '$cmd'" ;;
esac

#!/usr/bin/env bash
# Test hosts for ezctl's SSH remote mode, made on this one machine: one Linux network namespace per
# "host" (its own address on a private bridge, its own loopback) with a private sshd in it. Only the
# network is separate — files and pids are shared with the machine — so each host gets its own dir.
#
#   scripts/test-hosts.sh up --dir DIR [--count N] [--prefix ezh] [--subnet 10.231.0]
#       bridge <prefix>br0 at <subnet>.1/24, namespaces <prefix>1..N at <subnet>.11, .12, …, a client
#       key DIR/id_ed25519, DIR/known_hosts, one sshd per host on port 22; writes DIR/hosts.json
#   scripts/test-hosts.sh down --dir DIR          # what `up --dir DIR` made (safe to run twice)
#   scripts/test-hosts.sh down --prefix ezh [--count N]   # everything named <prefix><n>, without a dir
#   scripts/test-hosts.sh check                   # what this machine lacks (exit 1 if anything)
#
# Needs root, iproute2 (`ip`) and openssh-server (`apt-get install openssh-server`; scripts/setup.sh
# installs it). Never reads /etc/ssh/sshd_config, never touches ~/.ssh; processes are stopped by pid.
set -euo pipefail

SELF=scripts/test-hosts.sh
SSHD=/usr/sbin/sshd

say() { printf 'test-hosts: %s\n' "$*"; }
warn() { printf 'test-hosts: %s\n' "$*" >&2; }
die() {
  printf 'test-hosts: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- checks -----------------------------------------------------------------------------------
# One line per thing missing; nothing printed when the machine can run test hosts.
missing_list() {
  [ "$(id -u)" -eq 0 ] || echo "not root: network namespaces and bridges need root (run as root)"
  if ! command -v ip >/dev/null; then
    echo "no ip command: apt-get install iproute2"
  elif ! ip netns list >/dev/null 2>&1; then
    echo "ip netns does not work here (no network namespace support?)"
  fi
  [ -x "$SSHD" ] || echo "no sshd ($SSHD): apt-get install openssh-server"
  command -v ssh >/dev/null || echo "no ssh client: apt-get install openssh-client"
  command -v ssh-keygen >/dev/null || echo "no ssh-keygen: apt-get install openssh-client"
  return 0
}

cmd_check() {
  local missing
  missing=$(missing_list)
  if [ -n "$missing" ]; then
    printf '%s\n' "$missing"
    exit 1
  fi
  echo "ok: root, ip netns, sshd, ssh and ssh-keygen are available"
}

# --- helpers ----------------------------------------------------------------------------------
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$1"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
# Running, not a zombie (this machine's init reaps orphans only about once a second).
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

# Namespaces named <prefix><digits>.
prefix_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1[0-9]+\$" || true
}

# True once none of the pids runs, polling every 0.1 s for up to 3 s.
gone_within_3s() {
  local p i left
  for ((i = 0; i < 30; i++)); do
    left=0
    for p in "$@"; do alive "$p" && left=1; done
    [ $left -eq 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# TERM each pid, wait up to 3 s, then KILL what is left and wait for it to go.
kill_pids() {
  local pids=() p
  for p in "$@"; do [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ne $$ ] && alive "$p" && pids+=("$p"); done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  gone_within_3s "${pids[@]}" && return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  gone_within_3s "${pids[@]}" && return 0
  warn "pid(s) still running after SIGKILL: ${pids[*]}"
}

# An sshd pid is ours only if its command line names our config (never a recycled pid).
ours() {
  local pid=$1 cfg=$2
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$cfg"
}

# --- down -------------------------------------------------------------------------------------
# Tear down by name: hosts NAMES (namespace = name), bridge BR, files under DIR (may be empty).
teardown() {
  local dir=$1 bridge=$2
  shift 2
  local name pid
  for name in "$@"; do
    # the host's sshd, by the pid recorded for it (hosts.json, the pid file, the launch record)
    if [ -n "$dir" ]; then
      for pid in $(hosts_json_pid "$dir" "$name") $(cat "$dir/$name/sshd.pid" "$dir/$name/sshd.launch-pid" 2>/dev/null || true); do
        if ours "$pid" "$dir/$name/sshd_config"; then kill_pids "$pid"; fi
      done
    fi
    # then anything else still running in the namespace (sessions, processes started over ssh)
    if ns_exists "$name"; then
      # shellcheck disable=SC2046
      kill_pids $(ip netns pids "$name" 2>/dev/null || true)
    fi
    # the veth before its namespace
    if link_exists "v-$name"; then ip link del "v-$name" 2>/dev/null || true; fi
    if ns_exists "$name"; then
      if ip netns del "$name" 2>/dev/null; then removed+=("$name"); else warn "could not delete namespace $name"; fi
    fi
  done
  if [ -n "$bridge" ] && link_exists "$bridge"; then
    if ip link del "$bridge" 2>/dev/null; then removed+=("$bridge"); else warn "could not delete bridge $bridge"; fi
  fi
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    for name in "$@"; do
      # only a host dir this script made (it holds our sshd config or our launch record)
      if [ -d "$dir/$name" ] && { [ -e "$dir/$name/sshd_config" ] || [ -e "$dir/$name/.test-host" ]; }; then
        rm -rf -- "${dir:?}/$name"
      fi
    done
    rm -f -- "$dir/id_ed25519" "$dir/id_ed25519.pub" "$dir/known_hosts" "$dir/hosts.json" "$dir/test-hosts.state"
    rmdir -- "$dir" 2>/dev/null || true
  fi
}

# The sshdPid of host NAME in DIR/hosts.json (our own format: one host object per line).
hosts_json_pid() {
  local file=$1/hosts.json
  [ -f "$file" ] || return 0
  grep -F "\"name\":$(json_str "$2")," "$file" | grep -oE '"sshdPid":[0-9]+' | grep -oE '[0-9]+' || true
}

# Host names and bridge recorded in DIR: the state file (written first by `up`) and hosts.json.
state_names() {
  local dir=$1
  if [ -f "$dir/test-hosts.state" ]; then awk '$1 == "host" {print $2}' "$dir/test-hosts.state"; fi
  if [ -f "$dir/hosts.json" ]; then grep -oE '"name":"[^"]*"' "$dir/hosts.json" | cut -d'"' -f4; fi
}
state_bridge() {
  local dir=$1
  if [ -f "$dir/test-hosts.state" ]; then
    awk '$1 == "bridge" {print $2; exit}' "$dir/test-hosts.state"
  elif [ -f "$dir/hosts.json" ]; then
    grep -oE '"bridge":"[^"]*"' "$dir/hosts.json" | head -1 | cut -d'"' -f4
  fi
}

cmd_down() {
  local dir="" prefix="" count=0
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) dir=${2:?--dir needs a value}; shift 2 ;;
      --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
      --count) count=${2:?--count needs a value}; shift 2 ;;
      *) die "down: unknown argument $1 (usage: $SELF down --dir DIR | --prefix P [--count N])" ;;
    esac
  done
  [ -n "$dir$prefix" ] || die "down: give --dir DIR (what up --dir DIR made) or --prefix P"
  [ "$(id -u)" -eq 0 ] || die "down: not root (namespaces and bridges need root)"
  if [ -n "$prefix" ]; then check_prefix "$prefix"; fi
  [[ $count =~ ^[0-9]+$ ]] && [ "$count" -le 99 ] || die "down: bad --count '$count': 0-99"
  local names=() bridge="" n
  if [ -n "$dir" ]; then
    dir=$(realpath -m -- "$dir")
    bridge=$(state_bridge "$dir")
    while IFS= read -r n; do [ -n "$n" ] && names+=("$n"); done < <(state_names "$dir" | awk '!seen[$0]++')
  fi
  if [ -n "$prefix" ]; then
    [ -n "$bridge" ] || bridge="${prefix}br0"
    while IFS= read -r n; do [ -n "$n" ] && names+=("$n"); done < <(prefix_namespaces "$prefix")
    # --count N: also <prefix>1..N by name (their veths, even without a namespace)
    for ((n = 1; n <= count; n++)); do names+=("$prefix$n"); done
    # veths left without their namespace
    while IFS= read -r n; do [ -n "$n" ] && names+=("${n#v-}"); done < <(
      ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^v-$prefix[0-9]+\$" || true
    )
    if [ "$bridge" != "${prefix}br0" ] && link_exists "${prefix}br0"; then ip link del "${prefix}br0" 2>/dev/null || true; fi
  fi
  # each name once
  local uniq=()
  while IFS= read -r n; do [ -n "$n" ] && uniq+=("$n"); done < <(printf '%s\n' "${names[@]+"${names[@]}"}" | awk 'NF && !seen[$0]++')
  local removed=()
  teardown "$dir" "$bridge" "${uniq[@]+"${uniq[@]}"}"
  # what is still there is a failure; what was already gone is not
  local left=()
  for n in "${uniq[@]+"${uniq[@]}"}"; do ns_exists "$n" && left+=("namespace $n"); done
  if [ -n "$bridge" ] && link_exists "$bridge"; then left+=("bridge $bridge"); fi
  [ ${#left[@]} -eq 0 ] || die "down: still present: ${left[*]}"
  if [ ${#removed[@]} -gt 0 ]; then say "down: removed ${removed[*]}"; else say "down: nothing left to remove"; fi
}

# --- up ---------------------------------------------------------------------------------------
check_prefix() {
  # letters first and last: <prefix><n> never matches another prefix's names; short: <prefix>br0
  # and v-<prefix><n> must fit Linux's 15-character interface names
  [[ $1 =~ ^[a-z]([a-z0-9]{0,6}[a-z])?$ ]] ||
    die "bad --prefix '$1': 1-8 lowercase letters/digits, starting and ending with a letter (e.g. ezh)"
}

UP_DIR=""
up_failed() {
  warn "up failed: removing what it made"
  cmd_down --dir "$UP_DIR" >/dev/null 2>&1 || true
}

cmd_up() {
  local dir="" count=2 prefix=ezh subnet=10.231.0
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) dir=${2:?--dir needs a value}; shift 2 ;;
      --count) count=${2:?--count needs a value}; shift 2 ;;
      --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
      --subnet) subnet=${2:?--subnet needs a value}; shift 2 ;;
      *) die "up: unknown argument $1 (usage: $SELF up --dir DIR [--count N] [--prefix ezh] [--subnet 10.231.0])" ;;
    esac
  done
  [ -n "$dir" ] || die "up: --dir DIR is required (keys, configs and hosts.json go there)"
  [[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 99 ] || die "bad --count '$count': 1-99"
  check_prefix "$prefix"
  [[ $subnet =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] &&
    [ "${BASH_REMATCH[1]}" -le 255 ] && [ "${BASH_REMATCH[2]}" -le 255 ] && [ "${BASH_REMATCH[3]}" -le 255 ] ||
    die "bad --subnet '$subnet': the first three octets of a /24, e.g. 10.231.0"
  local missing
  missing=$(missing_list)
  [ -z "$missing" ] || die "up: cannot make test hosts here: $(printf '%s' "$missing" | paste -sd ';' | sed 's/;/; /g')"
  dir=$(realpath -m -- "$dir")
  [[ $dir != *[[:space:]\"\\\']* ]] || die "up: --dir '$dir' holds a space, a quote or a backslash (the configs name it unquoted)"

  local bridge="${prefix}br0" i name
  # refuse, without touching anything, when something of that name is already there
  if link_exists "$bridge"; then
    die "up: bridge $bridge already exists: remove it with '$SELF down --dir DIR' (the dir it was made with) or '$SELF down --prefix $prefix'"
  fi
  local existing
  existing=$(prefix_namespaces "$prefix" | paste -sd ' ')
  if [ -n "$existing" ]; then
    die "up: namespace(s) $existing already exist: remove them with '$SELF down --dir DIR' or '$SELF down --prefix $prefix'"
  fi
  for ((i = 1; i <= count; i++)); do
    if link_exists "v-$prefix$i"; then
      die "up: interface v-$prefix$i already exists: remove it with '$SELF down --prefix $prefix'"
    fi
  done
  local taken
  taken=$(ip -4 -o addr show 2>/dev/null | awk -v s="$subnet." 'index($4, s) == 1 {print $2 " " $4}' | head -1)
  if [ -n "$taken" ]; then
    die "up: subnet $subnet.0/24 is already in use ($taken): pick another --subnet"
  fi
  if [ -e "$dir/hosts.json" ] || [ -e "$dir/test-hosts.state" ]; then
    die "up: $dir already holds test hosts: remove them with '$SELF down --dir $dir'"
  fi

  mkdir -p -- "$dir"
  # recorded first, so `down --dir` finds whatever a failed `up` left half made
  {
    echo "bridge $bridge"
    echo "prefix $prefix"
    for ((i = 1; i <= count; i++)); do echo "host $prefix$i"; done
  } >"$dir/test-hosts.state"
  # a failed or interrupted `up` removes what it made (globals: the trap runs outside this function)
  UP_DIR=$dir
  trap up_failed EXIT
  trap 'exit 130' INT TERM HUP

  ssh-keygen -q -t ed25519 -N '' -C "ezctl-test-hosts" -f "$dir/id_ed25519" </dev/null >/dev/null
  : >"$dir/known_hosts"

  ip link add name "$bridge" type bridge
  ip addr add "$subnet.1/24" dev "$bridge"
  ip link set "$bridge" up

  mkdir -p -m 755 /run/sshd # sshd's privilege-separation dir (shared by every namespace)
  local addr hd pids=()
  for ((i = 1; i <= count; i++)); do
    name="$prefix$i"
    addr="$subnet.$((10 + i))"
    hd="$dir/$name"
    mkdir -p -- "$hd/work"
    : >"$hd/.test-host"

    ip netns add "$name"
    ip link add "v-$name" type veth peer name "$name-eth"
    ip link set "$name-eth" netns "$name"
    ip link set "v-$name" master "$bridge"
    ip link set "v-$name" up
    ip -n "$name" link set lo up
    ip -n "$name" link set "$name-eth" name eth0
    ip -n "$name" addr add "$addr/24" dev eth0
    ip -n "$name" link set eth0 up
    ip -n "$name" route add default via "$subnet.1"

    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$hd/ssh_host_ed25519_key" </dev/null >/dev/null
    cp "$dir/id_ed25519.pub" "$hd/authorized_keys"
    printf '%s %s\n' "$addr" "$(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
    cat >"$hd/sshd_config" <<EOF
# sshd of test host $name (made by $SELF; /etc/ssh/sshd_config is not read)
Port 22
ListenAddress $addr
HostKey $hd/ssh_host_ed25519_key
PidFile $hd/sshd.pid
AuthorizedKeysFile $hd/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
# multiplexed clients open many sessions at once
MaxSessions 64
MaxStartups 64:30:128
# bash reads ~/.bashrc when sshd starts it at SHLVL < 2; this machine's root .bashrc runs pyenv init
# (~100-150 ms on every command). A test host should behave like a lean server.
SetEnv SHLVL=1
# no AcceptEnv: no client environment is accepted
Subsystem sftp internal-sftp
EOF
    "$SSHD" -t -f "$hd/sshd_config" || die "up: sshd rejects $hd/sshd_config"
    # ip netns exec execs sshd in place: $! is sshd's own pid; setsid keeps it out of our session
    setsid ip netns exec "$name" "$SSHD" -f "$hd/sshd_config" -D -e </dev/null >"$hd/sshd.log" 2>&1 &
    pids+=("$!")
    echo "$!" >"$hd/sshd.launch-pid"
  done

  # ready when a real login works
  local ssh_opts=(-i "$dir/id_ed25519" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$dir/known_hosts"
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=2)
  local err
  for ((i = 1; i <= count; i++)); do
    name="$prefix$i"
    addr="$subnet.$((10 + i))"
    local t
    for ((t = 0; ; t++)); do
      if err=$(ssh "${ssh_opts[@]}" "root@$addr" true 2>&1 </dev/null); then break; fi
      if ! alive "${pids[$((i - 1))]}"; then
        die "up: sshd of $name exited: $(tail -n 3 "$dir/$name/sshd.log" 2>/dev/null | paste -sd ' ')"
      fi
      [ "$t" -lt 100 ] || die "up: ssh root@$addr did not work within 10 s: $err"
      sleep 0.1
    done
  done

  # the real pid, as sshd wrote it (the same as the launch pid: ip netns exec and setsid exec in place)
  local json hpid
  json="{\"prefix\":$(json_str "$prefix"),\"count\":$count,\"bridge\":$(json_str "$bridge"),\"address\":$(json_str "$subnet.1"),\"key\":$(json_str "$dir/id_ed25519"),\"knownHosts\":$(json_str "$dir/known_hosts"),\"hosts\":["
  for ((i = 1; i <= count; i++)); do
    name="$prefix$i"
    hpid=$(cat "$dir/$name/sshd.pid" 2>/dev/null || echo "${pids[$((i - 1))]}")
    [ "$i" -gt 1 ] && json+=","
    json+=$'\n'"{\"name\":$(json_str "$name"),\"netns\":$(json_str "$name"),\"address\":\"$subnet.$((10 + i))\",\"sshPort\":22,\"user\":\"root\",\"dir\":$(json_str "$dir/$name/work"),\"sshdPid\":$hpid}"
  done
  json+=$'\n'"]}"
  printf '%s\n' "$json" >"$dir/hosts.json.tmp"
  mv "$dir/hosts.json.tmp" "$dir/hosts.json"
  trap - EXIT INT TERM HUP
  say "up: $count host(s) ${prefix}1..$count at $subnet.11.. on bridge $bridge ($subnet.1); $dir/hosts.json"
}

# --- main -------------------------------------------------------------------------------------
[ $# -ge 1 ] || usage
sub=$1
shift
case $sub in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  check) cmd_check "$@" ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$sub' (up, down, check; --help)" ;;
esac

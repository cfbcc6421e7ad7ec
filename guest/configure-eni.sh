#!/bin/sh
# eni-failover guest script: make a secondary ENI usable with per-ENI policy routing.
# Read guest/README.md. Inputs (the workflow prepends them as assignments): ENI_MAC, ENI_IPS,
# ENI_PREFIX, ENI_GATEWAY, ENI_PERSIST, ENI_METADATA_URL, ENI_WAIT_SECONDS, ENI_ROOT, ENI_VERIFY_HOOK,
# ENI_HOTPLUG (set by the hot-plug hook of guest/install-hook.sh).
# POSIX sh (dash, bash, busybox ash); needs iproute2, sysctl/procfs, awk, sed, and curl or wget.
# Last line: "eni-failover-result: {json}" (exit 0) or "eni-failover-error: <code> <message>".
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
set -f
umask 022
CHANGES=0

say() { echo "eni-failover: $*"; }
die() { echo "eni-failover-error: $1 $2"; exit "$1"; }
have() { command -v "$1" >/dev/null 2>&1; }
nap() { sleep 0.1 2>/dev/null || sleep 1; }
# Every change goes through run: counted (the result reports it) and fatal when it fails.
run() { CHANGES=$((CHANGES + 1)); say "+ $*"; "$@" || die 20 "apply-failed: $*"; }

is_ip() {
  case $1 in '' | *[!0-9.]* | .* | *. | *..*) return 1 ;; esac
  _o=$IFS; IFS=.; set -- $1; IFS=$_o
  [ $# -eq 4 ] || return 1
  for _x; do
    case $_x in 0?* | ????*) return 1 ;; esac # no leading zeros: "010" is octal to some tools
    [ "$_x" -le 255 ] || return 1
  done
}
is_uint() { case $1 in '' | *[!0-9]* | ????*) return 1 ;; esac; }
ip2int() { _o=$IFS; IFS=.; set -- $1; IFS=$_o; echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4)); }
int2ip() { echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }
mask_of() { echo $(((0xffffffff << (32 - $1)) & 0xffffffff)); }
mask2prefix() {
  is_ip "$1" || return 1
  _m=$(ip2int "$1"); _p=0
  while [ $_p -lt 32 ] && [ $(((_m >> (31 - _p)) & 1)) -eq 1 ]; do _p=$((_p + 1)); done
  [ "$_m" -eq "$(mask_of $_p)" ] && [ $_p -gt 0 ] && echo $_p
}
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- 1. Validate every input (the workflow validated them too; this script trusts nobody). ----
H='[0-9a-f][0-9a-f]'
MAC=$(printf '%s' "${ENI_MAC:-}" | tr 'A-F' 'a-f')
case $MAC in $H:$H:$H:$H:$H:$H) ;; *) die 2 "bad-input: ENI_MAC must look like 00:16:3e:12:34:56" ;; esac
IN_IPS=
_o=$IFS; IFS=,
for _ip in ${ENI_IPS:-}; do
  IFS=$_o
  is_ip "$_ip" || die 2 "bad-input: ENI_IPS must be comma-separated IPv4 addresses, got '$_ip'"
  in_list "$_ip" "$IN_IPS" || IN_IPS="$IN_IPS $_ip"
done
IFS=$_o
IN_PREFIX=${ENI_PREFIX:-}
if [ -n "$IN_PREFIX" ]; then
  is_uint "$IN_PREFIX" && [ "$IN_PREFIX" -ge 1 ] && [ "$IN_PREFIX" -le 32 ] ||
    die 2 "bad-input: ENI_PREFIX must be 1..32"
fi
IN_GW=${ENI_GATEWAY:-}
[ -z "$IN_GW" ] || is_ip "$IN_GW" || die 2 "bad-input: ENI_GATEWAY must be an IPv4 address"
PERSIST=${ENI_PERSIST:-0}
case $PERSIST in 0 | 1) ;; *) die 2 "bad-input: ENI_PERSIST must be 0 or 1" ;; esac
WAIT=${ENI_WAIT_SECONDS:-30}
is_uint "$WAIT" && [ "$WAIT" -le 600 ] || die 2 "bad-input: ENI_WAIT_SECONDS must be 0..600"
MD=${ENI_METADATA_URL:-http://100.100.100.200}
case $MD in http://?*) ;; *) die 2 "bad-input: ENI_METADATA_URL must start with http://" ;; esac
case $MD in *[!A-Za-z0-9.:/_-]*) die 2 "bad-input: ENI_METADATA_URL has characters outside [A-Za-z0-9.:/_-]" ;; esac
MD=${MD%/}
R=${ENI_ROOT:-/}
case $R in /*) ;; *) die 2 "bad-input: ENI_ROOT must be an absolute path" ;; esac
case $R in *[!A-Za-z0-9._/-]* | *..*) die 2 "bad-input: ENI_ROOT has unsupported characters" ;; esac
R=${R%/}
HOOK=${ENI_VERIFY_HOOK:-}
case $HOOK in *[!0-9a-f]*) die 2 "bad-input: ENI_VERIFY_HOOK must be 12 hex digits" ;; esac
[ -z "$HOOK" ] || [ ${#HOOK} -eq 12 ] || die 2 "bad-input: ENI_VERIFY_HOOK must be 12 hex digits"
have ip || die 14 "missing-tool: ip (iproute2) is required"

# ---- 2. Where would the configuration persist? Decided before any change (exit 13 changes nothing). ----
FLAVOUR=none
if [ "$PERSIST" = 1 ]; then
  osr() { sed -n "s/^$1=//p" "$R/etc/os-release" 2>/dev/null | head -n 1 | tr -d "\"'"; }
  OS_ID=$(osr ID); OS_VER=$(osr VERSION_ID); OS_MAJOR=${OS_VER%%.*}
  is_uint "$OS_MAJOR" || OS_MAJOR=0
  case $OS_ID in
  ubuntu) [ "$OS_MAJOR" -ge 18 ] && FLAVOUR=netplan ;;
  debian)
    if [ "$OS_MAJOR" -ge 10 ] && [ -d "$R/etc/netplan" ]; then FLAVOUR=netplan
    elif [ "$OS_MAJOR" -ge 10 ] && [ -e "$R/etc/systemd/system/multi-user.target.wants/systemd-networkd.service" ]; then FLAVOUR=networkd
    fi ;;
  alinux | aliyun) case $OS_MAJOR in 2) FLAVOUR=networkd ;; 3) FLAVOUR=networkmanager ;; esac ;;
  centos | rhel | anolis | rocky | almalinux | ol)
    if [ "$OS_MAJOR" -eq 7 ]; then FLAVOUR=ifcfg; elif [ "$OS_MAJOR" -ge 8 ]; then FLAVOUR=networkmanager; fi ;;
  esac
  [ "$FLAVOUR" != none ] ||
    die 13 "unsupported-os: cannot persist on '${OS_ID:-unknown} ${OS_VER}' (see $R/etc/os-release); run with ENI_PERSIST=0"
fi

# ---- 3. Remove rules this script left behind for ENIs that moved away (always, even if the MAC is absent). ----
# Our rules are "from <ip> lookup <t>" (+ "proto static" when a network manager restored them at boot) with
# priority == table in 1001..32765. A rule is stale when its
# table is empty (the kernel flushed it when the device left), its IP is no longer on this host, or the IP
# now sits on a device whose table is a different one (re-plugged with a new ifindex).
our_rules() {
  ip -4 rule show | sed -n 's/^\([0-9][0-9]*\):[[:space:]]*from \([0-9.][0-9.]*\) lookup \([0-9][0-9]*\)\( proto [a-z0-9]*\)\{0,1\}[[:space:]]*$/\1 \2 \3/p' |
    awk '$1 == $3 && $1 >= 1001 && $1 <= 32765'
}
ip_dev() { ip -4 -o addr show | awk -v a="$1" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }'; }
STALE=$(our_rules)
_o=$IFS; IFS='
'
for _r in $STALE; do
  IFS=$_o; set -- $_r
  _why=
  if [ -z "$(ip -4 route show table "$3" 2>/dev/null)" ]; then _why="table $3 is empty (device gone)"
  else
    _d=$(ip_dev "$2")
    if [ -z "$_d" ]; then _why="$2 is no longer on this host"
    elif [ "$((1000 + $(cat "/sys/class/net/$_d/ifindex" 2>/dev/null || echo 0)))" -ne "$3" ]; then _why="$2 is now on $_d"
    fi
  fi
  [ -z "$_why" ] || { say "stale rule: $_why"; run ip -4 rule del priority "$1" from "$2" lookup "$3"; }
done
IFS=$_o

# ---- 4. Find the device by MAC, waiting (bounded) for hot-plug: "InUse" in the API precedes the link. ----
# The kernel names a new NIC (eth1) and udev may rename it (ens5) a moment later: a name counts once udev has
# settled and two looks agree, and the device is looked up again by MAC and ifindex after each wait below.
find_dev() { # sets DEV and IFX, read together: the MAC read again after the ifindex proves the name held
  set +f
  for _f in /sys/class/net/*/address; do
    { read -r _a <"$_f" && read -r _x <"${_f%address}ifindex" && read -r _b <"$_f"; } 2>/dev/null || continue
    [ "$_a" = "$MAC" ] && [ "$_b" = "$MAC" ] || continue
    _d=${_f%/address}; _d=${_d##*/}
    # A bridge, bond or VLAN on top of the NIC can share its MAC; the ENI is the plain device.
    [ -e "/sys/class/net/$_d/bridge" ] || [ -e "/sys/class/net/$_d/bonding" ] || [ -e "/proc/net/vlan/$_d" ] && continue
    set -f
    case $_d in *[!A-Za-z0-9_.@-]*) die 20 "apply-failed: unsupported device name '$_d'" ;; esac
    case $_x in '' | *[!0-9]*) die 20 "apply-failed: unreadable ifindex '$_x' of $_d" ;; esac
    DEV=$_d IFX=$_x; return 0
  done
  set -f; return 1
}
# The same device (ifindex) under its current name; exit $1 ($2) when it is gone.
refind() {
  _pd=$DEV _px=$IFX _k=0
  until find_dev && [ "$IFX" = "$_px" ]; do # a look in the middle of a rename can miss it: look again
    _k=$((_k + 1)); [ $_k -lt 5 ] || die "$1" "$2: the device with MAC $MAC ($_pd, ifindex $_px) left during the run; rerun"
    nap
  done
  [ "$DEV" = "$_pd" ] || say "device $_pd is now $DEV (renamed, ifindex $IFX)"
}
DEV= IFX= _seen= _n=0 _w=
_end=$(($(date +%s) + WAIT))
[ "$WAIT" -eq 0 ] || _end=$((_end + 1)) # whole seconds: wait at least WAIT, at most WAIT+1
while :; do
  if find_dev; then
    [ "$DEV $IFX" != "$_seen" ] || break
    # Under the hot-plug hook udev has named the device already (RUN comes after NAME), and a settle
    # there would wait for the very event that started the hook.
    [ -n "$_seen" ] || [ "${ENI_HOTPLUG:-0}" = 1 ] || ! have udevadm || udevadm settle -t 2 >/dev/null 2>&1
    # Renamed over and over: go on with the latest name; refind follows later renames.
    _n=$((_n + 1)); [ $_n -lt 20 ] || break
    _seen="$DEV $IFX"
  else
    [ "$(date +%s)" -lt "$_end" ] || die 10 "mac-not-found: no network device has MAC $MAC after ${WAIT}s"
    [ -n "$_w" ] || say "waiting up to ${WAIT}s for a device with MAC $MAC"
    _seen= _w=1
  fi
  nap
done
say "device $DEV (ifindex $IFX) has MAC $MAC"

# ---- 4b. A prepared standby: the hot-plug hook may have configured this NIC already; verify, do not redo. ----
HOOK_WHY=
if [ -n "$HOOK" ]; then
  _sf=$R/var/lib/eni-failover/$(echo "$MAC" | tr -d :).state
  # The hook starts when the NIC appears; this command can arrive while it runs: wait for its verdict (10 s).
  _k=0
  while [ $_k -lt 100 ] && grep -qx state=running "$_sf" 2>/dev/null; do _k=$((_k + 1)); nap; done
  _l=$(sed -n 's/^result=//p' "$_sf" 2>/dev/null)
  hv() { printf '%s\n' "$_l" | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p"; }
  if [ ! -f "$_sf" ]; then HOOK_WHY=no-record
  elif grep -qx state=running "$_sf"; then HOOK_WHY=still-running
  elif ! grep -qx exit=0 "$_sf" || [ -z "$_l" ]; then HOOK_WHY=hook-failed
  else
    # The record is believed only as far as the live state agrees: this device (name and ifindex), every
    # IP on it with its source rule, and the table's default route.
    _t=$(hv table)
    [ "$(hv device)" = "$DEV" ] && [ "$_t" = $((1000 + IFX)) ] || HOOK_WHY=stale
    _a=" $(ip -4 -o addr show dev "$DEV" | awk '{ sub("/.*", "", $4); printf "%s ", $4 }')"
    _r=$(our_rules)
    for _ip in $IN_IPS $(printf '%s\n' "$_l" | sed -n 's/.*"ips":\[\([^]]*\)\].*/\1/p' | tr '",' '  '); do
      in_list "$_ip" "$_a" && printf '%s\n' "$_r" | grep -qx "$_t $_ip $_t" || HOOK_WHY=stale
    done
    ip -4 route show table "$_t" 2>/dev/null | grep -q "^default via $(hv gateway) dev $DEV " || HOOK_WHY=stale
    if [ -z "$HOOK_WHY" ]; then
      say "verified: the hot-plug hook (version $(sed -n 's/^version=//p' "$_sf")) configured $DEV at $(sed -n 's/^at=//p' "$_sf")"
      echo "eni-failover-result: ${_l%\}},\"by\":\"hook\"}"
      exit 0
    fi
  fi
  say "hot-plug hook: $HOOK_WHY; configuring now"
fi

# ---- 5. Metadata (token mode first, then without), the workflow's values as the fallback. ----
TOKEN=
http() { # method path [header]
  if have curl; then curl -fsS --connect-timeout 2 --max-time 5 -X "$1" ${3:+-H} ${3:+"$3"} "$MD$2"
  elif have wget; then
    if [ "$1" = PUT ]; then wget -q -T 5 -t 1 -O - --method=PUT ${3:+"--header=$3"} "$MD$2"
    else wget -q -T 5 -t 1 -O - ${3:+"--header=$3"} "$MD$2"; fi
  else return 1; fi
}
md() { http GET "$1" ${TOKEN:+"X-aliyun-ecs-metadata-token: $TOKEN"} 2>/dev/null; }
TOKEN=$(http PUT /latest/api/token "X-aliyun-ecs-metadata-token-ttl-seconds: 300" 2>/dev/null) || TOKEN=
case $TOKEN in *[!A-Za-z0-9._=+/-]*) TOKEN= ;; esac
M_STATE=unreachable M_IPS= M_PRIMARY= M_PREFIX= M_GW=
if _macs=$(md /latest/meta-data/network/interfaces/macs/); then
  M_STATE="has no entry for $MAC"
  [ "$(md /latest/meta-data/mac | tr 'A-F' 'a-f')" != "$MAC" ] ||
    die 2 "bad-input: $MAC is the instance's primary NIC; this script configures secondary ENIs only"
  # shellcheck disable=SC2086
  if in_list "$MAC" "$(echo $_macs | tr 'A-F/' 'a-f ')"; then
    M_STATE=ok
    _b=/latest/meta-data/network/interfaces/macs/$MAC
    _v=$(md "$_b/gateway") && is_ip "$_v" && M_GW=$_v
    _v=$(md "$_b/vswitch-cidr-block") && case $_v in */*) is_ip "${_v%/*}" && is_uint "${_v#*/}" &&
      [ "${_v#*/}" -ge 1 ] && [ "${_v#*/}" -le 32 ] && M_PREFIX=${_v#*/} ;; esac
    [ -n "$M_PREFIX" ] || { _v=$(md "$_b/netmask") && M_PREFIX=$(mask2prefix "$_v"); }
    _v=$(md "$_b/primary-ip-address") && is_ip "$_v" && M_PRIMARY=$_v
    # private-ipv4s is a JSON array on Alibaba; accept any separator.
    for _ip in $(md "$_b/private-ipv4s" | tr -c '0-9.' ' '); do is_ip "$_ip" && M_IPS="$M_IPS $_ip"; done
  fi
fi
say "metadata at $MD: $M_STATE${TOKEN:+ (token mode)}"
refind 10 mac-not-found
PREFIX=${M_PREFIX:-$IN_PREFIX}
GW=${M_GW:-$IN_GW}
[ -z "$M_PREFIX" ] || [ -z "$IN_PREFIX" ] || [ "$M_PREFIX" = "$IN_PREFIX" ] || say "warning: metadata prefix /$M_PREFIX differs from ENI_PREFIX /$IN_PREFIX; using metadata"
[ -z "$M_GW" ] || [ -z "$IN_GW" ] || [ "$M_GW" = "$IN_GW" ] || say "warning: metadata gateway $M_GW differs from ENI_GATEWAY $IN_GW; using metadata"
# Every private IP must answer: the union of what the API told the workflow and what metadata lists
# (metadata lags behind the API after changes), the primary first.
IPS=
for _ip in $IN_IPS $M_PRIMARY $M_IPS; do in_list "$_ip" "$IPS" || IPS="$IPS $_ip"; done
IPS=${IPS# }
_need=
[ -n "$IPS" ] || _need="$_need ENI_IPS"
[ -n "$PREFIX" ] || _need="$_need ENI_PREFIX"
[ -n "$GW" ] || _need="$_need ENI_GATEWAY"
[ -z "$_need" ] || die 11 "metadata-unreachable-no-fallback: metadata at $MD $M_STATE and no fallback for:$_need"
PRIMARY=${IPS%% *}
# Never reconfigure the NIC the instance reaches the world through: the only device with a main default route
# (a DHCP client may have put one on the ENI too; that one goes in step 7), or the holder of an IP we would take.
DEFDEVS=$(ip -4 route show table main default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }')
[ "$(echo $DEFDEVS)" != "$DEV" ] || die 2 "bad-input: $DEV carries the only default route of the main table; it is the primary NIC, not a secondary ENI"
for _ip in $IPS; do
  _d=$(ip_dev "$_ip")
  [ -z "$_d" ] || [ "$_d" = "$DEV" ] || ! in_list "$_d" "$(echo $DEFDEVS)" || die 2 "bad-input: $_ip is on the primary NIC $_d"
done

# ---- 6. Derive the subnet, table and priority. ----
MASK=$(mask_of "$PREFIX")
NETI=$(($(ip2int "$PRIMARY") & MASK))
CIDR=$(int2ip $NETI)/$PREFIX
for _ip in $IPS; do
  [ $(($(ip2int "$_ip") & MASK)) -eq $NETI ] || die 2 "bad-input: $_ip is outside the ENI subnet $CIDR"
done
[ $(($(ip2int "$GW") & MASK)) -eq $NETI ] || die 12 "gateway-unreachable: gateway $GW is outside the ENI subnet $CIDR"
in_list "$GW" "$IPS" && die 2 "bad-input: gateway $GW is one of the ENI's own IPs"
# Table = priority = 1000 + ifindex: unique per host for any device name (eth1, ens5, ...), like Terway.
TABLE=$((1000 + IFX))
[ "$TABLE" -le 32765 ] || die 20 "apply-failed: ifindex $IFX too large for a rule priority below main (32766)"

# ---- 7. Link, sysctls, addresses. ----
# Effective rp_filter is max(all, dev); 2 (loose) on the device is therefore loose whatever 'all' says (0..2).
setsys() {
  _f=/proc/sys/net/ipv4/conf/$DEV/$1
  [ "$(cat "$_f" 2>/dev/null)" = "$2" ] && return 0
  CHANGES=$((CHANGES + 1)); say "+ net.ipv4.conf.$DEV.$1=$2"
  { echo "$2" >"$_f"; } 2>/dev/null || sysctl -q -w "net.ipv4.conf.$DEV.$1=$2" >/dev/null || die 20 "apply-failed: set $1 on $DEV"
}
setsys rp_filter 2
# Removing a primary address must not take the secondaries (wanted IPs) with it.
setsys promote_secondaries 1
case $(ip -o link show dev "$DEV") in *"<UP,"* | *",UP,"* | *",UP>"*) ;; *) run ip link set dev "$DEV" up ;; esac
CUR=$(ip -4 -o addr show dev "$DEV" | awk '{ print $4 }')
for _a in $CUR; do in_list "${_a%/*}" "$IPS" && [ "${_a#*/}" = "$PREFIX" ] || run ip addr del "$_a" dev "$DEV"; done
for _ip in $IPS; do
  in_list "$_ip/$PREFIX" "$(echo $CUR)" && continue
  # noprefixroute: the kernel would add the ENI subnet to the main table at metric 0, beside the primary NIC.
  CHANGES=$((CHANGES + 1)); say "+ ip addr add $_ip/$PREFIX dev $DEV noprefixroute"
  ip addr add "$_ip/$PREFIX" dev "$DEV" noprefixroute 2>/dev/null || run ip addr add "$_ip/$PREFIX" dev "$DEV"
done
# The main table keeps no route through the ENI (a DHCP client or an old kernel may have added some);
# the primary NIC's routes, its default route above all, are never touched.
_o=$IFS; IFS='
'
for _l in $(ip -4 route show table main dev "$DEV"); do
  IFS=$_o; set -- $_l; _dst=$1; _met=
  while [ $# -gt 1 ]; do [ "$1" = metric ] && _met=$2; shift; done
  run ip -4 route del "$_dst" dev "$DEV" table main ${_met:+metric} $_met
done
IFS=$_o

# ---- 8. The per-ENI table: the subnet and a default route via the vSwitch gateway. ----
_t=$(ip -4 route show table "$TABLE" 2>/dev/null)
_n=$(printf '%s\n' "$_t" | grep -c .)
if [ "$_n" -ne 2 ] || ! printf '%s\n' "$_t" | grep -q "^default via $GW dev $DEV " ||
  ! printf '%s\n' "$_t" | grep "^$CIDR dev $DEV " | grep -q " src $PRIMARY"; then
  [ "$_n" -eq 0 ] || run ip -4 route flush table "$TABLE"
  run ip -4 route add "$CIDR" dev "$DEV" proto static scope link src "$PRIMARY" table "$TABLE"
  # onlink only for old kernels that validate the next hop against the main table alone.
  CHANGES=$((CHANGES + 1)); say "+ ip -4 route add default via $GW dev $DEV table $TABLE"
  ip -4 route add default via "$GW" dev "$DEV" proto static table "$TABLE" 2>/dev/null ||
    run ip -4 route add default via "$GW" dev "$DEV" proto static onlink table "$TABLE"
fi

# ---- 9. One source rule per IP, so replies leave by the ENI they arrived on. ----
RULES=$(our_rules)
for _ip in $IPS; do
  printf '%s\n' "$RULES" | grep -qx "$TABLE $_ip $TABLE" ||
    run ip -4 rule add from "$_ip" lookup "$TABLE" priority "$TABLE"
done
_o=$IFS; IFS='
'
for _r in $RULES; do
  IFS=$_o; set -- $_r
  if in_list "$2" "$IPS" && [ "$3" != "$TABLE" ]; then run ip -4 rule del priority "$1" from "$2" lookup "$3"; fi
done
IFS=$_o

# ---- 10. Is the gateway there? ARP from this device, sourced from the ENI IP. ----
# ARP, not ping: ICMP may be filtered and ping/arping may be missing; a neighbour entry that turns
# REACHABLE proves the vSwitch gateway answers on this link. Any packet to the gateway triggers the ARP.
ip neigh flush to "$GW" dev "$DEV" >/dev/null 2>&1
if have curl; then curl -s -o /dev/null --interface "$PRIMARY" --connect-timeout 2 --max-time 2 "http://$GW:9/" >/dev/null 2>&1 &
elif have wget; then wget -q -T 2 -t 1 -O /dev/null --bind-address="$PRIMARY" "http://$GW:9/" >/dev/null 2>&1 &
else ping -c 1 -W 2 -I "$DEV" "$GW" >/dev/null 2>&1 &
fi
_pid=$! _i=0 _ok=
while [ $_i -lt 30 ]; do
  [ -e "/sys/class/net/$DEV" ] || refind 20 apply-failed
  case $(ip neigh show to "$GW" dev "$DEV" 2>/dev/null) in
  *REACHABLE* | *STALE* | *DELAY* | *PROBE* | *PERMANENT*) _ok=1; break ;;
  esac
  _i=$((_i + 1)); nap
done
kill "$_pid" 2>/dev/null
wait "$_pid" 2>/dev/null
refind 20 apply-failed
[ -n "$_ok" ] || die 12 "gateway-unreachable: no ARP answer from $GW on $DEV within 3s (configuration applied; rerun when the link works)"

# ---- 11. Persist for the next boot: only files carrying our marker are ever written. ----
MAC12=$(echo "$MAC" | tr -d :)
MARK="# Managed by eni-failover (configure-eni.sh) for MAC $MAC; edits are overwritten."
PERSISTED=none
mine() { [ ! -e "$1" ] || grep -q '^# Managed by eni-failover ' "$1" 2>/dev/null; }
put() { # path mode content
  [ -f "$1" ] && [ "$(cat "$1")" = "$3" ] && return 0
  mkdir -p "${1%/*}" && _tmp="${1%/*}/.eni-failover.$$" && printf '%s\n' "$3" >"$_tmp" &&
    chmod "$2" "$_tmp" && mv -f "$_tmp" "$1" || die 20 "apply-failed: cannot write $1"
  CHANGES=$((CHANGES + 1)); say "+ wrote $1"
}
lines() { _s=$1; shift; for _x; do printf "$_s" "$_x"; done; } # format per item
if [ "$FLAVOUR" != none ]; then
  case $FLAVOUR in
  networkmanager)
    F1=$R/etc/NetworkManager/system-connections/eni-failover-$MAC12.nmconnection
    _i=0; _addr=; _rr=
    for _ip in $IPS; do _i=$((_i + 1)); _addr="$_addr
address$_i=$_ip/$PREFIX"; _rr="$_rr
routing-rule$_i=priority $TABLE from $_ip table $TABLE"; done
    C1="$MARK
[connection]
id=eni-failover-$MAC12
uuid=e0f1a1ed-0000-4000-8000-$MAC12
type=ethernet
autoconnect=true

[ethernet]
mac-address=$MAC

[ipv4]
method=manual$_addr
never-default=true
route-metric=$TABLE
route1=0.0.0.0/0,$GW
route1_options=table=$TABLE
route2=$CIDR
route2_options=src=$PRIMARY,table=$TABLE$_rr

[ipv6]
method=ignore"
    set -- "$F1:600"
    ;;
  netplan)
    F1=$R/etc/netplan/90-eni-failover-$MAC12.yaml
    C1="$MARK
network:
  version: 2
  ethernets:
    eni-$MAC12:
      match:
        macaddress: \"$MAC\"
      dhcp4: false
      dhcp6: false
      addresses:
$(lines "        - \"%s/$PREFIX\"\n" $IPS)
      routes:
        - to: \"0.0.0.0/0\"
          via: \"$GW\"
          table: $TABLE
        - to: \"$CIDR\"
          scope: link
          from: \"$PRIMARY\"
          table: $TABLE
      routing-policy:
$(lines "        - from: \"%s\"\n          table: $TABLE\n          priority: $TABLE\n" $IPS)"
    set -- "$F1:600"
    ;;
  networkd)
    F1=$R/etc/systemd/network/70-eni-failover-$MAC12.network
    C1="$MARK
[Match]
MACAddress=$MAC

[Network]
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no
$(lines "\n[Address]\nAddress=%s/$PREFIX\nAddPrefixRoute=no\n" $IPS)

[Route]
Gateway=$GW
Table=$TABLE

[Route]
Destination=$CIDR
Scope=link
PreferredSource=$PRIMARY
Table=$TABLE
$(lines "\n[RoutingPolicyRule]\nFrom=%s\nTable=$TABLE\nPriority=$TABLE\n" $IPS)"
    set -- "$F1:644"
    ;;
  ifcfg)
    _d=$R/etc/sysconfig/network-scripts
    F1=$_d/ifcfg-$DEV F2=$_d/route-$DEV F3=$_d/rule-$DEV
    _i=0; _addr=
    for _ip in $IPS; do _addr="$_addr
IPADDR$_i=$_ip
PREFIX$_i=$PREFIX"; _i=$((_i + 1)); done
    C1="$MARK
DEVICE=$DEV
HWADDR=$MAC
TYPE=Ethernet
BOOTPROTO=none
ONBOOT=yes
DEFROUTE=no
PEERDNS=no
IPV6INIT=no$_addr"
    C2="$MARK
$CIDR dev $DEV scope link src $PRIMARY table $TABLE
default via $GW dev $DEV table $TABLE"
    C3="$MARK
$(lines "from %s table $TABLE priority $TABLE\n" $IPS)"
    set -- "$F1:644" "$F2:644" "$F3:644"
    ;;
  esac
  _clash=
  for _x; do mine "${_x%:*}" || _clash="$_clash ${_x%:*}"; done
  if [ -n "$_clash" ]; then
    say "warning: not persisting, these files exist and were not written by eni-failover:$_clash"
  else
    _i=0
    for _x; do
      _i=$((_i + 1)); eval "_c=\$C$_i"
      put "${_x%:*}" "${_x##*:}" "$_c"
    done
    PERSISTED=$FLAVOUR
  fi
fi

_j=
for _ip in $IPS; do _j="$_j,\"$_ip\""; done
say "done: $CHANGES change(s)"
echo "eni-failover-result: {\"device\":\"$DEV\",\"mac\":\"$MAC\",\"ips\":[${_j#,}],\"prefix\":$PREFIX,\"gateway\":\"$GW\",\"table\":$TABLE,\"priority\":$TABLE,\"persisted\":\"$PERSISTED\",\"changes\":$CHANGES${HOOK:+,\"by\":\"command\",\"hook\":\"$HOOK_WHY\"}}"
exit 0

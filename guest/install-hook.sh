#!/bin/sh
# eni-failover prepare: installs (or checks) on a standby the hot-plug hook that runs configure-eni.sh the
# moment a NIC with a group ENI's MAC appears, so the service IP answers before any RunCommand could.
# Read guest/README.md ("Prepared standby"). Inputs (the workflow prepends them as assignments):
#   HOOK_VERSION  12 hex digits: sha256 of the configure-eni.sh copy below (its version)
#   HOOK_ENIS     the ENIs: <mac>/<ip>,<ip>... joined by '+', sorted by MAC
#   HOOK_PERSIST  1 to let the hook persist the configuration too (the group's persistGuest)
#   HOOK_SCRIPT   configure-eni.sh, gzip then base64 (Cloud Assistant takes at most 24 KB of base64)
#   ENI_ROOT      (environment) root of every path written; default / (the tests use a sandbox)
# Idempotent: what is already in place is not rewritten. Last line: "eni-failover-prepared: {json}"
# (exit 0) or "eni-failover-error: <code> <message>".
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
set -f
umask 022
CHANGES=0
say() { echo "eni-failover: $*"; }
die() { echo "eni-failover-error: $1 $2"; exit "$1"; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---- 1. Validate every input (the workflow validated them too). ----
V=${HOOK_VERSION:-}
case $V in [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*) die 2 "bad-input: HOOK_VERSION must be 12 hex digits" ;; esac
case ${HOOK_ENIS:-} in '' | *[!0-9a-f:/.,+]*) die 2 "bad-input: HOOK_ENIS must be <mac>/<ip>,... joined by +" ;; esac
case ${HOOK_PERSIST:-0} in 0 | 1) ;; *) die 2 "bad-input: HOOK_PERSIST must be 0 or 1" ;; esac
case ${HOOK_SCRIPT:-} in '' | *[!A-Za-z0-9+/=]*) die 2 "bad-input: HOOK_SCRIPT must be base64" ;; esac
H='[0-9a-f][0-9a-f]'
MACS=
_o=$IFS; IFS=+
for _e in $HOOK_ENIS; do
  IFS=$_o
  _m=${_e%%/*}
  case $_m in $H:$H:$H:$H:$H:$H) ;; *) die 2 "bad-input: '$_m' in HOOK_ENIS is not a MAC" ;; esac
  case ${_e#*/} in '' | *[!0-9.,]* | ,* | *, | *,,*) die 2 "bad-input: the IPs of $_m in HOOK_ENIS must be IPv4 addresses joined by ," ;; esac
  MACS="$MACS $_m"
done
IFS=$_o
R=${ENI_ROOT:-/}
case $R in /*) ;; *) die 2 "bad-input: ENI_ROOT must be an absolute path" ;; esac
case $R in *[!A-Za-z0-9._/-]* | *..*) die 2 "bad-input: ENI_ROOT has unsupported characters" ;; esac
R=${R%/}
for _t in base64 gzip sed; do have $_t || die 14 "missing-tool: $_t is required"; done

D=$R/etc/eni-failover
RULES=$R/etc/udev/rules.d/99-eni-failover.rules
MARK="# Managed by eni-failover (install-hook.sh), version $V; edits are overwritten."

# ---- 2. What is there now: missing (never installed or a file gone), outdated, or current. ----
sha12() { if have sha256sum; then sha256sum "$1" | cut -c1-12; else echo unknown; fi; }
WAS=current
if [ ! -f "$D/manifest" ] || [ ! -f "$D/hook" ] || [ ! -f "$D/configure-eni.sh" ] || [ ! -f "$RULES" ]; then WAS=missing
elif ! grep -qx "version=$V" "$D/manifest" || ! grep -qx "enis=$HOOK_ENIS" "$D/manifest" ||
  ! grep -qx "persist=${HOOK_PERSIST:-0}" "$D/manifest" || [ "$(sha12 "$D/configure-eni.sh")" != "$V" ]; then WAS=outdated
fi

# ---- 3. Write what differs (atomically: a hot-plug during the install sees the old or the new file). ----
put() { # path mode content
  [ -f "$1" ] && [ "$(cat "$1")" = "$3" ] && return 0
  mkdir -p "${1%/*}" && _tmp="${1%/*}/.eni-failover.$$" && printf '%s\n' "$3" >"$_tmp" &&
    chmod "$2" "$_tmp" && mv -f "$_tmp" "$1" || die 20 "apply-failed: cannot write $1"
  CHANGES=$((CHANGES + 1)); say "+ wrote $1"
}
mkdir -p "$D/enis" "$R/var/lib/eni-failover" || die 20 "apply-failed: cannot create $D"
_tmp=$D/.configure-eni.sh.$$
printf '%s' "$HOOK_SCRIPT" | base64 -d 2>/dev/null | gzip -dc >"$_tmp" 2>/dev/null || { rm -f "$_tmp"; die 2 "bad-input: HOOK_SCRIPT is not gzip in base64"; }
_got=$(sha12 "$_tmp")
[ "$_got" = unknown ] || [ "$_got" = "$V" ] || { rm -f "$_tmp"; die 2 "bad-input: HOOK_SCRIPT has version $_got, not $V"; }
put "$D/configure-eni.sh" 755 "$(cat "$_tmp")"
rm -f "$_tmp"

# One file of inputs per ENI; the hook sources it (values validated above and again by configure-eni.sh).
_o=$IFS; IFS=+
for _e in $HOOK_ENIS; do
  IFS=$_o
  _m=${_e%%/*}
  put "$D/enis/$(echo "$_m" | tr -d :).env" 644 "$MARK
ENI_MAC='$_m'
ENI_IPS='${_e#*/}'
ENI_PERSIST='${HOOK_PERSIST:-0}'"
done
IFS=$_o
set +f
for _f in "$D"/enis/*.env; do
  [ -f "$_f" ] || continue
  _m=$(sed -n "s/^ENI_MAC='\(.*\)'$/\1/p" "$_f")
  in_list=0; for _x in $MACS; do [ "$_x" = "$_m" ] && in_list=1; done
  [ $in_list = 1 ] || { rm -f "$_f"; CHANGES=$((CHANGES + 1)); say "+ removed $_f (no longer a group ENI)"; }
done
set -f

# The hook udev runs. Under systemd it hands the work to a transient unit at once: udevd kills what a RUN
# program leaves behind when the event ends, and its sandbox denies IP traffic (the metadata requests and
# the gateway check need it) - amazon-ec2-net-utils starts a unit from its udev rule for the same reasons.
# Without systemd (or under a sandbox root) it runs inline; configure-eni.sh is bounded (ENI_WAIT_SECONDS).
put "$D/hook" 755 "#!/bin/sh
$MARK
R='$R' V='$V'
M=\$1
case \$M in [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;; *) exit 2 ;; esac
[ -f \"\$R/etc/eni-failover/enis/\$M.env\" ] || exit 0
if [ \"\${2:-}\" != run ] && [ -z \"\$R\" ] && [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  exec systemd-run --no-block --collect --quiet --unit \"eni-failover-hook-\$M-\${SEQNUM:-0}\" \\
    --setenv=INTERFACE=\"\${INTERFACE:-}\" \"\$R/etc/eni-failover/hook\" \"\$M\" run
fi
S=\$R/var/lib/eni-failover
mkdir -p \"\$S\"
printf 'state=running\nversion=%s\ninterface=%s\nat=%s\n' \"\$V\" \"\${INTERFACE:-}\" \"\$(date -u +%Y-%m-%dT%H:%M:%SZ)\" >\"\$S/.\$M.\$\$\" && mv -f \"\$S/.\$M.\$\$\" \"\$S/\$M.state\"
OUT=\$( set -a; . \"\$R/etc/eni-failover/enis/\$M.env\"; ENI_HOTPLUG=1 ENI_WAIT_SECONDS=10 ENI_ROOT=\"\${R:-/}\"; set +a
  sh \"\$R/etc/eni-failover/configure-eni.sh\" 2>&1 ); RC=\$?
printf '%s\n' \"\$OUT\" >\"\$S/\$M.log\"
printf 'state=done\nversion=%s\ninterface=%s\nat=%s\nexit=%s\nresult=%s\n' \"\$V\" \"\${INTERFACE:-}\" \"\$(date -u +%Y-%m-%dT%H:%M:%SZ)\" \"\$RC\" \\
  \"\$(printf '%s\n' \"\$OUT\" | sed -n 's/^eni-failover-result: //p' | tail -n 1)\" >\"\$S/.\$M.\$\$\" && mv -f \"\$S/.\$M.\$\$\" \"\$S/\$M.state\"
exit 0"

# udev(7): match on add of a net device by its MAC (ATTR{address}); RUN+= runs the program after the rules.
_rules="$MARK"
for _m in $MACS; do
  _rules="$_rules
ACTION==\"add\", SUBSYSTEM==\"net\", ATTR{address}==\"$_m\", RUN+=\"$D/hook $(echo "$_m" | tr -d :)\""
done
put "$RULES" 644 "$_rules"
put "$D/manifest" 644 "$MARK
version=$V
enis=$HOOK_ENIS
persist=${HOOK_PERSIST:-0}"
# The real udevd reads rule files again by itself (inotify) and on reload; a sandbox root has no udevd.
if [ -z "$R" ] && [ $CHANGES -gt 0 ] && have udevadm; then udevadm control --reload >/dev/null 2>&1 || say "warning: udevadm control --reload failed"; fi

_j=
for _m in $MACS; do _j="$_j,\"$_m\""; done
say "done: $CHANGES change(s), hook $V for$MACS"
echo "eni-failover-prepared: {\"was\":\"$WAS\",\"version\":\"$V\",\"macs\":[${_j#,}],\"changes\":$CHANGES}"
exit 0

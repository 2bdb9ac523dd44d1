#!/bin/sh
# Usage: options_log.sh CASE STEPS SHIM FAKE_DIR
# The alarm options and their relations (0 <= hysteresis < warn < alarm <=
# 100), seen through the log: each bad value gets one warning naming the
# variable at fault, the documented default is used, and the alarm lines
# show the bounds actually in force.
set -u
case_=$1 steps=$2 shim=$3 fake=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LD_LIBRARY_PATH=$fake GPUMEM_SHM_PREFIX=gmo$$
unset GPUMEM_LOG GPUMEM_WARN_PERCENT GPUMEM_ALARM_PERCENT GPUMEM_HYSTERESIS_PERCENT
fail() { echo "FAIL ($case_): $*"; exit 1; }

# check "VAR=VALUE..." "WARNINGS (one a line)" "ALARM LINES (one a line)" STEPS...
# Alarm lines are compared as "LEVEL cuda:N (bound)".
check() {
  vars=$1 warnings=$2 alarms=$3
  shift 3
  env $vars timeout 30 env LD_PRELOAD="$shim" "$steps" "$@" > "$tmp/out" 2> "$tmp/err" || fail "exit $?: $(cat "$tmp/err")"
  sed -n 's/^gpumem\[[0-9]*\]: //p' "$tmp/err" > "$tmp/lines"
  grep -Ev '^(WARNING|CRITICAL|OK) cuda:' "$tmp/lines" > "$tmp/warnings"
  grep -E '^(WARNING|CRITICAL|OK) cuda:' "$tmp/lines" | sed -E 's/^([A-Z]+) (cuda:[0-9]+) .*(\([^()]*\))$/\1 \2 \3/' > "$tmp/alarms"
  bad=
  printf '%s\n' "$warnings" | sed '/^$/d' | diff -u - "$tmp/warnings" || bad="warnings "
  printf '%s\n' "$alarms" | sed '/^$/d' | diff -u - "$tmp/alarms" || bad="${bad}alarm lines"
  [ -z "$bad" ] || fail "$vars: $bad"
}

# 80.6 %, 90.9 %, back to 80.6 %, 0 % of a 16 GiB stand-in device.
UPDOWN="0:+13200 0:+1700 0:-1700 0:-13200"
DEFAULT_ALARMS="WARNING cuda:0 (warning from 80%)
CRITICAL cuda:0 (alarm above 90%)
WARNING cuda:0 (warning from 80%)
OK cuda:0 (back below 78%)"

case $case_ in
alarm_below_warn)
  # Blamed on the alarm bound that was set, not on the warning bound.
  check "GPUMEM_ALARM_PERCENT=50" \
    "GPUMEM_ALARM_PERCENT=50 is not above GPUMEM_WARN_PERCENT (80); using the default 90" "$DEFAULT_ALARMS" $UPDOWN
  ;;
warn_above_alarm)
  check "GPUMEM_WARN_PERCENT=95" \
    "GPUMEM_WARN_PERCENT=95 is not below GPUMEM_ALARM_PERCENT (90); using the default 80" "$DEFAULT_ALARMS" $UPDOWN
  ;;
both_set)
  # Both set and inconsistent: one warning naming both, both defaults.
  check "GPUMEM_WARN_PERCENT=95 GPUMEM_ALARM_PERCENT=92" \
    "GPUMEM_WARN_PERCENT=95 is not below GPUMEM_ALARM_PERCENT=92; using the defaults 80 and 90" "$DEFAULT_ALARMS" $UPDOWN
  check "GPUMEM_WARN_PERCENT=85 GPUMEM_ALARM_PERCENT=85" \
    "GPUMEM_WARN_PERCENT=85 is not below GPUMEM_ALARM_PERCENT=85; using the defaults 80 and 90" "$DEFAULT_ALARMS" $UPDOWN
  ;;
hysteresis_at_warn)
  # A hysteresis at or above the warning bound would keep a device out of
  # healthy forever: refused, and the device does come back ("OK").
  check "GPUMEM_HYSTERESIS_PERCENT=80" \
    "GPUMEM_HYSTERESIS_PERCENT=80 is not below GPUMEM_WARN_PERCENT (80); using the default 2" "$DEFAULT_ALARMS" $UPDOWN
  check "GPUMEM_HYSTERESIS_PERCENT=100" \
    "GPUMEM_HYSTERESIS_PERCENT=100 is not below GPUMEM_WARN_PERCENT (80); using the default 2" "$DEFAULT_ALARMS" $UPDOWN
  ;;
hysteresis_chain)
  # Hysteresis and warning both set and inconsistent: both reset; the
  # warning default then meets the alarm bound that was set.
  check "GPUMEM_WARN_PERCENT=50 GPUMEM_ALARM_PERCENT=60 GPUMEM_HYSTERESIS_PERCENT=55" \
    "GPUMEM_HYSTERESIS_PERCENT=55 is not below GPUMEM_WARN_PERCENT=50; using the defaults 2 and 80
GPUMEM_ALARM_PERCENT=60 is not above GPUMEM_WARN_PERCENT (80); using the default 90" "$DEFAULT_ALARMS" $UPDOWN
  ;;
warn_zero)
  # A warning bound of 0 would never warn (nor ever be left): refused,
  # since the default hysteresis 2 is not below it.
  check "GPUMEM_WARN_PERCENT=0" \
    "GPUMEM_WARN_PERCENT=0 is not above GPUMEM_HYSTERESIS_PERCENT (2); using the default 80" "$DEFAULT_ALARMS" $UPDOWN
  check "GPUMEM_WARN_PERCENT=0 GPUMEM_HYSTERESIS_PERCENT=0" \
    "GPUMEM_HYSTERESIS_PERCENT=0 is not below GPUMEM_WARN_PERCENT=0; using the defaults 2 and 80" "$DEFAULT_ALARMS" $UPDOWN
  ;;
valid)
  # Valid values are taken without a word, at the edges of each relation.
  check "GPUMEM_WARN_PERCENT=50 GPUMEM_ALARM_PERCENT=60 GPUMEM_HYSTERESIS_PERCENT=0" "" \
    "WARNING cuda:0 (warning from 50%)
CRITICAL cuda:0 (alarm above 60%)
WARNING cuda:0 (warning from 50%)
OK cuda:0 (back below 50%)" 0:+8200 0:+1700 0:-1700 0:-8200
  check "GPUMEM_HYSTERESIS_PERCENT=79" "" "WARNING cuda:0 (warning from 80%)
CRITICAL cuda:0 (alarm above 90%)
OK cuda:0 (back below 1%)" $UPDOWN
  check "GPUMEM_ALARM_PERCENT=100" "" "WARNING cuda:0 (warning from 80%)
OK cuda:0 (back below 78%)" $UPDOWN
  check "GPUMEM_WARN_PERCENT=1 GPUMEM_ALARM_PERCENT=2 GPUMEM_HYSTERESIS_PERCENT=0" "" "WARNING cuda:0 (warning from 1%)
CRITICAL cuda:0 (alarm above 2%)
WARNING cuda:0 (warning from 1%)
OK cuda:0 (back below 1%)" 0:+200 0:+200 0:-200 0:-200
  ;;
syntax)
  # Digits only, within 0-100: no sign, no hex, nothing after.
  check "GPUMEM_WARN_PERCENT=+70 GPUMEM_ALARM_PERCENT=101 GPUMEM_HYSTERESIS_PERCENT=0x1" \
    "GPUMEM_WARN_PERCENT=+70 is not valid (warning from this percent of device memory); using the default 80
GPUMEM_ALARM_PERCENT=101 is not valid (critical above this percent); using the default 90
GPUMEM_HYSTERESIS_PERCENT=0x1 is not valid (how far below a bound a level is left); using the default 2" "$DEFAULT_ALARMS" $UPDOWN
  ;;
*) fail "unknown case" ;;
esac
echo "ok: $case_"

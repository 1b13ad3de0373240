#!/usr/bin/env bash
# Fuzzes the body validator (ngx_cs_module/ngx_http_cs_json*.c) with the
# desk's schemas (ngx_http_cs_schema.c), the ticket's against the reference
# in fuzz/reference.c.  Prints one verdict line; exits non-zero on any
# failure.
#
#   fuzz/run.sh fuzz     build, then fuzz for FUZZ_SECONDS (300) on a copy of
#                        fuzz/corpus kept in build/fuzz/corpus
#   fuzz/run.sh ci       build, replay every file of fuzz/regressions and
#                        fuzz/corpus once (libFuzzer build and gcc build),
#                        then fuzz 30 s with -seed=1 on a fresh copy
#   fuzz/run.sh replay   gcc only (no clang needed): replay regressions and
#                        corpus once each
#
# FUZZ_SECONDS   time of `fuzz` (default 300)
# FUZZ_MESSAGES  1 (default): the error message, byte offset included, must
#                not depend on how the body is split; 0: verdicts and values
# FUZZ_MAX_LEN   largest input libFuzzer makes (default 8192)
# FUZZ_BUILD     where binaries, the corpus copy and logs go (build/fuzz)
# FUZZ_VALIDATOR the directory of ngx_http_cs_json*.c/.h and
#                ngx_http_cs_schema.c/.h (ngx_cs_module), to
#                try a change in a scratch copy; use its own FUZZ_BUILD
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${FUZZ_BUILD:-$root/build/fuzz}
seconds=${FUZZ_SECONDS:-300}
messages=${FUZZ_MESSAGES:-1}
max_len=${FUZZ_MAX_LEN:-8192}
ci_seconds=30

validator=${FUZZ_VALIDATOR:-$root/ngx_cs_module}

srcs=("$here/fuzz_validator.c" "$here/reference.c"
      "$validator/ngx_http_cs_json.c" "$validator/ngx_http_cs_json_scan.c"
      "$validator/ngx_http_cs_json_rows.c" "$validator/ngx_http_cs_schema.c")
deps=("${srcs[@]}" "$here/reference.h" "$here/mutator.c" "$here/replay.c"
      "$here/run.sh"
      "$validator/ngx_http_cs_json.h" "$validator/ngx_http_cs_json_state.h"
      "$validator/ngx_http_cs_schema.h")
cflags=(-g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror
        -I"$validator" -I"$here"
        -DCS_FUZZ_COMPARE_MESSAGES="$messages")
suffix=$([ "$messages" = 1 ] || echo "-nomsg")
fuzzer=$out/fuzz_validator$suffix
replayer=$out/replay_validator$suffix

case "${1:-}" in
  fuzz|ci|replay) mode=$1 ;;
  *) echo "usage: fuzz/run.sh fuzz|ci|replay" >&2; exit 2 ;;
esac

verdict() { echo "$mode: $*"; }

# the Debian packages a step needs, installed when root or sudo can
need() {
  local p missing=() sudo=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "fuzz: missing Debian packages; run: sudo apt-get install" \
           "${missing[*]}" >&2
      return 1
    fi
  fi
  echo "fuzz: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
      >"$out/apt.log" 2>&1 \
    || { "${sudo[@]}" apt-get update -q >>"$out/apt.log" 2>&1
         "${sudo[@]}" apt-get install -y -q --no-install-recommends \
             "${missing[@]}" >>"$out/apt.log" 2>&1; } \
    || { tail -n 20 "$out/apt.log" >&2
         echo "fuzz: apt-get could not install ${missing[*]}" >&2; return 1; }
}

# rebuilds $1 when any source is newer
stale() {
  local f
  [ -x "$1" ] || return 0
  for f in "${deps[@]}"; do [ "$f" -nt "$1" ] && return 0; done
  return 1
}

build_fuzzer() {
  need clang libclang-rt-14-dev libyajl-dev || return 1
  stale "$fuzzer" || return 0
  clang "${cflags[@]}" -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined "${srcs[@]}" "$here/mutator.c" \
      -lyajl -o "$fuzzer" \
      2>"$out/build.log" \
    || { cat "$out/build.log" >&2; return 1; }
}

build_replayer() {
  local san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
  need gcc libyajl-dev || return 1
  stale "$replayer" || return 0
  # without libasan the replay still checks verdicts and counts allocations
  echo 'int main(void){return 0;}' >"$out/san.c"
  gcc "${san[@]}" "$out/san.c" -o "$out/san" 2>/dev/null || san=()
  gcc "${cflags[@]}" "${san[@]}" "${srcs[@]}" "$here/replay.c" -lyajl \
      -o "$replayer" 2>"$out/build.log" \
    || { cat "$out/build.log" >&2; return 1; }
}

failure_re='CS-FUZZ-BUG:|ERROR: (Address|Leak)Sanitizer|ERROR: libFuzzer'
failure_re+='|runtime error:'
report_re='^the body fed whole\|^module and reference\|allocation(s) left'

# runs libFuzzer on corpus dir $1 for $2 seconds, extra flags after
fuzz_for() {
  local dir=$1 secs=$2 log=$out/$mode.log start rc runs took what art
  shift 2
  mkdir -p "$out/artifacts"
  start=$(date +%s)
  "$fuzzer" -dict="$here/json.dict" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/" "$@" "$dir" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -n1 | tr -d '#')
  if [ $rc -eq 0 ]; then
    FUZZ_RESULT="${runs:-0} runs, $took s, 0 crashes"
    return 0
  fi
  what=$(grep -m1 -E "$failure_re" "$log" \
         | sed 's/^CS-FUZZ-BUG: //; s/^==[0-9]*==//')
  art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
  # the harness's account of the failure, for whoever reads the terminal
  sed -n "/$report_re/,/^input (text)/p" "$log" | head -n 40 >&2
  FUZZ_RESULT="FAILED after ${runs:-0} runs, $took s:"
  FUZZ_RESULT+=" ${what:-libFuzzer exit $rc}"
  FUZZ_RESULT+="; input ${art:-(none)}, log $log"
  if [ -n "$art" ]; then
    known=$(for f in "$here"/regressions/* "$here"/corpus/*; do
              cmp -s "$f" "$art" && echo "${f#$root/}" && break; done)
    if [ -n "$known" ]; then
      FUZZ_RESULT+=" (the same as $known)"
    else
      FUZZ_RESULT+="; keep it: cp $art fuzz/regressions/<name>"
    fi
  fi
  return 1
}

# every regression and corpus file once; on a failure, each on its own so
# that all failing files are named
replay_each() {
  local f n=0 bad=() files=() log=$out/replay-each.log
  for f in "$here"/regressions/* "$here"/corpus/*; do
    [ -f "$f" ] && files+=("$f")
  done
  n=${#files[@]}
  if ! "$fuzzer" "${files[@]}" >"$log" 2>&1; then
    for f in "${files[@]}"; do
      "$fuzzer" "$f" >>"$log" 2>&1 || bad+=("${f#$root/}")
    done
    [ ${#bad[@]} -gt 0 ] || bad=("(all pass one by one; see the log)")
  fi
  REPLAY_RESULT="$n inputs, ${#bad[@]} failed"
  if [ ${#bad[@]} -gt 0 ]; then
    printf 'fuzz: FAILED %s\n' "${bad[@]}" >&2
    echo "fuzz: details in $log" >&2
    return 1
  fi
}

mkdir -p "$out"

case $mode in

replay)
  build_replayer || { verdict "FAILED to build"; exit 1; }
  "$replayer" "$here/regressions" "$here/corpus" >"$out/replay.out" \
      2>"$out/replay.log"
  rc=$?
  grep '^replay: FAILED' "$out/replay.log" >&2
  verdict "$(tail -n1 "$out/replay.out" | sed 's/^replay: //')$(
           [ $rc -eq 0 ] || echo ", details in $out/replay.log")"
  exit $rc
  ;;

fuzz)
  build_fuzzer || { verdict "FAILED to build"; exit 1; }
  mkdir -p "$out/corpus"
  cp -p "$here"/corpus/* "$out/corpus/"
  fuzz_for "$out/corpus" "$seconds"
  rc=$?
  verdict "$FUZZ_RESULT"
  exit $rc
  ;;

ci)
  fail=0
  build_fuzzer || { verdict "FAILED to build the libFuzzer target"; exit 1; }
  build_replayer || { verdict "FAILED to build the gcc replay"; exit 1; }
  replay_each || fail=1
  "$replayer" "$here/regressions" "$here/corpus" >"$out/replay.out" \
      2>"$out/replay.log" || fail=1
  gcc_result=$(tail -n1 "$out/replay.out" | sed 's/^replay: //')
  rm -rf "$out/ci-corpus" && mkdir -p "$out/ci-corpus"
  cp -p "$here"/corpus/* "$out/ci-corpus/"
  fuzz_for "$out/ci-corpus" "$ci_seconds" -seed=1 || fail=1
  verdict "$([ $fail -eq 0 ] || echo 'FAILED: ')replay $REPLAY_RESULT" \
          "(gcc build: $gcc_result); $ci_seconds s fuzz -seed=1:" \
          "$FUZZ_RESULT"
  exit $fail
  ;;

esac

#!/usr/bin/env bash
# Scans the valgrind logs of a test run: any error or definite leak fails.
#   scripts/valgrind-check.sh DIR
set -u
dir=${1:?usage: valgrind-check.sh DIR}
shopt -s nullglob
logs=("$dir"/*.log)
if [ ${#logs[@]} -eq 0 ]; then
  echo "valgrind: no logs in $dir: did the suite run under valgrind?" >&2
  exit 1
fi
bad=0
for f in "${logs[@]}"; do
  # with -q valgrind writes only what is wrong
  if grep -qE '^==[0-9]+== +(Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument|.*definitely lost|.*indirectly lost)' "$f" \
     || grep -qE 'ERROR SUMMARY: [1-9]' "$f"; then
    echo "valgrind: errors in $f:" >&2
    sed -n '1,80p' "$f" >&2
    bad=$((bad + 1))
  fi
done
echo "valgrind: ${#logs[@]} nginx processes checked, $bad with errors"
[ "$bad" -eq 0 ]

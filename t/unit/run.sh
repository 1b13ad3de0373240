#!/usr/bin/env bash
# Builds and runs the schema unit tests (t/unit/schema_test.c) against the
# module's validator and schemas, and the prefilter's (t/unit/prefilter_test.c:
# cs_rule's literals against PCRE2, libpcre2-dev, which nginx-dev needs), with ASan and UBSan where the compiler has
# them (clang when installed: its UBSan also sees an offset added to NULL).
# Prints the test's summary line; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$root/ngx_cs_module
out=${UNIT_BUILD:-$root/build/unit}
bin=$out/schema_test

cc=$(command -v clang || echo gcc)

mkdir -p "$out"

san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
echo 'int main(void){return 0;}' >"$out/san.c"
"$cc" "${san[@]}" "$out/san.c" -o "$out/san" 2>/dev/null || san=()

"$cc" -g -O1 -Wall -Wextra -Werror "${san[@]}" -I"$src" \
    "$here/schema_test.c" "$src/ngx_http_cs_json.c" \
    "$src/ngx_http_cs_json_scan.c" "$src/ngx_http_cs_json_rows.c" \
    "$src/ngx_http_cs_schema.c" -lyajl -o "$bin" 2>"$out/build.log" \
  || { cat "$out/build.log" >&2; echo "unit: FAILED to build"; exit 1; }

status=0
"$bin" || status=1

"$cc" -g -O1 -Wall -Wextra -Werror "${san[@]}" -I"$here/shim" -I"$src" \
    "$here/prefilter_test.c" "$src/ngx_http_cs_prefilter_rx.c" \
    "$src/ngx_http_cs_prefilter.c" -lpcre2-8 -o "$out/prefilter_test" \
    2>"$out/build-prefilter.log" \
  || { cat "$out/build-prefilter.log" >&2;
       echo "unit: FAILED to build the prefilter's test"; exit 1; }

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$out/prefilter_test" \
    || status=1

exit $status

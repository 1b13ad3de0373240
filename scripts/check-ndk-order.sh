#!/usr/bin/env bash
# `make install`: ngx_http_cs_module needs ngx_devel_kit's functions when
# nginx loads it, so NDK's load_module line must come first.  Debian's
# nginx.conf includes /etc/nginx/modules-enabled/*.conf, which nginx reads
# in name order (glob(3), C collation); libnginx-mod-http-ndk enables its
# snippet as 10-mod-http-ndk.conf, this module's is 50-mod-http-cs.conf.
#
#   scripts/check-ndk-order.sh ENABLED_DIR OUR_SNIPPET [warn]
#
# Says which snippet loads NDK and that it sorts first; fails when it does
# not or when none does (only warns with "warn", for a DESTDIR install
# checked against this machine's nginx).
set -euo pipefail

dir=$1
ours=$2
mode=${3:-strict}

fail() {
    printf 'install: %s\n' "$*" >&2
    [ "$mode" = warn ] && exit 0
    exit 1
}

ndk=
for f in "$dir"/*.conf; do
    [ -e "$f" ] || continue
    if grep -Eq '^[[:space:]]*load_module[[:space:]].*ndk_http_module\.so;' \
            "$f"; then
        ndk=$(basename "$f")
        break
    fi
done

[ -n "$ndk" ] || fail "no snippet in $dir loads ndk_http_module.so; nginx" \
    "will refuse ngx_http_cs_module (undefined symbol ndk_set_var_value):" \
    "apt-get install libnginx-mod-http-ndk"

first=$(printf '%s\n' "$ndk" "$ours" | LC_ALL=C sort | head -n 1)

[ "$first" = "$ndk" ] || fail "$dir/$ndk sorts after $ours: nginx would" \
    "load ngx_http_cs_module before ngx_devel_kit and refuse it"

printf 'install: %s loads ngx_devel_kit before %s\n' "$ndk" "$ours"

#!/usr/bin/env bash
# Installs the Debian packages a target needs, and says which.
#   scripts/deps.sh build|test|valgrind|run|bench ...
set -euo pipefail

declare -A group=(
  [build]="gcc make nginx nginx-dev libhiredis-dev libyajl-dev libssl-dev
          libnginx-mod-http-ndk libnginx-mod-http-ndk-dev"
  [test]="redis-server redis-tools libtest-base-perl libtext-diff-perl
          libwww-perl liblist-moreutils-perl libtest-longstring-perl
          libipc-run-perl libredis-perl curl nghttp2-client"
  [valgrind]="valgrind"
  [run]="redis-server redis-tools curl openssl"
  [bench]="wrk libnginx-mod-http-lua lua-nginx-redis lua-cjson redis-server
          redis-tools"
)

want=()
for g in "$@"; do
  [ -n "${group[$g]+x}" ] || { echo "deps: unknown group '$g'" >&2; exit 2; }
  for p in ${group[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: this machine has no apt-get; install them by other means" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: installing them needs root or password-less sudo; run:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# a fresh machine has no package lists yet
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
     >/tmp/cs-deps.log 2>&1; then
  "${sudo[@]}" apt-get update -q >>/tmp/cs-deps.log 2>&1 || true
  if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
       >>/tmp/cs-deps.log 2>&1; then
    tail -n 20 /tmp/cs-deps.log >&2
    echo "deps: apt-get could not install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "deps: installed ${missing[*]}"

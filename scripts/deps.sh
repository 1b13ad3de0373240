#!/usr/bin/env bash
# Installs the Debian packages a target needs, and says which.
#   scripts/deps.sh build|test|valgrind|run|bench ...
# `test` also tries the page's browser test (t/046-page.t): Debian's
# chromium, and playwright-core from npm into t/page/node_modules at the
# version t/page/package-lock.json pins.  Those are best effort: when they
# cannot be installed, t/046-page.t says so and skips.
set -euo pipefail

declare -A group=(
  [build]="gcc make nginx nginx-dev libhiredis-dev libyajl-dev libssl-dev
          libnginx-mod-http-ndk libnginx-mod-http-ndk-dev"
  [test]="redis-server redis-tools libtest-base-perl libtext-diff-perl
          libwww-perl liblist-moreutils-perl libtest-longstring-perl
          libipc-run-perl libredis-perl curl nghttp2-client
          python3-prometheus-client"
  [valgrind]="valgrind"
  [run]="redis-server redis-tools curl openssl"
  [bench]="wrk libnginx-mod-http-lua lua-nginx-redis lua-cjson redis-server
          redis-tools"
)

# the page's test: installed after the rest, never fatal
page_deps() {
  local root sudo=()
  root=$(cd "$(dirname "$0")/.." && pwd)
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  if ! command -v chromium >/dev/null 2>&1; then
    echo "deps: installing chromium (the page's test)"
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
         --no-install-recommends chromium >/tmp/cs-deps-page.log 2>&1; then
      "${sudo[@]}" apt-get update -q >>/tmp/cs-deps-page.log 2>&1 || true
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
          --no-install-recommends chromium >>/tmp/cs-deps-page.log 2>&1 || {
        tail -n 5 /tmp/cs-deps-page.log >&2
        echo "deps: chromium could not be installed: t/046-page.t will skip" >&2
        return 0
      }
    fi
  fi
  if ! command -v npm >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
        --no-install-recommends nodejs npm >>/tmp/cs-deps-page.log 2>&1 \
      || echo "deps: node and npm could not be installed" >&2
  fi
  local want have
  want=$(sed -n 's/.*"playwright-core": "\([^"]*\)".*/\1/p' \
           "$root/t/page/package.json")
  have=$(sed -n 's/^ *"version": "\([^"]*\)".*/\1/p' \
           "$root/t/page/node_modules/playwright-core/package.json" \
           2>/dev/null | head -n 1 || true)
  if [ "$want" != "$have" ]; then
    echo "deps: npm ci in t/page (playwright-core $want)"
    (cd "$root/t/page" && npm ci --no-audit --no-fund --loglevel=error) \
      >/tmp/cs-deps-npm.log 2>&1 || {
        tail -n 5 /tmp/cs-deps-npm.log >&2
        echo "deps: npm ci in t/page failed" >&2
      }
  fi
  return 0
}

want=()
page=
for g in "$@"; do
  [ "$g" = test ] && page=1
  [ -n "${group[$g]+x}" ] || { echo "deps: unknown group '$g'" >&2; exit 2; }
  for p in ${group[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  [ -z "$page" ] || page_deps
  exit 0
fi

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
[ -z "$page" ] || page_deps

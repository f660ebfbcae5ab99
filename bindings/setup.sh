#!/usr/bin/env bash
# Installs what the bindings' tests need, for `make test` on a fresh machine: CMake and a C++ compiler (the
# C++ runtime), a JDK and Debian's Kotlin compiler (the Kotlin wrapper's host JVM test), Chromium (the web tests,
# through apt: playwright cannot download browsers here) and the web package's pinned npm dependencies. What
# cannot be installed is reported; its tests then skip with the reason.
set -u
cd "$(dirname "$0")"

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v c++ >/dev/null || missing+=(g++)
command -v chromium >/dev/null || missing+=(chromium)
# Kotlin 1.3 is what Debian ships; the wrapper's sources are kept valid for it and for current Kotlin.
command -v kotlinc >/dev/null || missing+=(kotlin=1.3.31+ds1-1)
command -v javac >/dev/null || missing+=(default-jdk-headless=2:1.17-74)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bindings: installing ${missing[*]} with apt-get (first run only)"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      echo "bindings: apt-get could not install ${missing[*]}; the tests that need them will skip"
    fi
  else
    echo "bindings: ${missing[*]} missing and apt-get is not usable here; the tests that need them will skip"
  fi
fi

# npm ci again only when package-lock.json changed since the last install.
if command -v npm >/dev/null; then
  stamp=web/node_modules/.moebius-lock.sha256
  wanted=$(sha256sum web/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "bindings: npm ci in bindings/web"
    if (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
      echo "$wanted" >"$stamp"
    else
      echo "bindings: npm ci failed; the web tests will skip"
    fi
  fi
else
  echo "bindings: npm not found; the web tests will skip"
fi
exit 0

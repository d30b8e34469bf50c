#!/usr/bin/env bash
# Installs every Debian package that tunekit's build, tests and fuzzers need. Idempotent: when all
# are present it only checks (well under a second). Run as root or with sudo available.
#   bash scripts/setup.sh          build + test dependencies
#   bash scripts/setup.sh --dev    also python3-torch, numpy and jinja2 for regenerating golden files
set -euo pipefail
pkgs=(build-essential cmake pkg-config git
      libdnnl-dev ocl-icd-opencl-dev libpcre2-dev libsentencepiece-dev libicu-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
      libsqlite3-dev libpoppler-cpp-dev libhnswlib-dev libcpp-httplib-dev
      libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
      chromium)  # the web page test (scripts/web_ui.sh) drives it headless
if [ "${1:-}" = "--dev" ]; then
  pkgs+=(python3 python3-torch python3-numpy python3-jinja2)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Shared by the project's scripts: install what is missing, from Debian's packages.
# shellcheck shell=bash

# need_pkg BINARY PACKAGE: install PACKAGE with apt-get when BINARY is not on the machine.
need_pkg() {
  local bin=$1 pkg=$2
  if command -v "$bin" >/dev/null 2>&1 || [ -x "$bin" ]; then
    return 0
  fi
  echo "==> installing $pkg (for $bin)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! $sudo apt-get install -y --no-install-recommends "$pkg" >/dev/null 2>&1; then
    $sudo apt-get update >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >/dev/null
  fi
}

# npm_deps DIR: install a package's npm dependencies exactly as locked, once.
npm_deps() {
  local dir=$1
  need_pkg npm npm
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# need_py MODULE SPEC: install the Python package SPEC with pip when MODULE does not import
# (test servers written in Python: aiosmtpd for the follow-up emails).
need_py() {
  local module=$1 spec=$2
  if python3 -c "import $module" >/dev/null 2>&1; then
    return 0
  fi
  echo "==> installing $spec (python module $module)"
  python3 -m pip install --quiet --disable-pip-version-check "$spec"
}

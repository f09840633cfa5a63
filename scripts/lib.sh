# Shared set-up for scripts/demo.sh and scripts/test.sh: install what is missing, then build.
# Sourced, not run. Everything comes from Debian packages (and, for tests only, the npm
# packages pinned in tests/js/package-lock.json).

RINGFENCE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RINGFENCE_BUILD=${RINGFENCE_BUILD:-$RINGFENCE_ROOT/build}

# Packages the product builds with.
RINGFENCE_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsecp256k1-dev libsodium-dev libssl-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libp11-kit-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libtomlplusplus-dev
  sqlite3
)
# Packages the tests use as independent checkers and interop peers.
RINGFENCE_TEST_PACKAGES=(
  softhsm2 opensc python3 python3-cryptography python3-ecdsa python3-nacl
  clang libclang-rt-14-dev chromium
)
# Node.js and npm run the npm checkers; Debian's packages only where no node/npm is installed
# (a machine with its own Node.js build would conflict with Debian's npm package).
command -v node >/dev/null 2>&1 || RINGFENCE_TEST_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || RINGFENCE_TEST_PACKAGES+=(npm)

ringfence_log() { printf '== %s\n' "$*" >&2; }

# ringfence_install PACKAGE... : apt-get install those not yet installed.
ringfence_install() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  ringfence_log "installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ringfence_configure DIR CMAKE_ARG...: configure a build directory (output only on error).
# No compiler launcher is set here: what CI measures is a build without ccache.
ringfence_configure() {
  local dir=$1
  shift
  local log
  log=$(mktemp)
  if ! cmake -S "$RINGFENCE_ROOT" -B "$dir" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# ringfence_build [TARGET...]: configure $RINGFENCE_BUILD (RelWithDebInfo, plus the cmake
# arguments in the RINGFENCE_CMAKE_ARGS array, if any) and build those targets (all when none)
# with two jobs.
ringfence_build() {
  ringfence_configure "$RINGFENCE_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${RINGFENCE_CMAKE_ARGS[@]+"${RINGFENCE_CMAKE_ARGS[@]}"}
  local targets=()
  [ $# -gt 0 ] && targets=(--target "$@")
  cmake --build "$RINGFENCE_BUILD" -j2 "${targets[@]}"
}

# ringfence_npm: install the pinned test-only npm checkers into tests/js/node_modules (ignored).
ringfence_npm() {
  local dir="$RINGFENCE_ROOT/tests/js"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    ringfence_log "npm ci (test checkers)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

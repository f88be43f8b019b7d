#!/usr/bin/env bash
# The prepared device check (bench/README.md, "gpu-check"): what Tessera's GPU path does on
# a real GPU, in two stages, each writing its JSON as soon as it ends.
#
#   scripts/gpu-check.sh prepare          on the development machine (Debian, nvcc, no GPU):
#                                         builds stage 1's binary and gathers stage 2's inputs
#                                         into .gpu-check/ (git-ignored; carry it, < 64 MiB)
#   scripts/gpu-check.sh run [--out DIR]  on the GPU machine, from the repository root
#                                         (default DIR: $OUT, else gpu-check-out)
#
# Stage 1 needs no torch: the CUDA kernel tests against their CPU references, one
# self-contained binary built here (GoogleTest, libstdc++, libgomp and the CUDA runtime
# linked statically) → stage1.json (GoogleTest's JSON report) and stage1.log.
# Stage 2 builds bench/device_check there against that machine's PyTorch (its libtorch,
# found through torch.utils.cmake_prefix_path) with the Debian packages it needs carried in
# .gpu-check/deps, then runs it on the GPU for examples/small.toml and
# examples/gpt2-124m.toml → stage2-small.json, stage2-gpt2-124m.json, stage2.log.
# summary.json lists what ran and what failed, with the reason. Budget: under 5 minutes on
# an H100/H200-class GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STAGE=.gpu-check

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# Debian packages stage 2 compiles and links against (headers, libraries, protoc).
DEPS=(libsodium-dev libsodium23 libprotobuf-dev libprotobuf32 libprotoc32 protobuf-compiler
      libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libtomlplusplus-dev libtomlplusplus3 nlohmann-json3-dev)

prepare() {
  set -e
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "gpu-check prepare: nvcc not found" >&2; exit 1; }
  rm -rf "$STAGE"
  mkdir -p "$STAGE/debs" "$STAGE/deps" "$STAGE/data"
  echo "gpu-check prepare: building stage 1 (kernel tests, static)"
  cmake -S . -B "${BUILD_DIR:-build}" -G Ninja >/dev/null
  cmake --build "${BUILD_DIR:-build}" --target gpu_check_kernels -j "$(nproc)"
  cp "${BUILD_DIR:-build}/tests/gpu_check_kernels" "$STAGE/"
  echo "gpu-check prepare: fetching and unpacking ${#DEPS[@]} Debian packages for stage 2"
  (cd "$STAGE/debs" && apt-get download "${DEPS[@]}" >/dev/null)
  for deb in "$STAGE"/debs/*.deb; do dpkg-deb -x "$deb" "$STAGE/deps"; done
  rm -rf "$STAGE/debs" "$STAGE/deps/usr/share/doc" "$STAGE/deps/usr/share/man"
  # The NCCL header of this toolkit; the GPU machine's PyTorch brings libnccl itself.
  mkdir -p "$STAGE/nccl/include"
  cp /usr/local/cuda/include/nccl.h "$STAGE/nccl/include/" 2>/dev/null || echo "gpu-check prepare: no nccl.h; NCCL stays off"
  # The corpus: the fortunes shards (`make corpus`).
  [ -f data/fortunes/meta.json ] || scripts/prepare-corpus.sh "${BUILD_DIR:-build}/tessera"
  cp data/fortunes/* "$STAGE/data/"
  du -sh "$STAGE"
}

STATUS=()
note() { STATUS+=("$1"); echo "gpu-check: $1"; }

write_summary() {
  {
    echo "{"
    echo "  \"machine\": \"$(uname -srm)\","
    echo "  \"gpu\": \"$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)\","
    echo "  \"steps\": ["
    local first=1
    for s in "${STATUS[@]}"; do
      [ $first = 1 ] || echo ","
      first=0
      printf '    "%s"' "$(printf '%s' "$s" | sed 's/\\/\\\\/g; s/"/\\"/g')"
    done
    echo ""
    echo "  ]"
    echo "}"
  } >"$OUTDIR/summary.json"
}

stage1() {
  local bin="$STAGE/gpu_check_kernels"
  if [ ! -x "$bin" ]; then
    note "stage 1 skipped: $bin is missing (run 'scripts/gpu-check.sh prepare' first)"
    return 1
  fi
  local t0=$SECONDS
  timeout 120 "$bin" --gtest_output="json:$OUTDIR/stage1.json" >"$OUTDIR/stage1.log" 2>&1
  local rc=$?
  note "stage 1: kernel tests exit $rc in $((SECONDS - t0))s ($(grep -c '^\[       OK \]' "$OUTDIR/stage1.log") ok, $(grep -c '^\[  SKIPPED \]' "$OUTDIR/stage1.log") skipped, $(grep -c '^\[  FAILED  \]' "$OUTDIR/stage1.log") failed lines)"
  return $rc
}

# Fails fast, naming what does not fit, before any compiler runs.
stage2_checks() {
  PY=${PYTHON:-python3}
  if ! TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>>"$OUTDIR/stage2.log"); then
    note "stage 2 skipped: $PY cannot import torch"
    return 1
  fi
  TORCH_ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  TORCH_CUDA=$($PY -c 'import torch; print(torch.version.cuda or "none")')
  note "torch $($PY -c 'import torch; print(torch.__version__)') (CUDA $TORCH_CUDA, C++11 ABI $TORCH_ABI) at $TORCH_PREFIX"
  if [ "$TORCH_ABI" != 1 ]; then
    note "stage 2 skipped: this libtorch uses the pre-C++11 string ABI; the carried Debian libraries use the C++11 ABI"
    return 1
  fi
  if [ "$TORCH_CUDA" = none ]; then
    note "stage 2 skipped: this PyTorch has no CUDA"
    return 1
  fi
  local glibc
  glibc=$(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$')
  if [ -z "$glibc" ] || [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -1)" != 2.36 ]; then
    note "stage 2 skipped: glibc ${glibc:-unknown} is older than Debian 12's 2.36, which the carried libraries need"
    return 1
  fi
  local cxx=${CXX:-$(command -v g++ || command -v c++)}
  if [ -z "$cxx" ]; then
    note "stage 2 skipped: no C++ compiler"
    return 1
  fi
  if ! grep -aq GLIBCXX_3.4.30 "$($cxx -print-file-name=libstdc++.so.6)" 2>/dev/null; then
    note "stage 2 skipped: $cxx's libstdc++ lacks GLIBCXX_3.4.30 (GCC 12), which the carried libraries need"
    return 1
  fi
  if [ ! -d "$STAGE/deps/usr" ]; then
    note "stage 2 skipped: $STAGE/deps is missing (run 'scripts/gpu-check.sh prepare' first)"
    return 1
  fi
  note "glibc $glibc, $($cxx --version | head -1), cmake $(cmake --version | head -1 | awk '{print $3}')"
}

stage2_build() {
  local deps="$ROOT/$STAGE/deps/usr" lib="$ROOT/$STAGE/deps/usr/lib/x86_64-linux-gnu"
  export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
  # The libnccl that PyTorch's CUDA wheels bring (nvidia-nccl-*), or one beside libtorch.
  local nccl_lib
  nccl_lib=$($PY - 2>/dev/null <<'PYEOF'
import glob, os, torch
found = glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libnccl.so*"))
try:
    import nvidia
    for p in nvidia.__path__:
        found += glob.glob(os.path.join(p, "**", "libnccl.so*"), recursive=True)
except ImportError:
    pass
print(sorted(found)[0] if found else "")
PYEOF
)
  local nccl_args=()
  if [ -n "$nccl_lib" ] && [ -f "$STAGE/nccl/include/nccl.h" ]; then
    nccl_args=(-DNCCL_LIBRARY="$nccl_lib" -DNCCL_INCLUDE_DIR="$ROOT/$STAGE/nccl/include")
    export LD_LIBRARY_PATH="$(dirname "$nccl_lib"):$LD_LIBRARY_PATH"
  else
    nccl_args=(-DNCCL_LIBRARY=NCCL_LIBRARY-NOTFOUND)
  fi
  local t0=$SECONDS
  local configure=(cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_DEVICE_CHECK=ON -DTESSERA_CUDA=ON
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" -DTESSERA_CUDART=CUDA::cudart -DCMAKE_POLICY_VERSION_MINIMUM=3.5
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$deps;$lib/cmake;$deps/share/cmake"
    -DProtobuf_PROTOC_EXECUTABLE="$deps/bin/protoc" -DProtobuf_INCLUDE_DIR="$deps/include"
    -DProtobuf_LIBRARY="$lib/libprotobuf.so" -DSODIUM_INCLUDE_DIR="$deps/include" -DSODIUM_LIBRARY="$lib/libsodium.so"
    "${nccl_args[@]}")
  if ! "${configure[@]}" >>"$OUTDIR/stage2.log" 2>&1; then
    note "stage 2: configure with torch's CMake config failed (stage2.log); retrying with TESSERA_TORCH_DIR"
    rm -rf build-gpu
    local torch_dir
    torch_dir=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))')
    if ! "${configure[@]}" -DTESSERA_TORCH_DIR="$torch_dir" >>"$OUTDIR/stage2.log" 2>&1; then
      note "stage 2: configure failed after $((SECONDS - t0))s (stage2.log)"
      return 1
    fi
  fi
  if ! cmake --build build-gpu --target device_check -j "$(nproc)" >>"$OUTDIR/stage2.log" 2>&1; then
    note "stage 2: build failed after $((SECONDS - t0))s (stage2.log)"
    return 1
  fi
  note "stage 2: built device_check in $((SECONDS - t0))s (NCCL: ${nccl_lib:-none})"
}

stage2_run() {
  local rc=0
  for spec in small gpt2-124m; do
    local args=(--spec "examples/$spec.toml" --data "$STAGE/data" --device cuda --out "$OUTDIR/stage2-$spec.json")
    [ "$spec" = gpt2-124m ] && args+=(--submissions 16 --agreement 2 --reps 2)
    local t0=$SECONDS
    timeout 150 build-gpu/device_check "${args[@]}" >>"$OUTDIR/stage2.log" 2>&1
    local r=$?
    note "stage 2: device_check $spec exit $r in $((SECONDS - t0))s"
    [ $r = 0 ] || rc=1
  done
  return $rc
}

run() {
  OUTDIR=${1:-${OUT:-gpu-check-out}}
  mkdir -p "$OUTDIR"
  : >"$OUTDIR/stage2.log"
  note "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || echo 'nvidia-smi: none')"
  local rc=0
  stage1 || rc=1
  write_summary
  if stage2_checks && stage2_build; then
    stage2_run || rc=1
  else
    rc=1
  fi
  write_summary
  return $rc
}

case "${1:-}" in
  prepare) prepare ;;
  run)
    shift
    out=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        *) echo "gpu-check: unknown option $1" >&2; usage 2 ;;
      esac
    done
    run "$out"
    ;;
  -h|--help|help) usage 0 ;;
  *) echo "gpu-check: expected 'prepare' or 'run'" >&2; usage 2 ;;
esac

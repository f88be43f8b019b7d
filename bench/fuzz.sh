#!/bin/sh
# Runs each libFuzzer target for FUZZ_SECONDS (default 60) after `make fuzz`; fails on a
# crash. Corpora and crash files go to build-fuzz/corpus-<target>/.
set -eu
SECONDS_EACH=${FUZZ_SECONDS:-60}
cd "$(dirname "$0")/.."
for target in fuzz_submission fuzz_delta fuzz_checkpoint fuzz_substrate; do
  mkdir -p "build-fuzz/corpus-$target"
  echo "== $target for ${SECONDS_EACH}s"
  "build-fuzz/tests/fuzz/$target" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=4096 \
    -artifact_prefix="build-fuzz/corpus-$target/" "build-fuzz/corpus-$target" 2>&1 | tail -3
done
echo "fuzz: no crash"

#!/usr/bin/env bash
# Prepares the demo corpus (data/fortunes) from Debian's `fortunes` packages, once.
# Usage: scripts/prepare-corpus.sh [path/to/tessera]
set -euo pipefail
TESSERA=${1:-build/tessera}
OUT=${CORPUS_DIR:-data/fortunes}
SRC=/usr/share/games/fortunes
if [ -f "$OUT/meta.json" ]; then exit 0; fi
if [ ! -d "$SRC" ]; then
  echo "prepare-corpus: $SRC is missing; install the 'fortunes' package (scripts/install-deps.sh)" >&2
  exit 1
fi
"$TESSERA" data prepare --input "$SRC" --out "$OUT" --val-fraction 0.05

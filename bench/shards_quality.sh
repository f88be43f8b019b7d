#!/usr/bin/env bash
# Model shards against whole-model miners, same tokens (docs/results.md, "Model shards"):
# `tessera sim` with 4 honest miners on `tiny`, once with every miner training the whole
# model (examples/tiny.toml) and once with each training the one of two shards the
# protocol assigns it (examples/tiny-shards.toml), for WINDOWS windows and each seed of
# SEEDS (`sim --seed`: the initial model and every miner's pages, so both runs of a seed
# see the same tokens). Prints one JSON object per run, then a summary with the mean and
# spread of the final validation loss per setting. About 2 minutes per run on 2 cores:
# a benchmark, not a test.
#   bench/shards_quality.sh [TESSERA_BINARY] [WINDOWS]     SEEDS="1 2 3" by default
set -euo pipefail
bin=${1:-build/tessera}
windows=${2:-24}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for seed in ${SEEDS:-1 2 3}; do
  for spec in examples/tiny.toml examples/tiny-shards.toml; do
    "$bin" sim --spec "$spec" --miners 4 --adversaries "" --validators 1 --windows "$windows" --seed "$seed" \
      2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps({"spec": sys.argv[1], "seed": d["seed"], "windows": d["windows"],
                  "final_val_loss": d["final_val_loss"], "initial_val_loss": d["initial_val_loss"],
                  "honest_acceptance_rate": d["honest_acceptance_rate"], "shards": d["shards"],
                  "val_loss_per_window": [w["val_loss"] for w in d["per_window"]],
                  "wall_seconds": d["wall_seconds"]}))' "$spec" | tee -a "$results"
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
out = {"bench": "shards_quality", "settings": {}}
for spec in sorted({r["spec"] for r in runs}):
    losses = [r["final_val_loss"] for r in runs if r["spec"] == spec]
    out["settings"][spec] = {"seeds": len(losses), "final_val_loss_mean": statistics.mean(losses),
                             "final_val_loss_spread": max(losses) - min(losses),
                             "honest_acceptance_rate_mean": statistics.mean(r["honest_acceptance_rate"] for r in runs if r["spec"] == spec)}
by_seed = {}
for r in runs:
    by_seed.setdefault(r["seed"], {})[r["spec"]] = r["final_val_loss"]
gaps = [(v["examples/tiny-shards.toml"] / v["examples/tiny.toml"] - 1) for v in by_seed.values() if len(v) == 2]
if gaps:
    out["sharded_vs_whole_model_loss_gap"] = {"mean": statistics.mean(gaps), "min": min(gaps), "max": max(gaps)}
print(json.dumps(out, indent=2))
PY

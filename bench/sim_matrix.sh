#!/usr/bin/env bash
# The incentive matrix of issue "Incentives that hold against cheap attacks" (docs/roles.md,
# "Threats"): `tessera sim` with 50% adversarial miners spread over all eleven kinds, at
# 64 and 256 miners, and with 25% of each new kind alone at 64 miners. Prints one JSON
# object per run: honest emission share, honest acceptance rate (overall and after window
# 5), and per class the emission share and earnings per unit of compute against honest
# miners'. Long (about 2–3 min per 64-miner run and 10+ min per 256-miner run on 2 cores):
# a benchmark, not a test. CI runs one short configuration (tests/cli, Cli.Sim*).
#   bench/sim_matrix.sh [TESSERA_BINARY] [WINDOWS]
# SEEDS="11 12 13" repeats the all-kinds runs with those run seeds (`sim --seed`: the
# initial model and every miner's pages), for the spread.
set -euo pipefail
bin=${1:-build/tessera}
windows=${2:-20}
run() {  # label, miners, adversaries[, seed]
  local out
  out=$("$bin" sim --miners "$2" --adversaries "$3" --windows "$windows" ${4:+--seed "$4"} 2>/dev/null)
  python3 - "$1" "$out" <<'PY'
import json, sys
label, d = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({
    "run": label, "seed": d["seed"], "miners": d["miners"], "adversarial": d["adversarial"], "windows": d["windows"],
    "honest_emission_share": d["honest_emission_share"],
    "honest_acceptance_rate": d["honest_acceptance_rate"],
    "honest_acceptance_rate_after_window_5": d["honest_acceptance_rate_after_window_5"],
    "classes": {k: {"share": v["emission_share"], "per_compute_vs_honest": v["earned_per_compute_vs_honest"],
                    "outcomes": v["outcomes"],
                    "variants": {n: {"share": x["emission_share"], "per_compute_vs_honest": x["earned_per_compute_vs_honest"]}
                                 for n, x in v.get("variants", {}).items()}} for k, v in d["classes"].items()},
    "wall_seconds": d["wall_seconds"]}))
PY
}
all64="copycat:3,noise:3,stale:3,freerider:3,poison:3,nan:3,harvester:3,median-sybil:3,slicer:4,index-swap:3,replayer:1"
all256="copycat:12,noise:12,stale:12,freerider:12,poison:12,nan:11,harvester:11,median-sybil:11,slicer:12,index-swap:11,replayer:12"
run all-kinds-64 64 "$all64"
for kind in harvester median-sybil slicer index-swap replayer; do
  run "$kind-25pct-64" 64 "$kind:16"
done
run all-kinds-256 256 "$all256"
for seed in ${SEEDS:-}; do
  run "all-kinds-64-seed-$seed" 64 "$all64" "$seed"
  run "all-kinds-256-seed-$seed" 256 "$all256" "$seed"
done

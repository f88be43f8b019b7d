#!/usr/bin/env bash
# The roles never reach into each other (docs/architecture.md, "Layout"): no file in
# trainer/, verification/ or aggregator/ includes a header of another of the three, and
# the layers below them (subnet/, checkpoints/, gradients/, …) include none of them.
# Prints each offending line and exits 1; run by ctest (Structure.RolesNeverIncludeEachOther).
set -u
cd "$(dirname "$0")/.."
roles=(trainer verification aggregator)
below=(core proto kernels model dataset gradients net chain-bridge checkpoints subnet)
bad=0
check() {  # folder, pattern of forbidden includes
  local hits
  hits=$(grep -rnE "#include \"($2)/" "$1" --include='*.h' --include='*.cpp' --include='*.cu' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "$1/ includes a header it must not:"
    echo "$hits"
    bad=1
  fi
}
for r in "${roles[@]}"; do
  others=$(printf '%s\n' "${roles[@]}" | grep -vx "$r" | paste -sd'|')
  check "$r" "$others"
done
for b in "${below[@]}"; do check "$b" "$(IFS='|'; echo "${roles[*]}|node|cli")"; done
[ $bad = 0 ] && echo "layers: roles and lower layers include only what they may"
exit $bad

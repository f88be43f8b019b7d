#!/usr/bin/env bash
# A subtensor localnet for Tessera: Bittensor's testfinney runtime (tests/data/subtensor)
# executed by chopsticks on loopback, with blocks built at a steady pace, wallets funded,
# a sudo key, and optionally a subnet. Prints the ws:// address and runs until Ctrl-C or
# SIGTERM, then stops chopsticks and the block ticker and removes its state.
#
#   scripts/subtensor-localnet.sh [--port P] [--block-time-ms MS] [--home DIR]
#                                 [--fund NAME=TAO]... [--sudo NAME] [--subnet SPEC]
#                                 [--register NAME]...
#
# --fund creates wallet NAME under --home when it does not exist and gives its coldkey
# TAO; --sudo makes NAME's coldkey the chain's sudo key (subnet creation on this runtime
# needs it); --subnet creates a subnet from a run spec with the sudo wallet and prints its
# netuid and the run spec's hash (roles take the spec with --spec and --spec-hash); --register
# registers NAME's hotkey on that subnet through sudo (this genesis disables burned
# registration). Funding and the sudo key use chopsticks' dev_setStorage (set-up only);
# blocks come from dev_newBlock, because chopsticks builds blocks only on request.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT=9944
BLOCK_MS=1000
HOME_DIR="${TESSERA_HOME:-$HOME/.tessera}"
SUDO_NAME=""
SUBNET_SPEC=""
FUNDS=()
REGISTER=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --block-time-ms) BLOCK_MS="$2"; shift 2 ;;
    --home) HOME_DIR="$2"; shift 2 ;;
    --fund) FUNDS+=("$2"); shift 2 ;;
    --sudo) SUDO_NAME="$2"; shift 2 ;;
    --subnet) SUBNET_SPEC="$2"; shift 2 ;;
    --register) REGISTER+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "subtensor-localnet: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$PORT$BLOCK_MS" in *[!0-9]*) echo "subtensor-localnet: --port and --block-time-ms take numbers" >&2; exit 2 ;; esac

CHOPSTICKS="$ROOT/tests/subtensor/node_modules/.bin/chopsticks"
TESSERA="${TESSERA:-$ROOT/build/tessera}"
[ -x "$CHOPSTICKS" ] || { echo "subtensor-localnet: chopsticks is not installed; run scripts/install-deps.sh" >&2; exit 1; }
[ -x "$TESSERA" ] || { echo "subtensor-localnet: $TESSERA not built; run make build" >&2; exit 1; }

STATE="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$CHOPSTICKS" --genesis "$ROOT/tests/data/subtensor/raw_spec_testfinney.json" --port "$PORT" --allow-unresolved-imports \
  --build-block-mode Instant --db "$STATE/db.sqlite" >"$STATE/chopsticks.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
  grep -q "RPC listening" "$STATE/chopsticks.log" 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$STATE/chopsticks.log" >&2; echo "subtensor-localnet: chopsticks exited" >&2; exit 1; }
  sleep 0.1
done
grep -q "RPC listening" "$STATE/chopsticks.log" || { echo "subtensor-localnet: chopsticks did not start in 60 s" >&2; exit 1; }
URL="ws://127.0.0.1:$PORT"

rpc() {  # method, params (JSON): chopsticks answers JSON-RPC over HTTP on the same port
  local reply
  reply="$(curl -sS -X POST -H 'content-type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "http://127.0.0.1:$PORT")"
  if echo "$reply" | jq -e 'has("error")' >/dev/null; then
    echo "subtensor-localnet: $1 failed: $reply" >&2
    return 1
  fi
}
ss58_of() { "$TESSERA" --home "$HOME_DIR" wallet show --name "$1" --json | jq -r .coldkey_ss58; }
ensure_wallet() {
  "$TESSERA" --home "$HOME_DIR" wallet show --name "$1" >/dev/null 2>&1 ||
    "$TESSERA" --home "$HOME_DIR" wallet create --name "$1" >/dev/null
}

for f in "${FUNDS[@]}"; do
  name="${f%%=*}"; tao="${f#*=}"
  case "$tao" in ''|*[!0-9]*) echo "subtensor-localnet: --fund $f: TAO must be a whole number" >&2; exit 2 ;; esac
  ensure_wallet "$name"
  rpc dev_setStorage "[{\"System\":{\"Account\":[[[\"$(ss58_of "$name")\"],{\"providers\":1,\"data\":{\"free\":\"${tao}000000000\"}}]]}}]"
  echo "funded $name ($(ss58_of "$name")) with $tao TAO"
done
if [ -n "$SUDO_NAME" ]; then
  ensure_wallet "$SUDO_NAME"
  rpc dev_setStorage "[{\"Sudo\":{\"Key\":\"$(ss58_of "$SUDO_NAME")\"}}]"
  echo "sudo key: $SUDO_NAME ($(ss58_of "$SUDO_NAME"))"
fi
if [ -n "$SUBNET_SPEC" ]; then
  [ -n "$SUDO_NAME" ] || { echo "subtensor-localnet: --subnet needs --sudo (this runtime creates subnets through sudo)" >&2; exit 2; }
  created="$("$TESSERA" --home "$HOME_DIR" subnet create --spec "$SUBNET_SPEC" --wallet "$SUDO_NAME" --chain "$URL")"
  echo "$created"
  NETUID="$(echo "$created" | sed -n 's/^netuid \([0-9]*\)$/\1/p')"
  for name in "${REGISTER[@]}"; do
    ensure_wallet "$name"
    "$TESSERA" --home "$HOME_DIR" subnet register --netuid "$NETUID" --wallet "$name" --sudo "$SUDO_NAME" --chain "$URL"
  done
elif [ "${#REGISTER[@]}" -gt 0 ]; then
  echo "subtensor-localnet: --register needs --subnet" >&2; exit 2
fi

# The block ticker: one block every BLOCK_MS, so that windows and epochs advance.
(
  interval="$(awk "BEGIN { print $BLOCK_MS / 1000 }")"
  while sleep "$interval"; do rpc dev_newBlock '[{"count":1}]' >/dev/null 2>&1 || true; done
) &
PIDS+=($!)

echo "subtensor localnet on $URL (blocks every $BLOCK_MS ms; Ctrl-C stops it)"
wait "${PIDS[0]}"

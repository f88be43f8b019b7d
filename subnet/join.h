// Joining a subnet as a miner or validator: load the wallet, connect to the chain, read
// the run spec the subnet was created with, make sure the hotkey holds a uid, and load
// the data splits the role needs (checked against the model's vocabulary).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "chain-bridge/client.h"
#include "core/identity.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "model/config.h"

namespace tessera::subnet {

struct JoinOptions {
  std::string chain_address;  // empty: chain::default_chain_address()
  std::uint32_t netuid = 0;
  std::filesystem::path home;
  std::string wallet;
  std::string data_dir;  // empty: the spec's data.dir
  // Checkpoint pulls: other CheckpointServices serving the run's checkpoints, tried after
  // the announced one; and the pull deadline in seconds (0: one window of the run).
  std::vector<std::string> checkpoint_mirrors;
  double checkpoint_deadline_s = 0;
  // The run spec as a file, for chains that keep none (subtensor): its BLAKE2b-256 must be
  // `spec_hash` (hex), the hash the subnet's owner published. On a chain that keeps the
  // spec, a file given must be that spec.
  std::filesystem::path spec_file;
  std::string spec_hash;
  // The checkpoint aggregator the owner designated (SS58 or hex), for chains that keep
  // none (ChainClient::designate_aggregator).
  std::string aggregator;
};

// Tells `chain` the aggregator named by `aggregator` (SS58 or hex; empty: nothing to do),
// for chains that keep none (ChainClient::designate_aggregator).
Status designate_aggregator(chain::ChainClient& chain, std::uint32_t netuid, const std::string& aggregator);

// The run spec a role follows: the chain's, or (where the chain keeps none) `spec_file`
// checked against `spec_hash`. The error names what is missing or which hash differs.
Result<std::string> resolve_spec(const JoinOptions& options, const std::string& chain_spec_toml,
                                 const std::string& chain_spec_hash);

struct Joined {
  std::uint32_t netuid = 0;
  Wallet wallet;
  std::unique_ptr<chain::ChainClient> chain;
  RunSpec spec;
  model::ModelConfig config;
  std::uint32_t uid = 0;
  std::string data_dir;
};

Result<Joined> join_subnet(const JoinOptions& options);

// Whether a miner submits to a neuron (docs/protocol.md "Recipients"): it serves an
// endpoint with a CURVE key and holds at least the run's validator.min_stake. A
// registration costs nothing to fake; stake does. A validator permit is not enough on its
// own: on a sparsely populated subnet every neuron holds one.
bool receives_submissions(const RunSpec& spec, bool serves, std::uint64_t stake_rao);

// A split of the run's corpus, checked to be long enough for train.seq_len and to hold
// only tokens of the model's vocabulary.
Result<dataset::TokenDataset> load_split(const Joined& joined, const std::string& split);

}  // namespace tessera::subnet

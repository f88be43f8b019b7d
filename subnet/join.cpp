#include "subnet/join.h"

#include "chain-bridge/ledger.h"
#include "chain-bridge/substrate/ss58.h"
#include "core/file_io.h"
#include "core/hash.h"

namespace tessera::subnet {

Result<std::string> resolve_spec(const JoinOptions& o, const std::string& chain_spec_toml,
                                 const std::string& chain_spec_hash) {
  const std::string subnet = "subnet " + std::to_string(o.netuid);
  if (o.spec_file.empty()) {
    if (chain_spec_toml.empty()) {
      return FailedPrecondition(subnet + ": this chain keeps no run spec; pass the owner's spec with --spec FILE and the "
                                         "hash the owner published with --spec-hash HEX");
    }
    return chain_spec_toml;
  }
  TESSERA_ASSIGN_OR_RETURN(std::string text, read_file(o.spec_file));
  const std::string got = to_hex(blake2b_256(text));
  // --spec-hash as typed: with or without "0x", either case.
  std::string given = o.spec_hash.rfind("0x", 0) == 0 ? o.spec_hash.substr(2) : o.spec_hash;
  for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string want = given;
  if (!chain_spec_hash.empty()) {
    want = to_hex(chain_spec_hash);
    if (!given.empty() && given != want) {
      return InvalidArgument("--spec-hash " + given.substr(0, 16) + "… is not the run spec hash " + want.substr(0, 16) +
                             "… the chain keeps for " + subnet);
    }
  } else if (given.empty()) {
    return FailedPrecondition(subnet + ": --spec needs --spec-hash, the BLAKE2b-256 the subnet's owner published "
                                       "(`tessera subnet spec-hash --spec FILE` prints it)");
  }
  if (got != want) {
    return InvalidArgument(o.spec_file.string() + " hashes to " + got.substr(0, 16) + "…, not the published " +
                           want.substr(0, 16) + "…: it is not the run spec of " + subnet);
  }
  return text;
}

Status designate_aggregator(chain::ChainClient& chain, std::uint32_t netuid, const std::string& aggregator) {
  if (aggregator.empty()) return Status::Ok();
  auto key = substrate::parse_public_key(aggregator);
  if (!key.ok()) return key.status().with_context("--aggregator");
  return chain.designate_aggregator(netuid, *key);
}

Result<Joined> join_subnet(const JoinOptions& o) {
  Joined j;
  j.netuid = o.netuid;
  TESSERA_ASSIGN_OR_RETURN(j.wallet, load_wallet(o.home, o.wallet));
  const std::string address = o.chain_address.empty() ? chain::default_chain_address() : o.chain_address;
  TESSERA_ASSIGN_OR_RETURN(j.chain, chain::connect_chain(address));
  TESSERA_RETURN_IF_ERROR(designate_aggregator(*j.chain, o.netuid, o.aggregator));
  auto subnet = j.chain->subnet(o.netuid);
  if (!subnet.ok()) return subnet.status().with_context("subnet " + std::to_string(o.netuid) + " on " + address);
  TESSERA_ASSIGN_OR_RETURN(const std::string spec_toml, resolve_spec(o, subnet->spec_toml, subnet->spec_hash));
  TESSERA_ASSIGN_OR_RETURN(j.spec, parse_run_spec(spec_toml, "subnet " + std::to_string(o.netuid) + " run spec"));
  TESSERA_ASSIGN_OR_RETURN(j.config, model::resolve_config(j.spec.model));
  if (j.spec.train.seq_len > j.config.context_length) {
    return InvalidArgument("subnet " + std::to_string(o.netuid) + ": train.seq_len exceeds the model's context length");
  }
  TESSERA_ASSIGN_OR_RETURN(j.uid, chain::ensure_registered(*j.chain, j.wallet, o.netuid));
  j.data_dir = o.data_dir.empty() ? j.spec.data.dir : o.data_dir;
  return j;
}

Result<dataset::TokenDataset> load_split(const Joined& j, const std::string& split) {
  auto data = dataset::TokenDataset::load(j.data_dir, split);
  if (!data.ok()) return data.status().with_context("loading the " + split + " split (pass --data DIR or run `make corpus`)");
  TESSERA_RETURN_IF_ERROR(dataset::check_split(*data, j.data_dir + " (" + split + ")", j.spec.train.seq_len, j.config.vocab_size));
  return data;
}

bool receives_submissions(const RunSpec& spec, bool serves, std::uint64_t stake_rao) {
  const double min_rao = spec.validator.min_stake * static_cast<double>(chain::kRaoPerTao);
  return serves && static_cast<double>(stake_rao) >= min_rao;
}

}  // namespace tessera::subnet

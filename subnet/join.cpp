#include "subnet/join.h"

#include "chain-bridge/ledger.h"

namespace tessera::subnet {

Result<Joined> join_subnet(const JoinOptions& o) {
  Joined j;
  j.netuid = o.netuid;
  TESSERA_ASSIGN_OR_RETURN(j.wallet, load_wallet(o.home, o.wallet));
  const std::string address = o.chain_address.empty() ? chain::default_chain_address() : o.chain_address;
  TESSERA_ASSIGN_OR_RETURN(j.chain, chain::connect_chain(address));
  auto subnet = j.chain->subnet(o.netuid);
  if (!subnet.ok()) return subnet.status().with_context("subnet " + std::to_string(o.netuid) + " on " + address);
  TESSERA_ASSIGN_OR_RETURN(j.spec, parse_run_spec(subnet->spec_toml, "subnet " + std::to_string(o.netuid) + " run spec"));
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

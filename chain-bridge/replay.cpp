#include "chain-bridge/replay.h"

#include <sstream>

#include "chain-bridge/block_log.h"
#include "core/bytes.h"
#include "core/file_io.h"

namespace tessera::chain {

std::string describe_extrinsic(const proto::Extrinsic& ex) {
  proto::ExtrinsicBody body;
  if (!body.ParseFromString(ex.body())) return "(an extrinsic whose body does not parse)";
  std::ostringstream s;
  s << "signer " << short_key(body.signer()) << "… nonce " << body.nonce() << ": ";
  const auto& c = body.call();
  switch (c.call_case()) {
    case proto::Call::kTransfer: s << "transfer " << c.transfer().amount() << " rao to " << short_key(c.transfer().to()); break;
    case proto::Call::kCreateSubnet: s << "create_subnet (" << c.create_subnet().spec_toml().size() << "-byte spec)"; break;
    case proto::Call::kRegister: s << "register hotkey " << short_key(c.register_().hotkey()) << " on " << c.register_().netuid(); break;
    case proto::Call::kServe: s << "serve " << c.serve().address() << " on " << c.serve().netuid(); break;
    case proto::Call::kSetWeights: {
      s << "set_weights on " << c.set_weights().netuid() << ":";
      for (int i = 0; i < c.set_weights().uids_size(); ++i) s << " " << c.set_weights().uids(i) << "=" << c.set_weights().values(i);
      break;
    }
    case proto::Call::kCommitWeights: s << "commit_weights on " << c.commit_weights().netuid(); break;
    case proto::Call::kRevealWeights: s << "reveal_weights on " << c.reveal_weights().netuid(); break;
    case proto::Call::kAnnounceCheckpoint:
      s << "announce_checkpoint on " << c.announce_checkpoint().netuid() << " for window " << c.announce_checkpoint().window();
      break;
    case proto::Call::kAddStake:
      s << "add_stake " << c.add_stake().amount() << " rao to " << short_key(c.add_stake().hotkey()) << " on "
        << c.add_stake().netuid();
      break;
    case proto::Call::kSetSubnetParams: s << "set_subnet_params on " << c.set_subnet_params().netuid(); break;
    case proto::Call::CALL_NOT_SET: s << "(no call)"; break;
  }
  return s.str();
}

std::string ReplayReport::to_text() const {
  std::ostringstream s;
  s << "block log: " << blocks << " blocks in " << valid_bytes << " of " << log_bytes << " bytes";
  if (!log_problem.empty()) s << " — " << log_problem;
  s << "\nreplay from genesis: " << verified << " blocks verified";
  if (diverged_at) {
    s << "\nFIRST DIVERGING BLOCK: " << *diverged_at << ": " << divergence << "\n  its " << extrinsics.size()
      << " extrinsic(s):";
    for (const auto& e : extrinsics) s << "\n    " << e;
  }
  if (snapshot_height) {
    s << "\nsnapshot at height " << *snapshot_height << ": " << (snapshot_problem.empty() ? "matches the replay" : snapshot_problem);
  } else if (!snapshot_problem.empty()) {
    s << "\nsnapshot: " << snapshot_problem;
  }
  s << "\n" << (ok() ? "ok: the folder replays to its recorded state" : "NOT OK: the node refuses to start on this folder");
  return s.str();
}

namespace {

// For a legacy block (state format 0) whose hash does not reproduce: whether it does once
// the two padding bytes of one weight or bond entry take some value — the live node
// hashed uninitialised memory there (docs/chain.md). Tries each entry on its own; gives
// up on states with more than 16 entries.
std::string explain_legacy_mismatch(const Ledger& ledger, const std::string& recorded) {
  std::size_t entries = 0;
  for (const auto& [netuid, s] : ledger.state().subnets) {
    for (const auto& n : s.neurons) entries += n.weights.size() + n.bonds.size();
  }
  if (entries == 0 || entries > 16) return "";
  const std::string bytes = ledger.legacy_archive();
  for (std::size_t at = 0; at + 8 <= bytes.size(); ++at) {
    // Entries are laid out as column u32, value u16, padding u16 (zero here).
    if (bytes[at + 6] != 0 || bytes[at + 7] != 0) continue;
    for (const auto& [netuid, s] : ledger.state().subnets) {
      for (std::size_t uid = 0; uid < s.neurons.size(); ++uid) {
        for (const U16Row* row : {&s.neurons[uid].weights, &s.neurons[uid].bonds}) {
          for (const auto& [column, value] : *row) {
            if (load_le(bytes.data() + at, 4) != column || load_le(bytes.data() + at + 4, 2) != value) continue;
            std::string trial = bytes;
            for (unsigned padding = 1; padding < 65536; ++padding) {
              trial[at + 6] = static_cast<char>(padding & 0xff);
              trial[at + 7] = static_cast<char>(padding >> 8);
              if (raw_bytes(blake2b_256(trial)) == recorded) {
                return std::string("the recorded hash is reproduced by setting the padding bytes of the ") +
                       (row == &s.neurons[uid].weights ? "weight" : "bond") + " of uid " + std::to_string(uid) +
                       " for uid " + std::to_string(column) + " on subnet " + std::to_string(netuid) + " to 0x" +
                       to_hex(trial.substr(at + 6, 2)) +
                       ": the live node hashed uninitialised memory (legacy state format 0); the state itself is the same";
              }
            }
          }
        }
      }
    }
  }
  return "";
}

}  // namespace

void replay_blocks(const std::vector<proto::Block>& blocks, std::uint64_t from, Ledger* ledger, std::string* head_hash,
                   ReplayReport* r, const std::function<void(const proto::Block&)>& on_block) {
  for (std::size_t i = from; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    auto diverge = [&](std::string why) {
      r->diverged_at = b.height();
      r->divergence = std::move(why);
      for (const auto& ex : b.extrinsics()) r->extrinsics.push_back(describe_extrinsic(ex));
    };
    if (b.height() != i + 1) {
      diverge("the record holds height " + std::to_string(b.height()) + ", expected " + std::to_string(i + 1));
      return;
    }
    if (b.parent_hash() != *head_hash) {
      diverge("it does not extend block " + std::to_string(i));
      return;
    }
    if (b.state_format() != 0 && b.state_format() != 2 && b.state_format() != Ledger::kStateFormat) {
      diverge("its state hash is in format " + std::to_string(b.state_format()) + ", unknown to this build");
      return;
    }
    Ledger& next = *ledger;  // past the first bad block the state is not used
    std::string failed;
    for (int e = 0; e < b.extrinsics_size() && failed.empty(); ++e) {
      auto applied = next.apply(b.extrinsics(e), b.height());
      if (!applied.ok()) failed = "extrinsic " + std::to_string(e) + " is invalid: " + applied.status().message();
    }
    if (!failed.empty()) {
      diverge(failed);
      return;
    }
    next.end_block(b.height());
    if (raw_bytes(next.state_hash(b.state_format())) != b.state_hash()) {
      std::string why = "the state after it differs from the recorded state hash";
      if (b.state_format() == 0) {
        const std::string explained = explain_legacy_mismatch(next, b.state_hash());
        if (!explained.empty()) why += ": " + explained;
      }
      diverge(why);
      return;
    }
    *head_hash = raw_bytes(block_hash(b));
    ++r->verified;
    if (on_block) on_block(b);
  }
}

Result<ReplayReport> check_data_dir(const std::filesystem::path& dir) {
  ReplayReport r;
  TESSERA_ASSIGN_OR_RETURN(std::string genesis_text, read_file(dir / "genesis.json"));
  TESSERA_ASSIGN_OR_RETURN(Genesis genesis, Genesis::from_json(genesis_text));
  TESSERA_ASSIGN_OR_RETURN(LogContents log, read_block_log(dir / "blocks.log"));
  r.blocks = log.blocks.size();
  r.log_bytes = log.file_bytes;
  r.valid_bytes = log.valid_bytes;
  r.log_problem = log.problem;
  auto snap = read_snapshot(dir / "snapshot.bin");
  std::optional<Snapshot> snapshot;
  if (snap.ok()) {
    snapshot = std::move(*snap);
    r.snapshot_height = snapshot->height;
  } else if (snap.status().code() != StatusCode::kNotFound) {
    r.snapshot_problem = snap.status().message();
  }
  Ledger ledger = Ledger::from_genesis(genesis);
  TESSERA_ASSIGN_OR_RETURN(std::string head_hash, from_hex(genesis.id()));
  replay_blocks(log.blocks, 0, &ledger, &head_hash, &r, [&](const proto::Block& b) {
    if (!snapshot || snapshot->height != b.height()) return;
    auto s = Ledger::deserialize(snapshot->ledger);
    if (snapshot->head_hash != raw_bytes(block_hash(b))) {
      r.snapshot_problem = "its head hash is not the log's block " + std::to_string(b.height());
    } else if (!s.ok()) {
      r.snapshot_problem = s.status().message();
    } else if (s->state_hash() != ledger.state_hash()) {
      r.snapshot_problem = "its state differs from the replayed state at that height";
    }
  });
  if (snapshot && snapshot->height > r.verified && r.snapshot_problem.empty()) {
    r.snapshot_problem = r.diverged_at ? "beyond the first diverging block, so it cannot be checked"
                                       : "beyond the end of the log";
  }
  return r;
}

}  // namespace tessera::chain

// `tessera sim`: many miners and validators in one process — threads instead of
// processes, the same code paths: the chain's Ledger (signed extrinsics, registration,
// stake, weights, Yuma epochs, payouts), the miner's inner loop, error feedback and codec,
// the validator's evaluate_window / scores / weights, and the aggregator's
// next_checkpoint. Honest miners and adversaries of eleven kinds (docs/roles.md, "Threats"):
//   copycat      resubmits another miner's payload (byte copies, and re-encoded copies)
//   noise        random data at a training-like scale
//   stale        its previous delta against an old checkpoint
//   freerider    trains on pages other than its own but claims its own
//   poison       a sign-flipped or 10× scaled honest delta
//   nan          a payload carrying a NaN scale
//   harvester    a sybil miner fed by its own registered, unstaked "validator": it copies
//                whatever honest payload reaches that validator (none does when miners
//                submit only to staked neurons), else replays a public delta
//   median-sybil tiny random deltas, at no compute, to drag the norm reference down
//   slicer       one operator, groups of 4 uids: trains once on the union of the group's
//                pages and submits disjoint coordinate slices of that one delta
//   index-swap   an honest delta with 4 of every 32 kept coordinates moved and 5% value noise
//   replayer     the previous window's public merged update: as it is (uids 0 mod 4),
//                plus one inner step on its own pages (2 mod 4, 1/H of the compute), or
//                plus 0.3× a whole window trained on its own pages (odd uids)
// Submissions are judged in commitment order (docs/protocol.md): a copy of a payload can
// only commit after its original, so every copying kind comes after its victim.
// Prints JSON: the miners' emission share, outcomes and compute per class, and the
// shared model's validation loss per window — with `--compare` also for an honest-only
// run of the same honest miners.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "aggregator/window.h"
#include "checkpoints/parameters.h"
#include "model/parameters.h"
#include "chain-bridge/ledger.h"
#include "cli/commands.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/run_spec.h"
#include "gradients/error_feedback.h"
#include "model/gpt.h"
#include "model/runtime.h"
#include "model/shards.h"
#include "proto/delta.pb.h"
#include "subnet/join.h"
#include "gradients/norm.h"
#include "trainer/baseline.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"
#include "trainer/shard_assignment.h"
#include "verification/evaluator.h"
#include "verification/validator.h"

namespace tessera::cli {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct SimOptions {
  std::string spec = "examples/nano.toml";
  std::string data;
  int miners = 64;
  int validators = 2;
  int windows = 20;
  int threads = 0;
  std::string adversaries = "copycat:4,noise:4,stale:4,freerider:4,poison:4,nan:4";
  bool compare = false;
  std::int64_t seed = -1;  // >= 0: replaces the spec's run seed (the initial model and every miner's pages)
};

// The chain, in-process: the node's Ledger, advanced block by block.
struct SimChain {
  chain::Ledger ledger;
  std::uint64_t block = 1;
  Result<std::string> submit(const Keypair& signer, const proto::Call& call) {
    const auto* a = ledger.account(chain::key_of(signer.public_key()));
    return ledger.apply(chain::make_extrinsic(signer, ledger.state().chain_id, a ? a->nonce : 0, call), block);
  }
  void advance(std::uint64_t blocks) {
    for (std::uint64_t i = 0; i < blocks; ++i) ledger.end_block(block++);
  }
};

struct SimMiner {
  std::string kind;  // honest or one of kAdversaryKinds
  Keypair hotkey = Keypair::generate();
  Keypair coldkey = Keypair::generate();
  std::uint32_t uid = 0;
  model::GPT gpt{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt;
  std::unique_ptr<gradients::ErrorFeedback> ef;
  std::string last_payload, last_base;  // for `stale`
  net::Submission submission;
  bool has_submission = false;
  double compute = 0;  // inner-loop runs spent, in units of one honest window
  // harvester: the registered neuron, without stake, that serves an endpoint for it
  Keypair harvest_hotkey = Keypair::generate();
  trainer::ShardAssignment shards;  // what it trains (everything when the run is unsharded)
};

const std::vector<std::string> kAdversaryKinds = {"copycat", "noise", "stale", "freerider", "poison", "nan",
                                                  "harvester", "median-sybil", "slicer", "index-swap", "replayer"};
constexpr std::size_t kSlicerGroup = 4;

struct SimValidator {
  Keypair hotkey = Keypair::generate();
  Keypair coldkey = Keypair::generate();
  std::uint32_t uid = 0;
  verification::ValidatorState state;
  model::GPT gpt{nullptr};
  std::vector<std::shared_ptr<const gradients::DecodedDelta>> public_deltas;  // of the previous window
};

Result<std::vector<std::pair<std::string, int>>> parse_adversaries(const std::string& text) {
  std::vector<std::pair<std::string, int>> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    const auto colon = item.find(':');
    const std::string kind = item.substr(0, colon);
    if (std::find(kAdversaryKinds.begin(), kAdversaryKinds.end(), kind) == kAdversaryKinds.end()) {
      std::string known;
      for (const auto& k : kAdversaryKinds) known += (known.empty() ? "" : ", ") + k;
      return InvalidArgument("--adversaries: unknown kind '" + kind + "' (" + known + ")");
    }
    int n = 1;
    if (colon != std::string::npos) {
      try {
        n = std::stoi(item.substr(colon + 1));
      } catch (const std::exception&) {
        return InvalidArgument("--adversaries: '" + item + "' must be KIND:COUNT");
      }
    }
    if (n < 0) return InvalidArgument("--adversaries: negative count in '" + item + "'");
    out.emplace_back(kind, n);
  }
  return out;
}

// Encodes the defined tensors of `delta` — those of `only` when given (a miner's
// assigned shards).
std::string encode_all(gradients::ErrorFeedback* ef, const std::vector<torch::Tensor>& delta,
                       const gradients::CodecSettings& codec, Status* status,
                       const std::vector<std::uint32_t>* only = nullptr) {
  std::vector<gradients::IndexedTensor> in;
  for (std::uint32_t i = 0; i < delta.size(); ++i) {
    if (!delta[i].defined() || (only != nullptr && !std::binary_search(only->begin(), only->end(), i))) continue;
    in.push_back({i, delta[i]});
  }
  auto e = ef ? ef->step(in, codec) : gradients::encode_delta(in, codec);
  if (!e.ok()) {
    *status = e.status();
    return {};
  }
  return std::move(e->bytes);
}

// A decoded delta as one dense tensor per parameter.
std::vector<torch::Tensor> dense_of(const gradients::DecodedDelta& d, const std::vector<std::vector<std::int64_t>>& shapes) {
  std::vector<torch::Tensor> dense;
  for (const auto& shape : shapes) dense.push_back(torch::zeros(shape));
  for (const auto& t : d.tensors) dense[t.param_index] = t.to_dense(shapes[t.param_index]).clone();
  return dense;
}

// Kinds that copy another submission: they commit after it (the protocol's order).
bool copies(const std::string& kind) { return kind == "copycat" || kind == "index-swap" || kind == "harvester"; }

// The variant of a kind that behaves differently by uid, for the per-variant figures
// ("" for the others).
std::string variant_of(const std::string& kind, std::uint32_t uid) {
  if (kind == "replayer") return uid % 2 == 1 ? "plus-0.3x-window" : uid % 4 == 2 ? "plus-one-step" : "as-is";
  if (kind == "poison") return uid % 2 == 1 ? "sign-flipped" : "scaled-10x";
  return "";
}

struct RunResult {
  json windows = json::array();
  std::map<std::string, double> earned_by_kind;
  std::map<std::string, int> count_by_kind;
  std::map<std::string, std::map<std::string, int>> outcomes_by_kind;
  std::map<std::string, double> compute_by_kind;  // inner-loop runs, honest-window units
  // The same three per variant ("kind" → "variant" → figure) of the kinds that have them.
  std::map<std::string, std::map<std::string, double>> earned_by_variant, compute_by_variant;
  std::map<std::string, std::map<std::string, int>> count_by_variant;
  std::map<std::string, std::vector<double>> earned_per_miner;  // per kind, in uid order
  double final_val_loss = 0, initial_val_loss = 0;
  // Honest submissions the aggregating validator judged, and how many it scored (merged);
  // also counted from window 5 on, once scores and the checkpoint have settled.
  int honest_judged = 0, honest_scored = 0, honest_judged_after_5 = 0, honest_scored_after_5 = 0;
  // Sharded runs, per shard: deltas merged over the run, and windows no delta was merged.
  std::vector<int> shard_merged, shard_idle;
};

Result<RunResult> simulate(const RunSpec& spec, const std::string& data_dir, int honest,
                           const std::vector<std::pair<std::string, int>>& adversaries, int n_validators, int windows,
                           int threads, bool verbose) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(data_dir, "train"));
  TESSERA_ASSIGN_OR_RETURN(auto val, dataset::TokenDataset::load(data_dir, "val"));
  TESSERA_ASSIGN_OR_RETURN(auto codec, gradients::CodecSettings::from_spec(spec.codec));
  const auto val_batches = trainer::validation_batches(spec, val);
  const std::uint64_t num_pages = train.num_pages(spec.data.page_tokens);
  const std::uint64_t bpw = static_cast<std::uint64_t>(spec.schedule.blocks_per_window);

  // Genesis, subnet, registrations, stake.
  const Keypair owner = Keypair::generate();
  std::vector<SimMiner> miners;
  for (int i = 0; i < honest; ++i) miners.emplace_back().kind = "honest";
  for (const auto& [kind, n] : adversaries) {
    for (int i = 0; i < n; ++i) miners.emplace_back().kind = kind;
  }
  std::vector<SimValidator> validators(static_cast<std::size_t>(n_validators));
  chain::Genesis g;
  g.balances.push_back({chain::key_of(owner.public_key()), 1000 * chain::kRaoPerTao});
  for (const auto& m : miners) g.balances.push_back({chain::key_of(m.coldkey.public_key()), 20 * chain::kRaoPerTao});
  for (const auto& v : validators) g.balances.push_back({chain::key_of(v.coldkey.public_key()), 200 * chain::kRaoPerTao});
  SimChain chain{chain::Ledger::from_genesis(g)};
  proto::Call call;
  call.mutable_create_subnet()->set_spec_toml(spec.text);
  // Room for every miner, validator and harvester's "validator".
  const auto harvesters = std::count_if(miners.begin(), miners.end(), [](const SimMiner& m) { return m.kind == "harvester"; });
  call.mutable_create_subnet()->mutable_params()->set_max_uids(
      static_cast<std::uint32_t>(miners.size() + static_cast<std::size_t>(harvesters) + validators.size() + 8));
  TESSERA_ASSIGN_OR_RETURN(std::string created, chain.submit(owner, call));
  const std::uint32_t netuid = static_cast<std::uint32_t>(std::stoul(created.substr(created.find(' ') + 1)));
  auto register_key = [&](const Keypair& cold, const Keypair& hot) -> Result<std::uint32_t> {
    proto::Call c;
    c.mutable_register_()->set_netuid(netuid);
    c.mutable_register_()->set_hotkey(chain::key_of(hot.public_key()));
    TESSERA_ASSIGN_OR_RETURN(std::string r, chain.submit(cold, c));
    return static_cast<std::uint32_t>(std::stoul(r.substr(r.find(' ') + 1)));
  };
  for (std::size_t i = 0; i < validators.size(); ++i) {
    auto& v = validators[i];
    TESSERA_ASSIGN_OR_RETURN(v.uid, register_key(v.coldkey, v.hotkey));
    proto::Call c;
    c.mutable_add_stake()->set_netuid(netuid);
    c.mutable_add_stake()->set_hotkey(chain::key_of(v.hotkey.public_key()));
    c.mutable_add_stake()->set_amount((100 - 25 * static_cast<std::uint64_t>(i % 3)) * chain::kRaoPerTao);
    TESSERA_RETURN_IF_ERROR(chain.submit(v.coldkey, c).status());
    v.gpt = model::make_gpt(config, spec.seed);
    v.gpt->eval();
  }
  for (auto& m : miners) {
    TESSERA_ASSIGN_OR_RETURN(m.uid, register_key(m.coldkey, m.hotkey));
    m.gpt = model::make_gpt(config, spec.seed);
    m.opt = trainer::make_adamw(m.gpt, spec.train);
    m.ef = std::make_unique<gradients::ErrorFeedback>(spec.codec.ef_beta);
  }
  // Each harvester's "validator": registered and serving, with no stake.
  for (auto& m : miners) {
    if (m.kind == "harvester") TESSERA_RETURN_IF_ERROR(register_key(m.coldkey, m.harvest_hotkey).status());
  }
  chain.advance(bpw - (chain.block % bpw));

  // The first checkpoint.
  std::uint64_t window = chain.block / bpw;
  TESSERA_ASSIGN_OR_RETURN(auto init, aggregator::initial_checkpoint(spec, window));
  checkpoints::Checkpoint current{init.manifest, init.tensors, init.manifest.content_hash()};
  model::GPT probe = model::make_gpt(config, spec.seed);
  RunResult result;
  result.initial_val_loss = trainer::evaluate_loss(probe, val_batches);
  trainer::InnerLoop inner{&spec};
  inner.origin_window = window;
  // "A little overfitting": one inner step on the first of the miner's own batches, at
  // the learning rate an honest miner starts the window with (the schedule's warm-up and
  // horizon counted in windows, since this loop takes one step a window).
  RunSpec one_step_spec = spec;
  const int h = std::max(1, spec.train.inner_steps);
  one_step_spec.train.inner_steps = 1;
  one_step_spec.train.warmup_steps = spec.train.warmup_steps / h;
  trainer::InnerLoop one_step{&one_step_spec};
  one_step.origin_window = window;
  one_step.total_steps = std::max(1L, static_cast<long>(spec.train.baseline_steps) / h);
  const auto shapes = checkpoints::parameter_shapes(current);
  std::vector<torch::Tensor> previous_merged;  // U_{w−1}, public (replayers resubmit it)

  for (int step = 0; step < windows; ++step) {
    const auto t0 = Clock::now();
    const std::vector<torch::Tensor> start = checkpoints::model_parameters(current);
    // Miners (honest and adversarial) in parallel threads; copying kinds and slicer
    // groups after the others.
    std::mutex mu;
    Status failure = Status::Ok();
    auto submit = [&](SimMiner& m, std::string payload, const std::string& base, const std::vector<std::uint64_t>& own) {
      net::Submission& s = m.submission;
      s.header.Clear();
      s.header.set_netuid(netuid);
      s.header.set_window(window);
      s.header.set_uid(m.uid);
      s.header.set_hotkey(chain::key_of(m.hotkey.public_key()));
      s.header.set_base_checkpoint(*from_hex(base));
      s.header.set_data_digest(*from_hex(dataset::pages_digest(own)));
      s.header.set_codec(codec.name());
      for (int shard : m.shards.shards()) s.header.add_shards(static_cast<std::uint32_t>(shard));
      s.header.set_payload_hash(raw_bytes(blake2b_256(payload)));
      s.header.set_payload_size(payload.size());
      s.payload = std::move(payload);
      m.has_submission = true;
    };
    auto own_pages = [&](std::uint32_t uid) {
      return dataset::assign_pages(spec.seed, window, uid, spec.data.pages_per_window, num_pages);
    };
    auto work = [&](SimMiner& m) {
      Status st = Status::Ok();
      auto own = own_pages(m.uid);
      if (!own.ok()) st = own.status();
      const std::vector<std::uint32_t>* mine = &m.shards.trained();
      std::string payload;
      std::string base = current.hash;
      double compute = 0;
      if (st.ok() && (m.kind == "honest" || m.kind == "freerider" || m.kind == "poison" || m.kind == "nan")) {
        std::vector<std::uint64_t> pages = *own;
        if (m.kind == "freerider") pages = *dataset::assign_pages(spec.seed, window + 100000, m.uid, spec.data.pages_per_window, num_pages);
        auto r = inner.run(m.gpt, *m.opt, start, train, pages, window, m.uid);
        compute = 1;
        if (!r.ok()) {
          st = r.status();
        } else {
          if (m.kind == "poison") {
            const double factor = variant_of(m.kind, m.uid) == "sign-flipped" ? -1.0 : 10.0;
            for (auto& t : r->delta) {
              if (t.defined()) t.mul_(factor);
            }
          }
          payload = encode_all(m.ef.get(), r->delta, codec, &st, mine);
          if (m.kind == "nan" && st.ok()) {
            proto::DeltaPayload p;
            p.ParseFromString(payload);
            std::string scales = p.tensors(0).scales();
            if (scales.size() >= 2) scales[0] = static_cast<char>(0xc0), scales[1] = static_cast<char>(0x7f);
            p.mutable_tensors(0)->set_scales(scales);
            payload = p.SerializeAsString();
          }
        }
      } else if (st.ok() && (m.kind == "noise" || m.kind == "median-sybil")) {
        // Its own generator: torch's global one is shared by the worker threads, so a
        // seed set there could be drawn from by another noise miner first, and the run
        // would not repeat.
        std::vector<torch::Tensor> noise;
        auto gen = at::detail::createCPUGenerator(window * 1000 + m.uid);
        const double scale = m.kind == "noise" ? 2e-3 : 2e-6;
        for (const auto& t : start) noise.push_back(torch::randn(t.sizes(), gen, t.options()) * scale);
        payload = encode_all(nullptr, noise, codec, &st, mine);
      } else if (st.ok() && m.kind == "replayer") {
        if (previous_merged.empty()) return;  // nothing public yet
        std::vector<torch::Tensor> replay;
        for (std::size_t i = 0; i < start.size(); ++i) {
          replay.push_back(previous_merged[i].defined() ? previous_merged[i].clone() : torch::zeros_like(start[i]));
        }
        // Its own training, if any: which loop, what it costs, how much of it is added.
        const std::string variant = variant_of(m.kind, m.uid);
        const bool window_of_it = variant == "plus-0.3x-window";
        if (window_of_it || variant == "plus-one-step") {
          auto r = (window_of_it ? inner : one_step).run(m.gpt, *m.opt, start, train, *own, window, m.uid);
          compute = window_of_it ? 1.0 : 1.0 / h;
          if (r.ok()) {
            for (std::size_t i = 0; i < replay.size(); ++i) {
              if (r->delta[i].defined()) replay[i].add_(r->delta[i], window_of_it ? 0.3 : 1.0);
            }
          }
        }
        payload = encode_all(nullptr, replay, codec, &st, mine);
      } else if (st.ok() && m.kind == "stale") {
        if (m.last_payload.empty()) {  // first window: train once (not sent), then keep resending it
          auto r = inner.run(m.gpt, *m.opt, start, train, *own, window, m.uid);
          if (r.ok()) m.last_payload = encode_all(m.ef.get(), r->delta, codec, &st, mine);
          m.last_base = current.hash;
          std::lock_guard lock(mu);
          m.compute += 1;
          return;
        }
        payload = m.last_payload;
        base = m.last_base;
      }
      std::lock_guard lock(mu);
      m.compute += compute;
      if (!st.ok()) {
        failure = st;
        return;
      }
      if (copies(m.kind) || m.kind == "slicer") return;  // later
      submit(m, std::move(payload), base, *own);
    };
    for (auto& m : miners) TESSERA_RETURN_IF_ERROR(m.shards.update(m.gpt, m.opt.get(), m.ef.get(), spec, window, m.uid).status());
    std::vector<std::thread> pool;
    std::atomic<std::size_t> next_miner{0};
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (std::size_t i = next_miner++; i < miners.size(); i = next_miner++) work(miners[i]);
      });
    }
    for (auto& t : pool) t.join();
    TESSERA_RETURN_IF_ERROR(failure);
    std::vector<const SimMiner*> honest_done;
    for (const auto& m : miners) {
      if (m.kind == "honest" && m.has_submission) honest_done.push_back(&m);
    }
    // Slicer groups: one inner run on the union of the group's pages (the first member's
    // optimizer and batch seeds), then coordinate i mod G of that delta to member i.
    std::vector<SimMiner*> slicers;
    for (auto& m : miners) {
      if (m.kind == "slicer") slicers.push_back(&m);
    }
    for (std::size_t g = 0; g < slicers.size(); g += kSlicerGroup) {
      const std::size_t n = std::min(kSlicerGroup, slicers.size() - g);
      std::vector<std::uint64_t> pages;
      for (std::size_t i = 0; i < n; ++i) {
        TESSERA_ASSIGN_OR_RETURN(auto own, own_pages(slicers[g + i]->uid));
        pages.insert(pages.end(), own.begin(), own.end());
      }
      SimMiner& lead = *slicers[g];
      TESSERA_ASSIGN_OR_RETURN(auto r, inner.run(lead.gpt, *lead.opt, start, train, pages, window, lead.uid));
      for (std::size_t i = 0; i < n; ++i) {
        SimMiner& m = *slicers[g + i];
        m.compute += 1.0 / static_cast<double>(n);
        std::vector<torch::Tensor> slice;
        for (const auto& t : r.delta) {
          if (!t.defined()) {
            slice.push_back(t);
            continue;
          }
          const torch::Tensor mask = torch::arange(t.numel()).remainder(static_cast<std::int64_t>(n)).eq(static_cast<std::int64_t>(i));
          slice.push_back(t.flatten().mul(mask.to(t.dtype())).view(t.sizes()));
        }
        Status st = Status::Ok();
        std::string payload = encode_all(nullptr, slice, codec, &st);
        TESSERA_RETURN_IF_ERROR(st);
        TESSERA_ASSIGN_OR_RETURN(auto own, own_pages(m.uid));
        submit(m, std::move(payload), current.hash, own);
      }
    }
    // Copying kinds, each after the honest submission it copies.
    int copy_index = 0;
    for (auto& m : miners) {
      if (!copies(m.kind) || honest_done.empty()) continue;
      const SimMiner& victim = *honest_done[static_cast<std::size_t>(copy_index++) % honest_done.size()];
      std::string payload = victim.submission.payload;
      TESSERA_ASSIGN_OR_RETURN(auto own, own_pages(m.uid));
      if (m.kind == "harvester") {
        // Its validator gets honest payloads only if miners submit to it: it serves an
        // endpoint, but holds no stake.
        if (!subnet::receives_submissions(spec, /*serves=*/true, /*stake_rao=*/0)) {
          // Nothing harvested: replay a delta scored in the previous window (public).
          const auto& known = validators.front().public_deltas;
          if (known.size() < 2) continue;
          Status st = Status::Ok();
          payload = encode_all(nullptr, dense_of(*known[1 + m.uid % (known.size() - 1)], shapes), codec, &st);
          TESSERA_RETURN_IF_ERROR(st);
        }
        submit(m, std::move(payload), current.hash, own);
        continue;
      }
      const bool reencode = m.kind == "index-swap" || copy_index % 2 == 0;
      if (reencode) {
        auto decoded = gradients::decode_delta(payload, shapes, codec);
        if (decoded.ok()) {
          std::vector<torch::Tensor> dense = dense_of(*decoded, shapes);
          auto gen = at::detail::createCPUGenerator(window * 7919 + m.uid);
          for (auto& d : dense) {
            if (m.kind == "index-swap") {
              // Move every 8th kept coordinate (4 of 32) to its neighbour, add 5% noise.
              torch::Tensor flat = d.view(-1);
              const torch::Tensor nz = flat.nonzero().view(-1);
              for (std::int64_t j = 0; j < nz.numel(); j += 8) {
                const std::int64_t at = nz[j].item<std::int64_t>();
                const std::int64_t to = at + 1 < flat.numel() ? at + 1 : at - 1;
                if (to < 0) continue;
                const float a = flat[at].item<float>(), b = flat[to].item<float>();
                flat[at] = b;
                flat[to] = a;
              }
              d.mul_(1.0 + 0.05 * torch::randn(d.sizes(), gen, d.options()));
            } else {
              d.mul_(1.02);
            }
          }
          Status st = Status::Ok();
          std::string again = encode_all(nullptr, dense, codec, &st);
          if (st.ok()) payload = again;
        }
      }
      submit(m, std::move(payload), current.hash, own);
    }
    // Judged in commitment order: shuffled per window, copies after their originals.
    std::vector<net::Submission> arrivals;
    std::vector<const SimMiner*> order;
    for (const auto& m : miners) {
      if (m.has_submission && !copies(m.kind)) order.push_back(&m);
    }
    std::mt19937 rng(static_cast<unsigned>(window));
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto& m : miners) {
      if (m.has_submission && copies(m.kind)) order.push_back(&m);
    }
    std::map<std::uint32_t, const SimMiner*> by_uid;
    for (const auto* m : order) {
      arrivals.push_back(m->submission);
      by_uid[m->uid] = m;
    }

    // Validators: evaluate, score, set weights; validator 0 aggregates.
    std::map<std::uint32_t, std::string> hotkeys;
    for (const auto& n : chain.ledger.subnet(netuid)->neurons) hotkeys[static_cast<std::uint32_t>(hotkeys.size())] = n.hotkey;
    verification::WindowReport aggregator_report;
    for (std::size_t vi = 0; vi < validators.size(); ++vi) {
      auto& v = validators[vi];
      TESSERA_RETURN_IF_ERROR(model::load_parameters(v.gpt, start));
      verification::WindowContext ctx;
      ctx.spec = &spec;
      ctx.window = window;
      ctx.base_hash = current.hash;
      ctx.model = v.gpt;
      ctx.train = &train;
      ctx.val = &val;
      ctx.eval_seed = Rng::derive("tessera/sim-eval", vi, window).next_u64();
      ctx.codec = codec;
      ctx.norm_references = checkpoints::window_references(current.manifest, model::parameter_group_count(spec.model),
                                                           spec.train.inner_steps, spec.train.warmup_steps);
      ctx.public_deltas = v.public_deltas;
      TESSERA_ASSIGN_OR_RETURN(auto report, verification::evaluate_window(ctx, arrivals));
      TESSERA_ASSIGN_OR_RETURN(v.public_deltas, verification::public_deltas_of(report, shapes, codec));
      verification::update_scores(v.state, report, spec.validator.score_ema, hotkeys);
      if (++v.state.windows_since_weights >= static_cast<std::uint64_t>(spec.validator.windows_per_weights)) {
        v.state.windows_since_weights = 0;
        auto [uids, values] = verification::weights_from_scores(v.state, spec.validator.weight_power);
        if (!uids.empty()) {
          proto::Call c;
          auto* sw = c.mutable_set_weights();
          sw->set_netuid(netuid);
          for (std::size_t i = 0; i < uids.size(); ++i) {
            sw->add_uids(uids[i]);
            sw->add_values(values[i]);
          }
          auto r = chain.submit(v.hotkey, c);
          if (!r.ok() && verbose) std::fprintf(stderr, "sim: set weights: %s\n", r.status().message().c_str());
        }
      }
      if (vi == 0) aggregator_report = std::move(report);
    }
    std::vector<checkpoints::AcceptedEntry> accepted;
    std::vector<const gradients::DecodedDelta*> deltas;
    std::map<std::string, int> outcomes;
    for (const auto& e : aggregator_report.evaluations) {
      const std::string& kind = by_uid.at(e.uid)->kind;
      result.outcomes_by_kind[kind][verification::outcome_name(e.outcome)] += 1;
      outcomes[verification::outcome_name(e.outcome)] += 1;
      if (kind == "honest") {
        const int scored = e.outcome == verification::Outcome::kScored ? 1 : 0;
        result.honest_judged += 1;
        result.honest_scored += scored;
        if (step >= 5) {
          result.honest_judged_after_5 += 1;
          result.honest_scored_after_5 += scored;
        }
      }
      if (!verification::merged_into_update(e)) continue;
      accepted.push_back({e.uid, to_hex(e.hotkey), to_hex(e.payload_hash), e.score});
      deltas.push_back(e.delta.get());
    }
    TESSERA_ASSIGN_OR_RETURN(auto next, aggregator::next_checkpoint(spec, current, window + 1, accepted, deltas));
    current = checkpoints::Checkpoint{next.manifest, next.tensors, next.manifest.content_hash()};
    previous_merged = next.merged;
    chain.advance(bpw);
    ++window;
    TESSERA_RETURN_IF_ERROR(model::load_parameters(probe, checkpoints::model_parameters(current)));
    const double loss = trainer::evaluate_loss(probe, val_batches);
    std::map<std::string, int> merged_by_kind;
    for (const auto& a : accepted) merged_by_kind[by_uid.at(a.uid)->kind] += 1;
    result.windows.push_back({{"window", window - 1}, {"val_loss", loss}, {"merged", accepted.size()},
                              {"merged_by_kind", merged_by_kind}, {"outcomes", outcomes},
                              {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
    if (spec.model.sharded()) {
      // Per shard: how many accepted deltas its merge averaged (0: it stood still).
      result.windows.back()["merged_per_shard"] = next.stats.group_deltas;
      result.shard_merged.resize(next.stats.group_deltas.size(), 0);
      result.shard_idle.resize(next.stats.group_deltas.size(), 0);
      for (std::size_t g = 0; g < next.stats.group_deltas.size(); ++g) {
        result.shard_merged[g] += static_cast<int>(next.stats.group_deltas[g]);
        result.shard_idle[g] += next.stats.group_deltas[g] == 0 ? 1 : 0;
      }
    }
    if (verbose) {
      std::fprintf(stderr, "sim: window %d/%d  val loss %.4f  merged %zu (", step + 1, windows, loss, accepted.size());
      for (const auto& [k, n] : merged_by_kind) std::fprintf(stderr, " %s=%d", k.c_str(), n);
      std::fprintf(stderr, " )\n");
    }
    result.final_val_loss = loss;
    for (auto& m : miners) m.has_submission = false;
  }
  // Let the last weights reach an epoch, then read the payouts.
  chain.advance(static_cast<std::uint64_t>(spec.schedule.tempo) + 2);
  const auto& neurons = chain.ledger.subnet(netuid)->neurons;
  for (const auto& m : miners) {
    const auto earned = static_cast<double>(neurons[m.uid].total_earned);
    result.count_by_kind[m.kind] += 1;
    result.earned_by_kind[m.kind] += earned;
    result.compute_by_kind[m.kind] += m.compute;
    result.earned_per_miner[m.kind].push_back(earned);
    const std::string variant = variant_of(m.kind, m.uid);
    if (variant.empty()) continue;
    result.count_by_variant[m.kind][variant] += 1;
    result.earned_by_variant[m.kind][variant] += earned;
    result.compute_by_variant[m.kind][variant] += m.compute;
  }
  return result;
}

// Per class: miners, emission share, TAO, outcomes, compute spent (inner-loop runs in
// units of one honest window) and earnings per unit of compute relative to honest
// miners' (null for a class that spent none).
json class_table(const RunResult& r) {
  double total = 0;
  for (const auto& [k, v] : r.earned_by_kind) total += v;
  auto value = [](const std::map<std::string, double>& m, const std::string& k) { return m.count(k) ? m.at(k) : 0.0; };
  const double honest_rate = value(r.compute_by_kind, "honest") > 0
                                 ? value(r.earned_by_kind, "honest") / value(r.compute_by_kind, "honest")
                                 : 0.0;
  auto figures = [&](int n, double earned, double compute) {
    return json{{"miners", n},
                {"emission_share", total > 0 ? earned / total : 0.0},
                {"earned_tao", earned / static_cast<double>(chain::kRaoPerTao)},
                {"compute", compute},
                {"earned_per_compute_vs_honest",
                 compute > 0 && honest_rate > 0 ? json(earned / compute / honest_rate) : json(nullptr)}};
  };
  json out = json::object();
  for (const auto& [kind, n] : r.count_by_kind) {
    out[kind] = figures(n, value(r.earned_by_kind, kind), value(r.compute_by_kind, kind));
    out[kind]["outcomes"] = r.outcomes_by_kind.count(kind) ? json(r.outcomes_by_kind.at(kind)) : json::object();
    // How evenly the class's miners were paid: the 10th, 50th and 90th percentile of a
    // miner's earnings over the class mean (nearest rank).
    std::vector<double> each = r.earned_per_miner.count(kind) ? r.earned_per_miner.at(kind) : std::vector<double>{};
    const double mean = each.empty() ? 0.0 : value(r.earned_by_kind, kind) / static_cast<double>(each.size());
    if (mean > 0.0) {
      std::sort(each.begin(), each.end());
      auto at = [&](double q) { return each[static_cast<std::size_t>(q * static_cast<double>(each.size() - 1) + 0.5)] / mean; };
      out[kind]["earned_vs_class_mean"] = {{"p10", at(0.1)}, {"p50", at(0.5)}, {"p90", at(0.9)}};
    }
    if (!r.count_by_variant.count(kind)) continue;
    for (const auto& [variant, count] : r.count_by_variant.at(kind)) {
      out[kind]["variants"][variant] = figures(count, value(r.earned_by_variant.at(kind), variant),
                                               value(r.compute_by_variant.at(kind), variant));
    }
  }
  return out;
}

Status run_sim(const SimOptions& o) {
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(o.spec));
  if (o.seed >= 0) spec.seed = static_cast<std::uint64_t>(o.seed);
  TESSERA_ASSIGN_OR_RETURN(auto adversaries, parse_adversaries(o.adversaries));
  int n_adv = 0;
  for (const auto& [k, n] : adversaries) n_adv += n;
  const int honest = o.miners - n_adv;
  if (honest < 1) return InvalidArgument("--miners " + std::to_string(o.miners) + " leaves no honest miner after " +
                                         std::to_string(n_adv) + " adversaries");
  const std::string data = o.data.empty() ? spec.data.dir : o.data;
  model::configure_cpu_threads(1);
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto t0 = Clock::now();
  TESSERA_ASSIGN_OR_RETURN(RunResult r, simulate(spec, data, honest, adversaries, o.validators, o.windows, threads, true));
  json out = {{"bench", "sim"},
              {"spec", o.spec},
              {"seed", spec.seed},
              {"miners", o.miners},
              {"honest", honest},
              {"adversarial", n_adv},
              {"validators", o.validators},
              {"windows", o.windows},
              {"classes", class_table(r)},
              {"honest_emission_share", class_table(r)["honest"]["emission_share"]},
              {"honest_acceptance_rate", r.honest_judged > 0 ? static_cast<double>(r.honest_scored) / r.honest_judged : 0.0},
              {"honest_acceptance_rate_after_window_5",
               r.honest_judged_after_5 > 0 ? json(static_cast<double>(r.honest_scored_after_5) / r.honest_judged_after_5)
                                           : json(nullptr)},
              {"initial_val_loss", r.initial_val_loss},
              {"shards", {{"count", spec.model.shards},
                          {"per_miner", spec.model.sharded() ? spec.model.shards_per_miner : spec.model.shards},
                          {"merged_deltas", r.shard_merged},
                          {"windows_without_a_merge", r.shard_idle}}},
              {"final_val_loss", r.final_val_loss},
              {"per_window", r.windows}};
  if (o.compare && n_adv > 0) {
    std::fprintf(stderr, "sim: the same %d honest miners alone\n", honest);
    TESSERA_ASSIGN_OR_RETURN(RunResult h, simulate(spec, data, honest, {}, o.validators, o.windows, threads, true));
    out["honest_only_final_val_loss"] = h.final_val_loss;
    out["final_loss_vs_honest_only"] = r.final_val_loss / h.final_val_loss;
    json curve = json::array();
    for (const auto& w : h.windows) curve.push_back(w["val_loss"]);
    out["honest_only_val_loss_per_window"] = curve;
  }
  out["wall_seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("%s\n", out.dump(2).c_str());
  return Status::Ok();
}

}  // namespace

void add_sim_command(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  static SimOptions o;
  auto* cmd = app.add_subcommand("sim", "Many honest and adversarial miners in one process; emission share per class (JSON)");
  cmd->add_option("--spec", o.spec, "Run spec (default: the nano model)");
  cmd->add_option("--data", o.data, "Corpus folder (default: the spec's data.dir)");
  cmd->add_option("--miners", o.miners, "Miners in total (honest = miners − adversaries)")->check(CLI::Range(1, 1000));
  cmd->add_option("--adversaries", o.adversaries,
                  "KIND:COUNT,... of copycat, noise, stale, freerider, poison, nan, harvester, median-sybil, slicer, "
                  "index-swap, replayer");
  cmd->add_option("--validators", o.validators, "Validators (the first aggregates)")->check(CLI::Range(1, 64));
  cmd->add_option("--windows", o.windows, "Windows")->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", o.seed,
                  "Run seed in place of the spec's: the initial model and every miner's pages (adversaries' draws and "
                  "evaluation batches keep their own seeds)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o.threads, "Worker threads for the miners (default: all cores)");
  cmd->add_flag("--compare", o.compare, "Also run the honest miners alone and compare the validation loss");
  cmd->callback([&global, exit_code] {
    (void)init_logging("sim", global.log_level);
    *exit_code = report(run_sim(o));
  });
}

}  // namespace tessera::cli

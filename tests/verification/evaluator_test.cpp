// The validator's judgement on crafted submissions of one window: honest deltas score
// above zero; noise, copies (byte-identical and re-encoded), sign flips, deltas trained on
// other pages, NaN payloads and stale deltas score zero or are rejected — each for its
// own reason — and the model is restored bit for bit. A scaled (poisoning) delta is
// rejected for its norm.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "aggregator/window.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "dataset/tokenizer.h"
#include "gradients/codec.h"
#include "model/gpt.h"
#include "model/parameters.h"
#include "proto/delta.pb.h"
#include "tests/test_util.h"
#include "trainer/inner_loop.h"
#include "trainer/optim.h"
#include "trainer/shard_assignment.h"
#include "model/shards.h"
#include "verification/evaluator.h"

#include "gradients/norm.h"
#include "verification/state.h"
#include "verification/validator.h"

namespace tessera::verification {
namespace {

constexpr std::uint64_t kWindow = 5;

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = parse_run_spec(
        "[run]\nseed = 11\n[model]\npreset = \"nano\"\n[data]\npage_tokens = 1024\npages_per_window = 2\n"
        "[train]\ninner_steps = 4\nbatch_size = 8\nseq_len = 64\nlr = 1e-2\nwarmup_steps = 0\n");
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    spec = *parsed;
    dataset::ByteTokenizer tok;
    const std::string text = testing::synthetic_text(300000, 21);
    train = dataset::TokenDataset::from_tokens(tok.encode(text.substr(0, 270000)));
    val = dataset::TokenDataset::from_tokens(tok.encode(text.substr(270000)));
    auto config = model::resolve_config(spec.model);
    ASSERT_TRUE(config.ok());
    this->config = *config;
    // C_w: a checkpoint some way into the run (the first windows from a random
    // initialisation teach every miner the same generic statistics).
    model = model::make_gpt(*config, spec.seed);
    auto warm = trainer::make_adamw(model, spec.train);
    for (int i = 0; i < 150; ++i) {
      auto [x, y] = train.sample_batch(1000 + i, 8, 64);
      trainer::train_step(model, *warm, x, y, 1e-2, 1.0);
    }
    model->eval();
    start = model::snapshot_parameters(model);
    for (const auto& p : start) shapes.push_back(p.sizes().vec());
    codec = *gradients::CodecSettings::from_spec(spec.codec);
  }

  std::vector<std::uint64_t> pages(std::uint64_t window, std::uint32_t uid) {
    return *dataset::assign_pages(spec.seed, window, uid, 2, train.num_pages(1024));
  }

  // What an honest miner sends: H AdamW steps from C_w on the given pages.
  std::vector<torch::Tensor> trained_delta(std::uint32_t uid, const std::vector<std::uint64_t>& on_pages) {
    model::GPT m = model::make_gpt(config, spec.seed);
    auto opt = trainer::make_adamw(m, spec.train);
    trainer::InnerLoop loop{&spec};
    auto r = loop.run(m, *opt, start, train, on_pages, kWindow, uid);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r->delta;
  }

  std::string encode(const std::vector<torch::Tensor>& delta) {
    std::vector<gradients::IndexedTensor> in;
    for (std::uint32_t i = 0; i < delta.size(); ++i) in.push_back({i, delta[i]});
    auto e = gradients::encode_delta(in, codec);
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    return e->bytes;
  }

  net::Submission submission(std::uint32_t uid, std::string payload, std::string base = "") {
    net::Submission s;
    auto& h = s.header;
    h.set_window(kWindow);
    h.set_uid(uid);
    h.set_hotkey(std::string(32, static_cast<char>(uid)));
    h.set_base_checkpoint(*from_hex(base.empty() ? base_hash : base));
    h.set_data_digest(*from_hex(dataset::pages_digest(pages(kWindow, uid))));
    h.set_payload_hash(raw_bytes(blake2b_256(payload)));
    h.set_payload_size(payload.size());
    h.set_codec(codec.name());
    s.payload = std::move(payload);
    return s;
  }

  WindowContext context() {
    WindowContext c;
    c.spec = &spec;
    c.window = kWindow;
    c.base_hash = base_hash;
    c.model = model;
    c.train = &train;
    c.val = &val;
    c.eval_seed = 99;
    c.codec = codec;
    return c;
  }

  RunSpec spec;
  model::ModelConfig config;
  dataset::TokenDataset train = dataset::TokenDataset::from_tokens({});
  dataset::TokenDataset val = dataset::TokenDataset::from_tokens({});
  model::GPT model{nullptr};
  std::vector<torch::Tensor> start;
  std::vector<std::vector<std::int64_t>> shapes;
  gradients::CodecSettings codec;
  const std::string base_hash = std::string(64, 'a');
};

// Two reports of the same window agree in every judgement, bit for bit.
void expect_same_judgements(const WindowReport& a, const WindowReport& b) {
  EXPECT_EQ(a.before_random, b.before_random);
  ASSERT_EQ(a.evaluations.size(), b.evaluations.size());
  for (std::size_t i = 0; i < a.evaluations.size(); ++i) {
    const Evaluation &x = a.evaluations[i], &y = b.evaluations[i];
    EXPECT_EQ(x.uid, y.uid) << i;
    EXPECT_EQ(x.outcome, y.outcome) << "uid " << x.uid << ": " << x.reason << " / " << y.reason;
    EXPECT_EQ(x.reason, y.reason) << "uid " << x.uid;
    EXPECT_EQ(x.score, y.score) << "uid " << x.uid;
    EXPECT_EQ(x.gain_random, y.gain_random) << "uid " << x.uid;
    EXPECT_EQ(x.gain_own, y.gain_own) << "uid " << x.uid;
    EXPECT_EQ(x.clip_scale, y.clip_scale) << "uid " << x.uid;
  }
}

// Measures ahead until nothing is left, one measurement a call (as the validator's loop does).
void prejudge_all(const WindowContext& ctx, const std::vector<net::Submission>& arrived, Prejudged* ahead) {
  for (int calls = 0; calls < 100; ++calls) {
    auto measured = prejudge_window(ctx, arrived, ahead, 1);
    ASSERT_TRUE(measured.ok()) << measured.status().to_string();
    if (*measured == 0) return;
  }
  FAIL() << "prejudge_window never ran out of work";
}

TEST_F(EvaluatorTest, HonestDeltasScoreAndEveryAttackLosesForItsReason) {
  const auto honest1 = trained_delta(1, pages(kWindow, 1));
  const auto honest2 = trained_delta(2, pages(kWindow, 2));
  const std::string payload1 = encode(honest1);

  // Noise with the honest norm; a re-encoded (slightly scaled) copy of uid 1's delta; a
  // sign flip of an honest delta; a delta trained on other pages; a NaN scale; a stale base.
  double norm = 0;
  for (const auto& t : honest1) norm += t.square().sum().item<double>();
  torch::manual_seed(3);
  std::vector<torch::Tensor> noise, scaled_copy, flipped;
  double noise_norm = 0;
  for (const auto& t : honest1) {
    noise.push_back(torch::randn_like(t));
    noise_norm += noise.back().square().sum().item<double>();
    scaled_copy.push_back(t * 1.05);
  }
  for (auto& t : noise) t.mul_(std::sqrt(norm / noise_norm));
  for (const auto& t : trained_delta(6, pages(kWindow, 6))) flipped.push_back(-t);
  const auto elsewhere = trained_delta(7, pages(kWindow + 1000, 7));
  proto::DeltaPayload nan_payload;
  ASSERT_TRUE(nan_payload.ParseFromString(encode(trained_delta(8, pages(kWindow, 8)))));
  std::string scales = nan_payload.tensors(0).scales();
  scales[0] = static_cast<char>(0xc0);
  scales[1] = static_cast<char>(0x7f);
  nan_payload.mutable_tensors(0)->set_scales(scales);

  std::vector<net::Submission> subs = {
      submission(1, payload1),
      submission(2, encode(honest2)),
      submission(3, encode(noise)),
      submission(4, payload1),                 // byte-identical copy
      submission(5, encode(scaled_copy)),      // re-encoded copy
      submission(6, encode(flipped)),
      submission(7, encode(elsewhere)),
      submission(8, nan_payload.SerializeAsString()),
      submission(9, encode(trained_delta(9, pages(kWindow, 9))), std::string(64, 'b')),
  };
  std::vector<torch::Tensor> scaled;  // a poisoning delta: an honest one, ten times larger
  for (const auto& t : trained_delta(10, pages(kWindow, 10))) scaled.push_back(t * 10);
  subs.push_back(submission(10, encode(scaled)));
  // An index-swap copy of uid 1: every 8th kept coordinate moved to its neighbour, 5% noise.
  auto decoded1 = gradients::decode_delta(payload1, shapes, codec);
  ASSERT_TRUE(decoded1.ok());
  std::vector<torch::Tensor> swapped;
  for (std::size_t i = 0; i < shapes.size(); ++i) swapped.push_back(torch::zeros(shapes[i]));
  for (const auto& t : decoded1->tensors) swapped[t.param_index] = t.to_dense(shapes[t.param_index]).clone();
  torch::manual_seed(11);
  for (auto& d : swapped) {
    torch::Tensor flat = d.view(-1);
    const torch::Tensor nz = flat.nonzero().view(-1);
    for (std::int64_t j = 0; j < nz.numel(); j += 8) {
      const std::int64_t at = nz[j].item<std::int64_t>(), to = at + 1 < flat.numel() ? at + 1 : at - 1;
      const float a = flat[at].item<float>();
      flat[at] = flat[to].item<float>();
      flat[to] = a;
    }
    d.mul_(1.0 + 0.05 * torch::randn_like(d));
  }
  subs.push_back(submission(11, encode(swapped)));
  // A replay of a delta made public in the previous window.
  const auto published = trained_delta(12, pages(kWindow - 1, 12));
  auto decoded_published = gradients::decode_delta(encode(published), shapes, codec);
  ASSERT_TRUE(decoded_published.ok());
  subs.push_back(submission(12, encode(published)));
  // A compressed replay of the previous window's merged update, which is dense: its
  // cosine with the dense update is low, so the validator compares with the update
  // compressed the way a replayer sends it (public_deltas_of).
  auto merged_update = std::make_shared<gradients::DecodedDelta>();
  std::vector<torch::Tensor> update;
  {
    const auto a = trained_delta(13, pages(kWindow - 1, 13)), b = trained_delta(14, pages(kWindow - 1, 14));
    for (std::size_t i = 0; i < a.size(); ++i) {
      update.push_back((a[i] + b[i]) * 0.5);
      gradients::TensorUpdate u;
      u.param_index = static_cast<std::uint32_t>(i);
      u.dense = update.back().clone();
      merged_update->tensors.push_back(std::move(u));
    }
  }
  const std::string replayed = encode(update);
  auto replay_decoded = gradients::decode_delta(replayed, shapes, codec);
  ASSERT_TRUE(replay_decoded.ok());
  EXPECT_LT(gradients::delta_cosine(*replay_decoded, *merged_update), 0.8);
  subs.push_back(submission(13, replayed));
  std::vector<torch::Tensor> half;
  for (const auto& t : honest2) half.push_back(t * 0.5);
  subs.push_back(submission(2, encode(half)));  // a second submission of uid 2 in the window
  const std::string before = model::parameters_digest(model);
  WindowContext ctx = context();
  ctx.norm_references = {gradients::delta_norm(*decoded1)};  // as if C_w carried an honest delta's norm
  {
    // What the previous window made public: its merged update and its one scored delta.
    WindowReport previous;
    Evaluation scored;
    scored.outcome = Outcome::kScored;
    scored.delta = std::make_shared<const gradients::DecodedDelta>(std::move(*decoded_published));
    previous.evaluations.push_back(scored);
    auto made_public = public_deltas_of(previous, shapes, codec, update);
    ASSERT_TRUE(made_public.ok()) << made_public.status().to_string();
    ASSERT_EQ(made_public->size(), 2u);
    ctx.public_deltas = std::move(*made_public);
  }
  auto report = evaluate_window(ctx, subs);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(model::parameters_digest(model), before) << "the model was not restored bit for bit";

  std::map<std::uint32_t, const Evaluation*> by_uid;
  for (const auto& e : report->evaluations) by_uid.emplace(e.uid, &e);  // first per uid
  auto expect = [&](std::uint32_t uid, Outcome outcome, const std::string& reason_part) {
    const Evaluation& e = *by_uid.at(uid);
    EXPECT_EQ(outcome_name(e.outcome), std::string(outcome_name(outcome))) << "uid " << uid << ": " << e.reason;
    EXPECT_NE(e.reason.find(reason_part), std::string::npos) << "uid " << uid << ": " << e.reason;
    if (outcome == Outcome::kNotOwnData) {  // the score formula, unclamped
      EXPECT_LE(e.score, 0.0) << "uid " << uid;
      EXPECT_DOUBLE_EQ(e.score, e.gain_own - e.gain_random) << "uid " << uid;
    } else if (outcome != Outcome::kScored) {
      EXPECT_EQ(e.score, 0.0) << "uid " << uid;
    }
  };
  expect(1, Outcome::kScored, "held-out gain");
  expect(2, Outcome::kScored, "held-out gain");
  EXPECT_GT(by_uid.at(1)->score, 0.0);
  EXPECT_GT(by_uid.at(2)->score, 0.0);
  expect(3, Outcome::kNoGain, "does not lower the held-out loss");
  expect(4, Outcome::kDuplicate, "same payload");
  expect(5, Outcome::kCopy, "with uid 1's earlier delta");
  expect(11, Outcome::kCopy, "with uid 1's earlier delta");
  expect(12, Outcome::kCopy, "a delta scored in the previous window");
  expect(13, Outcome::kCopy, "the previous window's merged update");
  expect(6, Outcome::kNoGain, "does not lower the held-out loss");
  expect(7, Outcome::kNotOwnData, "not trained on its assignment");
  expect(8, Outcome::kMalformed, "non-finite scale");
  expect(9, Outcome::kStale, "is not C_5");
  expect(10, Outcome::kNormOutlier, "× the reference");
  EXPECT_EQ(report->norm_references, ctx.norm_references);
  EXPECT_EQ(report->evaluations.back().outcome, Outcome::kDuplicate);
  EXPECT_NE(report->evaluations.back().reason.find("already submitted"), std::string::npos);
  // Cost: one shared forward pass plus three per evaluated submission (1, 2, 3, 6, 7).
  EXPECT_EQ(report->loss_evaluated, 5u);
  EXPECT_EQ(report->forward_passes, 1u + 3u * 5u);

  // Every attack measured ahead as it arrived (here in reverse order): the same judgement.
  Prejudged ahead;
  prejudge_all(ctx, std::vector<net::Submission>(subs.rbegin(), subs.rend()), &ahead);
  if (HasFatalFailure()) return;
  WindowContext with = ctx;
  with.prejudged = &ahead;
  auto again = evaluate_window(with, subs);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  expect_same_judgements(*report, *again);
  EXPECT_EQ(model::parameters_digest(model), before);
}

// Gains measured as the deltas arrive (prejudge_window, in arrival order, a few at a
// time) give the judgement the close gives without them, bit for bit, and leave the close
// no forward pass. A late arrival whose pages R_w had drawn changes R_w: the close then
// measures everything again, and so does the next prejudge.
TEST_F(EvaluatorTest, GainsMeasuredAheadGiveTheSameJudgement) {
  std::vector<net::Submission> subs;
  for (std::uint32_t uid : {1u, 2u, 3u}) subs.push_back(submission(uid, encode(trained_delta(uid, pages(kWindow, uid)))));
  subs.push_back(submission(7, encode(trained_delta(7, pages(kWindow + 1000, 7)))));  // trained elsewhere
  const std::string before = model::parameters_digest(model);
  WindowContext ctx = context();
  auto plain = evaluate_window(ctx, subs);
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  ASSERT_EQ(plain->loss_evaluated, 4u);
  ASSERT_GE(plain->count(Outcome::kScored), 1u);

  Prejudged ahead;
  std::vector<net::Submission> arrived;
  for (auto it = subs.rbegin(); it != subs.rend(); ++it) {
    arrived.push_back(*it);
    prejudge_all(ctx, arrived, &ahead);
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(model::parameters_digest(model), before) << "the model was not restored bit for bit";
  EXPECT_GE(ahead.forward_passes, 1u + 3u * 4u);
  WindowContext with = ctx;
  with.prejudged = &ahead;
  auto report = evaluate_window(with, subs);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  expect_same_judgements(*plain, *report);
  EXPECT_EQ(report->prejudged, 4u);
  EXPECT_EQ(report->forward_passes, 0u);

  // All at once: nothing measured twice.
  Prejudged at_once;
  prejudge_all(ctx, subs, &at_once);
  if (HasFatalFailure()) return;
  EXPECT_EQ(at_once.discarded, 0u);
  EXPECT_EQ(at_once.forward_passes, 1u + 3u * 4u);
  EXPECT_EQ(at_once.random_pages, ahead.random_pages);
  with.prejudged = &at_once;

  // A late arrival on a page of R_w.
  std::uint32_t late = 0;
  for (std::uint32_t uid = 20; uid < 2000 && late == 0; ++uid) {
    for (auto p : pages(kWindow, uid)) {
      if (std::find(ahead.random_pages.begin(), ahead.random_pages.end(), p) != ahead.random_pages.end()) late = uid;
    }
  }
  ASSERT_NE(late, 0u);
  auto all = subs;
  all.push_back(submission(late, encode(trained_delta(late, pages(kWindow, late)))));
  auto plain_all = evaluate_window(ctx, all);
  ASSERT_TRUE(plain_all.ok()) << plain_all.status().to_string();
  auto on_old = evaluate_window(with, all);
  ASSERT_TRUE(on_old.ok()) << on_old.status().to_string();
  expect_same_judgements(*plain_all, *on_old);
  EXPECT_EQ(on_old->prejudged, 0u);
  EXPECT_EQ(on_old->forward_passes, plain_all->forward_passes);
  prejudge_all(ctx, all, &at_once);
  if (HasFatalFailure()) return;
  EXPECT_EQ(at_once.discarded, 4u);
  auto again = evaluate_window(with, all);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  expect_same_judgements(*plain_all, *again);
  EXPECT_EQ(again->prejudged, 5u);
  EXPECT_EQ(again->forward_passes, 0u);
  EXPECT_EQ(model::parameters_digest(model), before);
}

// Measurements of another window or base are never taken: a new window starts afresh;
// and the work a window throws away is bounded.
TEST_F(EvaluatorTest, GainsMeasuredAheadForAnotherBaseAreNotTaken) {
  const std::vector<net::Submission> subs = {submission(1, encode(trained_delta(1, pages(kWindow, 1))))};
  WindowContext ctx = context();
  Prejudged ahead;
  prejudge_all(ctx, subs, &ahead);
  if (HasFatalFailure()) return;
  ASSERT_EQ(ahead.entries.size(), 1u);
  ahead.base_hash = std::string(64, 'c');  // as if measured against another checkpoint
  WindowContext with = ctx;
  with.prejudged = &ahead;
  auto report = evaluate_window(with, subs);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->prejudged, 0u);
  EXPECT_EQ(report->forward_passes, 1u + 3u);
  // Prejudging against C_w again replaces what was measured for the other base.
  prejudge_all(ctx, subs, &ahead);
  EXPECT_EQ(ahead.base_hash, base_hash);
  EXPECT_EQ(ahead.discarded, 0u);
  report = evaluate_window(with, subs);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->prejudged, 1u);

  // A window whose R_w keeps changing (late arrivals on its pages) stops measuring ahead
  // once it threw away twice the window's measurements: the close measures the rest.
  auto two = subs;
  two.push_back(submission(2, encode(trained_delta(2, pages(kWindow, 2)))));
  ahead.discarded = 4;
  auto measured = prejudge_window(ctx, two, &ahead, 1);
  ASSERT_TRUE(measured.ok()) << measured.status().to_string();
  EXPECT_EQ(*measured, 0u);
  report = evaluate_window(with, two);
  ASSERT_TRUE(report.ok());
  EXPECT_LE(report->prejudged, 1u);
  EXPECT_GE(report->forward_passes, 3u);
}

// A flood of late arrivals, each from another hotkey and each on a page the current R_w
// drew (the worst order for measuring ahead: every arrival throws the measurements away),
// costs work linear in the arrivals: the entries are one per arrival, at most three
// times the window's measurements are thrown away, and the forward passes ahead stay
// within four times the window's measurements plus one before-pass per R_w. The close
// still gives the judgement made without measuring ahead, bit for bit.
TEST_F(EvaluatorTest, AFloodOfLateArrivalsOnHeldOutPagesCostsBoundedWork) {
  constexpr std::size_t kArrivals = 10;
  WindowContext ctx = context();
  Prejudged ahead;
  std::vector<net::Submission> arrived;
  std::uint32_t next_uid = 1;
  std::size_t changes = 0;
  while (arrived.size() < kArrivals) {
    // The next hotkey whose pages R_w drew (any hotkey for the first arrival).
    std::uint32_t uid = 0;
    for (; next_uid < 5000 && uid == 0; ++next_uid) {
      for (auto p : pages(kWindow, next_uid)) {
        if (arrived.empty() ||
            std::find(ahead.random_pages.begin(), ahead.random_pages.end(), p) != ahead.random_pages.end()) {
          uid = next_uid;
        }
      }
    }
    ASSERT_NE(uid, 0u) << "no hotkey left on R_w's pages after " << arrived.size() << " arrivals";
    arrived.push_back(submission(uid, encode(trained_delta(uid, pages(kWindow, uid)))));
    const auto drawn = ahead.random_pages;
    prejudge_all(ctx, arrived, &ahead);
    if (HasFatalFailure()) return;
    changes += ahead.random_pages != drawn ? 1 : 0;
  }
  EXPECT_EQ(ahead.entries.size(), kArrivals);
  EXPECT_EQ(changes, kArrivals) << "every arrival was meant to change R_w";
  EXPECT_GE(ahead.discarded, 2 * kArrivals) << "the flood was meant to reach the cap on thrown-away work";
  EXPECT_LE(ahead.discarded, 3 * kArrivals);
  EXPECT_LE(ahead.forward_passes, 3 * 4 * kArrivals + changes);

  auto plain = evaluate_window(ctx, arrived);
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  ASSERT_EQ(plain->loss_evaluated, kArrivals);
  WindowContext with = ctx;
  with.prejudged = &ahead;
  auto report = evaluate_window(with, arrived);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  expect_same_judgements(*plain, *report);
  // Whatever was thrown away ahead, the close never measures more than judging
  // everything at the close does.
  EXPECT_LE(report->forward_passes, plain->forward_passes);
}

// With the embedding tables sent whole (codec.embedding_quant), copies are judged on the
// top-k tensors only. uid 2 trains on its own pages but its embedding tables move as uid
// 1's do, enough to carry the whole delta's cosine over the limit: not a copy. uid 3
// sends uid 1's top-k tensors under other embedding tables: a copy.
TEST_F(EvaluatorTest, CopiesAreJudgedWithoutTheTensorsSentWhole) {
  spec.codec.embedding_quant = "int8";
  codec = *gradients::CodecSettings::from_spec(spec.codec);
  ASSERT_EQ(codec.whole_params, (std::vector<std::uint32_t>{0, 1}));
  auto d1 = trained_delta(1, pages(kWindow, 1));
  auto d2 = trained_delta(2, pages(kWindow, 2));
  auto d3 = d1;
  for (std::size_t i : {0, 1}) {
    d1[i] = d1[i] * 20.0;  // tables that dominate the delta's norm
    d2[i] = d1[i] * 1.1;
    d3[i] = d1[i] * 0.9;
  }
  const std::string p1 = encode(d1), p2 = encode(d2), p3 = encode(d3);
  // The whole deltas' cosine: what the copy check measured before it left the tables out.
  const auto decoded = [&](const std::string& p) { return *gradients::decode_delta(p, shapes, codec); };
  ASSERT_GT(gradients::delta_cosine(decoded(p1), decoded(p2)), spec.validator.copy_similarity);
  auto report = evaluate_window(context(), {submission(1, p1), submission(2, p2), submission(3, p3)});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_NE(report->evaluations[0].outcome, Outcome::kCopy) << report->evaluations[0].reason;
  EXPECT_NE(report->evaluations[1].outcome, Outcome::kCopy) << report->evaluations[1].reason;
  EXPECT_EQ(report->evaluations[2].outcome, Outcome::kCopy) << report->evaluations[2].reason;
  EXPECT_NE(report->evaluations[2].reason.find("with uid 1's earlier delta"), std::string::npos)
      << report->evaluations[2].reason;
}

// The tensors sent whole are measured at the share of them the merge takes from one
// delta (1/m, m the previous window's merged deltas), the top-k tensors at full length.
// Tables lengthened 20× lose held-out loss at full length and less at a quarter; without
// whole tensors the count of merged deltas changes nothing, bit for bit.
TEST_F(EvaluatorTest, TensorsSentWholeAreMeasuredAtTheirShareOfTheMerge) {
  auto d = trained_delta(1, pages(kWindow, 1));
  const std::string plain = encode(d);
  auto judged = [&](const std::string& payload, std::size_t merged_before) {
    WindowContext ctx = context();
    // The previous window's merged update and its merged deltas (empty: nothing to copy).
    if (merged_before > 0) {
      ctx.public_deltas.assign(merged_before + 1, std::make_shared<const gradients::DecodedDelta>());
    }
    auto report = evaluate_window(ctx, {submission(1, payload)});
    EXPECT_TRUE(report.ok()) << report.status().to_string();
    return report->evaluations[0];
  };
  const Evaluation plain_alone = judged(plain, 0), plain_of_four = judged(plain, 4);
  EXPECT_EQ(plain_alone.gain_random, plain_of_four.gain_random);
  EXPECT_EQ(plain_alone.gain_own, plain_of_four.gain_own);

  spec.codec.embedding_quant = "int8";
  codec = *gradients::CodecSettings::from_spec(spec.codec);
  for (std::size_t i : {0, 1}) d[i] = d[i] * 20.0;
  const std::string tables = encode(d);
  const Evaluation alone = judged(tables, 0), one = judged(tables, 1), of_four = judged(tables, 4);
  EXPECT_EQ(alone.gain_random, one.gain_random);  // one delta merged: the whole length
  EXPECT_GT(of_four.gain_random, alone.gain_random) << alone.reason << " / " << of_four.reason;
}

TEST_F(EvaluatorTest, WrongDataDigestAndCodecAreRejected) {
  const std::string payload = encode(trained_delta(1, pages(kWindow, 1)));
  auto wrong_digest = submission(1, payload);
  wrong_digest.header.set_data_digest(*from_hex(dataset::pages_digest(pages(kWindow, 2))));
  auto wrong_codec = submission(2, payload);
  wrong_codec.header.set_codec("sign-k8");
  auto report = evaluate_window(context(), {wrong_digest, wrong_codec});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->evaluations[0].outcome, Outcome::kWrongData) << report->evaluations[0].reason;
  EXPECT_EQ(report->evaluations[1].outcome, Outcome::kWrongCodec) << report->evaluations[1].reason;
  EXPECT_EQ(report->forward_passes, 0u);
}

// A byte copy of a payload another uid committed first, whose own delivery never came
// (net::Submission::earlier_committer): a duplicate, with no model work. The same bytes
// with no earlier committer are judged on their gains.
TEST_F(EvaluatorTest, AByteCopyOfAnUndeliveredCommitmentIsADuplicate) {
  const std::string payload = encode(trained_delta(1, pages(kWindow, 1)));
  auto copy = submission(4, payload);
  copy.earlier_committer = 1;
  auto report = evaluate_window(context(), {copy});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  const Evaluation& e = report->evaluations[0];
  EXPECT_EQ(e.outcome, Outcome::kDuplicate) << e.reason;
  EXPECT_NE(e.reason.find("uid 1 committed earlier"), std::string::npos) << e.reason;
  EXPECT_EQ(e.score, 0.0);
  EXPECT_EQ(report->forward_passes, 0u);
  copy.earlier_committer.reset();
  report = evaluate_window(context(), {copy});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->loss_evaluated, 1u);
  EXPECT_NE(report->evaluations[0].outcome, Outcome::kDuplicate) << report->evaluations[0].reason;
}

// The own-data test decides pay, not the merge: a not-own-data delta that lowered the
// loss of its own batch too is merged and made public with the scored ones; no other
// refusal is.
TEST_F(EvaluatorTest, NotOwnDataDeltasAreMergedButOtherRefusalsAreNot) {
  const std::vector<net::Submission> subs = {
      submission(1, encode(trained_delta(1, pages(kWindow, 1)))),
      submission(2, encode(trained_delta(2, pages(kWindow, 2)))),
      submission(3, encode(trained_delta(3, pages(kWindow, 3)))),
  };
  auto report = evaluate_window(context(), subs);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->loss_evaluated, 3u);
  // Whatever the measurement said, one outcome of each kind that has a decoded delta.
  report->evaluations[0].outcome = Outcome::kScored;
  report->evaluations[1].outcome = Outcome::kNotOwnData;
  report->evaluations[1].gain_own = 0.01;
  report->evaluations[2].outcome = Outcome::kNoGain;
  EXPECT_TRUE(merged_into_update(report->evaluations[0]));
  EXPECT_TRUE(merged_into_update(report->evaluations[1]));
  Evaluation hurts_own = report->evaluations[1];  // helped R_w by chance, not its own batch
  hurts_own.gain_own = -0.01;
  EXPECT_FALSE(merged_into_update(hurts_own));
  for (Outcome o : {Outcome::kNoGain, Outcome::kCopy, Outcome::kDuplicate, Outcome::kNormOutlier, Outcome::kStale,
                    Outcome::kMalformed, Outcome::kWrongData, Outcome::kWrongCodec, Outcome::kWrongShard}) {
    Evaluation e;
    e.outcome = o;
    EXPECT_FALSE(merged_into_update(e)) << outcome_name(o);
  }
  auto made_public = public_deltas_of(*report, shapes, codec);
  ASSERT_TRUE(made_public.ok()) << made_public.status().to_string();
  ASSERT_EQ(made_public->size(), 3u);  // the merged update, then the two merged deltas
  EXPECT_EQ((*made_public)[1].get(), report->evaluations[0].delta.get());
  EXPECT_EQ((*made_public)[2].get(), report->evaluations[1].delta.get());
}

TEST_F(EvaluatorTest, PartialShardSubmissionsAreEvaluatedAndMerged) {
  // A miner that trains only some parameter shards submits those tensors only.
  const auto full = trained_delta(1, pages(kWindow, 1));
  std::vector<gradients::IndexedTensor> part;
  for (std::uint32_t i = 0; i < full.size() / 2; ++i) part.push_back({i, full[i]});
  auto encoded = gradients::encode_delta(part, codec);
  ASSERT_TRUE(encoded.ok());
  auto report = evaluate_window(context(), {submission(1, encoded->bytes), submission(2, encode(trained_delta(2, pages(kWindow, 2))))});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  const Evaluation& e = report->evaluations[0];
  EXPECT_EQ(e.outcome, Outcome::kScored) << outcome_name(e.outcome) << ": " << e.reason;
  EXPECT_EQ(report->loss_evaluated, 2u);
  ASSERT_TRUE(e.delta);
  EXPECT_EQ(e.delta->tensors.size(), full.size() / 2);
  // The aggregator merges a partial delta with a full one: untouched tensors move only by
  // the full delta's contribution.
  checkpoints::Checkpoint base;
  for (std::size_t i = 0; i < start.size(); ++i) base.tensors.emplace_back(model->named_params()[i].first, start[i]);
  base.manifest.window = kWindow;
  base.hash = base_hash;
  std::vector<checkpoints::AcceptedEntry> accepted = {{1, "a", "b", 1.0}, {2, "c", "d", 1.0}};
  auto next = aggregator::next_checkpoint(spec, base, kWindow + 1, accepted,
                                          {e.delta.get(), report->evaluations[1].delta.get()});
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_EQ(next->tensors.size(), start.size());
}

// Sharded runs (model.shards = 2, one shard per miner): a miner trains and submits only
// its assigned shard; validators hold it to that assignment, judge and normalise per
// cohort, and the aggregator merges and steps per shard, verifiably.
class ShardedEvaluatorTest : public EvaluatorTest {
 protected:
  void SetUp() override {
    EvaluatorTest::SetUp();
    spec.model.shards = 2;
    spec.model.shards_per_miner = 1;
  }

  std::vector<int> assigned(std::uint32_t uid) { return model::assign_shards(spec.seed, spec.model, kWindow, uid); }

  // An honest sharded miner's delta (undefined outside its shard) and its payload.
  std::pair<std::vector<torch::Tensor>, std::string> shard_delta(std::uint32_t uid) {
    model::GPT m = model::make_gpt(config, spec.seed);
    auto opt = trainer::make_adamw(m, spec.train);
    trainer::ShardAssignment assignment;
    EXPECT_TRUE(assignment.update(m, opt.get(), nullptr, spec, kWindow, uid).ok());
    trainer::InnerLoop loop{&spec};
    auto r = loop.run(m, *opt, start, train, pages(kWindow, uid), kWindow, uid);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    std::vector<gradients::IndexedTensor> in;
    for (std::uint32_t i : assignment.trained()) in.push_back({i, r->delta[i]});
    EXPECT_LT(assignment.fraction(), 1.0);
    auto e = gradients::encode_delta(in, codec);
    EXPECT_TRUE(e.ok());
    return {r->delta, e->bytes};
  }

  net::Submission sharded_submission(std::uint32_t uid, std::string payload, const std::vector<int>& shards) {
    auto s = submission(uid, std::move(payload));
    for (int x : shards) s.header.add_shards(static_cast<std::uint32_t>(x));
    return s;
  }
};

TEST_F(ShardedEvaluatorTest, OnlyTheAssignedShardIsAcceptedAndEachCohortIsNormalised) {
  // uids 1..4: two per shard (any 2 consecutive uids cover both shards once).
  std::vector<net::Submission> subs;
  std::vector<std::vector<torch::Tensor>> deltas;
  for (std::uint32_t uid = 1; uid <= 4; ++uid) {
    auto [delta, payload] = shard_delta(uid);
    deltas.push_back(delta);
    subs.push_back(sharded_submission(uid, payload, assigned(uid)));
  }
  // uid 5 claims the other shard than its assigned one; uid 6 sends a full-model delta
  // under its correct header; uid 7 names shards on a header of the right assignment but
  // adds one tensor of the other shard.
  const int other5 = 1 - assigned(5)[0];
  subs.push_back(sharded_submission(5, shard_delta(5).second, {other5}));
  subs.push_back(sharded_submission(6, encode(trained_delta(6, pages(kWindow, 6))), assigned(6)));
  auto [delta7, payload7] = shard_delta(7);
  std::vector<gradients::IndexedTensor> plus_one;
  for (std::uint32_t i = 0; i < delta7.size(); ++i) {
    if (delta7[i].defined()) plus_one.push_back({i, delta7[i]});
  }
  for (std::uint32_t i = 0; i < delta7.size(); ++i) {
    if (!delta7[i].defined()) {
      plus_one.push_back({i, torch::full(shapes[i], 1e-4)});
      break;
    }
  }
  std::sort(plus_one.begin(), plus_one.end(), [](const auto& a, const auto& b) { return a.param_index < b.param_index; });
  subs.push_back(sharded_submission(7, gradients::encode_delta(plus_one, codec)->bytes, assigned(7)));
  // uid 8 sends its honest shard delta with no shards named.
  subs.push_back(submission(8, shard_delta(8).second));

  auto report = evaluate_window(context(), subs);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->groups.count, 2);
  // The honest deltas pass every shard check and reach the loss measurement (whether a
  // partial delta of four nano inner steps lowers the held-out loss is the usual test:
  // here one of the four does not).
  std::map<std::vector<int>, std::vector<double>> by_cohort;
  std::vector<std::size_t> scored_at;
  for (std::size_t i = 0; i < 4; ++i) {
    const Evaluation& e = report->evaluations[i];
    EXPECT_TRUE(e.outcome == Outcome::kScored || e.outcome == Outcome::kNoGain || e.outcome == Outcome::kNotOwnData)
        << "uid " << e.uid << ": " << outcome_name(e.outcome) << " " << e.reason;
    EXPECT_EQ(e.shards, assigned(e.uid));
    if (e.outcome != Outcome::kScored) continue;
    by_cohort[e.shards].push_back(e.score);
    scored_at.push_back(i);
  }
  for (std::size_t i = 4; i < 8; ++i) {
    EXPECT_EQ(report->evaluations[i].outcome, Outcome::kWrongShard)
        << "uid " << report->evaluations[i].uid << ": " << outcome_name(report->evaluations[i].outcome) << " "
        << report->evaluations[i].reason;
  }
  EXPECT_NE(report->evaluations[6].reason.find("outside its assigned shards"), std::string::npos)
      << report->evaluations[6].reason;
  // Both cohorts end with the same median score.
  ASSERT_EQ(by_cohort.size(), 2u) << "both cohorts have a scored delta";
  const auto median = [](std::vector<double> v) { return gradients::median(std::move(v)); };
  EXPECT_NEAR(median(by_cohort.begin()->second), median(by_cohort.rbegin()->second), 1e-12);
  {
    // Measured ahead as they arrived, part by part: the same judgement.
    Prejudged ahead;
    prejudge_all(context(), subs, &ahead);
    if (HasFatalFailure()) return;
    WindowContext with = context();
    with.prejudged = &ahead;
    auto again = evaluate_window(with, subs);
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    expect_same_judgements(*report, *again);
    EXPECT_EQ(again->prejudged, 4u);
  }

  // The merge is per shard: each shard moves by the mean of its own cohort, not halved
  // by the other cohort's absence; with one cohort missing, its shard does not move at
  // all, momentum included; and `checkpoint verify`'s recomputation agrees bit for bit.
  spec.outer.momentum = 0.5;
  checkpoints::Checkpoint base;
  for (std::size_t i = 0; i < start.size(); ++i) base.tensors.emplace_back(model->named_params()[i].first, start[i].clone());
  base.manifest.window = kWindow;
  base.hash = base_hash;
  std::vector<checkpoints::AcceptedEntry> accepted;
  std::vector<const gradients::DecodedDelta*> scored;
  std::vector<std::string> payloads;
  for (std::size_t i : scored_at) {
    const auto& e = report->evaluations[i];
    accepted.push_back({e.uid, to_hex(e.hotkey), to_hex(e.payload_hash), e.score});
    scored.push_back(e.delta.get());
    payloads.push_back(subs[i].payload);
  }
  auto next = aggregator::next_checkpoint(spec, base, kWindow + 1, accepted, scored);
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_EQ(next->manifest.shard_norm_references.size(), 2u);
  EXPECT_EQ(next->manifest.norm_reference, 0.0);
  for (double r : next->manifest.shard_norm_references) EXPECT_GT(r, 0.0);
  checkpoints::Checkpoint child{next->manifest, next->tensors, next->manifest.content_hash()};
  EXPECT_TRUE(aggregator::verify_transition(spec, base, child, payloads).ok());
  // Coordinate-wise: a parameter of one shard moves by the mean of that cohort's
  // (clipped) deltas — with lr 1 and fresh momentum, C_{w+1} = C_w − mean.
  auto merged = gradients::merge_deltas(scored, shapes, report->groups, {0.0, 0.0});
  ASSERT_TRUE(merged.ok());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    ASSERT_TRUE((*merged)[i].defined()) << "every parameter belongs to one of the two cohorts";
    EXPECT_TRUE(torch::equal(next->tensors[i].second, start[i] - (*merged)[i])) << next->tensors[i].first;
  }
  // Window w+1 with only the first cohort's deltas: the other shard stays where it is.
  const std::vector<int> first_cohort = report->evaluations[scored_at[0]].shards;
  std::vector<checkpoints::AcceptedEntry> only_first;
  std::vector<const gradients::DecodedDelta*> only_first_deltas;
  for (std::size_t j = 0; j < scored_at.size(); ++j) {
    if (report->evaluations[scored_at[j]].shards != first_cohort) continue;
    only_first.push_back(accepted[j]);
    only_first_deltas.push_back(scored[j]);
  }
  auto after = aggregator::next_checkpoint(spec, child, kWindow + 2, only_first, only_first_deltas);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  std::size_t frozen = 0, moved = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const bool in_first = report->groups.group_of[i] == first_cohort[0];
    if (torch::equal(after->tensors[i].second, child.tensors[i].second)) {
      ++frozen;
      EXPECT_FALSE(in_first) << after->tensors[i].first;
    } else {
      ++moved;
      EXPECT_TRUE(in_first) << after->tensors[i].first;
    }
  }
  EXPECT_GT(frozen, 0u);
  EXPECT_GT(moved, 0u);
}

TEST_F(EvaluatorTest, ShardsNamedOnAnUnshardedRunAreRefused) {
  auto s = submission(1, encode(trained_delta(1, pages(kWindow, 1))));
  s.header.add_shards(0);
  auto report = evaluate_window(context(), {s});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->evaluations[0].outcome, Outcome::kWrongShard) << report->evaluations[0].reason;
  // A header naming a million shards is refused the same way, and its reason (kept in
  // verdicts and logs) stays short.
  auto flood = submission(1, encode(trained_delta(1, pages(kWindow, 1))));
  for (int i = 0; i < 1000000; ++i) flood.header.add_shards(static_cast<std::uint32_t>(i));
  report = evaluate_window(context(), {flood});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->evaluations[0].outcome, Outcome::kWrongShard);
  EXPECT_LT(report->evaluations[0].reason.size(), 200u) << report->evaluations[0].reason.substr(0, 300);
  EXPECT_NE(report->evaluations[0].reason.find("1000000 in all"), std::string::npos) << report->evaluations[0].reason;
}

TEST(ValidatorScores, MovingAverageDecaysForMissingWindowsAndResetsReplacedUids) {
  ValidatorState state;
  WindowReport r;
  Evaluation a;
  a.uid = 1;
  a.hotkey = "k1";
  a.outcome = Outcome::kScored;
  a.score = 1.0;
  r.evaluations.push_back(a);
  std::map<std::uint32_t, std::string> meta = {{0, "v"}, {1, "k1"}, {2, "k2"}};
  update_scores(state, r, 0.5, meta);
  EXPECT_DOUBLE_EQ(state.ema[1], 0.5);
  EXPECT_DOUBLE_EQ(state.ema[2], 0.0);
  update_scores(state, WindowReport{}, 0.5, meta);  // uid 1 missed a window
  EXPECT_DOUBLE_EQ(state.ema[1], 0.25);
  meta[1] = "new-owner";  // uid 1 was replaced by another hotkey
  update_scores(state, r, 0.5, meta);  // the old hotkey's evaluation no longer counts
  EXPECT_DOUBLE_EQ(state.ema[1], 0.0);
  a.hotkey = "k2";
  a.uid = 2;
  a.score = 2.0;
  WindowReport r2;
  r2.evaluations.push_back(a);
  update_scores(state, r2, 0.5, meta);
  auto [uids, values] = weights_from_scores(state, 2);
  ASSERT_EQ(uids, std::vector<std::uint32_t>{2});
  EXPECT_EQ(values[0], 65535u);
}

TEST(ValidatorScores, NotOwnDataPullsTheAverageDownAndEarnsNoWeight) {
  // A uid that passes the own-data test by chance in one window and fails it in the next
  // averages about zero; its other outcomes (a copy, a second submission) add nothing.
  ValidatorState state;
  std::map<std::uint32_t, std::string> meta = {{1, "k1"}, {2, "k2"}};
  auto evaluation = [](std::uint32_t uid, const std::string& hotkey, Outcome outcome, double score) {
    Evaluation e;
    e.uid = uid;
    e.hotkey = hotkey;
    e.outcome = outcome;
    e.score = score;
    return e;
  };
  WindowReport lucky, unlucky;
  lucky.evaluations = {evaluation(1, "k1", Outcome::kScored, 0.01), evaluation(2, "k2", Outcome::kScored, 0.02)};
  unlucky.evaluations = {evaluation(1, "k1", Outcome::kNotOwnData, -0.012), evaluation(1, "k1", Outcome::kDuplicate, 0.0),
                         evaluation(2, "k2", Outcome::kScored, 0.02)};
  update_scores(state, lucky, 0.5, meta);
  EXPECT_DOUBLE_EQ(state.ema[1], 0.005);
  update_scores(state, unlucky, 0.5, meta);
  EXPECT_DOUBLE_EQ(state.ema[1], 0.5 * 0.005 - 0.5 * 0.012);
  EXPECT_LT(state.ema[1], 0.0);
  auto [uids, values] = weights_from_scores(state, 2);
  EXPECT_EQ(uids, std::vector<std::uint32_t>{2});
}

TEST(ValidatorScores, AWeightPowerPaysTheWholeMoreThanItsParts) {
  // Averages 0.02 (one uid's whole work) and 0.01 + 0.01 (the same work split over two
  // uids). Linear weights pay the split exactly as much as the whole; squared weights pay
  // it half as much, so splitting, or doing half the work for half the score, stops paying.
  ValidatorState state;
  state.ema = {{1, 0.02}, {2, 0.01}, {3, 0.01}, {4, -0.01}};
  auto [uids1, linear] = weights_from_scores(state, 1);
  ASSERT_EQ(uids1, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(linear, (std::vector<std::uint32_t>{65535, 32768, 32768}));
  auto [uids2, squared] = weights_from_scores(state, 2);
  ASSERT_EQ(uids2, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(squared, (std::vector<std::uint32_t>{65535, 16384, 16384}));
  // A spec value outside 1–4 is refused with the key's name.
  auto bad = parse_run_spec("[run]\nname = \"x\"\n[validator]\nweight_power = 5\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("weight_power"), std::string::npos) << bad.status().message();
}

TEST(ValidatorState, RoundTripsAndRejectsDamage) {
  testing::TempDir dir;
  ValidatorState s;
  s.netuid = 3;
  s.hotkey = "ab";
  s.has_window = true;
  s.last_window = 42;
  s.ema = {{1, 0.5}, {4, 0.25}};
  s.counters["scored"] = 7;
  s.history.push_back({41, 3, 2, 4.5, 0.1});
  ASSERT_TRUE(save_validator_state(dir / "state.bin", s).ok());
  auto back = load_validator_state(dir / "state.bin");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->last_window, 42u);
  EXPECT_EQ(back->ema, s.ema);
  EXPECT_EQ(back->history.at(0).scored, 2u);
  std::string bytes = *read_file(dir / "state.bin");
  bytes[bytes.size() - 3] ^= 1;
  testing::write_text(dir / "state.bin", bytes);
  auto damaged = load_validator_state(dir / "state.bin");
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorrupted);
  EXPECT_NE(damaged.status().message().find("checksum"), std::string::npos) << damaged.status().message();
  EXPECT_EQ(load_validator_state(dir / "absent.bin").status().code(), StatusCode::kNotFound);
}

TEST(Verdict, SignedAndTamperEvident) {
  const Keypair key = Keypair::generate();
  WindowReport r;
  Evaluation e;
  e.uid = 4;
  e.outcome = Outcome::kScored;
  e.score = 0.3;
  e.payload_hash = std::string(32, 'p');
  r.evaluations.push_back(e);
  e.uid = 5;
  e.outcome = Outcome::kCopy;
  e.reason = std::string(1000, 'r');
  r.evaluations.push_back(e);
  r.loss_evaluated = 1;  // the held-out loss was measured (before_random is set)
  r.before_random = 2.5;
  auto sv = make_verdict(1, 9, std::string(64, 'c'), r, 123, key, {100, 200});
  auto v = open_verdict(sv);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_EQ(v->accepted_size(), 1);  // only scored submissions are accepted
  EXPECT_EQ(v->accepted(0).uid(), 4u);
  // Every judgement, with its reason (cut to 400 bytes) and payload size: why uid 5 was not paid.
  ASSERT_EQ(v->judged_size(), 2);
  EXPECT_EQ(v->judged(1).uid(), 5u);
  EXPECT_EQ(v->judged(1).outcome(), "copy");
  EXPECT_EQ(v->judged(1).reason().size(), 400u);
  EXPECT_EQ(v->judged(1).payload_bytes(), 200u);
  EXPECT_EQ(v->heldout_loss(), 2.5);
  EXPECT_EQ(v->window(), 9u);
  sv.mutable_verdict()->back() ^= 1;
  EXPECT_FALSE(open_verdict(sv).ok());
}

}  // namespace
}  // namespace tessera::verification

#include "checkpoints/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/hash.h"

#include "tests/test_util.h"

namespace tessera::checkpoints {
namespace {

NamedTensors model(float v) {
  return {{"wte.weight", torch::full({64, 32}, v)}, {"ln_f.bias", torch::arange(32).to(torch::kFloat) * v}};
}

Manifest manifest(std::uint64_t window, std::string parent = "") {
  Manifest m;
  m.run_id = "tiny-fortunes";
  m.window = window;
  m.parent = std::move(parent);
  m.model = "tiny";
  m.outer = "sgd lr 1";
  m.accepted.push_back({3, std::string(64, 'a'), std::string(64, 'b'), 0.25});
  return m;
}

// `good` parsed again with the field `at` picks replaced by `raw` as raw text: some values
// (1e400) are not numbers a JSON writer can make.
template <typename At>
Result<Manifest> with_raw(const std::string& good, At at, const std::string& raw) {
  auto j = nlohmann::json::parse(good);
  at(j) = "@value@";
  std::string text = j.dump();
  text.replace(text.find("\"@value@\""), 9, raw);
  return Manifest::from_json(text);
}

// A manifest is read from any source: hostile norm references are refused, named.
TEST(Manifest, HostileNormReferencesAreRefusedWithTheirName) {
  const std::string good = manifest(3).to_json();
  ASSERT_TRUE(Manifest::from_json(good).ok());
  auto with = [&](const std::string& key, const std::string& value) {
    return with_raw(good, [&](nlohmann::json& j) -> nlohmann::json& { return j[key]; }, value);
  };
  std::string many = "[";
  for (int i = 0; i < 1025; ++i) many += (i ? ",1.0" : "1.0");
  many += "]";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"shard_norm_references", many, "more than 1024"},
      {"shard_norm_references", "[1.0, -2.0]", "finite number >= 0"},
      {"shard_norm_references", "[1.0, 1e400]", "manifest"},  // out of double range: not a number
      {"shard_norm_references", "[1.0, null]", "manifest"},
      {"shard_norm_references", "\"1.0\"", "manifest"},
      {"norm_reference", "0", "positive finite"},
      {"norm_reference", "-1.5", "positive finite"},
      {"norm_reference_unit", "\"lr\"", "norm_reference_unit must be \"warmup-rate\""},
      {"norm_reference_unit", "true", "manifest"},
  };
  for (const auto& [key, value, named] : cases) {
    auto m = with(key, value);
    ASSERT_FALSE(m.ok()) << key << " = " << value.substr(0, 40);
    EXPECT_EQ(m.status().code(), StatusCode::kCorrupted);
    EXPECT_NE(m.status().message().find(named), std::string::npos) << m.status().message();
  }
  auto fine = with("shard_norm_references", "[0.0, 2.5]");
  ASSERT_TRUE(fine.ok()) << fine.status().to_string();
  EXPECT_EQ(fine->shard_norm_references, (std::vector<double>{0.0, 2.5}));
  auto per_rate = with("norm_reference_unit", "\"warmup-rate\"");
  ASSERT_TRUE(per_rate.ok()) << per_rate.status().to_string();
  EXPECT_TRUE(per_rate->references_per_warmup_rate);
  EXPECT_FALSE(Manifest::from_json(good)->references_per_warmup_rate);
}

// The references a window is judged against: the stored ones times the window's warm-up
// rate when the run stores them per unit of it, as stored under the earlier rules.
TEST(Manifest, WindowReferencesScaleByTheWarmUpRateOnlyUnderTheirRule) {
  Manifest m = manifest(3);
  m.origin_window = 4;
  m.window = 5;  // steps 10–19 of a 30-step warm-up: a mean factor of 15.5 / 30
  m.norm_reference = 2.0;
  EXPECT_EQ(window_references(m, 1, 10, 30), (std::vector<double>{2.0}));
  m.references_per_warmup_rate = true;
  EXPECT_DOUBLE_EQ(window_references(m, 1, 10, 30)[0], 2.0 * 15.5 / 30.0);
  EXPECT_EQ(window_references(m, 1, 10, 0), (std::vector<double>{2.0}));  // no warm-up: the rate is 1
  m.window = 7;  // past the warm-up
  EXPECT_EQ(window_references(m, 1, 10, 30), (std::vector<double>{2.0}));
  m.window = 5;
  set_norm_references(&m, {0.0, 3.0});  // per shard; a shard without one stays without
  const auto shards = window_references(m, 2, 10, 30);
  EXPECT_EQ(shards[0], 0.0);
  EXPECT_DOUBLE_EQ(shards[1], 3.0 * 15.5 / 30.0);
  // The flag is part of what the hash covers.
  Manifest legacy = m;
  legacy.references_per_warmup_rate = false;
  EXPECT_NE(legacy.content_hash(), m.content_hash());
}

// Integer fields take only non-negative integers that fit: a float, a negative number or
// a larger one is refused, named, where the JSON library would have converted it silently
// (a float out of range with undefined behaviour).
TEST(Manifest, HostileIntegersAreRefusedWithTheirName) {
  Manifest base = manifest(3);
  base.tensors.push_back({"wte.weight", {64, 32}, std::string(64, 'c')});
  const std::string good = base.to_json();
  auto parsed = Manifest::from_json(good);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->tensors.at(0).shape, (std::vector<std::int64_t>{64, 32}));
  EXPECT_EQ(parsed->accepted.at(0).uid, 3u);
  // `path` names where the raw `value` goes: a top-level key, or accepted[0].uid /
  // tensors[0].shape.
  auto with = [&](const std::string& path, const std::string& value) {
    return with_raw(good,
                    [&](nlohmann::json& j) -> nlohmann::json& {
                      if (path == "uid") return j["accepted"][0]["uid"];
                      if (path == "shape") return j["tensors"][0]["shape"];
                      return j[path];
                    },
                    value);
  };
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"window", "1e30", "window is not an unsigned 64-bit integer"},
      {"window", "3.0", "window is not an unsigned 64-bit integer"},
      {"window", "-1", "window is not an unsigned 64-bit integer"},
      {"origin_window", "\"0\"", "origin_window is not an unsigned 64-bit integer"},
      {"uid", "4294967296", "uid is not an unsigned 32-bit integer"},
      {"uid", "-3", "uid is not an unsigned 32-bit integer"},
      {"shape", "[64, -32]", "tensor dimension"},
      {"shape", "[64, 1e300]", "tensor dimension"},
      {"shape", "[64, 9223372036854775808]", "tensor dimension"},
      {"shape", "64", "not an array"},
  };
  for (const auto& [path, value, named] : cases) {
    auto m = with(path, value);
    ASSERT_FALSE(m.ok()) << path << " = " << value;
    EXPECT_EQ(m.status().code(), StatusCode::kCorrupted);
    EXPECT_NE(m.status().message().find(named), std::string::npos) << m.status().message();
  }
}

TEST(CheckpointStore, PutGetVerifiesAndPointsLatest) {
  testing::TempDir dir;
  auto store = CheckpointStore::open(dir.path());
  ASSERT_TRUE(store.ok());
  const Keypair aggregator = Keypair::generate();
  auto h0 = store->put(model(1.0f), manifest(0), aggregator);
  ASSERT_TRUE(h0.ok()) << h0.status().to_string();
  auto h1 = store->put(model(2.0f), manifest(1, *h0), aggregator);
  ASSERT_TRUE(h1.ok());
  EXPECT_NE(*h0, *h1);
  EXPECT_EQ(*store->latest(), *h1);
  auto c = store->get(*h1);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->manifest.parent, *h0);
  EXPECT_EQ(c->manifest.signer, aggregator.public_hex());
  EXPECT_TRUE(torch::equal(c->tensors[0].second, model(2.0f)[0].second));
  // Same content → same hash (content addressing, deterministic manifest).
  EXPECT_EQ(*store->put(model(2.0f), manifest(1, *h0), aggregator), *h1);
  EXPECT_EQ(store->get("zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->get(std::string(64, '0')).status().code(), StatusCode::kNotFound);
}

TEST(CheckpointStore, CorruptionIsDetectedAndNamed) {
  testing::TempDir dir;
  auto store = *CheckpointStore::open(dir.path());
  const auto hash = *store.put(model(1.5f), manifest(4), Keypair::generate());
  const auto file = dir.path() / "objects" / hash / "model.safetensors";
  testing::flip_byte_from_end(file, 3);  // inside ln_f.bias
  auto r = store.get(hash);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tensor ln_f.bias does not match its hash"), std::string::npos) << r.status().message();
  // A tampered manifest no longer hashes to its folder name.
  const auto mpath = dir.path() / "objects" / hash / "manifest.json";
  std::string text = *read_file(mpath);
  text.replace(text.find("tiny-fortunes"), 4, "evil");
  testing::write_text(mpath, text);
  r = store.get(hash);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not hash to its name"), std::string::npos) << r.status().message();
}

TEST(CheckpointStore, RetentionKeepsTheLastNAndEveryMth) {
  testing::TempDir dir;
  auto store = *CheckpointStore::open(dir.path(), Retention{3, 5});
  const Keypair k = Keypair::generate();
  std::vector<std::string> hashes;
  for (std::uint64_t w = 0; w < 12; ++w) hashes.push_back(*store.put(model(static_cast<float>(w)), manifest(w), k));
  auto kept = store.list();
  std::set<std::string> want = {hashes[0], hashes[5], hashes[10], hashes[9], hashes[11]};
  EXPECT_EQ(std::set<std::string>(kept.begin(), kept.end()), want);
  EXPECT_EQ(*store.latest(), hashes[11]);
}

TEST(CheckpointStore, KillDuringWritesLeavesOnlyCompleteCheckpoints) {
  testing::TempDir dir;
  for (int round = 0; round < 4; ++round) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto store = *CheckpointStore::open(dir.path(), Retention{1000, 0});
      const Keypair k = Keypair::generate();
      for (std::uint64_t w = 0;; ++w) {
        NamedTensors big = {{"w", torch::full({256, 256}, static_cast<float>(w + 1000 * round))}};
        if (!store.put(big, manifest(w + 1000 * static_cast<std::uint64_t>(round)), k).ok()) _exit(2);
      }
    }
    usleep(static_cast<useconds_t>(150000 + 37000 * round));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  auto store = CheckpointStore::open(dir.path(), Retention{1000, 0});
  ASSERT_TRUE(store.ok());
  const auto all = store->list();
  ASSERT_GT(all.size(), 2u);
  for (const auto& h : all) {
    auto c = store->get(h);
    EXPECT_TRUE(c.ok()) << h << ": " << c.status().to_string();
  }
  auto latest = store->latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE(store->get(*latest).ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "tmp"));  // staging leftovers removed on open
}

TEST(CheckpointStore, RetentionRemovesTheBlobsAndUpdatesOfDroppedCheckpoints) {
  testing::TempDir dir;
  auto store = *CheckpointStore::open(dir.path(), Retention{2, 0});
  const Keypair k = Keypair::generate();
  std::vector<std::string> hashes, blobs;
  for (std::uint64_t w = 0; w < 5; ++w) {
    // As the aggregator stores a window: its accepted payload, the checkpoint that lists
    // it, then the update leading to it.
    const std::string payload = "payload of window " + std::to_string(w);
    blobs.push_back(to_hex(blake2b_256(payload)));
    ASSERT_TRUE(store.put_blob(blobs.back(), payload).ok());
    Manifest m = manifest(w, hashes.empty() ? "" : hashes.back());
    m.accepted = {{1, std::string(64, 'a'), blobs.back(), 1.0}};
    hashes.push_back(*store.put(model(static_cast<float>(w)), m, k));
    ASSERT_TRUE(store.put_update(hashes.back(), "update to " + std::to_string(w)).ok());
  }
  const auto kept_now = store.list();
  EXPECT_EQ(std::set<std::string>(kept_now.begin(), kept_now.end()), (std::set<std::string>{hashes[3], hashes[4]}));
  for (std::size_t w = 0; w < 5; ++w) {
    const bool kept = w >= 3;
    // The update to C_w and the payloads it merged go with C_w.
    EXPECT_EQ(store.get_blob(blobs[w]).ok(), kept) << "blob of window " << w;
    EXPECT_EQ(store.get_update(hashes[w]).ok(), kept) << "update to window " << w;
  }
  // The next put drops C_3 with its update and payload.
  hashes.push_back(*store.put(model(5.0f), manifest(5, hashes.back()), k));
  EXPECT_FALSE(store.get_update(hashes[3]).ok());
  EXPECT_FALSE(store.get_blob(blobs[3]).ok());
  EXPECT_TRUE(store.get_update(hashes[4]).ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "tmp"));
}

TEST(CheckpointStore, OneWriterAtATimeAndReadersNeverWrite) {
  testing::TempDir dir;
  const Keypair k = Keypair::generate();
  std::string hash;
  {
    auto writer = CheckpointStore::open(dir.path());
    ASSERT_TRUE(writer.ok());
    hash = *writer->put(model(1.0f), manifest(0), k);
    auto second = CheckpointStore::open(dir.path());
    ASSERT_FALSE(second.ok()) << "two writers opened one store";
    EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(second.status().message().find("one writer at a time"), std::string::npos) << second.status().message();
    // A reader beside the writer reads, and refuses to write.
    auto reader = CheckpointStore::open_read_only(dir.path());
    ASSERT_TRUE(reader.ok());
    EXPECT_TRUE(reader->get(hash).ok());
    auto refused = reader->put(model(2.0f), manifest(1), k);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("read-only"), std::string::npos);
  }
  // Another process holding the store keeps this one out until it dies.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    auto held = CheckpointStore::open(dir.path());
    const char c = held.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_FALSE(CheckpointStore::open(dir.path()).ok());
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_TRUE(CheckpointStore::open(dir.path()).ok()) << "the lock outlived its process";
}

}  // namespace
}  // namespace tessera::checkpoints

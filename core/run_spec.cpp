#include "core/run_spec.h"

#include <cmath>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/file_io.h"

namespace tessera {

namespace {

std::string describe(const toml::node& node) {
  std::ostringstream ss;
  if (auto s = node.as_string()) ss << '"' << s->get() << '"';
  else if (node.is_table()) ss << "{table}";
  else if (node.is_array()) ss << "[array]";
  else node.visit([&](auto&& v) { ss << v; });
  return ss.str();
}

// Reads one TOML table, remembering which keys were consumed so that unknown keys can
// be reported; the first error wins.
class SectionReader {
 public:
  SectionReader(const toml::table* table, std::string section, std::string source, Status* error)
      : table_(table), section_(std::move(section)), source_(std::move(source)), error_(error) {}

  void integer(const char* key, auto* out, std::int64_t min, std::int64_t max) {
    const toml::node* node = find(key);
    if (!node) return;
    auto v = node->value<std::int64_t>();
    if (!node->is_integer() || !v) return fail(*node, key, "must be an integer");
    if (*v < min || *v > max) {
      return fail(*node, key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
  }

  void unsigned64(const char* key, std::uint64_t* out) {
    const toml::node* node = find(key);
    if (!node) return;
    auto v = node->value<std::int64_t>();
    if (!node->is_integer() || !v) return fail(*node, key, "must be an integer");
    if (*v < 0) return fail(*node, key, "must be >= 0");
    *out = static_cast<std::uint64_t>(*v);
  }

  // Real-valued key; integers are accepted. `min_open`/`max_open` exclude the bound.
  void real(const char* key, double* out, double min, double max, bool min_open = false,
            bool max_open = false) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_number()) return fail(*node, key, "must be a number");
    double v = node->value<double>().value_or(NAN);
    bool below = min_open ? !(v > min) : !(v >= min);
    bool above = max_open ? !(v < max) : !(v <= max);
    if (!std::isfinite(v) || below || above) {
      std::ostringstream range;
      range << (min_open ? "(" : "[") << min << ", " << max << (max_open ? ")" : "]");
      return fail(*node, key, "must be a finite number in " + range.str());
    }
    *out = v;
  }

  void boolean(const char* key, bool* out) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_boolean()) return fail(*node, key, "must be true or false");
    *out = node->value<bool>().value_or(false);
  }

  void string(const char* key, std::string* out, bool allow_empty = false) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_string()) return fail(*node, key, "must be a string");
    std::string v = node->value<std::string>().value_or("");
    if (v.empty() && !allow_empty) return fail(*node, key, "must not be empty");
    *out = v;
  }

  void choice(const char* key, std::string* out, std::initializer_list<const char*> allowed) {
    const toml::node* node = find(key);
    if (!node) return;
    std::string v = node->value<std::string>().value_or("");
    std::string list;
    bool found = false;
    for (const char* a : allowed) {
      list += (list.empty() ? "" : " | ") + std::string(a);
      if (node->is_string() && v == a) found = true;
    }
    if (!found) return fail(*node, key, "must be one of " + list);
    *out = v;
  }

  // Call after all keys were read: reports the first key nobody asked for.
  void reject_unknown() {
    if (!table_ || !error_->ok()) return;
    for (auto&& [k, node] : *table_) {
      if (!seen_.count(std::string(k.str()))) {
        *error_ = InvalidArgument(where(node) + "unknown key " + qualified(std::string(k.str())));
        return;
      }
    }
  }

  void fail(const toml::node& node, const std::string& key, const std::string& why) {
    if (!error_->ok()) return;
    *error_ = InvalidArgument(where(node) + qualified(key) + " = " + describe(node) + ": " + why);
  }

  std::string where(const toml::node& node) const {
    return source_ + ":" + std::to_string(node.source().begin.line) + ": ";
  }

 private:
  const toml::node* find(const char* key) {
    seen_.insert(key);
    if (!table_ || !error_->ok()) return nullptr;
    return table_->get(key);
  }
  std::string qualified(const std::string& key) const {
    return section_.empty() ? key : section_ + "." + key;
  }

  const toml::table* table_;
  std::string section_;
  std::string source_;
  Status* error_;
  std::set<std::string> seen_;
};

}  // namespace

Result<RunSpec> parse_run_spec(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(source + ":" + std::to_string(e.source().begin.line) + ": TOML syntax error: " +
                           std::string(e.description()));
  }

  RunSpec spec;
  spec.source = source;
  spec.text = text;
  Status error;

  std::set<std::string> known_sections;
  auto section = [&](const char* name, const std::function<void(SectionReader&)>& read) {
    known_sections.insert(name);
    const toml::node* node = root.get(name);
    if (node && !node->is_table() && error.ok()) {
      error = InvalidArgument(source + ":" + std::to_string(node->source().begin.line) + ": [" + name +
                              "] must be a table");
      return;
    }
    SectionReader r(node ? node->as_table() : nullptr, name, source, &error);
    read(r);
    r.reject_unknown();
  };

  section("run", [&](SectionReader& r) {
    r.string("name", &spec.name);
    r.unsigned64("seed", &spec.seed);
  });
  section("model", [&](SectionReader& r) {
    auto& m = spec.model;
    r.choice("preset", &m.preset, {"nano", "tiny", "small", "gpt2-124m"});
    r.integer("n_layer", &m.n_layer, 1, 256);
    r.integer("n_head", &m.n_head, 1, 256);
    r.integer("d_model", &m.d_model, 8, 16384);
    r.integer("context_length", &m.context_length, 2, 65536);
    r.integer("vocab_size", &m.vocab_size, 2, 1 << 20);
    r.integer("shards", &m.shards, 1, 1024);
    r.integer("shards_per_miner", &m.shards_per_miner, 0, 1024);
    r.integer("shard_epoch_windows", &m.shard_epoch_windows, 1, 1 << 20);
  });
  section("data", [&](SectionReader& r) {
    auto& d = spec.data;
    r.string("dir", &d.dir);
    r.integer("page_tokens", &d.page_tokens, 16, 1 << 24);
    r.integer("pages_per_window", &d.pages_per_window, 1, 1 << 16);
    r.choice("sampling", &d.sampling, {"uniform", "disjoint"});
  });
  section("schedule", [&](SectionReader& r) {
    auto& s = spec.schedule;
    r.integer("blocks_per_window", &s.blocks_per_window, 1, 1 << 20);
    r.integer("tempo", &s.tempo, 1, 65535);
    r.integer("block_time_ms", &s.block_time_ms, 10, 3600 * 1000);
    r.integer("submission_grace_blocks", &s.submission_grace_blocks, 0, 1 << 20);
  });
  section("train", [&](SectionReader& r) {
    auto& t = spec.train;
    r.integer("inner_steps", &t.inner_steps, 1, 1 << 20);
    r.integer("batch_size", &t.batch_size, 1, 1 << 16);
    r.integer("seq_len", &t.seq_len, 2, 65536);
    r.real("lr", &t.lr, 0.0, 10.0, /*min_open=*/true);
    r.real("min_lr_ratio", &t.min_lr_ratio, 0.0, 1.0);
    r.integer("warmup_steps", &t.warmup_steps, 0, 1 << 30);
    r.real("weight_decay", &t.weight_decay, 0.0, 10.0);
    r.real("beta1", &t.beta1, 0.0, 1.0, false, /*max_open=*/true);
    r.real("beta2", &t.beta2, 0.0, 1.0, false, /*max_open=*/true);
    r.real("grad_clip", &t.grad_clip, 0.0, 1e6, /*min_open=*/true);
    r.integer("baseline_steps", &t.baseline_steps, 1, 1 << 30);
    r.integer("baseline_batch_size", &t.baseline_batch_size, 1, 1 << 16);
    r.integer("eval_every", &t.eval_every, 0, 1 << 30);
    r.integer("eval_batches", &t.eval_batches, 1, 1 << 16);
    r.choice("autocast", &t.autocast, {"none", "bf16"});
  });
  section("outer", [&](SectionReader& r) {
    auto& o = spec.outer;
    r.choice("optimizer", &o.optimizer, {"sgd", "nesterov"});
    r.real("lr", &o.lr, 0.0, 100.0, /*min_open=*/true);
    r.real("momentum", &o.momentum, 0.0, 1.0, false, /*max_open=*/true);
    r.integer("warmup_windows", &o.warmup_windows, 0, 1 << 20);
    r.choice("rescale", &o.rescale, {"none", "norm"});
    r.real("rescale_max", &o.rescale_max, 1.0, 16.0);
  });
  section("codec", [&](SectionReader& r) {
    auto& c = spec.codec;
    r.choice("transform", &c.transform, {"none", "dct"});
    r.integer("topk", &c.topk, 1, 4096);  // kernels/topk.h: kMaxTopk
    r.integer("chunk_1d", &c.chunk_1d, 1, 1 << 16);
    r.integer("block_2d", &c.block_2d, 1, 256);
    r.choice("quant", &c.quant, {"fp16", "int8", "int4", "int2", "sign"});
    r.choice("embedding_quant", &c.embedding_quant, {"none", "fp16", "int8", "int4", "int2", "sign"});
    r.real("ef_beta", &c.ef_beta, 0.0, 1.0);
  });
  section("validator", [&](SectionReader& r) {
    auto& v = spec.validator;
    r.integer("eval_batch_size", &v.eval_batch_size, 1, 1 << 16);
    r.integer("own_batches", &v.own_batches, 1, 1 << 16);
    r.real("eval_lr", &v.eval_lr, 0.0, 1e6, /*min_open=*/true);
    r.integer("windows_per_weights", &v.windows_per_weights, 1, 1 << 20);
    r.real("score_ema", &v.score_ema, 0.0, 1.0, /*min_open=*/true);
    r.integer("weight_power", &v.weight_power, 1, 4);
    r.real("copy_similarity", &v.copy_similarity, 0.0, 1.0, /*min_open=*/true);
    // Read and range-checked for the specs of existing subnets (their chains replay them);
    // copies are judged by copy_similarity since index overlap missed swapped indices.
    double legacy_overlap = 0.9;
    r.real("overlap_threshold", &legacy_overlap, 0.0, 1.0, /*min_open=*/true);
    r.real("max_norm_ratio", &v.max_norm_ratio, 1.0, 1e6);
    r.real("min_stake", &v.min_stake, 0.0, 21e6);
    r.integer("max_payload_bytes", &v.max_payload_bytes, 1024, std::int64_t{1} << 34);
    r.boolean("commit_reveal", &v.commit_reveal);
    r.integer("reveal_delay", &v.reveal_delay, 1, 1 << 20);
    r.integer("reveal_window", &v.reveal_window, 1, 1 << 20);
  });
  section("emission", [&](SectionReader& r) {
    auto& e = spec.emission;
    r.real("owner_share", &e.owner_share, 0.0, 1.0);
    r.real("miner_share", &e.miner_share, 0.0, 1.0);
    r.real("validator_share", &e.validator_share, 0.0, 1.0);
    r.real("tao_per_block", &e.tao_per_block, 0.0, 1e9);
  });
  if (!error.ok()) return error;

  for (auto&& [k, node] : root) {
    if (!known_sections.count(std::string(k.str()))) {
      return InvalidArgument(source + ":" + std::to_string(node.source().begin.line) + ": unknown section [" +
                             std::string(k.str()) + "]");
    }
  }

  // Cross-key checks.
  const auto& c = spec.codec;
  const int chunk_2d = c.block_2d * c.block_2d;
  if (c.topk > c.chunk_1d || c.topk > chunk_2d) {
    return InvalidArgument(source + ": codec.topk = " + std::to_string(c.topk) +
                           ": must not exceed a chunk (chunk_1d = " + std::to_string(c.chunk_1d) +
                           ", block_2d² = " + std::to_string(chunk_2d) + ")");
  }
  if (c.transform == "dct" && c.block_2d > 64) {  // kernels/dct.h: kMaxDctSide
    return InvalidArgument(source + ": codec.block_2d = " + std::to_string(c.block_2d) +
                           ": must be at most 64 with codec.transform = \"dct\" (the DCT's largest block side)");
  }
  const auto& e = spec.emission;
  const double share_sum = e.owner_share + e.miner_share + e.validator_share;
  if (std::abs(share_sum - 1.0) > 1e-9) {
    return InvalidArgument(source + ": emission shares owner_share + miner_share + validator_share = " +
                           std::to_string(share_sum) + ": must sum to 1");
  }
  if (spec.data.page_tokens < spec.train.seq_len + 1) {
    return InvalidArgument(source + ": data.page_tokens = " + std::to_string(spec.data.page_tokens) +
                           ": must be at least train.seq_len + 1 = " + std::to_string(spec.train.seq_len + 1));
  }
  if (spec.model.n_head > 0 && spec.model.d_model > 0 && spec.model.d_model % spec.model.n_head != 0) {
    return InvalidArgument(source + ": model.d_model = " + std::to_string(spec.model.d_model) +
                           ": must be divisible by model.n_head = " + std::to_string(spec.model.n_head));
  }
  return spec;
}

Result<RunSpec> load_run_spec(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.status().with_context("reading run spec");
  return parse_run_spec(*text, path.string());
}

}  // namespace tessera

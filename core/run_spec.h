// RunSpec: everything that defines a training run, read from a TOML file
// (examples/*.toml; every key is documented in docs/run-spec.md).
//
// Parsing is strict: unknown sections or keys, wrong types and out-of-range values are
// errors that name the file, the line, the key and the offending value. Keys that are
// absent take the defaults below.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/status.h"

namespace tessera {

struct ModelSpec {
  std::string preset = "tiny";  // nano | tiny | small | gpt2-124m
  // Optional overrides of the preset; 0 means "take the preset's value".
  int n_layer = 0;
  int n_head = 0;
  int d_model = 0;
  int context_length = 0;
  int vocab_size = 0;
  int shards = 1;  // parameter shards S (model/shards.h)
  // Shards each miner trains, assigned by the protocol (model/shards.h assign_shards);
  // 0: all of them (every miner trains the whole model).
  int shards_per_miner = 0;
  // Windows an assignment holds: a miner keeps its shards (and their optimizer and
  // error-feedback state) for this many windows before the rotation moves on.
  int shard_epoch_windows = 16;
  // True when miners train only part of the model.
  bool sharded() const { return shards_per_miner > 0 && shards_per_miner < shards; }
};

struct DataSpec {
  std::string dir = "data/fortunes";  // holds train_*.bin and val_*.bin (llm.c shards)
  int page_tokens = 4096;             // a page: a contiguous span of the training split
  int pages_per_window = 4;           // pages assigned to each miner per window
  // How a miner's inner batches are cut from its pages (dataset/token_dataset.h
  // inner_batch): "uniform", each row at a uniform offset inside a page, so that rows of
  // one window overlap; "disjoint", the window's rows are distinct slots of its pages.
  std::string sampling = "uniform";
};

struct ScheduleSpec {
  int blocks_per_window = 20;
  int tempo = 100;             // blocks per epoch
  int block_time_ms = 12000;   // the embedded node's block interval
  int submission_grace_blocks = 2;
};

struct TrainSpec {
  int inner_steps = 10;   // H: inner AdamW steps per window
  int batch_size = 8;
  int seq_len = 128;
  double lr = 3e-3;
  double min_lr_ratio = 0.1;  // cosine schedule floor, as a fraction of lr
  int warmup_steps = 20;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double grad_clip = 1.0;
  int baseline_steps = 600;   // `tessera train` default length
  int baseline_batch_size = 0;  // `tessera train`'s batch (0: batch_size), tuned apart from the miners'
  int eval_every = 100;       // steps between validation evaluations (0 = only at the end)
  int eval_batches = 8;
  // Mixed precision of training steps: "none" (float32) or "bf16" (autocast on CUDA GPUs
  // of compute capability 8.0 or later; float32 elsewhere). Never used for evaluation.
  std::string autocast = "none";

  // Sequences per step of the centralized baseline (`tessera train`).
  int centralized_batch() const { return baseline_batch_size > 0 ? baseline_batch_size : batch_size; }
};

struct OuterSpec {
  std::string optimizer = "sgd";  // sgd | nesterov (docs/codec.md: EF replaces momentum)
  double lr = 1.0;
  double momentum = 0.0;
  // Momentum warm-up: outer step t (0 = the first after the run's initial checkpoint)
  // uses momentum · min(1, (t + 1) / warmup_windows); 0 = none.
  int warmup_windows = 0;
  // "none", or "norm": each group's merged update is scaled up towards the median norm of
  // the deltas it averages (at most rescale_max times), undoing the shrinkage of averaging
  // updates whose noisy parts cancel (docs/checkpoints.md "Merge and outer step").
  std::string rescale = "none";
  double rescale_max = 2.0;
};

struct CodecSpec {
  std::string transform = "none";  // none | dct
  int topk = 32;                  // values kept per chunk
  int chunk_1d = 4096;            // max elements of a 1-D chunk
  int block_2d = 64;              // max side of a 2-D block
  std::string quant = "int2";     // fp16 | int8 | int4 | int2 | sign
  // "none": the embedding tables are coded as every other parameter. A quantiser
  // (fp16 | int8 | int4 | int2 | sign): the model's two embedding tables (the token table,
  // which is also the output head, and the position table) are sent whole, every value,
  // with that quantiser and no index section (docs/codec.md "Embeddings sent whole").
  std::string embedding_quant = "none";
  double ef_beta = 0.95;          // error-feedback decay
};

struct ValidatorSpec {
  int eval_batch_size = 8;
  // Own-pages test: how many of the miner's exact inner batches its own gain is measured
  // on (consecutive steps from a private pick; at most train.inner_steps).
  int own_batches = 1;
  double eval_lr = 1.0;        // η_eval: step size a delta is applied with for evaluation
  int windows_per_weights = 4;
  double score_ema = 0.2;      // weight of the newest window in the moving average
  // Weights ∝ (average / top average)^weight_power. Above 1, a uid earns more than the
  // sum of its parts split over several uids and more per unit of compute for a whole
  // window's work than for a cheap part of it (docs/roles.md, "Scores").
  int weight_power = 2;
  // A delta whose cosine similarity with an earlier one of the window, or with a public
  // delta of the previous window, exceeds this is a copy.
  double copy_similarity = 0.8;
  double max_norm_ratio = 4.0;  // a delta whose norm exceeds this × the norm reference is rejected
  // TAO a neuron must hold as stake for miners to submit to it (subnet/join.h).
  double min_stake = 10.0;
  std::int64_t max_payload_bytes = 16 << 20;
  // Weights through commit–reveal: validators commit a hash, then reveal the weights
  // between reveal_delay and reveal_delay + reveal_window blocks later.
  bool commit_reveal = false;
  int reveal_delay = 10;
  int reveal_window = 100;
};

struct EmissionSpec {
  double owner_share = 0.18;
  double miner_share = 0.41;
  double validator_share = 0.41;
  double tao_per_block = 1.0;
};

struct RunSpec {
  std::string name = "run";
  std::uint64_t seed = 1;
  ModelSpec model;
  DataSpec data;
  ScheduleSpec schedule;
  TrainSpec train;
  OuterSpec outer;
  CodecSpec codec;
  ValidatorSpec validator;
  EmissionSpec emission;

  std::string source;  // where it was read from (for messages)
  std::string text;    // the exact TOML text (hashed when a subnet stores its spec)
};

// Parses TOML text. `source` names the origin in error messages.
Result<RunSpec> parse_run_spec(const std::string& text, const std::string& source = "<spec>");
Result<RunSpec> load_run_spec(const std::filesystem::path& path);

}  // namespace tessera

// Error feedback: E ← β·E + Δ; msg = encode(E); E ← E − decode(msg). What the codec drops
// stays in E and is offered again in later windows, decayed by β each window. A step
// whose encoding fails leaves E unchanged; what a validator rejects is not added back.
#pragma once

#include <vector>

#include "gradients/codec.h"

namespace tessera::gradients {

class ErrorFeedback {
 public:
  explicit ErrorFeedback(double beta) : beta_(beta) {}

  // Accumulates `delta` (one tensor per parameter, in order, for the given indices),
  // encodes the buffer and subtracts what the receiver will decode. Buffers live on the
  // device of their first delta. On an error (a non-finite delta, a shape that changed)
  // no buffer changes.
  Result<EncodedDelta> step(const std::vector<IndexedTensor>& delta, const CodecSettings& settings);

  // The residual buffer of a parameter (undefined until it was first stepped).
  torch::Tensor buffer(std::uint32_t param_index) const;
  const std::vector<std::pair<std::uint32_t, torch::Tensor>>& buffers() const { return buffers_; }
  void restore(std::vector<std::pair<std::uint32_t, torch::Tensor>> buffers) { buffers_ = std::move(buffers); }
  // Drops the buffers of every parameter not in `kept` (sorted): a miner that no longer
  // trains a shard lets its residual go.
  void keep_only(const std::vector<std::uint32_t>& kept);

 private:
  double beta_;
  std::vector<std::pair<std::uint32_t, torch::Tensor>> buffers_;  // sorted by index
};

}  // namespace tessera::gradients

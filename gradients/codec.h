// The delta codec: chunking, optional 2-D DCT, top-k per chunk, value quantisation with
// per-chunk scales, Elias–Fano index coding, and the protobuf wire format (DeltaPayload).
//
// Encoding is deterministic (same input → same bytes). Decoding validates everything a
// hostile peer could get wrong — settings, tensor order, shapes against the model, chunk
// geometry, exact section sizes, index order and range, quantisation codes, finite
// scales and values — and returns a Corrupted/InvalidArgument status naming the tensor
// and the violation. It never reads out of bounds. See docs/codec.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/run_spec.h"
#include "core/status.h"
#include "kernels/quantize.h"

namespace tessera::gradients {

enum class Transform { kNone = 1, kDct = 2 };
// The quantiser of a chunk's values (kernels/quantize.h documents each); the wire format
// names it with proto::Quant, converted in codec.cpp only.
using Quant = kernels::QuantKind;

// The GPT's embedding tables are its first two parameters: model/gpt.cpp registers wte
// (the token table, also the output head) and then wpe (positions) before the blocks, and
// model_test pins that order.
inline constexpr std::uint32_t kEmbeddingParams[] = {0, 1};

struct CodecSettings {
  Transform transform = Transform::kNone;
  Quant quant = Quant::kInt2;
  std::uint32_t topk = 32;
  std::uint32_t chunk_1d = 4096;
  std::uint32_t block_2d = 64;
  // Parameters sent whole (sorted; empty: none): every value of every chunk, quantised
  // with `whole_quant`, untransformed, with no index section.
  std::vector<std::uint32_t> whole_params;
  Quant whole_quant = Quant::kInt8;
  // Set only in the settings for_param() gives a whole parameter: every value is kept.
  bool keep_all = false;

  static Result<CodecSettings> from_spec(const CodecSpec& spec);
  // "int2-k32", "sign-k8", "fp16-k32", optionally with "-dct" for the 2-D DCT, then
  // optionally "-emb-int8" (any quantiser) for the embedding tables sent whole.
  static Result<CodecSettings> from_preset(const std::string& name);
  std::string name() const;
  // The settings parameter `param_index` is encoded with.
  CodecSettings for_param(std::uint32_t param_index) const;
};

const char* quant_name(Quant q);

// How one tensor is cut into chunks.
struct ChunkGeometry {
  std::int64_t rows = 1, cols = 0;              // 1-D tensors: rows = 1, cols = numel
  std::int64_t block_rows = 1, block_cols = 0;  // 2-D: divisors of rows/cols; 1-D: chunk length
  bool two_d = false;
  std::int64_t chunk_len() const { return block_rows * block_cols; }
  std::int64_t num_chunks() const;
  std::int64_t numel() const { return rows * cols; }
  std::int64_t chunk_size(std::int64_t c) const;  // the last 1-D chunk may be shorter
};

Result<ChunkGeometry> chunk_geometry(const std::vector<std::int64_t>& shape, const CodecSettings& settings);
// Values kept in a chunk of `len` elements.
std::uint32_t values_per_chunk(std::int64_t len, bool two_d, const CodecSettings& settings);

// One parameter's decoded update, in parameter coordinates: either sparse (flat indices
// strictly increasing + values) or dense (a full tensor, for transformed chunks).
struct TensorUpdate {
  std::uint32_t param_index = 0;
  torch::Tensor flat_index;  // int64 [nnz], defined when sparse
  torch::Tensor values;      // float [nnz], defined when sparse
  torch::Tensor dense;       // float, parameter shape, defined when dense
  bool is_dense() const { return dense.defined(); }
  // The update as a dense float tensor of `shape`.
  torch::Tensor to_dense(at::IntArrayRef shape) const;
};

// base[offset, offset + length) of a contiguous 1-D tensor as a tensor sharing its storage.
// Built with TensorImpl directly, not narrow(): the dispatcher costs more than a small
// update's few hundred entries (decode + apply 0.38× memcpy against 0.24×; docs/codec.md).
torch::Tensor slice_1d(const torch::Tensor& base, std::int64_t offset, std::int64_t length);

struct DecodedDelta {
  std::vector<TensorUpdate> tensors;  // strictly increasing param_index
};

struct EncodedDelta {
  std::string bytes;           // serialised DeltaPayload
  DecodedDelta reconstruction; // exactly what decode_delta(bytes) yields
};

// One tensor to encode: its index in the model's parameter order and its value.
struct IndexedTensor {
  std::uint32_t param_index;
  torch::Tensor value;
};

Result<EncodedDelta> encode_delta(const std::vector<IndexedTensor>& tensors, const CodecSettings& settings);

struct DecodeLimits {
  std::uint64_t max_payload_bytes = 64u << 20;
};

// `param_shapes[i]` is the model's shape of parameter i. `expected` are the run's codec
// settings: a payload encoded with other settings is rejected.
Result<DecodedDelta> decode_delta(std::string_view bytes, const std::vector<std::vector<std::int64_t>>& param_shapes,
                                  const CodecSettings& expected, const DecodeLimits& limits = {});

}  // namespace tessera::gradients

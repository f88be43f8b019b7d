#include "gradients/codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gradients/bitstream.h"
#include "gradients/dispatch.h"
#include "gradients/elias_fano.h"
#include "kernels/blocks.h"
#include "kernels/dct.h"
#include "kernels/numeric.h"
#include "kernels/quantize.h"
#include "kernels/topk.h"
#include "proto/delta.pb.h"

namespace tessera::gradients {

constexpr std::uint32_t kFormatVersion = 1;

const char* quant_name(Quant q) {
  switch (q) {
    case Quant::kFp16: return "fp16";
    case Quant::kInt8: return "int8";
    case Quant::kInt4: return "int4";
    case Quant::kInt2: return "int2";
    case Quant::kSign: return "sign";
  }
  return "?";
}

namespace {
Result<Quant> parse_quant(const std::string& s) {
  for (Quant q : {Quant::kFp16, Quant::kInt8, Quant::kInt4, Quant::kInt2, Quant::kSign}) {
    if (s == quant_name(q)) return q;
  }
  return InvalidArgument("unknown quantisation '" + s + "' (fp16 | int8 | int4 | int2 | sign)");
}
}  // namespace

Result<CodecSettings> CodecSettings::from_spec(const CodecSpec& spec) {
  CodecSettings s;
  s.transform = spec.transform == "dct" ? Transform::kDct : Transform::kNone;
  TESSERA_ASSIGN_OR_RETURN(s.quant, parse_quant(spec.quant));
  s.topk = static_cast<std::uint32_t>(spec.topk);
  s.chunk_1d = static_cast<std::uint32_t>(spec.chunk_1d);
  s.block_2d = static_cast<std::uint32_t>(spec.block_2d);
  if (s.topk == 0 || s.topk > s.chunk_1d || s.topk > s.block_2d * s.block_2d || s.topk > kernels::kMaxTopk) {
    return InvalidArgument("codec.topk = " + std::to_string(s.topk) + " must be in [1, min(chunk size, " +
                           std::to_string(kernels::kMaxTopk) + ")]");
  }
  if (s.transform == Transform::kDct && s.block_2d > static_cast<std::uint32_t>(kernels::kMaxDctSide)) {
    return InvalidArgument("codec.block_2d = " + std::to_string(s.block_2d) + " exceeds the DCT's largest block side " +
                           std::to_string(kernels::kMaxDctSide));
  }
  if (spec.embedding_quant != "none") {
    TESSERA_ASSIGN_OR_RETURN(s.whole_quant, parse_quant(spec.embedding_quant));
    s.whole_params.assign(std::begin(kEmbeddingParams), std::end(kEmbeddingParams));
  }
  return s;
}

CodecSettings CodecSettings::for_param(std::uint32_t param_index) const {
  if (!std::binary_search(whole_params.begin(), whole_params.end(), param_index)) return *this;
  CodecSettings s = *this;
  s.transform = Transform::kNone;
  s.quant = whole_quant;
  s.keep_all = true;
  return s;
}

Result<CodecSettings> CodecSettings::from_preset(const std::string& name) {
  CodecSettings s;
  std::string rest = name;
  s.transform = Transform::kNone;
  if (const auto emb = rest.find("-emb-"); emb != std::string::npos) {
    TESSERA_ASSIGN_OR_RETURN(s.whole_quant, parse_quant(rest.substr(emb + 5)));
    s.whole_params.assign(std::begin(kEmbeddingParams), std::end(kEmbeddingParams));
    rest = rest.substr(0, emb);
  }
  if (rest.size() > 4 && rest.substr(rest.size() - 4) == "-dct") {
    s.transform = Transform::kDct;
    rest = rest.substr(0, rest.size() - 4);
  }
  const auto dash = rest.find("-k");
  if (dash == std::string::npos) return InvalidArgument("codec preset '" + name + "' must look like int2-k32");
  TESSERA_ASSIGN_OR_RETURN(s.quant, parse_quant(rest.substr(0, dash)));
  const std::string k = rest.substr(dash + 2);
  if (k.empty() || k.size() > 5 || k.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("codec preset '" + name + "': bad k '" + k + "'");
  }
  s.topk = static_cast<std::uint32_t>(std::stoul(k));
  if (s.topk == 0 || s.topk > kernels::kMaxTopk) return InvalidArgument("codec preset '" + name + "': k must be in [1, 4096]");
  return s;
}

std::string CodecSettings::name() const {
  return std::string(quant_name(quant)) + "-k" + std::to_string(topk) + (transform == Transform::kDct ? "-dct" : "") +
         (whole_params.empty() ? "" : std::string("-emb-") + quant_name(whole_quant));
}

std::int64_t ChunkGeometry::num_chunks() const {
  if (two_d) return (rows / block_rows) * (cols / block_cols);
  return (cols + block_cols - 1) / block_cols;
}

std::int64_t ChunkGeometry::chunk_size(std::int64_t c) const {
  if (two_d) return chunk_len();
  return std::min<std::int64_t>(block_cols, cols - c * block_cols);
}

namespace {
std::int64_t largest_divisor_at_most(std::int64_t n, std::int64_t cap) {
  for (std::int64_t d = std::min(n, cap); d > 1; --d) {
    if (n % d == 0) return d;
  }
  return 1;
}
}  // namespace

Result<ChunkGeometry> chunk_geometry(const std::vector<std::int64_t>& shape, const CodecSettings& settings) {
  ChunkGeometry g;
  if (shape.empty()) return InvalidArgument("scalar tensors are not supported");
  for (auto d : shape) {
    if (d <= 0) return InvalidArgument("tensor dimension " + std::to_string(d) + " must be positive");
  }
  if (shape.size() == 1) {
    g.cols = shape[0];
    g.block_cols = std::min<std::int64_t>(g.cols, settings.chunk_1d);
    return g;
  }
  g.two_d = true;
  g.rows = shape[0];
  g.cols = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) g.cols *= shape[i];
  g.block_rows = largest_divisor_at_most(g.rows, settings.block_2d);
  g.block_cols = largest_divisor_at_most(g.cols, settings.block_2d);
  if (settings.transform == Transform::kDct && std::max(g.block_rows, g.block_cols) > kernels::kMaxDctSide) {
    return InvalidArgument("a " + std::to_string(g.block_rows) + "x" + std::to_string(g.block_cols) +
                           " block exceeds the DCT's largest side " + std::to_string(kernels::kMaxDctSide));
  }
  return g;
}

std::uint32_t values_per_chunk(std::int64_t len, bool two_d, const CodecSettings& settings) {
  if (settings.keep_all) return static_cast<std::uint32_t>(len);
  const std::int64_t capacity = two_d ? static_cast<std::int64_t>(settings.block_2d) * settings.block_2d
                                      : static_cast<std::int64_t>(settings.chunk_1d);
  std::int64_t k = (static_cast<std::int64_t>(settings.topk) * len + capacity - 1) / capacity;
  k = std::clamp<std::int64_t>(k, 1, len);
  return static_cast<std::uint32_t>(k);
}

torch::Tensor TensorUpdate::to_dense(at::IntArrayRef shape) const {
  if (is_dense()) return dense;
  auto out = torch::zeros(shape, values.options());  // on the update's device
  out.view({-1}).index_put_({flat_index}, values);
  return out;
}

torch::Tensor slice_1d(const torch::Tensor& base, std::int64_t offset, std::int64_t length) {
  TORCH_CHECK(base.dim() == 1 && base.is_contiguous() && offset >= 0 && length >= 0 && offset + length <= base.numel(),
              "slice_1d: [", offset, ", ", offset + length, ") outside a contiguous 1-D tensor of ", base.numel());
  auto view = at::detail::make_tensor<c10::TensorImpl>(c10::Storage(base.storage()), base.key_set(), base.dtype());
  auto* impl = view.unsafeGetTensorImpl();
  impl->set_storage_offset(base.storage_offset() + offset);
  impl->set_sizes_contiguous({length});
  return view;
}

namespace {

bool transformed(const ChunkGeometry& g, const CodecSettings& s) {
  return s.transform == Transform::kDct && g.two_d;
}


struct ChunkPlan {
  std::vector<std::uint32_t> ks;
  std::vector<std::size_t> offsets;
  std::size_t total = 0;
  std::uint64_t index_bits = 0;  // the index section's exact length (Elias–Fano per chunk)
};

ChunkPlan plan_chunks(const ChunkGeometry& g, const CodecSettings& s) {
  ChunkPlan plan;
  const auto n = g.num_chunks();
  plan.ks.resize(static_cast<std::size_t>(n));
  plan.offsets.resize(static_cast<std::size_t>(n));
  for (std::int64_t c = 0; c < n; ++c) {
    plan.offsets[static_cast<std::size_t>(c)] = plan.total;
    plan.ks[static_cast<std::size_t>(c)] = values_per_chunk(g.chunk_size(c), g.two_d, s);
    plan.total += plan.ks[static_cast<std::size_t>(c)];
    // A chunk that keeps every value needs no positions: they are 0 … n − 1.
    if (!s.keep_all) {
      plan.index_bits += elias_fano_bits(plan.ks[static_cast<std::size_t>(c)], static_cast<std::uint32_t>(g.chunk_size(c)));
    }
  }
  return plan;
}

// Storage for the sparse updates of a whole delta: one index and one value buffer, each
// tensor's update a view into them, so that decoding allocates twice per delta rather
// than twice per tensor.
struct SparseArena {
  torch::Tensor index, values;
  std::int64_t used = 0;
  explicit SparseArena(std::int64_t capacity)
      : index(torch::empty({capacity}, torch::kLong)), values(torch::empty({capacity}, torch::kFloat)) {}
};

// Sparse (chunk, position, value) → the parameter-space update. Shared by the encoder
// (its reconstruction) and the decoder, so both yield the same floats.
TensorUpdate build_update(std::uint32_t param_index, const ChunkGeometry& g, const CodecSettings& s,
                          const ChunkPlan& plan, const std::uint32_t* positions, const float* values,
                          at::IntArrayRef shape, SparseArena* arena) {
  TensorUpdate u;
  u.param_index = param_index;
  const std::int64_t blocks_per_row = g.two_d ? g.cols / g.block_cols : 1;
  if (transformed(g, s)) {
    // Inverse DCT of each sparse coefficient block, written straight into the tensor.
    u.dense = torch::empty(shape, torch::kFloat);
    float* out = u.dense.data_ptr<float>();
    std::vector<float> block(static_cast<std::size_t>(g.chunk_len()));
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      std::fill(block.begin(), block.end(), 0.0f);
      for (std::uint32_t i = 0; i < plan.ks[c]; ++i) block[positions[plan.offsets[c] + i]] = values[plan.offsets[c] + i];
      // chunk_geometry() bounds the block sides, so the inverse DCT cannot refuse them.
      (void)kernels::dct_blocks_cpu(block.data(), 1, static_cast<int>(g.block_rows), static_cast<int>(g.block_cols), true);
      const std::int64_t br = static_cast<std::int64_t>(c) / blocks_per_row;
      const std::int64_t bc = static_cast<std::int64_t>(c) % blocks_per_row;
      float* first = out + br * g.block_rows * g.cols + bc * g.block_cols;
      for (std::int64_t r = 0; r < g.block_rows; ++r) {
        std::memcpy(first + r * g.cols, block.data() + r * g.block_cols, sizeof(float) * static_cast<std::size_t>(g.block_cols));
      }
    }
    return u;
  }
  const auto total = static_cast<std::int64_t>(plan.total);
  u.flat_index = slice_1d(arena->index, arena->used, total);
  u.values = slice_1d(arena->values, arena->used, total);
  arena->used += total;
  auto* ip = u.flat_index.data_ptr<std::int64_t>();
  auto* vp = u.values.data_ptr<float>();
  if (!g.two_d) {
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      for (std::uint32_t i = 0; i < plan.ks[c]; ++i) {
        *ip++ = static_cast<std::int64_t>(c) * g.block_cols + positions[plan.offsets[c] + i];
        *vp++ = values[plan.offsets[c] + i];
      }
    }
    return u;
  }
  // 2-D: chunk order is not flat order. A counting sort by parameter row puts entries in
  // flat order: visiting chunks band by band and left to right, each row's bucket fills
  // by block column and then by position (sorted inside each block). Block-local rows
  // are pos / block_cols, without a division per entry.
  const std::uint32_t bcols = static_cast<std::uint32_t>(g.block_cols);
  const kernels::Divider row_in_block(bcols, static_cast<std::uint64_t>(g.chunk_len()));
  thread_local std::vector<std::uint32_t> rows, cols, bucket;  // scratch, reused across tensors
  rows.resize(plan.total);
  cols.resize(plan.total);
  bucket.assign(static_cast<std::size_t>(g.rows) + 1, 0);
  for (std::size_t c = 0; c < plan.ks.size(); ++c) {
    const auto first_row = static_cast<std::uint32_t>((static_cast<std::int64_t>(c) / blocks_per_row) * g.block_rows);
    for (std::uint32_t i = 0; i < plan.ks[c]; ++i) {
      const std::uint32_t pos = positions[plan.offsets[c] + i];
      const auto local_row = static_cast<std::uint32_t>(row_in_block(pos));
      rows[plan.offsets[c] + i] = first_row + local_row;
      cols[plan.offsets[c] + i] = pos - local_row * bcols;
      ++bucket[first_row + local_row + 1];
    }
  }
  for (std::size_t r = 1; r < bucket.size(); ++r) bucket[r] += bucket[r - 1];
  std::int64_t* idx = ip;
  float* val = vp;
  for (std::size_t c = 0; c < plan.ks.size(); ++c) {
    const std::int64_t col0 = (static_cast<std::int64_t>(c) % blocks_per_row) * g.block_cols;
    for (std::uint32_t i = 0; i < plan.ks[c]; ++i) {
      const std::size_t e = plan.offsets[c] + i;
      const std::uint32_t slot = bucket[rows[e]]++;
      idx[slot] = static_cast<std::int64_t>(rows[e]) * g.cols + col0 + cols[e];
      val[slot] = values[e];
    }
  }
  return u;
}

// Entries the sparse updates of these tensors hold (transformed tensors decode dense).
std::int64_t sparse_entries(const std::vector<ChunkGeometry>& geometries, const std::vector<ChunkPlan>& plans,
                            const std::vector<CodecSettings>& settings) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    if (!transformed(geometries[i], settings[i])) n += static_cast<std::int64_t>(plans[i].total);
  }
  return n;
}

// Chunk-local positions 0 … k_c − 1 of every chunk: those of a chunk that keeps every value.
void all_positions(const ChunkPlan& plan, std::uint32_t* positions) {
  for (std::size_t c = 0; c < plan.ks.size(); ++c) {
    for (std::uint32_t i = 0; i < plan.ks[c]; ++i) positions[plan.offsets[c] + i] = i;
  }
}

// Reads plan.total fixed-width codes, rejecting codes outside the quantiser's range and
// fp16 codes that are not finite numbers.
Status read_codes(Quant q, const ChunkPlan& plan, BitReader* in, std::uint16_t* codes) {
  const unsigned bits = kernels::quant_bits_per_value(q);
  const unsigned max_code = kernels::quant_max_code(q);
  const std::uint64_t mask = (1ULL << bits) - 1;
  // Codes are read 56 bits at a time; the section length was checked exactly before.
  const std::size_t total = plan.total;
  const unsigned per_word = 56 / bits;
  for (std::size_t i = 0; i < total; i += per_word) {
    const std::size_t n = std::min<std::size_t>(per_word, total - i);
    std::uint64_t word = 0;
    if (!in->read(static_cast<unsigned>(n * bits), &word)) return Corrupted("value section truncated");
    for (std::size_t j = 0; j < n; ++j) codes[i + j] = static_cast<std::uint16_t>((word >> (j * bits)) & mask);
  }
  if (max_code < mask || q == Quant::kFp16) {
    // Range checks only where a code can be invalid (int8, int4, fp16 non-finite).
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      for (std::uint32_t i = 0; i < plan.ks[c]; ++i) {
        const std::uint16_t code = codes[plan.offsets[c] + i];
        if (code > max_code) {
          return Corrupted("chunk " + std::to_string(c) + ": " + quant_name(q) + " code " + std::to_string(code) +
                           " out of range");
        }
        if (q == Quant::kFp16 && (code & 0x7c00u) == 0x7c00u) {
          return Corrupted("chunk " + std::to_string(c) + ": non-finite fp16 value");
        }
      }
    }
  }
  return Status::Ok();
}

// Reads the bf16 scales, rejecting non-finite and negative ones.
Status read_scales(Quant q, const ChunkPlan& plan, BitReader* in, std::uint16_t* out) {
  const std::size_t per_chunk = kernels::quant_scales_per_chunk(q);
  for (std::size_t j = 0; j < plan.ks.size() * per_chunk; ++j) {
    std::uint64_t raw = 0;
    if (!in->read(16, &raw)) return Corrupted("scale section truncated");
    const float s = kernels::bf16_to_f32(static_cast<std::uint16_t>(raw));
    const std::string chunk = "chunk " + std::to_string(per_chunk ? j / per_chunk : 0);
    if (!std::isfinite(s)) return Corrupted(chunk + ": non-finite scale");
    if (s < 0) return Corrupted(chunk + ": negative scale " + std::to_string(s));
    out[j] = static_cast<std::uint16_t>(raw);
  }
  return Status::Ok();
}

proto::Transform to_proto(Transform t) { return t == Transform::kDct ? proto::TRANSFORM_DCT : proto::TRANSFORM_NONE; }
proto::Quant to_proto(Quant q) { return static_cast<proto::Quant>(static_cast<int>(q)); }

}  // namespace

namespace {

// What the encoder packs for one tensor, in host memory: top-k positions, quantisation
// codes and scales, and the reconstructed values the receiver will decode.
struct Selection {
  std::vector<std::uint32_t> positions;
  std::vector<std::uint16_t> codes, scale_bits;
  std::vector<float> recon;
  void resize(const ChunkPlan& plan, Quant q) {
    positions.resize(plan.total);
    codes.resize(plan.total);
    recon.resize(plan.total);
    scale_bits.resize(plan.ks.size() * kernels::quant_scales_per_chunk(q));
  }
};

Status non_finite(std::uint32_t param_index) {
  return InvalidArgument("parameter " + std::to_string(param_index) + " has non-finite values");
}

// Top-k and quantisation of a CPU tensor. The common float32 contiguous input is read in
// place; 2-D blocks are selected in place unless the DCT needs them gathered first. Top-k
// reports in the same pass whether every value was finite.
Status select_on_host(std::uint32_t param_index, const torch::Tensor& value, const ChunkGeometry& g,
                      const CodecSettings& s, const ChunkPlan& plan, Selection* out) {
  torch::Tensor converted;
  const bool direct = value.scalar_type() == torch::kFloat && value.is_contiguous();
  if (!direct) converted = value.detach().to(torch::kFloat).contiguous();
  const float* data = direct ? value.data_ptr<float>() : converted.data_ptr<float>();
  thread_local std::vector<float> chunks, selected;  // scratch, reused across tensors and calls
  selected.resize(plan.total);
  bool finite = true;
  if (g.two_d && !transformed(g, s)) {
    kernels::topk_blocks_cpu(data, static_cast<std::size_t>(g.rows), static_cast<std::size_t>(g.cols),
                             static_cast<std::size_t>(g.block_rows), static_cast<std::size_t>(g.block_cols),
                             plan.ks.data(), plan.offsets.data(), out->positions.data(), selected.data(), &finite);
  } else {
    if (g.two_d) {
      chunks.resize(static_cast<std::size_t>(g.numel()));
      kernels::gather_blocks_cpu(data, static_cast<std::size_t>(g.rows), static_cast<std::size_t>(g.cols),
                                 static_cast<std::size_t>(g.block_rows), static_cast<std::size_t>(g.block_cols),
                                 chunks.data());
      if (!kernels::dct_blocks_cpu(chunks.data(), static_cast<std::size_t>(g.num_chunks()),
                                   static_cast<int>(g.block_rows), static_cast<int>(g.block_cols), false)) {
        return InvalidArgument("parameter " + std::to_string(param_index) + ": DCT block too large");
      }
      data = chunks.data();
    }
    kernels::topk_chunks_cpu(data, static_cast<std::size_t>(g.numel()), static_cast<std::size_t>(g.chunk_len()),
                             plan.ks.data(), plan.offsets.data(), out->positions.data(), selected.data(), &finite);
  }
  if (!finite) return non_finite(param_index);
  kernels::quantize_chunks_cpu(s.quant, selected.data(), plan.ks.size(), plan.ks.data(), plan.offsets.data(),
                               out->codes.data(), out->scale_bits.data(), out->recon.data());
  return Status::Ok();
}

// Every value of a whole parameter (settings.keep_all), quantised: `value` on the host.
// Whole parameters skip top-k, so no device kernel is needed; a device tensor is copied
// to the host first (an embedding table: vocabulary × width floats once a window).
Status select_all_on_host(std::uint32_t param_index, const torch::Tensor& value, const ChunkGeometry& g,
                          const CodecSettings& s, const ChunkPlan& plan, Selection* out) {
  const torch::Tensor data = to_host(value.detach()).to(torch::kFloat).contiguous();
  const float* p = data.data_ptr<float>();
  thread_local std::vector<float> chunks;  // scratch, in chunk order
  chunks.resize(plan.total);
  if (g.two_d) {
    kernels::gather_blocks_cpu(p, static_cast<std::size_t>(g.rows), static_cast<std::size_t>(g.cols),
                               static_cast<std::size_t>(g.block_rows), static_cast<std::size_t>(g.block_cols),
                               chunks.data());
  } else {
    std::memcpy(chunks.data(), p, sizeof(float) * plan.total);
  }
  for (float v : chunks) {
    if (!std::isfinite(v)) return non_finite(param_index);
  }
  all_positions(plan, out->positions.data());
  kernels::quantize_chunks_cpu(s.quant, chunks.data(), plan.ks.size(), plan.ks.data(), plan.offsets.data(),
                               out->codes.data(), out->scale_bits.data(), out->recon.data());
  return Status::Ok();
}

template <class T>
void copy_to_host(const torch::Tensor& device_tensor, std::vector<T>* out) {
  const torch::Tensor host = to_host(device_tensor);
  std::memcpy(out->data(), host.data_ptr(), out->size() * sizeof(T));
}

// The same selection on another device, by that device's kernels: the tensor and every
// intermediate stay there, and only the packed inputs (positions, codes, scales, the
// reconstructed values) come back to the host.
Status select_on_device(const kernels::KernelBackend& k, std::uint32_t param_index, const torch::Tensor& value,
                        const ChunkGeometry& g, const CodecSettings& s, const ChunkPlan& plan, Selection* out) {
  const torch::Device device = value.device();
  const auto on = [&](torch::ScalarType t) { return torch::TensorOptions().dtype(t).device(device); };
  const torch::Tensor data = value.detach().to(torch::kFloat).contiguous();
  const auto n_chunks = static_cast<std::int64_t>(plan.ks.size());
  static_assert(sizeof(std::size_t) == sizeof(std::int64_t));
  const torch::Tensor ks =
      torch::from_blob(const_cast<std::uint32_t*>(plan.ks.data()), {n_chunks}, torch::kInt32).to(device);
  const torch::Tensor offsets =
      torch::from_blob(const_cast<std::size_t*>(plan.offsets.data()), {n_chunks}, torch::kInt64).to(device);
  const auto total = static_cast<std::int64_t>(plan.total);
  torch::Tensor positions = torch::empty({total}, on(torch::kInt32)), selected = torch::empty({total}, on(torch::kFloat));
  torch::Tensor codes = torch::empty({total}, on(torch::kInt16)), recon = torch::empty({total}, on(torch::kFloat));
  torch::Tensor scales = torch::empty({static_cast<std::int64_t>(out->scale_bits.size())}, on(torch::kInt16));
  const auto* ks_p = reinterpret_cast<const std::uint32_t*>(ks.data_ptr<std::int32_t>());
  const auto* off_p = reinterpret_cast<const std::size_t*>(offsets.data_ptr<std::int64_t>());
  auto* pos_p = reinterpret_cast<std::uint32_t*>(positions.data_ptr<std::int32_t>());
  bool finite = true, ran = true;
  const auto rows = static_cast<std::size_t>(g.rows), cols = static_cast<std::size_t>(g.cols);
  const auto br = static_cast<std::size_t>(g.block_rows), bc = static_cast<std::size_t>(g.block_cols);
  if (g.two_d && !transformed(g, s)) {
    ran = k.topk_blocks(data.data_ptr<float>(), rows, cols, br, bc, ks_p, off_p, pos_p, selected.data_ptr<float>(), &finite);
  } else {
    torch::Tensor chunks = data;
    if (g.two_d) {
      chunks = torch::empty({g.numel()}, on(torch::kFloat));
      ran = k.gather_blocks(data.data_ptr<float>(), rows, cols, br, bc, chunks.data_ptr<float>()) &&
            k.dct_blocks(chunks.data_ptr<float>(), static_cast<std::size_t>(g.num_chunks()), static_cast<int>(br),
                         static_cast<int>(bc), false);
    }
    ran = ran && k.topk_chunks(chunks.data_ptr<float>(), static_cast<std::size_t>(g.numel()),
                               static_cast<std::size_t>(g.chunk_len()), ks_p, off_p, pos_p, selected.data_ptr<float>(),
                               &finite);
  }
  if (ran && !finite) return non_finite(param_index);
  ran = ran && k.quantize_chunks(s.quant, selected.data_ptr<float>(), plan.ks.size(), ks_p, off_p,
                                 reinterpret_cast<std::uint16_t*>(codes.data_ptr<std::int16_t>()),
                                 reinterpret_cast<std::uint16_t*>(scales.data_ptr<std::int16_t>()),
                                 recon.data_ptr<float>());
  if (!ran) return Internal("parameter " + std::to_string(param_index) + ": the " + k.name() + " codec kernels failed on " + device.str());
  copy_to_host(positions, &out->positions);
  copy_to_host(codes, &out->codes);
  copy_to_host(scales, &out->scale_bits);
  copy_to_host(recon, &out->recon);
  return Status::Ok();
}

// One tensor's sections of the wire format.
void pack_tensor(std::uint32_t param_index, const torch::Tensor& value, const ChunkGeometry& g, const CodecSettings& s,
                 const ChunkPlan& plan, const Selection& sel, proto::DeltaPayload* payload) {
  BitWriter indices, values, scales;
  const unsigned value_bits = kernels::quant_bits_per_value(s.quant);
  indices.reserve(bytes_for_bits(plan.index_bits) + 8);
  values.reserve(bytes_for_bits(plan.total * value_bits) + 8);
  scales.reserve(sel.scale_bits.size() * 2 + 8);
  for (std::size_t c = 0; c < plan.ks.size() && !s.keep_all; ++c) {
    elias_fano_encode(sel.positions.data() + plan.offsets[c], plan.ks[c],
                      static_cast<std::uint32_t>(g.chunk_size(static_cast<std::int64_t>(c))), &indices);
  }
  // Pack as many codes as fit in 56 bits per write.
  const unsigned per_word = 56 / value_bits;
  for (std::size_t i = 0; i < sel.codes.size(); i += per_word) {
    const std::size_t n = std::min<std::size_t>(per_word, sel.codes.size() - i);
    std::uint64_t word = 0;
    for (std::size_t j = 0; j < n; ++j) word |= static_cast<std::uint64_t>(sel.codes[i + j]) << (j * value_bits);
    values.write(word, static_cast<unsigned>(n * value_bits));
  }
  for (auto b : sel.scale_bits) scales.write(b, 16);
  auto* t = payload->add_tensors();
  t->set_param_index(param_index);
  for (auto d : value.sizes()) t->add_shape(static_cast<std::uint32_t>(d));
  t->set_block_rows(static_cast<std::uint32_t>(g.block_rows));
  t->set_block_cols(static_cast<std::uint32_t>(g.block_cols));
  t->set_indices(indices.finish());
  t->set_values(values.finish());
  t->set_scales(scales.finish());
}

// The reconstruction on the device its tensor came from.
TensorUpdate on_device(TensorUpdate u, const torch::Device& device) {
  if (device.is_cpu()) return u;
  if (u.is_dense()) {
    u.dense = u.dense.to(device);
  } else {
    u.flat_index = u.flat_index.to(device);
    u.values = u.values.to(device);
  }
  return u;
}

}  // namespace

Result<EncodedDelta> encode_delta(const std::vector<IndexedTensor>& tensors, const CodecSettings& settings) {
  proto::DeltaPayload payload;
  payload.set_format_version(kFormatVersion);
  payload.set_transform(to_proto(settings.transform));
  payload.set_quant(to_proto(settings.quant));
  payload.set_topk(settings.topk);
  payload.set_chunk_1d(settings.chunk_1d);
  payload.set_block_2d(settings.block_2d);
  for (auto p : settings.whole_params) payload.add_whole_params(p);
  if (!settings.whole_params.empty()) payload.set_whole_quant(to_proto(settings.whole_quant));
  EncodedDelta out;
  std::vector<ChunkGeometry> geometries;
  std::vector<ChunkPlan> plans;
  std::vector<CodecSettings> per_tensor;  // each tensor's settings (for_param)
  std::vector<const kernels::KernelBackend*> backends;
  geometries.reserve(tensors.size());
  plans.reserve(tensors.size());
  per_tensor.reserve(tensors.size());
  std::int64_t previous = -1;
  for (const auto& [param_index, value] : tensors) {
    if (static_cast<std::int64_t>(param_index) <= previous) {
      return InvalidArgument("tensors must be given in strictly increasing parameter order");
    }
    previous = param_index;
    const std::vector<std::int64_t> shape(value.sizes().begin(), value.sizes().end());
    per_tensor.push_back(settings.for_param(param_index));
    TESSERA_ASSIGN_OR_RETURN(ChunkGeometry g, chunk_geometry(shape, per_tensor.back()));
    TESSERA_ASSIGN_OR_RETURN(const kernels::KernelBackend* backend, backend_for(value.device()));
    geometries.push_back(g);
    plans.push_back(plan_chunks(g, per_tensor.back()));
    backends.push_back(backend);
  }
  SparseArena arena(sparse_entries(geometries, plans, per_tensor));
  out.reconstruction.tensors.reserve(tensors.size());
  Selection sel;
  for (std::size_t ti = 0; ti < tensors.size(); ++ti) {
    const auto& [param_index, value] = tensors[ti];
    const ChunkGeometry& g = geometries[ti];
    const ChunkPlan& plan = plans[ti];
    const CodecSettings& ts = per_tensor[ti];
    sel.resize(plan, ts.quant);
    TESSERA_RETURN_IF_ERROR(ts.keep_all               ? select_all_on_host(param_index, value, g, ts, plan, &sel)
                            : value.device().is_cpu() ? select_on_host(param_index, value, g, ts, plan, &sel)
                                                      : select_on_device(*backends[ti], param_index, value, g, ts, plan, &sel));
    pack_tensor(param_index, value, g, ts, plan, sel, &payload);
    out.reconstruction.tensors.push_back(on_device(
        build_update(param_index, g, ts, plan, sel.positions.data(), sel.recon.data(), value.sizes(), &arena),
        value.device()));
  }
  if (!payload.SerializeToString(&out.bytes)) return Internal("serialising the delta payload failed");
  return out;
}

Result<DecodedDelta> decode_delta(std::string_view bytes, const std::vector<std::vector<std::int64_t>>& param_shapes,
                                  const CodecSettings& expected, const DecodeLimits& limits) {
  if (bytes.size() > limits.max_payload_bytes) {
    return InvalidArgument("payload of " + std::to_string(bytes.size()) + " bytes exceeds the cap of " +
                           std::to_string(limits.max_payload_bytes));
  }
  // Parsed into an arena: one block for the message and its byte fields, not an
  // allocation per field.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = bytes.size() + 4096;
  google::protobuf::Arena proto_arena(arena_options);
  auto& payload = *google::protobuf::Arena::CreateMessage<proto::DeltaPayload>(&proto_arena);
  if (!payload.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corrupted("payload is not a valid DeltaPayload message");
  }
  if (payload.format_version() != kFormatVersion) {
    return Corrupted("unsupported payload format version " + std::to_string(payload.format_version()));
  }
  if (payload.transform() != to_proto(expected.transform)) {
    return InvalidArgument("payload transform " + std::to_string(payload.transform()) + " differs from the run's");
  }
  if (payload.quant() != to_proto(expected.quant)) {
    return InvalidArgument("payload quantisation " + std::to_string(payload.quant()) + " differs from the run's " +
                           quant_name(expected.quant));
  }
  if (payload.topk() != expected.topk || payload.chunk_1d() != expected.chunk_1d ||
      payload.block_2d() != expected.block_2d) {
    return InvalidArgument("payload chunking (topk " + std::to_string(payload.topk()) + ", chunk_1d " +
                           std::to_string(payload.chunk_1d()) + ", block_2d " + std::to_string(payload.block_2d()) +
                           ") differs from the run's " + expected.name());
  }
  const bool same_whole =
      static_cast<std::size_t>(payload.whole_params_size()) == expected.whole_params.size() &&
      std::equal(expected.whole_params.begin(), expected.whole_params.end(), payload.whole_params().begin()) &&
      payload.whole_quant() == (expected.whole_params.empty() ? proto::QUANT_UNSPECIFIED : to_proto(expected.whole_quant));
  if (!same_whole) {
    return InvalidArgument("payload's parameters sent whole (" + std::to_string(payload.whole_params_size()) +
                           ", quantisation " + std::to_string(payload.whole_quant()) + ") differ from the run's " +
                           expected.name());
  }
  if (payload.tensors_size() == 0) return InvalidArgument("payload holds no tensors");

  // First every tensor's header — order, shape, geometry, section sizes — then the
  // sections themselves, into one arena sized from the headers.
  const auto& tensors = payload.tensors();
  std::vector<ChunkGeometry> geometries;
  std::vector<ChunkPlan> plans;
  std::vector<CodecSettings> per_tensor;  // each tensor's settings (for_param)
  geometries.reserve(static_cast<std::size_t>(tensors.size()));
  plans.reserve(static_cast<std::size_t>(tensors.size()));
  per_tensor.reserve(static_cast<std::size_t>(tensors.size()));
  std::int64_t previous = -1;
  for (const auto& t : tensors) {
    const std::string where = "tensor " + std::to_string(t.param_index());
    if (t.param_index() >= param_shapes.size()) {
      return InvalidArgument(where + ": parameter index out of range (model has " +
                             std::to_string(param_shapes.size()) + ")");
    }
    if (static_cast<std::int64_t>(t.param_index()) <= previous) {
      return InvalidArgument(where + ": tensors not in strictly increasing parameter order");
    }
    previous = t.param_index();
    const auto& shape = param_shapes[t.param_index()];
    if (static_cast<std::size_t>(t.shape_size()) != shape.size()) {
      return InvalidArgument(where + ": rank " + std::to_string(t.shape_size()) + " differs from the model's " +
                             std::to_string(shape.size()));
    }
    for (int i = 0; i < t.shape_size(); ++i) {
      if (static_cast<std::int64_t>(t.shape(i)) != shape[static_cast<std::size_t>(i)]) {
        return InvalidArgument(where + ": dimension " + std::to_string(i) + " is " + std::to_string(t.shape(i)) +
                               ", the model's is " + std::to_string(shape[static_cast<std::size_t>(i)]));
      }
    }
    const CodecSettings ts = expected.for_param(t.param_index());
    TESSERA_ASSIGN_OR_RETURN(ChunkGeometry g, chunk_geometry(shape, ts));
    if (t.block_rows() != g.block_rows || t.block_cols() != g.block_cols) {
      return InvalidArgument(where + ": chunk geometry " + std::to_string(t.block_rows()) + "x" +
                             std::to_string(t.block_cols()) + " differs from the expected " +
                             std::to_string(g.block_rows) + "x" + std::to_string(g.block_cols));
    }
    ChunkPlan plan = plan_chunks(g, ts);
    const std::uint64_t value_bits = plan.total * kernels::quant_bits_per_value(ts.quant);
    const std::uint64_t scale_bits = plan.ks.size() * kernels::quant_scales_per_chunk(ts.quant) * 16ULL;
    auto check_size = [&](const std::string& section, std::size_t have, std::uint64_t bits) -> Status {
      if (have != bytes_for_bits(bits)) {
        return Corrupted(where + ": " + section + " section has " + std::to_string(have) + " bytes, expected " +
                         std::to_string(bytes_for_bits(bits)));
      }
      return Status::Ok();
    };
    TESSERA_RETURN_IF_ERROR(check_size("index", t.indices().size(), plan.index_bits));
    TESSERA_RETURN_IF_ERROR(check_size("value", t.values().size(), value_bits));
    TESSERA_RETURN_IF_ERROR(check_size("scale", t.scales().size(), scale_bits));
    geometries.push_back(g);
    plans.push_back(std::move(plan));
    per_tensor.push_back(ts);
  }

  DecodedDelta out;
  out.tensors.reserve(static_cast<std::size_t>(tensors.size()));
  SparseArena arena(sparse_entries(geometries, plans, per_tensor));
  thread_local std::vector<std::uint32_t> positions;  // scratch, reused across tensors and calls
  thread_local std::vector<float> values;
  thread_local std::vector<std::uint16_t> codes, scale_words;
  for (int ti = 0; ti < tensors.size(); ++ti) {
    const auto& t = tensors[ti];
    const ChunkGeometry& g = geometries[static_cast<std::size_t>(ti)];
    const ChunkPlan& plan = plans[static_cast<std::size_t>(ti)];
    const CodecSettings& ts = per_tensor[static_cast<std::size_t>(ti)];
    auto where = [&] { return "tensor " + std::to_string(t.param_index()); };
    positions.resize(plan.total);
    values.resize(plan.total);
    codes.resize(plan.total);
    scale_words.resize(plan.ks.size() * kernels::quant_scales_per_chunk(ts.quant));
    BitReader index_in(t.indices()), value_in(t.values()), scale_in(t.scales());
    if (ts.keep_all) all_positions(plan, positions.data());
    for (std::size_t c = 0; c < plan.ks.size() && !ts.keep_all; ++c) {
      Status st = elias_fano_decode(&index_in, plan.ks[c],
                                    static_cast<std::uint32_t>(g.chunk_size(static_cast<std::int64_t>(c))),
                                    positions.data() + plan.offsets[c]);
      if (!st.ok()) return st.with_context(where() + " chunk " + std::to_string(c));
    }
    Status st = read_codes(ts.quant, plan, &value_in, codes.data());
    if (!st.ok()) return st.with_context(where());
    st = read_scales(ts.quant, plan, &scale_in, scale_words.data());
    if (!st.ok()) return st.with_context(where());
    kernels::dequantize_chunks_cpu(ts.quant, codes.data(), scale_words.data(), plan.ks.size(),
                                   plan.ks.data(), plan.offsets.data(), values.data());
    // Padding bits must be zero so that one delta has exactly one encoding.
    for (auto* reader : {&index_in, &value_in, &scale_in}) {
      if (!reader->rest_is_zero()) return Corrupted(where() + ": non-zero padding bits");
    }
    const auto& shape = param_shapes[t.param_index()];
    out.tensors.push_back(
        build_update(t.param_index(), g, ts, plan, positions.data(), values.data(), shape, &arena));
  }
  return out;
}

}  // namespace tessera::gradients

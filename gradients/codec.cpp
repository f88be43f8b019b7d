#include "gradients/codec.h"

#include <cmath>
#include <map>
#include <mutex>

#include "gradients/bitstream.h"
#include "gradients/elias_fano.h"
#include "gradients/quantize.h"
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
  if (s.topk == 0 || s.topk > s.chunk_1d || s.topk > s.block_2d * s.block_2d) {
    return InvalidArgument("codec.topk = " + std::to_string(s.topk) + " must be in [1, chunk size]");
  }
  return s;
}

Result<CodecSettings> CodecSettings::from_preset(const std::string& name) {
  CodecSettings s;
  std::string rest = name;
  if (rest.size() > 5 && rest.substr(rest.size() - 5) == "-none") {
    s.transform = Transform::kNone;
    rest = rest.substr(0, rest.size() - 5);
  }
  const auto dash = rest.find("-k");
  if (dash == std::string::npos) return InvalidArgument("codec preset '" + name + "' must look like int2-k32");
  TESSERA_ASSIGN_OR_RETURN(s.quant, parse_quant(rest.substr(0, dash)));
  const std::string k = rest.substr(dash + 2);
  if (k.empty() || k.size() > 5 || k.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("codec preset '" + name + "': bad k '" + k + "'");
  }
  s.topk = static_cast<std::uint32_t>(std::stoul(k));
  if (s.topk == 0 || s.topk > 4096) return InvalidArgument("codec preset '" + name + "': k must be in [1, 4096]");
  return s;
}

std::string CodecSettings::name() const {
  return std::string(quant_name(quant)) + "-k" + std::to_string(topk) + (transform == Transform::kNone ? "-none" : "");
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
  return g;
}

std::uint32_t values_per_chunk(std::int64_t len, bool two_d, const CodecSettings& settings) {
  const std::int64_t capacity = two_d ? static_cast<std::int64_t>(settings.block_2d) * settings.block_2d
                                      : static_cast<std::int64_t>(settings.chunk_1d);
  std::int64_t k = (static_cast<std::int64_t>(settings.topk) * len + capacity - 1) / capacity;
  k = std::clamp<std::int64_t>(k, 1, len);
  return static_cast<std::uint32_t>(k);
}

torch::Tensor TensorUpdate::to_dense(at::IntArrayRef shape) const {
  if (is_dense()) return dense;
  auto out = torch::zeros(shape, torch::kFloat);
  out.view({-1}).index_put_({flat_index}, values);
  return out;
}

namespace {

// Orthonormal DCT-II matrix of size n (cached; shared by encoder and decoder).
torch::Tensor dct_matrix(std::int64_t n) {
  static std::mutex mu;
  static std::map<std::int64_t, torch::Tensor> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  auto m = torch::empty({n, n}, torch::kDouble);
  auto* p = m.data_ptr<double>();
  for (std::int64_t k = 0; k < n; ++k) {
    const double c = k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
    for (std::int64_t i = 0; i < n; ++i) p[k * n + i] = c * std::cos(M_PI * (2.0 * i + 1.0) * k / (2.0 * n));
  }
  auto f = m.to(torch::kFloat);
  cache.emplace(n, f);
  return f;
}

bool transformed(const ChunkGeometry& g, const CodecSettings& s) {
  return s.transform == Transform::kDct && g.two_d;
}

// Tensor → chunk-major [num_chunks·chunk_len] float buffer (DCT applied when enabled).
torch::Tensor to_chunks(const torch::Tensor& t, const ChunkGeometry& g, const CodecSettings& s) {
  auto x = t.detach().to(torch::kFloat).contiguous();
  if (!g.two_d) return x.view({-1});
  auto blocks = x.view({g.rows / g.block_rows, g.block_rows, g.cols / g.block_cols, g.block_cols})
                    .permute({0, 2, 1, 3});
  if (transformed(g, s)) {
    blocks = torch::matmul(torch::matmul(dct_matrix(g.block_rows), blocks), dct_matrix(g.block_cols).t());
  }
  return blocks.contiguous().view({-1});
}

// Inverse of to_chunks.
torch::Tensor from_chunks(const torch::Tensor& chunks, const ChunkGeometry& g, const CodecSettings& s,
                          at::IntArrayRef shape) {
  if (!g.two_d) return chunks.view(shape);
  auto blocks = chunks.view({g.rows / g.block_rows, g.cols / g.block_cols, g.block_rows, g.block_cols});
  if (transformed(g, s)) {
    blocks = torch::matmul(torch::matmul(dct_matrix(g.block_rows).t(), blocks), dct_matrix(g.block_cols));
  }
  return blocks.permute({0, 2, 1, 3}).contiguous().view(shape);
}

// Flat parameter index of position `pos` in chunk `c`.
std::int64_t param_index_of(const ChunkGeometry& g, std::int64_t c, std::int64_t pos) {
  if (!g.two_d) return c * g.block_cols + pos;
  const std::int64_t blocks_per_row = g.cols / g.block_cols;
  const std::int64_t br = c / blocks_per_row, bc = c % blocks_per_row;
  const std::int64_t r = pos / g.block_cols, col = pos % g.block_cols;
  return (br * g.block_rows + r) * g.cols + bc * g.block_cols + col;
}

struct ChunkPlan {
  std::vector<std::uint32_t> ks;
  std::vector<std::size_t> offsets;
  std::size_t total = 0;
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
  }
  return plan;
}

// Sparse (chunk, position, value) → the parameter-space update.
TensorUpdate build_update(std::uint32_t param_index, const ChunkGeometry& g, const CodecSettings& s,
                          const ChunkPlan& plan, const std::vector<std::uint32_t>& positions,
                          const std::vector<float>& values, at::IntArrayRef shape) {
  TensorUpdate u;
  u.param_index = param_index;
  if (transformed(g, s)) {
    auto coeffs = torch::zeros({g.num_chunks() * g.chunk_len()}, torch::kFloat);
    auto* cp = coeffs.data_ptr<float>();
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      for (std::uint32_t i = 0; i < plan.ks[c]; ++i) {
        cp[static_cast<std::int64_t>(c) * g.chunk_len() + positions[plan.offsets[c] + i]] = values[plan.offsets[c] + i];
      }
    }
    u.dense = from_chunks(coeffs, g, s, shape);
    return u;
  }
  // Sorted flat indices: for 2-D, chunk order is not flat order, so sort by index.
  std::vector<std::pair<std::int64_t, float>> entries;
  entries.reserve(plan.total);
  for (std::size_t c = 0; c < plan.ks.size(); ++c) {
    for (std::uint32_t i = 0; i < plan.ks[c]; ++i) {
      entries.emplace_back(param_index_of(g, static_cast<std::int64_t>(c), positions[plan.offsets[c] + i]),
                           values[plan.offsets[c] + i]);
    }
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  u.flat_index = torch::empty({static_cast<std::int64_t>(entries.size())}, torch::kLong);
  u.values = torch::empty({static_cast<std::int64_t>(entries.size())}, torch::kFloat);
  auto* ip = u.flat_index.data_ptr<std::int64_t>();
  auto* vp = u.values.data_ptr<float>();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    ip[i] = entries[i].first;
    vp[i] = entries[i].second;
  }
  return u;
}

proto::Transform to_proto(Transform t) { return t == Transform::kDct ? proto::TRANSFORM_DCT : proto::TRANSFORM_NONE; }
proto::Quant to_proto(Quant q) { return static_cast<proto::Quant>(static_cast<int>(q)); }

}  // namespace

Result<EncodedDelta> encode_delta(const std::vector<IndexedTensor>& tensors, const CodecSettings& settings) {
  proto::DeltaPayload payload;
  payload.set_format_version(kFormatVersion);
  payload.set_transform(to_proto(settings.transform));
  payload.set_quant(to_proto(settings.quant));
  payload.set_topk(settings.topk);
  payload.set_chunk_1d(settings.chunk_1d);
  payload.set_block_2d(settings.block_2d);
  EncodedDelta out;
  std::int64_t previous = -1;
  for (const auto& [param_index, value] : tensors) {
    if (static_cast<std::int64_t>(param_index) <= previous) {
      return InvalidArgument("tensors must be given in strictly increasing parameter order");
    }
    previous = param_index;
    if (!torch::isfinite(value).all().item<bool>()) {
      return InvalidArgument("parameter " + std::to_string(param_index) + " has non-finite values");
    }
    const std::vector<std::int64_t> shape(value.sizes().begin(), value.sizes().end());
    TESSERA_ASSIGN_OR_RETURN(ChunkGeometry g, chunk_geometry(shape, settings));
    const ChunkPlan plan = plan_chunks(g, settings);
    auto chunks = to_chunks(value, g, settings);
    std::vector<std::uint32_t> positions(plan.total);
    std::vector<float> selected(plan.total), recon(plan.total);
    kernels::topk_chunks_cpu(chunks.data_ptr<float>(), static_cast<std::size_t>(chunks.numel()),
                             static_cast<std::size_t>(g.chunk_len()), plan.ks.data(), plan.offsets.data(),
                             positions.data(), selected.data());
    BitWriter indices, values, scales;
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      elias_fano_encode(positions.data() + plan.offsets[c], plan.ks[c],
                        static_cast<std::uint32_t>(g.chunk_size(static_cast<std::int64_t>(c))), &indices);
      quantize_chunk(settings.quant, selected.data() + plan.offsets[c], plan.ks[c], &values, &scales,
                     recon.data() + plan.offsets[c]);
    }
    auto* t = payload.add_tensors();
    t->set_param_index(param_index);
    for (auto d : shape) t->add_shape(static_cast<std::uint32_t>(d));
    t->set_block_rows(static_cast<std::uint32_t>(g.block_rows));
    t->set_block_cols(static_cast<std::uint32_t>(g.block_cols));
    t->set_indices(indices.finish());
    t->set_values(values.finish());
    t->set_scales(scales.finish());
    out.reconstruction.tensors.push_back(build_update(param_index, g, settings, plan, positions, recon, value.sizes()));
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
  proto::DeltaPayload payload;
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
  if (payload.tensors_size() == 0) return InvalidArgument("payload holds no tensors");

  DecodedDelta out;
  std::int64_t previous = -1;
  for (const auto& t : payload.tensors()) {
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
    TESSERA_ASSIGN_OR_RETURN(ChunkGeometry g, chunk_geometry(shape, expected));
    if (t.block_rows() != g.block_rows || t.block_cols() != g.block_cols) {
      return InvalidArgument(where + ": chunk geometry " + std::to_string(t.block_rows()) + "x" +
                             std::to_string(t.block_cols()) + " differs from the expected " +
                             std::to_string(g.block_rows) + "x" + std::to_string(g.block_cols));
    }
    const ChunkPlan plan = plan_chunks(g, expected);
    std::uint64_t index_bits = 0;
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      index_bits += elias_fano_bits(plan.ks[c], static_cast<std::uint32_t>(g.chunk_size(static_cast<std::int64_t>(c))));
    }
    const std::uint64_t value_bits = plan.total * bits_per_value(expected.quant);
    const std::uint64_t scale_bits = plan.ks.size() * scales_per_chunk(expected.quant) * 16ULL;
    auto check_size = [&](const std::string& section, std::size_t have, std::uint64_t bits) -> Status {
      if (have != bytes_for_bits(bits)) {
        return Corrupted(where + ": " + section + " section has " + std::to_string(have) + " bytes, expected " +
                         std::to_string(bytes_for_bits(bits)));
      }
      return Status::Ok();
    };
    TESSERA_RETURN_IF_ERROR(check_size("index", t.indices().size(), index_bits));
    TESSERA_RETURN_IF_ERROR(check_size("value", t.values().size(), value_bits));
    TESSERA_RETURN_IF_ERROR(check_size("scale", t.scales().size(), scale_bits));

    std::vector<std::uint32_t> positions(plan.total);
    std::vector<float> values(plan.total);
    BitReader index_in(t.indices()), value_in(t.values()), scale_in(t.scales());
    for (std::size_t c = 0; c < plan.ks.size(); ++c) {
      const std::string chunk_where = where + " chunk " + std::to_string(c);
      Status st = elias_fano_decode(&index_in, plan.ks[c],
                                    static_cast<std::uint32_t>(g.chunk_size(static_cast<std::int64_t>(c))),
                                    positions.data() + plan.offsets[c]);
      if (!st.ok()) return st.with_context(chunk_where);
      st = dequantize_chunk(expected.quant, plan.ks[c], &value_in, &scale_in, values.data() + plan.offsets[c]);
      if (!st.ok()) return st.with_context(chunk_where);
    }
    // Padding bits must be zero so that one delta has exactly one encoding.
    for (auto* reader : {&index_in, &value_in, &scale_in}) {
      std::uint64_t bit = 0;
      while (reader->read(1, &bit)) {
        if (bit) return Corrupted(where + ": non-zero padding bits");
      }
    }
    out.tensors.push_back(build_update(t.param_index(), g, expected, plan, positions, values, shape));
  }
  return out;
}

}  // namespace tessera::gradients

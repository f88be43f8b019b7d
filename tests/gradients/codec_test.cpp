#include "gradients/codec.h"

#include <gtest/gtest.h>

#include <limits>

#include <functional>

#include "gradients/apply.h"
#include "gradients/bitstream.h"
#include "gradients/elias_fano.h"
#include "gradients/error_feedback.h"
#include "kernels/numeric.h"
#include "proto/delta.pb.h"

namespace tessera::gradients {
namespace {

std::vector<std::vector<std::int64_t>> shapes() { return {{256, 128}, {384}, {128, 512}, {100}}; }

std::vector<IndexedTensor> random_delta(std::uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<IndexedTensor> out;
  std::uint32_t i = 0;
  for (const auto& s : shapes()) out.push_back({i++, torch::randn(s) * 1e-3});
  return out;
}


TEST(EliasFano, RoundTripAndFixedLength) {
  std::vector<std::uint32_t> pos = {0, 5, 6, 100, 4095};
  BitWriter w;
  elias_fano_encode(pos.data(), 5, 4096, &w);
  EXPECT_EQ(w.bit_count(), elias_fano_bits(5, 4096));
  auto bytes = w.finish();
  BitReader r(bytes);
  std::vector<std::uint32_t> back(5);
  ASSERT_TRUE(elias_fano_decode(&r, 5, 4096, back.data()).ok());
  EXPECT_EQ(back, pos);
  EXPECT_EQ(elias_fano_bits(32, 4096), 287u);  // 32·7 + 32 + 31, vs 384 for 12-bit packing
}

TEST(Quantize, Bf16AndHalfConversions) {
  EXPECT_EQ(kernels::bf16_to_f32(kernels::f32_to_bf16(1.0f)), 1.0f);
  EXPECT_NEAR(kernels::bf16_to_f32(kernels::f32_to_bf16(3.14159f)), 3.14159f, 0.02f);
  EXPECT_EQ(kernels::f16_to_f32(kernels::f32_to_f16(0.5f)), 0.5f);
}

TEST(Codec, GeometryUsesDivisorsAndScaledK) {
  CodecSettings s;
  auto g = *chunk_geometry({256, 128}, s);
  EXPECT_TRUE(g.two_d);
  EXPECT_EQ(g.block_rows, 64);
  EXPECT_EQ(g.block_cols, 64);
  EXPECT_EQ(g.num_chunks(), 8);
  g = *chunk_geometry({96, 50}, s);
  EXPECT_EQ(g.block_rows, 48);
  EXPECT_EQ(g.block_cols, 50);
  g = *chunk_geometry({10000}, s);
  EXPECT_EQ(g.num_chunks(), 3);
  EXPECT_EQ(g.chunk_size(2), 10000 - 2 * 4096);
  EXPECT_EQ(values_per_chunk(4096, true, s), 32u);
  EXPECT_EQ(values_per_chunk(384, false, s), 3u);
  EXPECT_EQ(values_per_chunk(1, false, s), 1u);
}

TEST(Codec, RoundTripMatchesEncoderReconstructionForEveryPreset) {
  for (const char* preset : {"fp16-k32", "int8-k32", "int4-k32", "int2-k32", "sign-k32", "sign-k8", "int2-k32-dct"}) {
    auto settings = *CodecSettings::from_preset(preset);
    auto encoded = encode_delta(random_delta(1), settings);
    ASSERT_TRUE(encoded.ok()) << preset << ": " << encoded.status().to_string();
    auto decoded = decode_delta(encoded->bytes, shapes(), settings);
    ASSERT_TRUE(decoded.ok()) << preset << ": " << decoded.status().to_string();
    ASSERT_EQ(decoded->tensors.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
      const auto shape = shapes()[i];
      EXPECT_TRUE(torch::equal(decoded->tensors[i].to_dense(shape), encoded->reconstruction.tensors[i].to_dense(shape)))
          << preset << " tensor " << i;
    }
  }
}

// codec.embedding_quant: parameters 0 and 1 (the embedding tables) go whole, every value
// at the whole quantiser, with no index section; the rest keep the top-k codec.
TEST(Codec, EmbeddingTablesAreSentWholeWithoutIndices) {
  CodecSpec spec;
  spec.embedding_quant = "int8";
  const auto settings = *CodecSettings::from_spec(spec);
  EXPECT_EQ(settings.name(), "int2-k32-emb-int8");
  EXPECT_EQ(CodecSettings::from_preset("int2-k32-emb-int8")->name(), "int2-k32-emb-int8");
  EXPECT_FALSE(CodecSettings::from_preset("int2-k32-emb-int9").ok());
  const auto delta = random_delta(3);
  auto encoded = encode_delta(delta, settings);
  ASSERT_TRUE(encoded.ok()) << encoded.status().to_string();
  auto decoded = decode_delta(encoded->bytes, shapes(), settings);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  proto::DeltaPayload payload;
  ASSERT_TRUE(payload.ParseFromString(encoded->bytes));
  for (std::size_t i = 0; i < 4; ++i) {
    const auto shape = shapes()[i];
    const auto got = decoded->tensors[i].to_dense(shape);
    EXPECT_TRUE(torch::equal(got, encoded->reconstruction.tensors[i].to_dense(shape))) << i;
    const auto nonzero = got.ne(0).sum().item<std::int64_t>();
    if (i < 2) {
      // Every value, each within half an int8 step of its chunk's largest magnitude.
      EXPECT_TRUE(payload.tensors(static_cast<int>(i)).indices().empty()) << i;
      EXPECT_GT(nonzero, delta[i].value.numel() * 9 / 10) << i;
      const double step = delta[i].value.abs().max().item<double>() / 127.0;
      EXPECT_LE((got - delta[i].value).abs().max().item<double>(), 0.51 * step * 1.01) << i;
    } else {
      EXPECT_FALSE(payload.tensors(static_cast<int>(i)).indices().empty()) << i;
      EXPECT_LT(nonzero, delta[i].value.numel() / 50) << i;  // top-32 of 4,096
    }
  }
  // Against a run without whole tensors, and the other way round: refused by name.
  const auto plain = *CodecSettings::from_preset("int2-k32");
  auto refused = decode_delta(encoded->bytes, shapes(), plain);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().to_string().find("sent whole"), std::string::npos) << refused.status().to_string();
  auto plain_bytes = encode_delta(delta, plain)->bytes;
  EXPECT_FALSE(decode_delta(plain_bytes, shapes(), settings).ok());
  // A payload that drops the whole-tensor header but keeps the empty index sections.
  proto::DeltaPayload forged = payload;
  forged.clear_whole_params();
  forged.set_whole_quant(proto::QUANT_UNSPECIFIED);
  EXPECT_FALSE(decode_delta(forged.SerializeAsString(), shapes(), plain).ok());
  // An index section smuggled into a whole tensor is a size violation.
  forged = payload;
  forged.mutable_tensors(0)->set_indices(std::string(4, '\0'));
  auto smuggled = decode_delta(forged.SerializeAsString(), shapes(), settings);
  ASSERT_FALSE(smuggled.ok());
  EXPECT_NE(smuggled.status().to_string().find("index section"), std::string::npos) << smuggled.status().to_string();
}

// Error feedback over whole tensors: what int8 rounds off is carried, as for top-k.
TEST(ErrorFeedback, WholeTensorsCarryTheirRoundingError) {
  auto settings = *CodecSettings::from_preset("int2-k32-emb-int8");
  ErrorFeedback ef(1.0);
  const auto delta = random_delta(5);
  auto encoded = ef.step(delta, settings);
  ASSERT_TRUE(encoded.ok());
  const auto sent = encoded->reconstruction.tensors[0].to_dense(shapes()[0]);
  EXPECT_TRUE(torch::allclose(ef.buffer(0) + sent, delta[0].value, 0.0, 1e-9));
  EXPECT_GT(ef.buffer(0).abs().max().item<double>(), 0.0);
}

TEST(Codec, EachDecodedTensorHoldsItsOwnEntries) {
  // The sparse updates of a delta share one buffer; each must see its own entries.
  auto settings = *CodecSettings::from_preset("fp16-k32");
  const auto delta = random_delta(2);
  auto encoded = encode_delta(delta, settings);
  ASSERT_TRUE(encoded.ok());
  auto decoded = decode_delta(encoded->bytes, shapes(), settings);
  ASSERT_TRUE(decoded.ok());
  for (const auto* d : {&*decoded, &encoded->reconstruction}) {
    for (std::size_t i = 0; i < shapes().size(); ++i) {
      const auto& u = d->tensors[i];
      ASSERT_FALSE(u.is_dense());
      auto g = *chunk_geometry(shapes()[i], settings);
      std::int64_t expected = 0;
      for (std::int64_t c = 0; c < g.num_chunks(); ++c) expected += values_per_chunk(g.chunk_size(c), g.two_d, settings);
      ASSERT_EQ(u.flat_index.numel(), expected) << "tensor " << i;
      ASSERT_EQ(u.values.numel(), expected) << "tensor " << i;
      EXPECT_TRUE((u.flat_index.slice(0, 1) > u.flat_index.slice(0, 0, -1)).all().item<bool>()) << "tensor " << i;
      EXPECT_LT(u.flat_index.max().item<std::int64_t>(), delta[i].value.numel());
      EXPECT_TRUE(torch::allclose(u.values, delta[i].value.flatten().index_select(0, u.flat_index), 1e-3, 1e-7))
          << "tensor " << i;
    }
  }
}

TEST(Codec, Slice1dSharesStorageAndChecksItsRange) {
  auto base = torch::arange(10, torch::kFloat);
  auto v = slice_1d(base, 3, 4);
  EXPECT_TRUE(torch::equal(v, torch::tensor({3.0f, 4.0f, 5.0f, 6.0f})));
  v[0] = 42.0f;
  EXPECT_EQ(base[3].item<float>(), 42.0f);
  EXPECT_EQ(slice_1d(base, 10, 0).numel(), 0);
  EXPECT_THROW(slice_1d(base, 8, 3), c10::Error);
  EXPECT_THROW(slice_1d(base.view({2, 5}), 0, 1), c10::Error);
}

TEST(Codec, Fp16WithoutTransformKeepsTheLargestValuesExactlyEnough) {
  auto settings = *CodecSettings::from_preset("fp16-k32-dct");
  auto x = torch::zeros({4096});
  x[7] = 0.5;
  x[4000] = -0.25;
  auto encoded = encode_delta({{0, x}}, settings);
  ASSERT_TRUE(encoded.ok());
  auto d = decode_delta(encoded->bytes, {{4096}}, settings);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(torch::equal(d->tensors[0].to_dense({4096}), x));
}

TEST(Codec, DeterministicBytes) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  EXPECT_EQ(encode_delta(random_delta(3), settings)->bytes, encode_delta(random_delta(3), settings)->bytes);
  EXPECT_NE(encode_delta(random_delta(3), settings)->bytes, encode_delta(random_delta(4), settings)->bytes);
}

TEST(Codec, CompressesDefaultPresetByTwoOrdersOfMagnitude) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  torch::manual_seed(0);
  auto big = torch::randn({1024, 1024});
  auto encoded = encode_delta({{0, big}}, settings);
  ASSERT_TRUE(encoded.ok());
  const double ratio = 1024.0 * 1024 * 4 / static_cast<double>(encoded->bytes.size());
  EXPECT_GT(ratio, 300.0) << encoded->bytes.size() << " bytes";
}

TEST(ErrorFeedback, NothingIsLostOnlyDelayed) {
  auto settings = *CodecSettings::from_preset("sign-k8");
  ErrorFeedback ef(0.9);
  auto delta = random_delta(5);
  torch::Tensor before = torch::zeros(shapes()[0]);
  for (int step = 0; step < 3; ++step) {
    auto encoded = ef.step(delta, settings);
    ASSERT_TRUE(encoded.ok());
    auto decoded = *decode_delta(encoded->bytes, shapes(), settings);
    // Invariant: E_new = β·E_old + Δ − decode(msg).
    auto expected = before * 0.9 + delta[0].value - decoded.tensors[0].to_dense(shapes()[0]);
    EXPECT_TRUE(torch::allclose(ef.buffer(0), expected, 1e-6, 1e-9)) << "step " << step;
    before = ef.buffer(0).clone();
  }
}

TEST(ErrorFeedback, ANonFiniteDeltaFailsAndLeavesTheBuffersUsable) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  ErrorFeedback ef(0.9);
  ASSERT_TRUE(ef.step(random_delta(1), settings).ok());
  const torch::Tensor kept = ef.buffer(0).clone();
  auto poisoned = random_delta(2);
  poisoned[0].value.view({-1})[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(ef.step(poisoned, settings).ok());
  EXPECT_TRUE(torch::equal(ef.buffer(0), kept)) << "a failed step changed the residual";
  auto next = ef.step(random_delta(3), settings);
  ASSERT_TRUE(next.ok()) << "one non-finite delta broke every later encode: " << next.status().to_string();
  EXPECT_TRUE(torch::isfinite(ef.buffer(0)).all().item<bool>());
}

TEST(Apply, UndoRestoresBitForBit) {
  for (const char* preset : {"int2-k32", "int2-k32-dct"}) {
    auto settings = *CodecSettings::from_preset(preset);
    auto encoded = encode_delta(random_delta(6), settings);
    auto decoded = *decode_delta(encoded->bytes, shapes(), settings);
    torch::manual_seed(9);
    std::vector<torch::Tensor> params;
    for (const auto& s : shapes()) params.push_back(torch::randn(s));
    std::vector<torch::Tensor> original;
    for (const auto& p : params) original.push_back(p.clone());
    auto log = apply_delta(params, decoded, 1.7f);
    ASSERT_TRUE(log.ok());
    EXPECT_FALSE(torch::equal(params[0], original[0]));
    EXPECT_TRUE(torch::allclose(params[2], original[2] + 1.7 * decoded.tensors[2].to_dense(shapes()[2])));
    ASSERT_TRUE(undo_delta(params, *log).ok());
    for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], original[i])) << preset << i;
  }
}

// ---- hostile payloads -------------------------------------------------------------

struct Attack {
  const char* name;
  std::function<void(proto::DeltaPayload&)> mutate;
  const char* fragment;
};

TEST(Decode, RejectsEveryMaliciousPayloadWithItsOwnReason) {
  auto settings = *CodecSettings::from_preset("int8-k32");
  const std::string good = encode_delta(random_delta(7), settings)->bytes;
  proto::DeltaPayload base;
  ASSERT_TRUE(base.ParseFromString(good));
  // Rewrites chunk 0 of a tensor so that all its k positions are 0 (low bits zero, all
  // ones first in the high part) — same section length, positions not increasing.
  auto duplicate_first_chunk_positions = [&settings](proto::TensorDelta* t) {
    const auto g = *chunk_geometry(shapes()[t->param_index()], settings);
    const std::uint32_t k = values_per_chunk(g.chunk_size(0), g.two_d, settings);
    const auto u = static_cast<std::uint32_t>(g.chunk_size(0));
    const std::uint64_t chunk_bits = elias_fano_bits(k, u);
    BitWriter w;
    const unsigned low = elias_fano_low_bits(k, u);
    for (std::uint32_t i = 0; i < k; ++i) w.write(0, low);
    for (std::uint32_t i = 0; i < k; ++i) w.write(1, 1);
    for (std::uint64_t b = w.bit_count(); b < chunk_bits; ++b) w.write(0, 1);
    BitReader rest(t->indices());
    rest.skip(chunk_bits);
    std::uint64_t bit = 0;
    while (rest.read(1, &bit)) w.write(bit, 1);
    std::string bytes = w.finish();
    bytes.resize(t->indices().size());
    t->set_indices(bytes);
  };
  // Overwrites tensor 0's first bf16 scale (little-endian) with `bits`.
  auto set_first_scale = [](proto::DeltaPayload& p, std::uint16_t bits) {
    auto* t = p.mutable_tensors(0);
    std::string s = t->scales();
    s[0] = static_cast<char>(bits & 0xff);
    s[1] = static_cast<char>(bits >> 8);
    t->set_scales(s);
  };
  std::vector<Attack> attacks = {
      {"format version", [](auto& p) { p.set_format_version(2); }, "format version 2"},
      {"transform", [](auto& p) { p.set_transform(proto::TRANSFORM_DCT); }, "transform"},
      {"unknown transform", [](auto& p) { p.set_transform(static_cast<proto::Transform>(9)); }, "transform"},
      {"quant", [](auto& p) { p.set_quant(proto::QUANT_SIGN); }, "quantisation"},
      {"topk", [](auto& p) { p.set_topk(4096); }, "topk 4096"},
      {"chunk_1d", [](auto& p) { p.set_chunk_1d(16); }, "chunk_1d 16"},
      {"block_2d", [](auto& p) { p.set_block_2d(8); }, "block_2d 8"},
      {"no tensors", [](auto& p) { p.clear_tensors(); }, "no tensors"},
      {"param index out of range", [](auto& p) { p.mutable_tensors(3)->set_param_index(40); }, "out of range"},
      {"duplicate tensor", [](auto& p) { p.mutable_tensors(1)->set_param_index(0); }, "strictly increasing parameter order"},
      {"rank", [](auto& p) { p.mutable_tensors(0)->add_shape(1); }, "rank 3"},
      {"dimension", [](auto& p) { p.mutable_tensors(0)->set_shape(0, 255); }, "dimension 0 is 255"},
      {"geometry", [](auto& p) { p.mutable_tensors(0)->set_block_rows(32); }, "chunk geometry 32x64"},
      {"short indices", [](auto& p) { p.mutable_tensors(0)->mutable_indices()->pop_back(); }, "index section"},
      {"long indices", [](auto& p) { p.mutable_tensors(0)->mutable_indices()->push_back('\0'); }, "index section"},
      {"short values", [](auto& p) { p.mutable_tensors(2)->mutable_values()->pop_back(); }, "value section"},
      {"long scales", [](auto& p) { p.mutable_tensors(1)->mutable_scales()->append("xx"); }, "scale section"},
      {"index order", [&](auto& p) { duplicate_first_chunk_positions(p.mutable_tensors(0)); }, "not strictly increasing"},
      {"index high bits", [](auto& p) {
         auto* t = p.mutable_tensors(0);
         std::string s = t->indices();
         // All-ones high part: more than k positions, or positions out of order.
         for (std::size_t i = 32 * 7 / 8; i < 36; ++i) s[i] = '\xff';
         t->set_indices(s);
       }, "chunk 0"},
      {"nan scale", [&](auto& p) { set_first_scale(p, 0x7fc0); }, "non-finite scale"},
      {"inf scale", [&](auto& p) { set_first_scale(p, 0x7f80); }, "non-finite scale"},
      {"negative scale", [&](auto& p) { set_first_scale(p, 0xbf80); }, "negative scale"},  // bf16 -1
      {"int8 code 255", [](auto& p) {
         auto* t = p.mutable_tensors(0);
         std::string s = t->values();
         s[0] = '\xff';
         t->set_values(s);
       }, "int8 code 255 out of range"},
      {"padding bits", [](auto& p) {
         auto* t = p.mutable_tensors(1);  // 384-element bias: 3 values → 24 bits, no padding; use index stream
         std::string s = t->indices();
         s.back() = static_cast<char>(s.back() | 0x80);
         t->set_indices(s);
       }, "tensor 1"},
  };
  ASSERT_GE(attacks.size(), 20u);
  for (const auto& attack : attacks) {
    proto::DeltaPayload p = base;
    attack.mutate(p);
    std::string bytes;
    ASSERT_TRUE(p.SerializeToString(&bytes));
    auto r = decode_delta(bytes, shapes(), settings);
    ASSERT_FALSE(r.ok()) << attack.name;
    EXPECT_NE(r.status().message().find(attack.fragment), std::string::npos)
        << attack.name << ": " << r.status().message();
  }
}

TEST(Decode, RejectsGarbageOversizeAndWrongModel) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  EXPECT_NE(decode_delta("\xff\xff\xff\xff garbage", shapes(), settings).status().message().find("not a valid"),
            std::string::npos);
  const std::string good = encode_delta(random_delta(8), settings)->bytes;
  DecodeLimits small;
  small.max_payload_bytes = 100;
  EXPECT_NE(decode_delta(good, shapes(), settings, small).status().message().find("exceeds the cap"), std::string::npos);
  EXPECT_FALSE(decode_delta(good, {{256, 128}}, settings).ok());  // model with fewer parameters
  for (std::size_t cut = 0; cut < good.size(); cut += 97) {
    EXPECT_FALSE(decode_delta(good.substr(0, cut), shapes(), settings).ok()) << "truncated at " << cut;
  }
  // Non-finite values anywhere (2-D in place, 1-D, with and without the DCT's gather) are
  // refused with the parameter named; the check rides on the top-k pass.
  for (const char* preset : {"int2-k32", "int2-k32-dct"}) {
    const auto s = CodecSettings::from_preset(preset).value();
    for (std::size_t t = 0; t < 4; ++t) {
      for (float bad : {NAN, INFINITY, -INFINITY}) {
        auto delta = random_delta(8);
        auto flat = delta[t].value.view({-1});
        flat[flat.numel() - 1] = bad;
        auto r = encode_delta(delta, s);
        ASSERT_FALSE(r.ok()) << preset << " tensor " << t;
        EXPECT_NE(r.status().message().find("parameter " + std::to_string(t) + " has non-finite values"),
                  std::string::npos) << r.status().message();
      }
    }
  }
}

}  // namespace
}  // namespace tessera::gradients

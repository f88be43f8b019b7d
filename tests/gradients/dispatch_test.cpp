// Kernel dispatch by device (gradients/dispatch.h), shown with a fake device: tensors of
// torch's PrivateUse1 device type, backed by host memory, with a kernel backend that runs
// the CPU references and records each call. CPU tensors must reach the CPU kernels and
// leave the fake untouched; fake-device tensors must reach the fake's kernels, and what
// the codec and apply return must live on the fake device too.
#include <ATen/native/CPUFallback.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_native.h>
#include <ATen/ops/resize_native.h>
#include <ATen/ops/view_native.h>
#include <c10/core/Allocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <gtest/gtest.h>
#include <torch/library.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "gradients/apply.h"
#include "gradients/codec.h"
#include "gradients/dispatch.h"
#include "gradients/error_feedback.h"

namespace tessera::gradients {
namespace {

const c10::Device kFake(c10::DeviceType::PrivateUse1, 0);

// Host memory that torch believes belongs to the fake device.
struct FakeAllocator final : c10::Allocator {
  static void release(void* p) { std::free(p); }
  c10::DataPtr allocate(std::size_t n) const override {
    void* p = std::malloc(std::max<std::size_t>(n, 1));
    return {p, p, &release, kFake};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};
FakeAllocator fake_allocator;

at::Tensor fake_empty(c10::IntArrayRef size, c10::optional<at::ScalarType> dtype, c10::optional<at::Layout>,
                      c10::optional<at::Device>, c10::optional<bool>, c10::optional<at::MemoryFormat> format) {
  return at::detail::empty_generic(size, &fake_allocator, c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                   dtype.value_or(at::kFloat), format);
}

at::Tensor fake_empty_strided(c10::IntArrayRef size, c10::IntArrayRef stride, c10::optional<at::ScalarType> dtype,
                              c10::optional<at::Layout>, c10::optional<at::Device>, c10::optional<bool>) {
  return at::detail::empty_strided_generic(size, stride, &fake_allocator,
                                           c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), dtype.value_or(at::kFloat));
}

// One device, one default stream: enough for device guards around the fallback's ops.
struct FakeGuard final : c10::impl::DeviceGuardImplInterface {
  c10::DeviceType type() const override { return c10::DeviceType::PrivateUse1; }
  c10::Device exchangeDevice(c10::Device) const override { return kFake; }
  c10::Device getDevice() const override { return kFake; }
  void setDevice(c10::Device) const override {}
  void uncheckedSetDevice(c10::Device) const noexcept override {}
  c10::Stream getStream(c10::Device d) const noexcept override { return c10::Stream(c10::Stream::DEFAULT, d); }
  c10::Stream exchangeStream(c10::Stream s) const noexcept override { return s; }
  c10::DeviceIndex deviceCount() const noexcept override { return 1; }
};
C10_REGISTER_GUARD_IMPL(PrivateUse1, FakeGuard);

// A CPU tensor over the same memory (the fake device's memory is host memory).
at::Tensor host_alias(const at::Tensor& t) {
  if (t.is_cpu()) return t;
  return at::from_blob(t.data_ptr(), t.sizes(), t.strides(), at::TensorOptions().dtype(t.dtype()));
}

at::Tensor fake_copy_from(const at::Tensor& self, const at::Tensor& dst, bool) {
  host_alias(dst).copy_(host_alias(self));
  return dst;
}

// Storage is reallocated through the storage's own (fake) allocator.
const at::Tensor& fake_resize(const at::Tensor& self, c10::IntArrayRef size, c10::optional<at::MemoryFormat> format) {
  return at::native::resize_(self, size, format);
}

at::Tensor fake_copy_from_and_resize(const at::Tensor& self, const at::Tensor& dst) {
  fake_resize(dst, self.sizes(), c10::nullopt);
  return fake_copy_from(self, dst, false);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("empty.memory_format", fake_empty);
  m.impl("empty_strided", fake_empty_strided);
  m.impl("_copy_from", fake_copy_from);
  m.impl("_copy_from_and_resize", fake_copy_from_and_resize);
  m.impl("resize_", fake_resize);
  m.impl("view", at::native::view);
  m.impl("as_strided", at::native::as_strided_tensorimpl);
  m.impl("_reshape_alias", at::native::_reshape_alias);
}
TORCH_LIBRARY_IMPL(_, PrivateUse1, m) { m.fallback(torch::CppFunction::makeFromBoxedFunction<&at::native::cpu_fallback>()); }

// The CPU references, recording each call.
class RecordingBackend final : public kernels::KernelBackend {
 public:
  mutable std::vector<std::string> calls;
  // Which scatter_apply or axpy call fails, counting from 0 (-1: none).
  mutable int fail_apply_call = -1;
  std::string name() const override { return "fake"; }
  bool topk_chunks(const float* d, std::size_t n, std::size_t l, const std::uint32_t* k, const std::size_t* o,
                   std::uint32_t* p, float* v, bool* f) const override {
    calls.push_back("topk_chunks");
    return cpu().topk_chunks(d, n, l, k, o, p, v, f);
  }
  bool topk_blocks(const float* d, std::size_t r, std::size_t c, std::size_t br, std::size_t bc, const std::uint32_t* k,
                   const std::size_t* o, std::uint32_t* p, float* v, bool* f) const override {
    calls.push_back("topk_blocks");
    return cpu().topk_blocks(d, r, c, br, bc, k, o, p, v, f);
  }
  bool gather_blocks(const float* m, std::size_t r, std::size_t c, std::size_t br, std::size_t bc,
                     float* out) const override {
    calls.push_back("gather_blocks");
    return cpu().gather_blocks(m, r, c, br, bc, out);
  }
  bool dct_blocks(float* b, std::size_t n, int r, int c, bool inverse) const override {
    calls.push_back("dct_blocks");
    return cpu().dct_blocks(b, n, r, c, inverse);
  }
  bool quantize_chunks(kernels::QuantKind q, const float* v, std::size_t n, const std::uint32_t* k,
                       const std::size_t* o, std::uint16_t* codes, std::uint16_t* scales, float* recon) const override {
    calls.push_back("quantize_chunks");
    return cpu().quantize_chunks(q, v, n, k, o, codes, scales, recon);
  }
  bool dequantize_chunks(kernels::QuantKind q, const std::uint16_t* codes, const std::uint16_t* scales, std::size_t n,
                         const std::uint32_t* k, const std::size_t* o, float* out) const override {
    calls.push_back("dequantize_chunks");
    return cpu().dequantize_chunks(q, codes, scales, n, k, o, out);
  }
  bool scatter_apply(float* p, const std::int64_t* i, const float* v, std::size_t n, float a, float* s) const override {
    calls.push_back("scatter_apply");
    if (fail_apply_call-- == 0) return false;  // a launch that fails before it writes
    return cpu().scatter_apply(p, i, v, n, a, s);
  }
  bool scatter_restore(float* p, const std::int64_t* i, const float* s, std::size_t n) const override {
    calls.push_back("scatter_restore");
    return cpu().scatter_restore(p, i, s, n);
  }
  bool axpy(std::size_t n, float a, const float* x, float* y) const override {
    calls.push_back("axpy");
    if (fail_apply_call-- == 0) {  // a kernel that fails after writing half its tensor
      cpu().axpy(n / 2, a, x, y);
      return false;
    }
    return cpu().axpy(n, a, x, y);
  }
  bool cross_entropy_sum(const float* l, const std::int64_t* t, std::size_t r, std::size_t v, float* rl,
                         double* s) const override {
    calls.push_back("cross_entropy_sum");
    return cpu().cross_entropy_sum(l, t, r, v, rl, s);
  }

 private:
  static const kernels::KernelBackend& cpu() { return kernels::cpu_backend(); }
};

class Dispatch : public ::testing::Test {
 protected:
  void SetUp() override {
    c10::SetAllocator(c10::DeviceType::PrivateUse1, &fake_allocator);
    register_backend(c10::DeviceType::PrivateUse1, &fake_);
  }
  void TearDown() override { register_backend(c10::DeviceType::PrivateUse1, nullptr); }
  std::vector<IndexedTensor> delta(bool on_fake) const {
    torch::manual_seed(4);
    std::vector<IndexedTensor> out = {{0, torch::randn({256, 128}) * 1e-3}, {1, torch::randn({384}) * 1e-3}};
    if (on_fake) {
      for (auto& t : out) t.value = t.value.to(kFake);
    }
    return out;
  }
  RecordingBackend fake_;
};

TEST_F(Dispatch, CpuTensorsNeverReachTheDeviceBackend) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  auto encoded = encode_delta(delta(false), settings);
  ASSERT_TRUE(encoded.ok()) << encoded.status().message();
  EXPECT_TRUE(fake_.calls.empty());
  for (const auto& u : encoded->reconstruction.tensors) EXPECT_TRUE(u.values.device().is_cpu());
}

TEST_F(Dispatch, DeviceTensorsRunOnTheirDeviceAndGiveTheSameBytes) {
  for (const std::string preset : {"int2-k32", "int8-k16-dct"}) {
    fake_.calls.clear();
    auto settings = *CodecSettings::from_preset(preset);
    auto on_cpu = encode_delta(delta(false), settings);
    auto on_fake = encode_delta(delta(true), settings);
    ASSERT_TRUE(on_fake.ok()) << on_fake.status().message();
    EXPECT_EQ(on_fake->bytes, on_cpu->bytes) << preset;  // bytes on the wire are device-independent
    const bool dct = settings.transform == Transform::kDct;
    const std::vector<std::string> expected =
        dct ? std::vector<std::string>{"gather_blocks", "dct_blocks", "topk_chunks", "quantize_chunks", "topk_chunks",
                                       "quantize_chunks"}
            : std::vector<std::string>{"topk_blocks", "quantize_chunks", "topk_chunks", "quantize_chunks"};
    EXPECT_EQ(fake_.calls, expected) << preset;
    for (std::size_t i = 0; i < on_fake->reconstruction.tensors.size(); ++i) {
      const auto& u = on_fake->reconstruction.tensors[i];
      const auto& ref = on_cpu->reconstruction.tensors[i];
      EXPECT_EQ(u.is_dense() ? u.dense.device() : u.values.device(), kFake) << preset << " tensor " << i;
      TensorUpdate on_host = u;  // compared on the host: the fake device has no index_put
      if (u.is_dense()) {
        on_host.dense = to_host(u.dense);
      } else {
        on_host.flat_index = to_host(u.flat_index);
        on_host.values = to_host(u.values);
      }
      const std::vector<std::int64_t> shape = delta(false)[i].value.sizes().vec();
      EXPECT_TRUE(torch::equal(on_host.to_dense(shape), ref.to_dense(shape))) << preset << " tensor " << i;
    }
  }
}

TEST_F(Dispatch, ApplyAndUndoRunOnTheParametersDevice) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  auto encoded = *encode_delta(delta(false), settings);
  auto decoded = *decode_delta(encoded.bytes, {{256, 128}, {384}}, settings);
  torch::manual_seed(8);
  std::vector<torch::Tensor> cpu_params = {torch::randn({256, 128}), torch::randn({384})};
  std::vector<torch::Tensor> fake_params;
  for (const auto& p : cpu_params) fake_params.push_back(p.to(kFake));
  ASSERT_TRUE(apply_delta(cpu_params, decoded, -0.5f).ok());
  EXPECT_TRUE(fake_.calls.empty());
  auto log = apply_delta(fake_params, decoded, -0.5f);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(fake_.calls, (std::vector<std::string>{"scatter_apply", "scatter_apply"}));
  for (std::size_t i = 0; i < cpu_params.size(); ++i) {
    EXPECT_EQ(fake_params[i].device(), kFake);
    EXPECT_TRUE(torch::equal(to_host(fake_params[i]), cpu_params[i]));
  }
  ASSERT_TRUE(undo_delta(fake_params, *log).ok());
  EXPECT_EQ(fake_.calls.back(), "scatter_restore");
}

// A device kernel that fails partway through a delta leaves no part of it applied: the
// validator measures the next candidate on the same parameters.
TEST_F(Dispatch, AKernelThatFailsPartwayLeavesTheParametersAsTheyWere) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  auto sparse = *decode_delta(encode_delta(delta(false), settings)->bytes, {{256, 128}, {384}}, settings);
  DecodedDelta dense;
  for (const auto& t : delta(false)) {
    TensorUpdate u;
    u.param_index = t.param_index;
    u.dense = t.value;
    dense.tensors.push_back(std::move(u));
  }
  torch::manual_seed(9);
  const std::vector<torch::Tensor> before = {torch::randn({256, 128}), torch::randn({384})};
  for (const auto* d : {&sparse, &dense}) {
    std::vector<torch::Tensor> params;
    for (const auto& p : before) params.push_back(p.to(kFake));
    fake_.calls.clear();
    fake_.fail_apply_call = 1;  // the second tensor's kernel
    auto log = apply_delta(params, *d, -0.5f);
    ASSERT_FALSE(log.ok());
    EXPECT_NE(log.status().message().find("kernel failed on parameter 1"), std::string::npos) << log.status().message();
    EXPECT_NE(log.status().message().find("undone"), std::string::npos) << log.status().message();
    const bool is_dense = d == &dense;
    // The first tensor was written, then restored (a dense tensor from its copy, on the host).
    const std::vector<std::string> expected = is_dense ? std::vector<std::string>{"axpy", "axpy"}
                                                       : std::vector<std::string>{"scatter_apply", "scatter_apply",
                                                                                  "scatter_restore"};
    EXPECT_EQ(fake_.calls, expected);
    for (std::size_t i = 0; i < before.size(); ++i) {
      EXPECT_TRUE(torch::equal(to_host(params[i]), before[i])) << (is_dense ? "dense" : "sparse") << " parameter " << i;
    }
  }
}

TEST_F(Dispatch, ErrorFeedbackKeepsItsBuffersOnTheDevice) {
  auto settings = *CodecSettings::from_preset("int2-k32");
  ErrorFeedback on_fake(0.9), on_cpu(0.9);
  for (int window = 0; window < 2; ++window) {
    auto a = on_fake.step(delta(true), settings);
    auto b = on_cpu.step(delta(false), settings);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(a->bytes, b->bytes);
  }
  EXPECT_EQ(on_fake.buffer(0).device(), kFake);
  EXPECT_TRUE(torch::equal(to_host(on_fake.buffer(0)), on_cpu.buffer(0)));
}

TEST_F(Dispatch, ADeviceWithoutKernelsIsAClearError) {
  register_backend(c10::DeviceType::PrivateUse1, nullptr);
  auto encoded = encode_delta(delta(true), *CodecSettings::from_preset("int2-k32"));
  ASSERT_FALSE(encoded.ok());
  EXPECT_NE(encoded.status().message().find("no kernels for device"), std::string::npos) << encoded.status().message();
}

}  // namespace
}  // namespace tessera::gradients

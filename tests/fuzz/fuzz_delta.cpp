// libFuzzer target: arbitrary bytes into the strict delta decoder (the default codec and
// the DCT variant) against a nano-sized parameter list; whatever decodes is applied and
// undone, which must restore the parameters exactly.
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>

#include "gradients/apply.h"
#include "gradients/codec.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::vector<std::int64_t>> shapes = {{256, 48}, {64, 48}, {48}, {144, 48}, {4096 + 7}};
  static std::vector<torch::Tensor> params = [] {
    std::vector<torch::Tensor> p;
    for (const auto& s : shapes) p.push_back(torch::zeros(s));
    return p;
  }();
  static const gradients::CodecSettings settings[] = {*gradients::CodecSettings::from_preset("int2-k32"),
                                                      *gradients::CodecSettings::from_preset("fp16-k8-dct"),
                                                      *gradients::CodecSettings::from_preset("int2-k32-emb-int8")};
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const auto& s : settings) {
    auto decoded = gradients::decode_delta(bytes, shapes, s);
    if (!decoded.ok()) continue;
    auto log = gradients::apply_delta(params, *decoded, 1.0f);
    if (log.ok()) (void)gradients::undo_delta(params, *log);
    for (const auto& p : params) {
      if (!torch::equal(p, torch::zeros_like(p))) __builtin_trap();  // undo must be exact
    }
  }
  return 0;
}

// Fused loss evaluation for validators: logits [rows × vocab] (row-major float) and one
// target id per row → per-row cross-entropy (logsumexp(logits_row) − logits_row[target])
// and their sum, in one pass over the logits without materialising probabilities.
// CPU reference and CUDA version share the semantics; the CUDA version takes device
// pointers (`row_loss_device` may be null) and returns the sum to the host.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::kernels {

// Returns false when a target is outside [0, vocab) (nothing meaningful is written).
bool cross_entropy_sum_cpu(const float* logits, const std::int64_t* targets, std::size_t rows, std::size_t vocab,
                           float* row_loss, double* sum);
// Returns false when CUDA is unavailable or the launch failed; a row whose target is out
// of range yields NaN (and so a NaN sum).
bool cross_entropy_sum_cuda(const float* logits_device, const std::int64_t* targets_device, std::size_t rows,
                            std::size_t vocab, float* row_loss_device, double* sum);

}  // namespace tessera::kernels

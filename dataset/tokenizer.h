// Byte-level tokenizer: token = byte value, vocabulary 256. No merges, no unknown
// tokens, exact round trip for any byte string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::dataset {

class ByteTokenizer {
 public:
  static constexpr int kVocabSize = 256;
  std::vector<std::uint16_t> encode(std::string_view text) const;
  void encode_append(std::string_view text, std::vector<std::uint16_t>* out) const;
  // Tokens >= 256 (from a foreign shard) decode as '?'.
  std::string decode(const std::vector<std::uint16_t>& tokens) const;
};

}  // namespace tessera::dataset

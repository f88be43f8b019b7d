#include "dataset/tokenizer.h"

namespace tessera::dataset {

void ByteTokenizer::encode_append(std::string_view text, std::vector<std::uint16_t>* out) const {
  // No exact reserve here: called once per file, it would reallocate (and copy everything
  // appended so far) on every call. insert() grows geometrically.
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  out->insert(out->end(), bytes, bytes + text.size());
}

std::vector<std::uint16_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<std::uint16_t> out;
  encode_append(text, &out);
  return out;
}

std::string ByteTokenizer::decode(const std::vector<std::uint16_t>& tokens) const {
  std::string out;
  out.reserve(tokens.size());
  for (auto t : tokens) out.push_back(t < 256 ? static_cast<char>(t) : '?');
  return out;
}

}  // namespace tessera::dataset

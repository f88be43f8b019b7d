#include "dataset/tokenizer.h"

namespace tessera::dataset {

void ByteTokenizer::encode_append(std::string_view text, std::vector<std::uint16_t>* out) const {
  out->reserve(out->size() + text.size());
  for (char c : text) out->push_back(static_cast<std::uint8_t>(c));
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

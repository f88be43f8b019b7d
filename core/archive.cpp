#include "core/archive.h"

// Boost compiles its archive templates only for its own archive classes; a derived
// archive instantiates them itself (as Boost's portable-archive example does).
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

#include <stdexcept>

namespace boost::archive {
template class basic_binary_iprimitive<tessera::detail::BoundedBinaryIArchive, char, std::char_traits<char>>;
template class basic_binary_iarchive<tessera::detail::BoundedBinaryIArchive>;
template class detail::archive_serializer_map<tessera::detail::BoundedBinaryIArchive>;
}  // namespace boost::archive

namespace tessera::detail {

BoundedBinaryIArchive::BoundedBinaryIArchive(std::istream& in) : Impl(in, boost::archive::no_header), in_(in) {
  init(boost::archive::no_header);
}

void BoundedBinaryIArchive::require(std::uint64_t n, const char* what) {
  const std::streamsize avail = in_.rdbuf()->in_avail();
  const std::uint64_t left = avail > 0 ? static_cast<std::uint64_t>(avail) : 0;
  if (n > left) {
    throw std::length_error(std::string(what) + " of " + std::to_string(n) + " with " + std::to_string(left) +
                            " bytes left in the input");
  }
}

void BoundedBinaryIArchive::load(std::string& s) {
  std::size_t length = 0;
  this->Primitive::load(length);
  require(length, "a string");
  s.resize(length);
  if (length > 0) load_binary(s.data(), length);
}

void BoundedBinaryIArchive::load_override(boost::serialization::collection_size_type& t) {
  Impl::load_override(t);
  require(static_cast<std::uint64_t>(t), "a count");
}

}  // namespace tessera::detail

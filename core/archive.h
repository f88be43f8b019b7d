// Boost.Serialization to and from bytes, the one way node-local records are encoded
// (ledger snapshots, miner and validator state): binary archives without the Boost
// header. Users link tessera_archive and include the serialization headers their types
// need (map, vector, string, …).
#pragma once

#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/array_optimization.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <exception>
#include <istream>
#include <sstream>
#include <string>

#include "core/status.h"

namespace tessera {

namespace detail {

// Boost's binary input archive with one more check: a string length or an element count
// larger than the bytes left in the input is refused before anything is allocated for it
// (every element of a record takes at least one byte). Boost's own archive allocates for
// a length before it reads what follows, so a forged length would ask for up to 2^64
// bytes, or zero-fill gigabytes before the read fails (and under AddressSanitizer a failed
// allocation aborts). The format is Boost's, unchanged: records written by `to_archive`
// and by earlier builds decode as before.
class BoundedBinaryIArchive
    : public boost::archive::binary_iarchive_impl<BoundedBinaryIArchive, char, std::char_traits<char>> {
  using Impl = boost::archive::binary_iarchive_impl<BoundedBinaryIArchive, char, std::char_traits<char>>;
  using Primitive = boost::archive::basic_binary_iprimitive<BoundedBinaryIArchive, char, std::char_traits<char>>;
  friend class boost::archive::detail::interface_iarchive<BoundedBinaryIArchive>;
  friend class boost::archive::basic_binary_iarchive<BoundedBinaryIArchive>;
  friend class boost::archive::load_access;

 public:
  explicit BoundedBinaryIArchive(std::istream& in);

  // Called by Boost's archive templates on the most derived archive.
  using Primitive::load;
  void load(std::string& s);
  template <class T>
  void load_override(T& t) {
    Impl::load_override(t);
  }
  void load_override(boost::serialization::collection_size_type& t);

 private:
  // Throws std::length_error naming `what` when `n` exceeds the bytes left.
  void require(std::uint64_t n, const char* what);
  std::istream& in_;
};

}  // namespace detail
}  // namespace tessera

// As Boost does for its binary_iarchive: arrays of plain values load in one read. Without
// it vectors take the element-wise path, whose layout differs (an item version after the
// count), and records written by binary_oarchive would not decode.
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(tessera::detail::BoundedBinaryIArchive)

namespace tessera {

template <typename T>
std::string to_archive(const T& value) {
  std::ostringstream out(std::ios::binary);
  {
    boost::archive::binary_oarchive ar(out, boost::archive::no_header);
    ar << value;
  }
  return out.str();
}

// Decodes `bytes` into `*value`; a Corrupted status "<what> does not decode: <reason>".
template <typename T>
Status from_archive(const std::string& bytes, T* value, const std::string& what) {
  try {
    std::istringstream in(bytes, std::ios::binary);
    detail::BoundedBinaryIArchive ar(in);
    ar >> *value;
  } catch (const std::exception& e) {
    return Corrupted(what + " does not decode: " + e.what());
  }
  return Status::Ok();
}

}  // namespace tessera

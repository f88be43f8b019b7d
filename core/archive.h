// Boost.Serialization to and from bytes, the one way node-local records are encoded
// (ledger snapshots, miner and validator state): binary archives without the Boost
// header. Users link Boost::serialization and include the serialization headers their
// types need (map, vector, string, …).
#pragma once

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <exception>
#include <sstream>
#include <string>

#include "core/status.h"

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
    boost::archive::binary_iarchive ar(in, boost::archive::no_header);
    ar >> *value;
  } catch (const std::exception& e) {
    return Corrupted(what + " does not decode: " + e.what());
  }
  return Status::Ok();
}

}  // namespace tessera

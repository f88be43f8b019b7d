#include "verification/state.h"

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/deque.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <sstream>

#include "core/file_io.h"

namespace tessera::verification {

namespace {
constexpr const char* kKind = "tessera-validator-state/1";
}

Status save_validator_state(const std::filesystem::path& path, const ValidatorState& state) {
  std::ostringstream out(std::ios::binary);
  {
    boost::archive::binary_oarchive ar(out, boost::archive::no_header);
    ar << state;
  }
  return write_sealed_file(path, kKind, out.str());
}

Result<ValidatorState> load_validator_state(const std::filesystem::path& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string body, read_sealed_file(path, kKind));
  ValidatorState state;
  try {
    std::istringstream in(body, std::ios::binary);
    boost::archive::binary_iarchive ar(in, boost::archive::no_header);
    ar >> state;
  } catch (const std::exception& e) {
    return Corrupted("state file " + path.string() + " does not decode: " + e.what());
  }
  return state;
}

}  // namespace tessera::verification

#include "verification/state.h"

#include <boost/serialization/deque.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include "core/archive.h"
#include "core/file_io.h"

namespace tessera::verification {

namespace {
constexpr const char* kKind = "tessera-validator-state/1";
}

Status save_validator_state(const std::filesystem::path& path, const ValidatorState& state) {
  return write_sealed_file(path, kKind, to_archive(state));
}

Result<ValidatorState> load_validator_state(const std::filesystem::path& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string body, read_sealed_file(path, kKind));
  ValidatorState state;
  TESSERA_RETURN_IF_ERROR(from_archive(body, &state, "state file " + path.string()));
  return state;
}

}  // namespace tessera::verification

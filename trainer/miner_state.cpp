#include "trainer/miner_state.h"

#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <sstream>

#include "checkpoints/safetensors.h"
#include "core/archive.h"
#include "core/file_io.h"
#include "core/hash.h"

namespace tessera::trainer {

namespace fs = std::filesystem;

namespace {
constexpr const char* kKind = "tessera-miner-state/1";
}

std::string save_optimizer(torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream out(std::ios::binary);
  archive.save_to(out);
  return out.str();
}

Status load_optimizer(torch::optim::Optimizer& optimizer, const std::string& bytes, const torch::Device& device) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size(), device);
    optimizer.load(archive);
  } catch (const std::exception& e) {
    return Corrupted(std::string("optimizer state does not load: ") + e.what());
  }
  return Status::Ok();
}

Status save_miner_state(const fs::path& dir, const MinerSnapshot& s) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  checkpoints::NamedTensors ef;
  for (const auto& [index, t] : s.ef) ef.emplace_back("ef." + std::to_string(index), t.to(torch::kCPU).contiguous());
  TESSERA_ASSIGN_OR_RETURN(std::string ef_bytes, checkpoints::encode_safetensors(ef, {}));
  TESSERA_RETURN_IF_ERROR(write_file_atomic(dir / "ef.safetensors", ef_bytes, 0600));
  TESSERA_RETURN_IF_ERROR(write_file_atomic(dir / "optimizer.pt", s.optimizer, 0600));
  MinerRecord record = s.record;
  record.ef_hash = to_hex(blake2b_256(ef_bytes));
  record.optimizer_hash = to_hex(blake2b_256(s.optimizer));
  return write_sealed_file(dir / "state.bin", kKind, to_archive(record));
}

Result<MinerSnapshot> load_miner_state(const fs::path& dir) {
  TESSERA_ASSIGN_OR_RETURN(std::string body, read_sealed_file(dir / "state.bin", kKind));
  MinerSnapshot s;
  TESSERA_RETURN_IF_ERROR(from_archive(body, &s.record, "miner state " + (dir / "state.bin").string()));
  auto ef_bytes = read_file(dir / "ef.safetensors");
  if (!ef_bytes.ok() || to_hex(blake2b_256(*ef_bytes)) != s.record.ef_hash) {
    return Corrupted("miner state: " + (dir / "ef.safetensors").string() + " is missing or does not match its recorded hash");
  }
  auto opt = read_file(dir / "optimizer.pt");
  if (!opt.ok() || to_hex(blake2b_256(*opt)) != s.record.optimizer_hash) {
    return Corrupted("miner state: " + (dir / "optimizer.pt").string() + " is missing or does not match its recorded hash");
  }
  s.optimizer = std::move(*opt);
  TESSERA_ASSIGN_OR_RETURN(auto file, checkpoints::decode_safetensors(*ef_bytes));
  for (auto& [name, t] : file.tensors) {
    if (name.rfind("ef.", 0) != 0) return Corrupted("miner state: unexpected tensor " + name);
    try {
      s.ef.emplace_back(static_cast<std::uint32_t>(std::stoul(name.substr(3))), t);
    } catch (const std::exception&) {
      return Corrupted("miner state: bad tensor name " + name);
    }
  }
  return s;
}

}  // namespace tessera::trainer

// The aggregating validator's second half (`tessera validator --aggregate`): after each
// window's verdict, merge the accepted deltas into the next checkpoint
// (aggregator/window.h), store it with its payload blobs and merged update, serve it
// (checkpoints/service.h) and announce its hash on chain. Composed above verification/
// and aggregator/, which never include each other.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "checkpoints/service.h"
#include "checkpoints/store.h"
#include "verification/validator.h"

namespace tessera::node {

struct AggregatorOptions {
  std::string checkpoint_listen = "127.0.0.1:0";  // gRPC CheckpointService
  int checkpoint_data_port = 0;                   // its raw data plane, same host (0: any free port)
  std::size_t keep_checkpoints = 32;              // the newest N stay in the store (and verifiable)
};

class CheckpointAggregator final : public verification::WindowAggregator {
 public:
  explicit CheckpointAggregator(AggregatorOptions options) : options_(std::move(options)) {}
  Result<checkpoints::CheckpointStore*> start(const subnet::Joined& joined, const std::filesystem::path& dir) override;
  std::string describe() const override { return "checkpoints at " + checkpoint_address(); }
  // What announcements name: an address peers can dial (CheckpointServer::address).
  std::string checkpoint_address() const override { return server_ ? server_->address() : ""; }
  Status publish_initial(std::uint64_t window) override;
  Result<Published> publish_next(const checkpoints::Checkpoint& base, std::uint64_t target,
                                 const verification::WindowReport& report,
                                 const std::vector<net::Submission>& submissions) override;
  void stop() override;

 private:
  Status announce(std::uint64_t window, const std::string& hash);

  AggregatorOptions options_;
  const subnet::Joined* joined_ = nullptr;  // the validator's; outlives this object
  std::optional<checkpoints::CheckpointStore> store_;
  std::unique_ptr<checkpoints::CheckpointServer> server_;
};

}  // namespace tessera::node

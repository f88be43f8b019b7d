// The metrics a checkpoint server records (gRPC service and data plane), for
// --metrics-listen; listed in docs/operations.md.
#pragma once

#include "core/metrics.h"

namespace tessera::checkpoints {

// method: manifest | blob | update | download | data_plane
inline metrics::Counter served_requests_metric(const char* method) {
  return metrics::registry().counter("tessera_checkpoint_requests_total", "Checkpoint service requests answered, by method.",
                                     {{"method", method}});
}
// transport: grpc | tcp
inline metrics::Counter sent_bytes_metric(const char* transport) {
  return metrics::registry().counter("tessera_checkpoint_sent_bytes_total",
                                     "Bytes of checkpoints, updates and payload blobs sent, by transport.",
                                     {{"transport", transport}});
}

}  // namespace tessera::checkpoints

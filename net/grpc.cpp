#include "net/grpc.h"

namespace tessera::net {

Result<std::unique_ptr<GrpcServer>> GrpcServer::start(const GrpcServerOptions& options,
                                                      const std::vector<grpc::Service*>& services) {
  if (services.empty()) return InvalidArgument("a gRPC server needs at least one service");
  std::unique_ptr<GrpcServer> s(new GrpcServer());
  grpc::ServerBuilder builder;
  // No SO_REUSEPORT: a second node on a busy port must fail, not share it silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &s->port_);
  for (auto* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) return IoError("cannot listen on " + options.listen + " (address in use?)");
  return s;
}

GrpcServer::~GrpcServer() { stop(); }

void GrpcServer::stop(std::chrono::milliseconds grace) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_.reset();
}

Result<std::shared_ptr<grpc::Channel>> connect_channel(const std::string& address, int max_message_bytes,
                                                       std::chrono::milliseconds timeout, bool fail_fast) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  const auto deadline = std::chrono::system_clock::now() + timeout;
  for (auto state = channel->GetState(/*try_to_connect=*/true); state != GRPC_CHANNEL_READY;
       state = channel->GetState(/*try_to_connect=*/true)) {
    if (fail_fast && state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      return IoError("cannot connect to " + address + " (refused or unreachable)");
    }
    if (!channel->WaitForStateChange(state, deadline)) {
      return IoError("cannot reach " + address + " within " + std::to_string(timeout.count()) + " ms");
    }
  }
  return channel;
}

void set_deadline(grpc::ClientContext* ctx, std::chrono::milliseconds after) {
  ctx->set_deadline(std::chrono::system_clock::now() + after);
}

Status from_grpc(const grpc::Status& st, const std::string& what) {
  if (st.ok()) return Status::Ok();
  switch (st.error_code()) {
    case grpc::StatusCode::NOT_FOUND: return NotFound(st.error_message());
    case grpc::StatusCode::INVALID_ARGUMENT: return InvalidArgument(what + ": " + st.error_message());
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return IoError(what + ": unreachable (" + st.error_message() + ")");
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return OutOfRange(what + ": " + st.error_message());
    default: return Internal(what + ": " + st.error_message());
  }
}

grpc::Status to_grpc(const Status& st) {
  if (st.ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (st.code()) {
    case StatusCode::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorrupted: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case StatusCode::kPermissionDenied: code = grpc::StatusCode::PERMISSION_DENIED; break;
    case StatusCode::kFailedPrecondition: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case StatusCode::kOutOfRange: code = grpc::StatusCode::OUT_OF_RANGE; break;
    case StatusCode::kAlreadyExists: code = grpc::StatusCode::ALREADY_EXISTS; break;
    default: break;
  }
  return grpc::Status(code, st.message());
}

}  // namespace tessera::net

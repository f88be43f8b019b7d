#include "net/grpc.h"

#include <gtest/gtest.h>

#include "proto/chain.grpc.pb.h"

namespace tessera::net {
namespace {

TEST(Grpc, StatusMappingBothWays) {
  EXPECT_EQ(from_grpc(grpc::Status::OK, "x").code(), StatusCode::kOk);
  EXPECT_EQ(from_grpc(grpc::Status(grpc::StatusCode::NOT_FOUND, "no subnet"), "read").code(), StatusCode::kNotFound);
  const Status unreachable = from_grpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "refused"), "reading the head");
  EXPECT_EQ(unreachable.code(), StatusCode::kIoError);
  EXPECT_NE(unreachable.message().find("reading the head: unreachable"), std::string::npos);
  EXPECT_EQ(to_grpc(InvalidArgument("bad")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(to_grpc(NotFound("gone")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(to_grpc(PermissionDenied("no")).error_message(), "no");
}

TEST(Grpc, ServerStartsOnAFreePortAndClientsSeeItGoAway) {
  EXPECT_FALSE(GrpcServer::start({"127.0.0.1:0", 1 << 20}, {}).ok());
  proto::ChainService::Service service;  // every call answers UNIMPLEMENTED; enough here
  auto server = GrpcServer::start({"127.0.0.1:0", 1 << 20}, {&service});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  auto channel = connect_channel(address, 1 << 20, std::chrono::seconds(5));
  ASSERT_TRUE(channel.ok()) << channel.status().to_string();
  // A second server on the same port fails with a clear error.
  proto::ChainService::Service other;
  auto clash = GrpcServer::start({address, 1 << 20}, {&other});
  EXPECT_FALSE(clash.ok());
  (*server)->stop();
  auto gone = connect_channel(address, 1 << 20, std::chrono::milliseconds(300));
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().message().find("cannot reach " + address), std::string::npos);
}

}  // namespace
}  // namespace tessera::net

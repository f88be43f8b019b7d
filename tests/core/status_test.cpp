#include "core/status.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return InvalidArgument("value " + std::to_string(v) + " must be positive");
  return v;
}

Result<int> doubled(int v) {
  TESSERA_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

TEST(Status, OkByDefaultAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s = NotFound("wallet 'x'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.to_string(), "NotFound: wallet 'x'");
  EXPECT_EQ(s.with_context("loading").message(), "loading: wallet 'x'");
}

TEST(Status, AssignOrReturnPropagatesErrors) {
  EXPECT_EQ(*doubled(4), 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "value -1 must be positive");
}

TEST(Status, ResultFromOkStatusIsAnInternalError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace tessera

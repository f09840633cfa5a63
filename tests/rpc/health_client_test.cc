// rpc/health_client.h against an in-process server whose health statuses the test sets, so each
// answer the client must handle (SERVING, NOT_SERVING, an unknown service, no socket yet, a
// service that comes up while it waits) is produced for certain.
//
// Nothing here asserts how fast anything happens. A wait that must succeed has a generous
// ceiling (kCeiling) and fails only if the event never comes; a wait that must run out runs
// out by the client's own timeout, and the test asserts only what the client returns then
// whatever the scheduler did meanwhile.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rpc/health_client.h"
#include "tests/common/temp_dir.h"

namespace ringfence::rpc {
namespace {

using ::testing::HasSubstr;

// How long a wait that must succeed may take: only a client or server that never answers
// misses it.
constexpr std::chrono::seconds kCeiling(30);
// How long a wait that must run out after the server has answered waits: long enough that an
// answer before it is as certain as an event before kCeiling.
constexpr std::chrono::seconds kRunOut(10);

std::chrono::system_clock::time_point Deadline() { return std::chrono::system_clock::now() + kCeiling; }

class HealthClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_.string(), grpc::InsecureServerCredentials());
    // A server needs one service besides the health service; this one answers UNIMPLEMENTED to
    // every method, and only the health service is asked.
    builder.RegisterCallbackGenericService(&unimplemented_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    health_ = server_->GetHealthCheckService();
    ASSERT_NE(health_, nullptr);
    health_->SetServingStatus("test.Ready", true);
    health_->SetServingStatus("test.Down", false);
    channel_ = grpc::CreateChannel("unix:" + socket_.string(), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  // A channel to a socket that does not exist.
  std::shared_ptr<grpc::Channel> Nowhere() const {
    return grpc::CreateChannel("unix:" + (dir_ / "none.sock").string(), grpc::InsecureChannelCredentials());
  }

  ringfence::testing::TempDir dir_{"health"};
  std::filesystem::path socket_ = dir_ / "h.sock";
  grpc::CallbackGenericService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
  grpc::HealthCheckServiceInterface* health_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(HealthClientTest, CheckHealthReturnsTheServersAnswer) {
  absl::StatusOr<ServingStatus> server = CheckHealth(channel_, "", Deadline());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(*server, ServingStatus::kServing);
  absl::StatusOr<ServingStatus> ready = CheckHealth(channel_, "test.Ready", Deadline());
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(*ready, ServingStatus::kServing);
  absl::StatusOr<ServingStatus> down = CheckHealth(channel_, "test.Down", Deadline());
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(*down, ServingStatus::kNotServing);
  EXPECT_EQ(ServingStatusName(*down), "NOT_SERVING");
  // The standard health service answers NOT_FOUND for a service it was never told about.
  absl::StatusOr<ServingStatus> unknown = CheckHealth(channel_, "test.Nobody", Deadline());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();
}

TEST_F(HealthClientTest, CheckHealthWaitsForANoSocketUntilItsDeadline) {
  // No server will ever answer, so the call ends by its deadline whenever the scheduler runs
  // it: the answer is the same after 300 ms or after 3 s.
  absl::StatusOr<ServingStatus> none =
      CheckHealth(Nowhere(), "", std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDeadlineExceeded) << none.status();
}

TEST_F(HealthClientTest, ServingServiceAndServer) {
  EXPECT_TRUE(WaitForServing(channel_, "", kCeiling).ok());
  EXPECT_TRUE(WaitForServing(channel_, "test.Ready", kCeiling).ok());
}

TEST_F(HealthClientTest, NotServingOrUnknownRunsOutNamingTheAnswer) {
  // Each wait must run out, and its message must name the last answer, so the server must have
  // answered at least once before the timeout: kRunOut, not a short race against the
  // scheduler. The two waits run at once, so the test pays that time once.
  auto down = std::async(std::launch::async, [&] { return WaitForServing(channel_, "test.Down", kRunOut); });
  auto unknown = std::async(std::launch::async, [&] { return WaitForServing(channel_, "test.Nobody", kRunOut); });
  const absl::Status down_status = down.get();
  EXPECT_EQ(down_status.code(), absl::StatusCode::kDeadlineExceeded) << down_status;
  EXPECT_THAT(std::string(down_status.message()), HasSubstr("test.Down"));
  EXPECT_THAT(std::string(down_status.message()), HasSubstr("last answer: NOT_SERVING"));
  const absl::Status unknown_status = unknown.get();
  EXPECT_EQ(unknown_status.code(), absl::StatusCode::kDeadlineExceeded) << unknown_status;
  EXPECT_THAT(std::string(unknown_status.message()), HasSubstr("test.Nobody"));
  // NOT_FOUND, as CheckHealth returns it.
  EXPECT_THAT(std::string(unknown_status.message()), HasSubstr("last answer: gRPC status 5"));
}

TEST_F(HealthClientTest, WaitsForAServiceThatComesUp) {
  // The order of events, not their timing: the service is NOT_SERVING, the wait asks at least
  // once and gets that answer, and only then (from still_running, which the wait consults
  // between attempts) does the service come up; the wait must then end with OK.
  absl::StatusOr<ServingStatus> before = CheckHealth(channel_, "test.Down", Deadline());
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(*before, ServingStatus::kNotServing);
  int calls = 0;
  bool flipped = false;
  absl::Status up = WaitForServing(channel_, "test.Down", kCeiling, [&] {
    // The first call comes before any attempt; every later one follows an attempt that did not
    // see SERVING.
    if (++calls == 2) {
      health_->SetServingStatus("test.Down", true);
      flipped = true;
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(up.ok()) << up;
  EXPECT_TRUE(flipped) << "the wait ended before it had seen the service NOT_SERVING";
  EXPECT_GE(calls, 2);
}

TEST_F(HealthClientTest, NoSocketRunsOutAndStillRunningStopsTheWait) {
  // Nothing can ever answer here, so the wait ends by its own timeout however the scheduler
  // runs it (after several attempts or none), always with DeadlineExceeded.
  absl::Status none = WaitForServing(Nowhere(), "", std::chrono::milliseconds(300));
  EXPECT_EQ(none.code(), absl::StatusCode::kDeadlineExceeded) << none;
  EXPECT_THAT(std::string(none.message()), HasSubstr("(server)"));
  int calls = 0;
  absl::Status stopped = WaitForServing(Nowhere(), "", kCeiling, [&calls] {
    return ++calls < 2 ? absl::OkStatus() : absl::FailedPreconditionError("server exited with 3");
  });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stopped.message(), "server exited with 3");
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace ringfence::rpc

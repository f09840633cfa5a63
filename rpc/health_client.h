// Health client: asks a gRPC server's standard health service (grpc.health.v1.Health/Check)
// whether a service is SERVING, and waits until it is, for the tests and tools that start a
// daemon (signerd, custodyd) or reach it over a socket and must not talk to it before it is
// ready. Waiting is on the health service itself, never on a fixed sleep.
//
// Debian's gRPC ships no generated health.proto classes, so the two tiny messages are
// encoded here by hand (docs: grpc/doc/health-checking.md; HealthCheckRequest{string service
// = 1}, HealthCheckResponse{ServingStatus status = 1}) and sent through a generic stub.
//
// The caller owns the channel; the functions keep no state and are safe to call from any
// thread (each call uses its own context and completion queue).
#ifndef RINGFENCE_RPC_HEALTH_CLIENT_H_
#define RINGFENCE_RPC_HEALTH_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringfence::rpc {

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN": the names the protocol uses.
std::string_view ServingStatusName(ServingStatus status);

// One Health/Check for `service` ("" is the server as a whole), waiting for the channel to
// become ready (so a socket that does not exist yet is waited for) until `deadline`. Returns
// the server's answer; otherwise the call's gRPC status as an absl::Status with the same code
// (NotFound when the server does not know `service`, DeadlineExceeded when nothing answered
// in time, Unavailable...), or DataLoss for a reply that is not a HealthCheckResponse.
absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, std::string_view service,
                                          std::chrono::system_clock::time_point deadline);

// Asks CheckHealth until the answer is SERVING, retrying connection failures and other
// answers, for at most `timeout`. Each attempt waits at most about half a second, so that
// `still_running` is consulted between attempts: a non-OK status from it (say, "signerd exited
// with 1") ends the wait at once.
//
// Returns OK once SERVING; DeadlineExceeded naming the service and the last answer seen when
// `timeout` passes first (what the server last answered, if it ever did, rather than the
// attempt that the end of the wait cut short); or the status `still_running` returned.
absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel, std::string_view service,
                            std::chrono::milliseconds timeout,
                            const std::function<absl::Status()>& still_running = nullptr);

}  // namespace ringfence::rpc

#endif  // RINGFENCE_RPC_HEALTH_CLIENT_H_

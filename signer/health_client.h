// Health client: waits until a gRPC server reports SERVING on the standard health service
// (grpc.health.v1.Health/Check), for the tests and tools that start signerd or reach it over
// its Unix socket and must not talk to it before it is ready. Waiting is on the health
// service itself, never on a fixed sleep.
//
// Debian's gRPC ships no generated health.proto classes, so the two tiny messages are
// encoded here by hand (docs: grpc/doc/health-checking.md; HealthCheckRequest{string service
// = 1}, HealthCheckResponse{ServingStatus status = 1}) and sent through a generic stub.
//
// The caller owns the channel; the function keeps no state and is safe to call from any
// thread (each call uses its own context and completion queue).
#ifndef RINGFENCE_SIGNER_HEALTH_CLIENT_H_
#define RINGFENCE_SIGNER_HEALTH_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"

namespace ringfence::signer {

// Asks Health/Check for `service` ("" is the server as a whole) until the answer is SERVING,
// retrying connection failures and other answers, for at most `timeout`. Each attempt waits
// for the channel to become ready (so a socket that does not exist yet is waited for too),
// but never longer than about half a second, so that `still_running` is consulted between
// attempts: a non-OK status from it (say, "signerd exited with 1") ends the wait at once.
//
// Returns OK once SERVING; DeadlineExceeded naming the service and the last answer seen when
// `timeout` passes first; or the status `still_running` returned.
absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel, std::string_view service,
                            std::chrono::milliseconds timeout,
                            const std::function<absl::Status()>& still_running = nullptr);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_HEALTH_CLIENT_H_

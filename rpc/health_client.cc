#include "rpc/health_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ringfence::rpc {
namespace {

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr std::chrono::milliseconds kAttempt(500);
// After an answer that is not SERVING: the server is up and will change its mind by itself,
// so ask again soon but without spinning.
constexpr std::chrono::milliseconds kRecheck(20);

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// HealthCheckRequest{service = 1}; proto3 leaves the empty string out, so "" is zero bytes.
std::string EncodeRequest(std::string_view service) {
  std::string out;
  if (!service.empty()) {
    out.push_back(0x0a);  // field 1, length-delimited
    AppendVarint(&out, service.size());
    out.append(service);
  }
  return out;
}

bool ReadVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// The ServingStatus in a HealthCheckResponse (0 UNKNOWN when absent, as proto3 says), skipping
// fields a newer server may add; nullopt if the bytes are not a well-formed message.
std::optional<uint64_t> DecodeStatus(std::string_view in) {
  uint64_t status = 0;
  while (!in.empty()) {
    uint64_t key = 0;
    uint64_t v = 0;
    if (!ReadVarint(&in, &key)) return std::nullopt;
    switch (key & 7) {
      case 0:
        if (!ReadVarint(&in, &v)) return std::nullopt;
        if (key >> 3 == 1) status = v;
        break;
      case 1:
        if (in.size() < 8) return std::nullopt;
        in.remove_prefix(8);
        break;
      case 2:
        if (!ReadVarint(&in, &v) || v > in.size()) return std::nullopt;
        in.remove_prefix(v);
        break;
      case 5:
        if (in.size() < 4) return std::nullopt;
        in.remove_prefix(4);
        break;
      default:
        return std::nullopt;
    }
  }
  return status;
}

}  // namespace

std::string_view ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown: return "UNKNOWN";
    case ServingStatus::kServing: return "SERVING";
    case ServingStatus::kNotServing: return "NOT_SERVING";
    case ServingStatus::kServiceUnknown: return "SERVICE_UNKNOWN";
  }
  return "an unknown serving status";
}

absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, std::string_view service,
                                          std::chrono::system_clock::time_point deadline) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(deadline);
  grpc::CompletionQueue cq;
  grpc::Slice slice(EncodeRequest(service));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&ctx, kCheckMethod, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, nullptr);
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok) return absl::InternalError("no completion from gRPC");
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        "gRPC status " + std::to_string(static_cast<int>(status.error_code())) + ": " +
                            status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::DataLossError("an unreadable reply");
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  const std::optional<uint64_t> serving_status = DecodeStatus(bytes);
  if (!serving_status) return absl::DataLossError("a malformed HealthCheckResponse");
  if (*serving_status > 3) return absl::DataLossError("an unknown serving status");
  return static_cast<ServingStatus>(*serving_status);
}

absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel, std::string_view service,
                            std::chrono::milliseconds timeout,
                            const std::function<absl::Status()>& still_running) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer";
  bool answered = false;  // the server has answered at least once
  while (true) {
    if (still_running) {
      absl::Status alive = still_running();
      if (!alive.ok()) return alive;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    const auto slice = std::min<std::chrono::steady_clock::duration>(kAttempt, end - now);
    absl::StatusOr<ServingStatus> answer = CheckHealth(
        channel, service,
        std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(slice));
    if (answer.ok() && *answer == ServingStatus::kServing) return absl::OkStatus();
    // The server answered (so asking again at once would spin): it will change its mind by itself.
    const bool reached = answer.ok() || (answer.status().code() != absl::StatusCode::kDeadlineExceeded &&
                                         answer.status().code() != absl::StatusCode::kUnavailable);
    // An attempt that ran out (the last one is cut short by the end of the wait) says nothing
    // new: the message keeps naming what the server last answered.
    const bool ran_out = !answer.ok() && answer.status().code() == absl::StatusCode::kDeadlineExceeded;
    if (!ran_out || !answered) {
      last = answer.ok() ? std::string(ServingStatusName(*answer)) : std::string(answer.status().message());
    }
    answered = answered || reached;
    if (reached && std::chrono::steady_clock::now() + kRecheck < end) std::this_thread::sleep_for(kRecheck);
  }
  return absl::DeadlineExceededError("health service " + std::string(service.empty() ? "(server)" : service) +
                                     " not SERVING after " + std::to_string(timeout.count()) +
                                     " ms; last answer: " + last);
}

}  // namespace ringfence::rpc

#include "custody/idempotency.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <sodium.h>

#include <memory>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"

namespace ringfence::custody {

using base::Cat;
using base::Clip;

namespace {

constexpr char kKeyField[] = "idempotency_key";

absl::StatusOr<std::string> Deterministic(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!message.SerializeToCodedStream(&coded)) {
      return absl::InternalError(Cat("serialising a ", message.GetTypeName(), " failed"));
    }
  }
  return out;
}

}  // namespace

absl::Status Idempotency::CheckKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) {
    return absl::InvalidArgumentError(
        Cat("idempotency_key must be 1..", kMaxIdempotencyKeyLength, " bytes, got ", key.size()));
  }
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          Cat("idempotency_key ", Clip(key), " may hold only [A-Za-z0-9._:-] (byte ", i, " is not)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Idempotency::RequestHash(std::string_view method,
                                                     const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  // The key names the attempt, not the request: a retry carries the same key, and the same
  // request under another key is another request, so the key is left out of the hash.
  const google::protobuf::FieldDescriptor* key_field = copy->GetDescriptor()->FindFieldByName(kKeyField);
  if (key_field != nullptr) copy->GetReflection()->ClearField(copy.get(), key_field);
  RF_ASSIGN_OR_RETURN(std::string bytes, Deterministic(*copy));

  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  uint8_t length[4];
  for (int i = 0; i < 4; ++i) length[i] = static_cast<uint8_t>(method.size() >> (24 - 8 * i));
  crypto_hash_sha256_update(&state, length, sizeof(length));
  crypto_hash_sha256_update(&state, reinterpret_cast<const uint8_t*>(method.data()), method.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  uint8_t digest[32];
  crypto_hash_sha256_final(&state, digest);
  return base::HexEncode(digest);
}

absl::StatusOr<IdempotencyOutcome> Idempotency::Run(store::Txn& txn, std::string_view key, std::string_view method,
                                                    const google::protobuf::Message& request,
                                                    google::protobuf::Message* response,
                                                    absl::FunctionRef<absl::Status()> fn) {
  RF_RETURN_IF_ERROR(CheckKey(key));
  if (method.empty() || method.size() > kMaxMethodLength) {
    return absl::InvalidArgumentError(Cat("method must be 1..", kMaxMethodLength, " bytes"));
  }
  RF_ASSIGN_OR_RETURN(const std::string hash, RequestHash(method, request));
  const std::string key_text(key);
  RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> stored, txn.GetIdempotency(key_text));
  if (stored) {
    if (stored->method != method || stored->request_hash != hash) {
      return absl::FailedPreconditionError(
          Cat("idempotency_key ", Clip(key, kMaxIdempotencyKeyLength), " was already used for a different ",
              stored->method == method ? "request" : Cat("method (", stored->method, ")"),
              "; a retry must repeat the first request exactly, a new request needs a new key"));
    }
    response->Clear();
    if (!response->ParseFromString(stored->response)) {
      return absl::DataLossError(Cat("the stored response for idempotency_key ", Clip(key, kMaxIdempotencyKeyLength),
                                     " does not parse as ", response->GetTypeName()));
    }
    return IdempotencyOutcome::kReplayed;
  }
  response->Clear();
  RF_RETURN_IF_ERROR(fn());
  store::IdempotencyRow row;
  row.key = key_text;
  row.method = std::string(method);
  row.request_hash = hash;
  RF_ASSIGN_OR_RETURN(row.response, Deterministic(*response));
  RF_RETURN_IF_ERROR(txn.PutIdempotency(row));
  return IdempotencyOutcome::kFresh;
}

}  // namespace ringfence::custody

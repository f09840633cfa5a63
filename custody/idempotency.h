// Idempotency: exactly-once mutating RPCs (invariant 5 of ARCHITECTURE.md). Every mutating RPC
// runs its effect through Idempotency::Run inside the same Txn as the effect, keyed by the
// request's idempotency_key:
//
//   - a key never seen: `fn` runs, and the response it produced is stored with the key before
//     the caller commits, so that the effect and its record commit (or vanish) together;
//   - the same key with the same request (same method, same request bytes with the key
//     cleared): `fn` does not run; the stored first response is returned unchanged;
//   - the same key with a different request or method: FAILED_PRECONDITION naming the key.
//
// The request hash is SHA-256 over u32be(len(method)) || method || the request's deterministic
// protobuf serialisation with its idempotency_key field cleared, as lowercase hex. Under a
// server database GetIdempotency locks the key's row, so two concurrent first requests with one
// key serialise: the second sees the first's record (or, if the first rolled back, runs).
//
// Stateless; thread-safe as far as the Txn passed in is.
#ifndef RINGFENCE_CUSTODY_IDEMPOTENCY_H_
#define RINGFENCE_CUSTODY_IDEMPOTENCY_H_

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/store/store.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace ringfence::custody {

inline constexpr size_t kMaxIdempotencyKeyLength = 128;
inline constexpr size_t kMaxMethodLength = 256;

enum class IdempotencyOutcome {
  kFresh,     // `fn` ran; its response is recorded
  kReplayed,  // a retry: the first response was returned, `fn` did not run
};

class Idempotency {
 public:
  // INVALID_ARGUMENT naming "idempotency_key" unless `key` is 1..128 bytes of [A-Za-z0-9._:-].
  static absl::Status CheckKey(std::string_view key);

  // The request hash described above (hex), or INTERNAL if the message cannot be serialised.
  static absl::StatusOr<std::string> RequestHash(std::string_view method, const google::protobuf::Message& request);

  // Runs `fn` once per key as described above. `fn` fills `*response` (of the RPC's response
  // type) and performs its effect through `txn`; on a replay `*response` is parsed from the
  // stored bytes instead. Errors: the key's INVALID_ARGUMENT; FAILED_PRECONDITION for a key
  // reused with another request; DATA_LOSS if a stored response no longer parses as
  // `response`'s type; whatever `fn` returns (then nothing is recorded and the caller must drop
  // the Txn, undoing fn's partial effect); store errors.
  // REQUIRES: `txn` is a read-write transaction; the caller commits it after a kFresh outcome.
  static absl::StatusOr<IdempotencyOutcome> Run(store::Txn& txn, std::string_view key, std::string_view method,
                                                const google::protobuf::Message& request,
                                                google::protobuf::Message* response,
                                                absl::FunctionRef<absl::Status()> fn);
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_IDEMPOTENCY_H_

// AuditLog: custodyd's hash-chained record of every state change and admin action (invariant 6
// of ARCHITECTURE.md). Each entry carries the hash of the one before it, so changing, removing,
// inserting or reordering an entry breaks the chain at that point; Verify finds the first such
// point. The hash format is written up in docs/audit-log.md:
//
//   SHA-256( "ringfence/audit/v1" || u64be(seq) || u64be(unix_ms)
//            || u32be(32) || prev_hash (32 raw bytes)
//            || u32be(len) || actor || u32be(len) || action || u32be(len) || subject
//            || u32be(len) || details )
//
// with prev_hash all zeros for seq 1. Entries are appended inside the caller's Txn, together with
// the change they record, and the head is locked for the append (AuditHeadForUpdate) so that
// concurrent writers form one chain.
//
// What a chain cannot show on its own: dropping the newest entries, or appending forged ones
// with correctly computed hashes, leaves a valid shorter or longer chain. Verify therefore takes
// an optional anchor (a seq and hash recorded earlier outside the database, e.g. printed by
// `custodyd audit verify` into an operator's log) and then reports a chain that no longer
// contains it.
//
// Stateless; thread-safe as far as the Txn passed in is.
#ifndef RINGFENCE_CUSTODY_AUDIT_LOG_H_
#define RINGFENCE_CUSTODY_AUDIT_LOG_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/store/store.h"

namespace ringfence::custody {

// Limits checked on append.
inline constexpr size_t kMaxAuditActorLength = 512;
inline constexpr size_t kMaxAuditActionLength = 64;
inline constexpr size_t kMaxAuditSubjectLength = 512;
inline constexpr size_t kMaxAuditDetailsLength = 16 * 1024;

// A point of the chain recorded outside the database.
struct AuditAnchor {
  uint64_t seq = 0;
  std::string hash;  // hex
};

struct AuditVerifyResult {
  bool ok = true;
  uint64_t entries = 0;        // entries read
  uint64_t head_seq = 0;       // last entry's seq (0 for an empty log)
  std::string head_hash;       // its hash, hex ("" for an empty log)
  uint64_t first_bad_seq = 0;  // when !ok: the seq where the chain first breaks
  std::string reason;          // when !ok: why, in one line
};

// Details in canonical form built directly, for writers that append many entries (the
// deposit ingestor writes two per deposit): a flat JSON object of string and unsigned integer
// members, written as CanonicalDetails writes it (keys in bytewise order, no whitespace,
// strings escaped as nlohmann::json's dump() escapes them, integers in decimal) without a
// JSON object built, printed and parsed again in between. AppendBatch takes the text as it is.
// Keys are the caller's constants: each must be printable ASCII without '"' or '\\' and come
// after the previous one in bytewise order (RF_CHECK: a programming error). A string value
// that is not valid UTF-8 makes the details invalid (status()), which AppendBatch refuses.
class AuditDetails {
 public:
  AuditDetails() : text_("{}") {}
  AuditDetails& Add(std::string_view key, std::string_view value);
  AuditDetails& Add(std::string_view key, uint64_t value);
  // The object so far, canonical whenever status() is OK.
  const std::string& text() const { return text_; }
  const absl::Status& status() const { return status_; }

 private:
  void Key(std::string_view key);

  std::string text_;
  std::string last_key_;
  absl::Status status_;
};

// One entry for AuditLog::AppendBatch.
struct AuditInput {
  std::string_view actor;
  std::string_view action;
  std::string subject;
  AuditDetails details;
  int64_t unix_ms = 0;
};

class AuditLog {
 public:
  // Appends one entry after the current head. `details_json` must be a JSON object; it is
  // stored in canonical form (keys sorted, no insignificant whitespace), which is what the hash
  // covers. INVALID_ARGUMENT naming the field for an empty actor/action, a field over its limit,
  // text that is not valid UTF-8, or details that are not a JSON object. Store errors pass
  // through. Returns the stored row.
  // REQUIRES: `txn` is a read-write transaction.
  static absl::StatusOr<store::AuditRow> Append(store::Txn& txn, std::string_view actor, std::string_view action,
                                                std::string_view subject, std::string_view details_json,
                                                int64_t now_unix_ms);

  // Append for several entries in one Txn, in their order: the head is read and locked once
  // and each entry chained to the one before it, exactly as successive Appends would chain
  // them. The same checks as Append, on every entry before any is written (INVALID_ARGUMENT
  // naming the entry, entries[i]; also for invalid AuditDetails and for an empty list). Store
  // errors pass through (the caller then drops the Txn). Returns the first entry's seq.
  // REQUIRES: `txn` is a read-write transaction.
  static absl::StatusOr<uint64_t> AppendBatch(store::Txn& txn, std::span<const AuditInput> entries);

  // Reads the whole log in seq order (in pages, from a read or write Txn) and checks each
  // entry: seq is one more than the previous, prev_hash equals the previous entry's hash (zeros
  // for the first), hash is the hash of the entry's fields, details are canonical JSON. With an
  // anchor, also that the log still holds the anchor's seq with that hash. The result says
  // where it first breaks; an error status only for a store failure.
  static absl::StatusOr<AuditVerifyResult> Verify(store::Txn& txn,
                                                  const std::optional<AuditAnchor>& anchor = std::nullopt);

  // The entry hash of the format above. `prev_hash` is 32 raw bytes.
  static std::array<uint8_t, 32> EntryHash(uint64_t seq, int64_t unix_ms, const std::array<uint8_t, 32>& prev_hash,
                                           std::string_view actor, std::string_view action,
                                           std::string_view subject, std::string_view details);

  // `details_json` in canonical form; INVALID_ARGUMENT if it is not a JSON object.
  static absl::StatusOr<std::string> CanonicalDetails(std::string_view details_json);
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_AUDIT_LOG_H_

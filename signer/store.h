// SignerStore: signerd's own SQLite database: the key registry and the sign log.
//
// The sign log is append-only and hash-chained: every entry carries the previous entry's
// hash, and its own hash covers its content and that link (format and digest in
// docs/sign_log.md). Every key created and every signature made is an entry. Triggers
// refuse UPDATE and DELETE on the log and the registry, so a bug cannot rewrite history
// through this connection; VerifyLog detects rewriting through any other.
//
// The database runs in WAL mode with synchronous=FULL. Its schema is versioned in code
// (PRAGMA user_version); Open applies the missing migrations in order and refuses a
// database newer than this build. Owns its sqlite3 connection; all methods are thread-safe
// (one connection behind a mutex, each write one transaction).
#ifndef RINGFENCE_SIGNER_STORE_H_
#define RINGFENCE_SIGNER_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "signer/crypto.h"

struct sqlite3;

struct sqlite3_stmt;

namespace ringfence::signer {

// Which side of the segregation line a wallet is on.
enum class OwnerClass { kClient = 1, kHouse = 2 };
enum class Tier { kHot = 1, kCold = 2 };

// "client" / "house" and "hot" / "cold": the names used in the database, the log and the docs.
absl::string_view OwnerClassName(OwnerClass owner_class);
absl::string_view TierName(Tier tier);
// Inverses of the above; InvalidArgument for any other string.
absl::StatusOr<OwnerClass> ParseOwnerClassName(absl::string_view name);
absl::StatusOr<Tier> ParseTierName(absl::string_view name);

// The one wallet a key belongs to, written when the key is made and never changed (the
// registry's table refuses UPDATE and DELETE, and the key's key_created log entry holds it).
// The store keeps what it is given; KeyService validates it first (ValidateWalletBinding).
struct WalletBinding {
  std::string wallet_id;
  std::string asset;
  OwnerClass owner_class = OwnerClass::kClient;
  Tier tier = Tier::kHot;
  bool operator==(const WalletBinding&) const = default;
};

struct KeyRecord {
  std::string key_id;  // 32 lowercase hex characters: the token's CKA_ID in hex.
  KeyType type = KeyType::kSecp256k1;
  std::string purpose;
  std::vector<uint8_t> public_key;
  int64_t created_unix_ms = 0;
  // Absent only for keys registered before schema version 2, when signerd kept no bindings.
  std::optional<WalletBinding> binding;
};

// A log entry's named values. Names are lowercase [a-z0-9_], 1..64 characters; the map
// keeps them sorted, which is the order they are hashed in.
using LogFields = std::map<std::string, std::vector<uint8_t>>;

struct LogEntry {
  uint64_t seq = 0;  // 1, 2, 3, ... without gaps.
  int64_t time_unix_ms = 0;
  std::string kind;    // "key_created", "signature", ... (lowercase [a-z0-9_]).
  std::string key_id;  // The key the entry is about; may be empty for kinds without one.
  LogFields fields;
  std::array<uint8_t, 32> prev_hash{};  // Zero for the first entry.
  std::array<uint8_t, 32> hash{};
};

// The entry hash of docs/sign_log.md. InvalidArgument if a name breaks the rules above.
absl::StatusOr<std::array<uint8_t, 32>> ComputeLogEntryHash(const LogEntry& entry);

// The canonical encoding of `fields` stored in the database (docs/sign_log.md).
std::vector<uint8_t> EncodeLogFields(const LogFields& fields);
// Inverse of EncodeLogFields; InvalidArgument if `data` is not exactly one canonical encoding.
absl::StatusOr<LogFields> DecodeLogFields(std::span<const uint8_t> data);

class SignerStore {
 public:
  // The newest schema version this build knows.
  static int LatestSchemaVersion();

  // Opens or creates the database at `path` and migrates it. FailedPrecondition if the file
  // is not a database, fails its integrity check, or has a newer schema; Unavailable if it
  // cannot be opened.
  static absl::StatusOr<std::unique_ptr<SignerStore>> Open(const std::string& path);
  ~SignerStore();
  SignerStore(const SignerStore&) = delete;
  SignerStore& operator=(const SignerStore&) = delete;

  // A write transaction in progress: log appends made through it commit or roll back with
  // the caller's own writes. Valid only inside Transact's callback.
  class Txn {
   public:
    // Appends an entry after the current head. InvalidArgument for a bad kind or field name.
    absl::StatusOr<LogEntry> AppendLog(int64_t time_unix_ms, const std::string& kind,
                                       const std::string& key_id, const LogFields& fields);
    // The same, returning only the new entry's sequence number (no copy of its fields), and
    // filling `*entry` when it is given. The head is read once per transaction and then
    // followed in memory, so a batch of appends reads it once.
    absl::StatusOr<uint64_t> Append(int64_t time_unix_ms, const std::string& kind, const std::string& key_id,
                                    const LogFields& fields, LogEntry* entry = nullptr);
    // Inserts a key registry row, and its binding row when it has one. AlreadyExists if the
    // key id is taken.
    absl::Status InsertKey(const KeyRecord& key);
    // The raw connection, for tables later migrations add.
    sqlite3* db() const { return db_; }

   private:
    friend class SignerStore;
    Txn(SignerStore* store, sqlite3* db) : store_(store), db_(db) {}
    SignerStore* store_;
    sqlite3* db_;
    // The log head as of this transaction's last append (read on the first).
    bool head_known_ = false;
    uint64_t head_seq_ = 0;
    std::array<uint8_t, 32> head_hash_{};
  };

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it returns an error.
  absl::Status Transact(const std::function<absl::Status(Txn&)>& body);

  // Registers `key` and logs its creation ("key_created", with the binding's fields when the
  // key has one) in one transaction.
  absl::StatusOr<LogEntry> RegisterKey(const KeyRecord& key);
  // Binds a key registered without a binding (one made before bindings existed) to `binding`
  // and logs it ("key_bound", with the binding's fields) in one transaction. NotFound if no key
  // has this id; FailedPrecondition if the key already has a binding (a binding is never
  // changed). The caller validates the binding first (ValidateWalletBinding).
  absl::StatusOr<LogEntry> BindKey(const std::string& key_id, const WalletBinding& binding, int64_t time_unix_ms);

  // Counts registry writes (keys added or bound) made through this store since it was opened,
  // so that a reader holding a snapshot of the keys can tell, without a query, that it is stale.
  // May count a write that then rolled back (a spurious re-read, never a missed one).
  uint64_t key_generation() const { return key_generation_.load(std::memory_order_acquire); }

  // Appends one entry in its own transaction.
  absl::StatusOr<LogEntry> AppendLog(int64_t time_unix_ms, const std::string& kind,
                                     const std::string& key_id, const LogFields& fields);

  // NotFound if no key has this id.
  absl::StatusOr<KeyRecord> GetKey(const std::string& key_id);
  // Every key in creation order.
  absl::StatusOr<std::vector<KeyRecord>> ListKeys();
  // The binding of one key bound to `wallet_id` (the oldest), or nullopt if no key is: what
  // that wallet id means in this registry. One indexed lookup.
  absl::StatusOr<std::optional<WalletBinding>> FindWalletBinding(const std::string& wallet_id);
  // Every log entry in order.
  absl::StatusOr<std::vector<LogEntry>> ReadLog();

  // Checks the whole chain: sequence without gaps from 1, each prev_hash equal to the
  // previous entry's hash, each hash recomputed, and every registered key matched by its
  // key_created entry (type, purpose, public key and binding, or the absence of one) and, for a
  // key bound later, by its one key_bound entry.
  // Returns the number of entries; DataLoss naming the first bad entry or key.
  absl::StatusOr<uint64_t> VerifyLog();

  int schema_version();

 private:
  // The sign log's two hot statements, prepared on first use and kept until the store
  // closes: an append is on the path of every signature, and preparing them anew each time
  // cost more than running them.
  struct LogStatements {
    sqlite3_stmt* head = nullptr;
    sqlite3_stmt* insert = nullptr;
    ~LogStatements();
  };
  explicit SignerStore(sqlite3* db) : db_(db) {}
  absl::Status Migrate();
  // Prepares log_statements_ once; called with mu_ held (inside Transact).
  absl::Status PrepareLogStatements();

  std::mutex mu_;
  sqlite3* db_;  // Guarded by mu_.
  std::unique_ptr<LogStatements> log_statements_;  // Guarded by mu_.
  std::atomic<uint64_t> key_generation_{0};
};

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_STORE_H_

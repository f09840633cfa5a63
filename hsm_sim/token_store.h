// TokenStore: the persistent state of one hsm_sim token, kept in the SQLite database
// $HSM_SIM_DIR/token.db (journal mode DELETE, synchronous FULL, so every change is one atomic,
// durable transaction and a crash leaves either the old or the new state). docs/hsm_sim_token.md
// describes the format. The store only moves records; it never sees a PIN or a plaintext key:
// callers hand it sealed blobs. A TokenStore owns its SQLite connection. Not thread-safe: the
// module serialises calls with its own lock.
//
// Errors: every fallible method returns absl::Status; a corrupt or unreadable database is
// kDataLoss or kInternal with a message naming the file and the record, and the module maps it
// to CKR_DEVICE_ERROR. The store never re-creates or resets an existing database on error.
#ifndef RINGFENCE_HSM_SIM_TOKEN_STORE_H_
#define RINGFENCE_HSM_SIM_TOKEN_STORE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hsm_sim/crypto.h"

struct sqlite3;

namespace ringfence::hsm_sim {

inline constexpr int kTokenFormatVersion = 1;
inline constexpr size_t kSerialSize = 16;
inline constexpr size_t kLabelSize = 32;

enum class PinRole : int { kSo = 0, kUser = 1 };

struct PinRecord {
  std::array<uint8_t, kKdfSaltSize> salt{};
  KdfCost cost;
  std::vector<uint8_t> wrapped_master_key;  // Seal() output under the PIN-derived key
  uint32_t failures = 0;                    // consecutive wrong PINs since the last success
};

struct TokenMeta {
  std::string label;   // 32 bytes, blank padded
  std::string serial;  // 16 hex digits
  uint32_t max_pin_tries = 5;
};

enum class ObjectClass : int { kPublicKey = 0, kPrivateKey = 1 };

struct StoredObject {
  uint64_t id = 0;  // row id; doubles as the PKCS#11 object handle
  ObjectClass object_class = ObjectClass::kPublicKey;
  Curve curve = Curve::kSecp256k1;
  std::vector<uint8_t> label;
  std::vector<uint8_t> ckaid;
  std::vector<uint8_t> ec_params;   // as the generating template gave it
  std::vector<uint8_t> public_key;  // raw: 65-byte uncompressed SEC1 or 32-byte Ed25519
  bool sign = false;
  bool verify = false;
  std::vector<uint8_t> sealed_secret;  // private keys only: Seal() output under the master key
};

struct TokenState {
  TokenMeta meta;
  bool has_user_pin = false;
  PinRecord so_pin;
  PinRecord user_pin;
  std::vector<StoredObject> objects;
};

class TokenStore {
 public:
  // Opens the token in `dir`, creating the directory itself (mode 0700, not its parents) if it
  // does not exist. A directory without token.db is an uninitialised token; the database is
  // created by Initialize(). Fails if `dir` cannot be created or is not a directory, or if
  // token.db exists but cannot be opened or fails its integrity and format checks.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& dir);
  ~TokenStore();
  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  bool initialized() const { return db_ != nullptr; }
  const std::string& path() const { return db_path_; }

  // REQUIRES: initialized(). Reads and validates every record.
  absl::StatusOr<TokenState> Load();
  // Reads one role's PIN record fresh from disk (another process may have counted failures).
  absl::StatusOr<PinRecord> LoadPin(PinRole role);

  // Creates token.db if needed and replaces the whole token (meta, SO PIN; no user PIN, no
  // objects) in one transaction.
  absl::Status Initialize(const TokenMeta& meta, const PinRecord& so_pin);
  // The writes below that depend on the master key (PutPin, InsertKeyPair) take the serial the
  // caller's state was loaded with and fail with kFailedPrecondition if the file now holds
  // another serial: the token was re-initialised by another process, and writing a record
  // sealed under the old master key would leave it unusable.
  absl::Status PutPin(PinRole role, const PinRecord& record, const std::string& serial);
  // Adds one to the failure count and returns the new count, atomically.
  absl::StatusOr<uint32_t> CountFailure(PinRole role);
  absl::Status ResetFailures(PinRole role);
  // Inserts both halves of a key pair in one transaction; sets their ids.
  absl::Status InsertKeyPair(StoredObject* public_key, StoredObject* private_key,
                             const std::string& serial);
  absl::Status UpdateLabelAndId(uint64_t id, const std::vector<uint8_t>& label,
                                const std::vector<uint8_t>& ckaid);
  absl::Status DeleteObject(uint64_t id);

 private:
  TokenStore(std::string dir, std::string db_path)
      : dir_(std::move(dir)), db_path_(std::move(db_path)) {}
  absl::Status OpenDatabase(bool create);
  absl::Status Exec(const char* sql);
  // REQUIRES: inside a transaction.
  absl::Status CheckSerial(const std::string& serial);
  absl::Status Error(const std::string& what) const;

  std::string dir_;
  std::string db_path_;
  sqlite3* db_ = nullptr;
};

}  // namespace ringfence::hsm_sim

#endif  // RINGFENCE_HSM_SIM_TOKEN_STORE_H_

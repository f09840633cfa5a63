#include "signer/store.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chain/hashes.h"

namespace ringfence::signer {
namespace {

constexpr char kHashDomain[] = "ringfence.signer.sign_log.v1";

// Schema migrations, applied in order; entry i takes the schema from version i to i + 1.
// Append new ones at the end, never edit a released one.
constexpr const char* kMigrations[] = {
    // 1: key registry and sign log.
    R"sql(
      CREATE TABLE keys (
        key_id TEXT PRIMARY KEY NOT NULL CHECK (length(key_id) = 32),
        key_type TEXT NOT NULL CHECK (key_type IN ('secp256k1', 'ed25519')),
        purpose TEXT NOT NULL,
        public_key BLOB NOT NULL,
        created_unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE sign_log (
        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        time_unix_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        key_id TEXT NOT NULL,
        fields BLOB NOT NULL,
        prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
        hash BLOB NOT NULL CHECK (length(hash) = 32)
      ) STRICT;
      CREATE INDEX sign_log_key ON sign_log (key_id, seq);
      CREATE TRIGGER sign_log_no_update BEFORE UPDATE ON sign_log
        BEGIN SELECT RAISE(ABORT, 'sign_log is append-only'); END;
      CREATE TRIGGER sign_log_no_delete BEFORE DELETE ON sign_log
        BEGIN SELECT RAISE(ABORT, 'sign_log is append-only'); END;
      CREATE TRIGGER keys_no_update BEFORE UPDATE ON keys
        BEGIN SELECT RAISE(ABORT, 'the key registry is append-only'); END;
      CREATE TRIGGER keys_no_delete BEFORE DELETE ON keys
        BEGIN SELECT RAISE(ABORT, 'the key registry is append-only'); END;
    )sql",
    // 2: wallet bindings. A table of their own rather than columns of `keys`, so that keys
    // registered before it keep no row (no binding) and a later binding of such a key is an
    // insert, never an update. A binding, once written, cannot be changed or removed.
    R"sql(
      CREATE TABLE key_bindings (
        key_id TEXT PRIMARY KEY NOT NULL REFERENCES keys (key_id),
        wallet_id TEXT NOT NULL CHECK (length(wallet_id) BETWEEN 1 AND 64),
        asset TEXT NOT NULL CHECK (length(asset) BETWEEN 1 AND 32),
        owner_class TEXT NOT NULL CHECK (owner_class IN ('client', 'house')),
        tier TEXT NOT NULL CHECK (tier IN ('hot', 'cold'))
      ) STRICT;
      CREATE INDEX key_bindings_wallet ON key_bindings (wallet_id);
      CREATE TRIGGER key_bindings_no_update BEFORE UPDATE ON key_bindings
        BEGIN SELECT RAISE(ABORT, 'a wallet binding is immutable'); END;
      CREATE TRIGGER key_bindings_no_delete BEFORE DELETE ON key_bindings
        BEGIN SELECT RAISE(ABORT, 'a wallet binding is immutable'); END;
    )sql",
};

// The key registry's columns with the key's binding, if any, for ReadKeyRow.
constexpr char kSelectKeys[] =
    "SELECT k.key_id, k.key_type, k.purpose, k.public_key, k.created_unix_ms, "
    "b.wallet_id, b.asset, b.owner_class, b.tier "
    "FROM keys AS k LEFT JOIN key_bindings AS b ON b.key_id = k.key_id";

// The names of a binding's fields in a key_created log entry (docs/sign_log.md).
constexpr const char* kBindingFields[] = {"wallet_id", "asset", "owner_class", "tier"};

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db)));
}

// Finalises on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }
  void BindText(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, std::span<const uint8_t> b) {
    // A zero-length blob must still be a blob, not NULL.
    static const uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, b.empty() ? &kEmpty : b.data(), static_cast<int>(b.size()),
                      SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(t),
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::vector<uint8_t> Blob(int col) const {
    const uint8_t* b = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return b == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(b, b + n);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", message));
  }
  return absl::OkStatus();
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutBytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
  PutU32(out, static_cast<uint32_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}
void PutString(std::vector<uint8_t>& out, const std::string& s) {
  PutBytes(out, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

absl::Status CheckFieldNames(const LogFields& fields) {
  for (const auto& [name, value] : fields) {
    if (!ValidName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("log field name '", name, "' must be 1..64 characters of [a-z0-9_]"));
    }
  }
  return absl::OkStatus();
}

// The entry hash of docs/sign_log.md over the fields' canonical encoding.
std::array<uint8_t, 32> HashEntry(uint64_t seq, int64_t time_unix_ms, const std::string& kind,
                                  const std::string& key_id, std::span<const uint8_t> encoded_fields,
                                  const std::array<uint8_t, 32>& prev_hash) {
  std::vector<uint8_t> msg;
  msg.reserve(sizeof(kHashDomain) + 16 + 8 + kind.size() + key_id.size() + encoded_fields.size() + 32);
  msg.insert(msg.end(), kHashDomain, kHashDomain + sizeof(kHashDomain));  // Includes the NUL.
  PutU64(msg, seq);
  PutU64(msg, static_cast<uint64_t>(time_unix_ms));
  PutString(msg, kind);
  PutString(msg, key_id);
  msg.insert(msg.end(), encoded_fields.begin(), encoded_fields.end());
  msg.insert(msg.end(), prev_hash.begin(), prev_hash.end());
  return chain::Sha256(msg);
}

std::array<uint8_t, 32> ToHash(const std::vector<uint8_t>& v) {
  std::array<uint8_t, 32> out{};
  if (v.size() == 32) std::memcpy(out.data(), v.data(), 32);
  return out;
}

KeyRecord ReadKeyRow(const Stmt& s) {
  KeyRecord k;
  k.key_id = s.Text(0);
  absl::StatusOr<KeyType> type = ParseKeyTypeName(s.Text(1));
  // The CHECK constraint admits only the two names.
  k.type = type.ok() ? *type : KeyType::kSecp256k1;
  k.purpose = s.Text(2);
  k.public_key = s.Blob(3);
  k.created_unix_ms = s.Int(4);
  if (sqlite3_column_type(s.get(), 5) != SQLITE_NULL) {
    // The CHECK constraints admit only the names these parse.
    WalletBinding b;
    b.wallet_id = s.Text(5);
    b.asset = s.Text(6);
    b.owner_class = ParseOwnerClassName(s.Text(7)).value_or(OwnerClass::kClient);
    b.tier = ParseTierName(s.Text(8)).value_or(Tier::kHot);
    k.binding = std::move(b);
  }
  return k;
}

std::vector<uint8_t> Bytes(absl::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// The fields a key_created entry records for `key`.
LogFields KeyCreatedFields(const KeyRecord& key) {
  LogFields fields;
  fields["key_type"] = Bytes(KeyTypeName(key.type));
  fields["public_key"] = key.public_key;
  fields["purpose"] = Bytes(key.purpose);
  if (key.binding.has_value()) {
    fields["wallet_id"] = Bytes(key.binding->wallet_id);
    fields["asset"] = Bytes(key.binding->asset);
    fields["owner_class"] = Bytes(OwnerClassName(key.binding->owner_class));
    fields["tier"] = Bytes(TierName(key.binding->tier));
  }
  return fields;
}

// True if a key_created entry's fields record exactly `key`: its type, purpose, public key and
// binding (an entry written before bindings has none of the binding fields).
bool MatchesKeyCreated(const LogFields& logged, const KeyRecord& key) {
  if (!key.binding.has_value()) {
    for (const char* name : kBindingFields) {
      if (logged.contains(name)) return false;
    }
  }
  for (const auto& [name, value] : KeyCreatedFields(key)) {
    auto it = logged.find(name);
    if (it == logged.end() || it->second != value) return false;
  }
  return true;
}

// Inserts a key's one binding row (the table refuses a second: key_id is its primary key).
absl::Status InsertBinding(sqlite3* db, const std::string& key_id, const WalletBinding& binding) {
  Stmt b(db,
         "INSERT INTO key_bindings (key_id, wallet_id, asset, owner_class, tier) "
         "VALUES (?, ?, ?, ?, ?)");
  if (!b.ok()) return SqlError(db, "recording a key's wallet binding");
  b.BindText(1, key_id);
  b.BindText(2, binding.wallet_id);
  b.BindText(3, binding.asset);
  b.BindText(4, std::string(OwnerClassName(binding.owner_class)));
  b.BindText(5, std::string(TierName(binding.tier)));
  if (b.Step() != SQLITE_DONE) return SqlError(db, "recording a key's wallet binding");
  return absl::OkStatus();
}

// Borrows a statement prepared once for the store's life; resets it and clears its bindings
// on scope exit, so the next use starts clean whatever happened in this one.
class Reused {
 public:
  explicit Reused(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Reused() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Reused(const Reused&) = delete;
  Reused& operator=(const Reused&) = delete;
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

absl::Status BindBlob(sqlite3_stmt* stmt, int i, std::span<const uint8_t> b) {
  static const uint8_t kEmpty = 0;  // a zero-length blob must still be a blob, not NULL
  return sqlite3_bind_blob(stmt, i, b.empty() ? &kEmpty : b.data(), static_cast<int>(b.size()),
                           SQLITE_TRANSIENT) == SQLITE_OK
             ? absl::OkStatus()
             : absl::InternalError("binding a log column");
}

}  // namespace

SignerStore::LogStatements::~LogStatements() {
  sqlite3_finalize(head);
  sqlite3_finalize(insert);
}

absl::Status SignerStore::PrepareLogStatements() {
  if (log_statements_ != nullptr) return absl::OkStatus();
  auto statements = std::make_unique<LogStatements>();
  if (sqlite3_prepare_v3(db_, "SELECT seq, hash FROM sign_log ORDER BY seq DESC LIMIT 1", -1,
                         SQLITE_PREPARE_PERSISTENT, &statements->head, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v3(db_,
                         "INSERT INTO sign_log (seq, time_unix_ms, kind, key_id, fields, prev_hash, hash) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         -1, SQLITE_PREPARE_PERSISTENT, &statements->insert, nullptr) != SQLITE_OK) {
    return SqlError(db_, "preparing the log statements");
  }
  log_statements_ = std::move(statements);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SignerStore::Txn::Append(int64_t time_unix_ms, const std::string& kind,
                                                  const std::string& key_id, const LogFields& fields,
                                                  LogEntry* entry) {
  if (!ValidName(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log entry kind '", kind, "' must be 1..64 characters of [a-z0-9_]"));
  }
  if (absl::Status s = CheckFieldNames(fields); !s.ok()) return s;
  if (absl::Status s = store_->PrepareLogStatements(); !s.ok()) return s;
  const LogStatements& statements = *store_->log_statements_;
  if (!head_known_) {
    // The head is read once per transaction, never kept across transactions: a batch that
    // rolls back leaves no stale head behind, since the next transaction reads it again.
    Reused head(statements.head);
    int rc = sqlite3_step(head.get());
    head_seq_ = 0;
    head_hash_.fill(0);
    if (rc == SQLITE_ROW) {
      head_seq_ = static_cast<uint64_t>(sqlite3_column_int64(head.get(), 0));
      const auto* hash = static_cast<const uint8_t*>(sqlite3_column_blob(head.get(), 1));
      if (hash != nullptr && sqlite3_column_bytes(head.get(), 1) == 32) {
        std::memcpy(head_hash_.data(), hash, 32);
      }
    } else if (rc != SQLITE_DONE) {
      return SqlError(db_, "reading the log head");
    }
    head_known_ = true;
  }
  const uint64_t seq = head_seq_ + 1;
  // Encoded once: the same bytes are hashed and stored.
  const std::vector<uint8_t> encoded = EncodeLogFields(fields);
  const std::array<uint8_t, 32> hash = HashEntry(seq, time_unix_ms, kind, key_id, encoded, head_hash_);
  Reused insert(statements.insert);
  sqlite3_stmt* st = insert.get();
  if (sqlite3_bind_int64(st, 1, static_cast<int64_t>(seq)) != SQLITE_OK ||
      sqlite3_bind_int64(st, 2, time_unix_ms) != SQLITE_OK ||
      sqlite3_bind_text(st, 3, kind.data(), static_cast<int>(kind.size()), SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_text(st, 4, key_id.data(), static_cast<int>(key_id.size()), SQLITE_STATIC) != SQLITE_OK ||
      !BindBlob(st, 5, encoded).ok() || !BindBlob(st, 6, head_hash_).ok() || !BindBlob(st, 7, hash).ok()) {
    return SqlError(db_, "appending to the log");
  }
  if (sqlite3_step(st) != SQLITE_DONE) return SqlError(db_, "appending to the log");
  if (entry != nullptr) {
    entry->seq = seq;
    entry->time_unix_ms = time_unix_ms;
    entry->kind = kind;
    entry->key_id = key_id;
    entry->fields = fields;
    entry->prev_hash = head_hash_;
    entry->hash = hash;
  }
  // Only a row that is in the transaction moves the head.
  head_seq_ = seq;
  head_hash_ = hash;
  return seq;
}

absl::StatusOr<LogEntry> SignerStore::Txn::AppendLog(int64_t time_unix_ms, const std::string& kind,
                                                     const std::string& key_id,
                                                     const LogFields& fields) {
  LogEntry entry;
  absl::StatusOr<uint64_t> seq = Append(time_unix_ms, kind, key_id, fields, &entry);
  if (!seq.ok()) return seq.status();
  return entry;
}

std::vector<uint8_t> EncodeLogFields(const LogFields& fields) {
  size_t size = 4;
  for (const auto& [name, value] : fields) size += 8 + name.size() + value.size();
  std::vector<uint8_t> out;
  out.reserve(size);
  PutU32(out, static_cast<uint32_t>(fields.size()));
  for (const auto& [name, value] : fields) {
    PutString(out, name);
    PutBytes(out, value);
  }
  return out;
}

absl::StatusOr<LogFields> DecodeLogFields(std::span<const uint8_t> data) {
  size_t pos = 0;
  auto read_u32 = [&](uint32_t& v) {
    if (data.size() - pos < 4) return false;
    v = (uint32_t{data[pos]} << 24) | (uint32_t{data[pos + 1]} << 16) |
        (uint32_t{data[pos + 2]} << 8) | uint32_t{data[pos + 3]};
    pos += 4;
    return true;
  };
  auto read_bytes = [&](std::vector<uint8_t>& v) {
    uint32_t n;
    if (!read_u32(n) || data.size() - pos < n) return false;
    v.assign(data.begin() + pos, data.begin() + pos + n);
    pos += n;
    return true;
  };
  uint32_t count;
  if (!read_u32(count)) return absl::InvalidArgumentError("log fields: truncated count");
  LogFields fields;
  std::string previous;
  for (uint32_t i = 0; i < count; ++i) {
    std::vector<uint8_t> name_bytes, value;
    if (!read_bytes(name_bytes) || !read_bytes(value)) {
      return absl::InvalidArgumentError(absl::StrCat("log fields: field ", i, " is truncated"));
    }
    std::string name(name_bytes.begin(), name_bytes.end());
    if (!ValidName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("log fields: field ", i, " has an invalid name"));
    }
    if (i > 0 && name <= previous) {
      return absl::InvalidArgumentError(
          absl::StrCat("log fields: field '", name, "' is out of order or repeated"));
    }
    previous = name;
    fields.emplace(std::move(name), std::move(value));
  }
  if (pos != data.size()) return absl::InvalidArgumentError("log fields: trailing bytes");
  return fields;
}

absl::StatusOr<std::array<uint8_t, 32>> ComputeLogEntryHash(const LogEntry& entry) {
  if (absl::Status s = CheckFieldNames(entry.fields); !s.ok()) return s;
  return HashEntry(entry.seq, entry.time_unix_ms, entry.kind, entry.key_id, EncodeLogFields(entry.fields),
                   entry.prev_hash);
}

int SignerStore::LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

absl::StatusOr<std::unique_ptr<SignerStore>> SignerStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open database '", path, "': ", message));
  }
  std::unique_ptr<SignerStore> store(new SignerStore(db));
  sqlite3_busy_timeout(db, 5000);
  // journal_mode returns a row, so read it to be sure WAL took effect.
  {
    Stmt wal(db, "PRAGMA journal_mode=WAL");
    if (!wal.ok() || wal.Step() != SQLITE_ROW) {
      return absl::FailedPreconditionError(
          absl::StrCat("database '", path, "' is not a usable SQLite database: ", sqlite3_errmsg(db)));
    }
    if (wal.Text(0) != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("database '", path, "' cannot use WAL mode (got '", wal.Text(0), "')"));
    }
  }
  if (absl::Status s = Exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("database '", path, "': ", s.message()));
  }
  {
    Stmt check(db, "PRAGMA quick_check");
    if (!check.ok() || check.Step() != SQLITE_ROW || check.Text(0) != "ok") {
      return absl::FailedPreconditionError(absl::StrCat(
          "database '", path, "' fails its integrity check: ",
          check.ok() ? check.Text(0) : std::string(sqlite3_errmsg(db))));
    }
  }
  if (absl::Status s = store->Migrate(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("database '", path, "': ", s.message()));
  }
  return store;
}

SignerStore::~SignerStore() {
  log_statements_.reset();  // finalised before the connection closes
  sqlite3_close(db_);
}

int SignerStore::schema_version() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "PRAGMA user_version");
  return s.ok() && s.Step() == SQLITE_ROW ? static_cast<int>(s.Int(0)) : -1;
}

absl::Status SignerStore::Migrate() {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
  int version;
  {
    Stmt s(db_, "PRAGMA user_version");
    if (!s.ok() || s.Step() != SQLITE_ROW) {
      Exec(db_, "ROLLBACK").IgnoreError();
      return SqlError(db_, "reading the schema version");
    }
    version = static_cast<int>(s.Int(0));
  }
  if (version > LatestSchemaVersion() || version < 0) {
    Exec(db_, "ROLLBACK").IgnoreError();
    return absl::FailedPreconditionError(
        absl::StrCat("schema version ", version, " is newer than this signerd knows (",
                     LatestSchemaVersion(), ")"));
  }
  for (int v = version; v < LatestSchemaVersion(); ++v) {
    absl::Status s = Exec(db_, kMigrations[v]);
    if (s.ok()) s = Exec(db_, absl::StrCat("PRAGMA user_version=", v + 1).c_str());
    if (!s.ok()) {
      Exec(db_, "ROLLBACK").IgnoreError();
      return absl::Status(s.code(), absl::StrCat("migration to version ", v + 1, " failed: ",
                                                 s.message()));
    }
  }
  return Exec(db_, "COMMIT");
}

absl::Status SignerStore::Transact(const std::function<absl::Status(Txn&)>& body) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot start a transaction: ", s.message()));
  }
  Txn txn(this, db_);
  absl::Status result;
  try {
    result = body(txn);
  } catch (const std::exception& e) {
    result = absl::InternalError(absl::StrCat("exception in transaction: ", e.what()));
  } catch (...) {
    result = absl::InternalError("unknown exception in transaction");
  }
  if (!result.ok()) {
    Exec(db_, "ROLLBACK").IgnoreError();
    return result;
  }
  if (absl::Status s = Exec(db_, "COMMIT"); !s.ok()) {
    Exec(db_, "ROLLBACK").IgnoreError();
    return s;
  }
  return absl::OkStatus();
}


absl::string_view OwnerClassName(OwnerClass owner_class) {
  return owner_class == OwnerClass::kHouse ? "house" : "client";
}

absl::string_view TierName(Tier tier) { return tier == Tier::kCold ? "cold" : "hot"; }

absl::StatusOr<OwnerClass> ParseOwnerClassName(absl::string_view name) {
  if (name == "client") return OwnerClass::kClient;
  if (name == "house") return OwnerClass::kHouse;
  return absl::InvalidArgumentError("owner class must be client or house");
}

absl::StatusOr<Tier> ParseTierName(absl::string_view name) {
  if (name == "hot") return Tier::kHot;
  if (name == "cold") return Tier::kCold;
  return absl::InvalidArgumentError("tier must be hot or cold");
}

absl::Status SignerStore::Txn::InsertKey(const KeyRecord& key) {
  store_->key_generation_.fetch_add(1, std::memory_order_release);
  Stmt s(db_,
         "INSERT INTO keys (key_id, key_type, purpose, public_key, created_unix_ms) "
         "VALUES (?, ?, ?, ?, ?)");
  if (!s.ok()) return SqlError(db_, "registering a key");
  s.BindText(1, key.key_id);
  s.BindText(2, std::string(KeyTypeName(key.type)));
  s.BindText(3, key.purpose);
  s.BindBlob(4, key.public_key);
  s.BindInt(5, key.created_unix_ms);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(absl::StrCat("key id ", key.key_id, " is already registered"));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "registering a key");
  if (!key.binding.has_value()) return absl::OkStatus();
  return InsertBinding(db_, key.key_id, *key.binding);
}

absl::StatusOr<std::optional<WalletBinding>> SignerStore::FindWalletBinding(const std::string& wallet_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT asset, owner_class, tier FROM key_bindings WHERE wallet_id = ? ORDER BY rowid LIMIT 1");
  if (!q.ok()) return SqlError(db_, "reading a wallet's binding");
  q.BindText(1, wallet_id);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::optional<WalletBinding>();
  if (rc != SQLITE_ROW) return SqlError(db_, "reading a wallet's binding");
  absl::StatusOr<OwnerClass> owner_class = ParseOwnerClassName(q.Text(1));
  absl::StatusOr<Tier> tier = ParseTierName(q.Text(2));
  if (!owner_class.ok() || !tier.ok()) return absl::DataLossError("key_bindings holds an unknown owner class or tier");
  return std::optional<WalletBinding>(WalletBinding{wallet_id, q.Text(0), *owner_class, *tier});
}

absl::StatusOr<LogEntry> SignerStore::BindKey(const std::string& key_id, const WalletBinding& binding,
                                              int64_t time_unix_ms) {
  LogEntry logged;
  absl::Status s = Transact([&](Txn& txn) -> absl::Status {
    key_generation_.fetch_add(1, std::memory_order_release);
    Stmt q(txn.db(), "SELECT b.wallet_id FROM keys AS k LEFT JOIN key_bindings AS b ON b.key_id = k.key_id "
                     "WHERE k.key_id = ?");
    if (!q.ok()) return SqlError(txn.db(), "reading a key");
    q.BindText(1, key_id);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("key ", key_id, " is not registered"));
    if (rc != SQLITE_ROW) return SqlError(txn.db(), "reading a key");
    if (sqlite3_column_type(q.get(), 0) != SQLITE_NULL) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key ", key_id, " is already bound to wallet ",
          reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0)), "; a binding is never changed"));
    }
    if (absl::Status b = InsertBinding(txn.db(), key_id, binding); !b.ok()) return b;
    LogFields fields;
    fields["wallet_id"] = Bytes(binding.wallet_id);
    fields["asset"] = Bytes(binding.asset);
    fields["owner_class"] = Bytes(OwnerClassName(binding.owner_class));
    fields["tier"] = Bytes(TierName(binding.tier));
    absl::StatusOr<LogEntry> e = txn.AppendLog(time_unix_ms, "key_bound", key_id, fields);
    if (!e.ok()) return e.status();
    logged = *std::move(e);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return logged;
}

absl::StatusOr<LogEntry> SignerStore::RegisterKey(const KeyRecord& key) {
  LogEntry logged;
  absl::Status s = Transact([&](Txn& txn) -> absl::Status {
    if (absl::Status k = txn.InsertKey(key); !k.ok()) return k;
    absl::StatusOr<LogEntry> e =
        txn.AppendLog(key.created_unix_ms, "key_created", key.key_id, KeyCreatedFields(key));
    if (!e.ok()) return e.status();
    logged = *std::move(e);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return logged;
}

absl::StatusOr<LogEntry> SignerStore::AppendLog(int64_t time_unix_ms, const std::string& kind,
                                                const std::string& key_id,
                                                const LogFields& fields) {
  LogEntry logged;
  absl::Status s = Transact([&](Txn& txn) -> absl::Status {
    absl::StatusOr<LogEntry> e = txn.AppendLog(time_unix_ms, kind, key_id, fields);
    if (!e.ok()) return e.status();
    logged = *std::move(e);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return logged;
}

absl::StatusOr<KeyRecord> SignerStore::GetKey(const std::string& key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, absl::StrCat(kSelectKeys, " WHERE k.key_id = ?").c_str());
  if (!s.ok()) return SqlError(db_, "reading a key");
  s.BindText(1, key_id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("no key with key_id '", key_id, "'"));
  if (rc != SQLITE_ROW) return SqlError(db_, "reading a key");
  return ReadKeyRow(s);
}

absl::StatusOr<std::vector<KeyRecord>> SignerStore::ListKeys() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, absl::StrCat(kSelectKeys, " ORDER BY k.rowid").c_str());
  if (!s.ok()) return SqlError(db_, "listing keys");
  std::vector<KeyRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadKeyRow(s));
  if (rc != SQLITE_DONE) return SqlError(db_, "listing keys");
  return out;
}

absl::StatusOr<std::vector<LogEntry>> SignerStore::ReadLog() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT seq, time_unix_ms, kind, key_id, fields, prev_hash, hash FROM sign_log "
         "ORDER BY seq");
  if (!s.ok()) return SqlError(db_, "reading the log");
  std::vector<LogEntry> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    LogEntry e;
    e.seq = static_cast<uint64_t>(s.Int(0));
    e.time_unix_ms = s.Int(1);
    e.kind = s.Text(2);
    e.key_id = s.Text(3);
    std::vector<uint8_t> fields = s.Blob(4);
    absl::StatusOr<LogFields> decoded = DecodeLogFields(fields);
    if (!decoded.ok()) {
      return absl::DataLossError(
          absl::StrCat("sign log entry ", e.seq, ": ", decoded.status().message()));
    }
    e.fields = *std::move(decoded);
    std::vector<uint8_t> prev = s.Blob(5), hash = s.Blob(6);
    if (prev.size() != 32 || hash.size() != 32) {
      return absl::DataLossError(absl::StrCat("sign log entry ", e.seq, ": hash is not 32 bytes"));
    }
    e.prev_hash = ToHash(prev);
    e.hash = ToHash(hash);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "reading the log");
  return out;
}

absl::StatusOr<uint64_t> SignerStore::VerifyLog() {
  absl::StatusOr<std::vector<LogEntry>> log = ReadLog();
  if (!log.ok()) return log.status();
  std::array<uint8_t, 32> prev{};
  uint64_t expected_seq = 1;
  std::map<std::string, const LogEntry*> created;
  std::map<std::string, const LogEntry*> bound;  // key_bound entries: bindings added later
  for (const LogEntry& e : *log) {
    if (e.seq != expected_seq) {
      return absl::DataLossError(absl::StrCat("sign log: entry ", expected_seq,
                                              " is missing (found ", e.seq, " instead)"));
    }
    if (e.prev_hash != prev) {
      return absl::DataLossError(
          absl::StrCat("sign log: entry ", e.seq, " does not link to entry ", e.seq - 1));
    }
    absl::StatusOr<std::array<uint8_t, 32>> hash = ComputeLogEntryHash(e);
    if (!hash.ok() || *hash != e.hash) {
      return absl::DataLossError(
          absl::StrCat("sign log: entry ", e.seq, " does not match its hash"));
    }
    if (e.kind == "key_created") created[e.key_id] = &e;
    if (e.kind == "key_bound" && !bound.emplace(e.key_id, &e).second) {
      return absl::DataLossError(absl::StrCat("sign log: entry ", e.seq, " binds key ", e.key_id, " a second time"));
    }
    prev = e.hash;
    ++expected_seq;
  }
  absl::StatusOr<std::vector<KeyRecord>> keys = ListKeys();
  if (!keys.ok()) return keys.status();
  for (const KeyRecord& k : *keys) {
    auto it = created.find(k.key_id);
    if (it == created.end()) {
      return absl::DataLossError(
          absl::StrCat("sign log: registered key ", k.key_id, " has no key_created entry"));
    }
    auto later = bound.find(k.key_id);
    if (later == bound.end()) {
      if (!MatchesKeyCreated(it->second->fields, k)) {
        return absl::DataLossError(absl::StrCat(
            "sign log: registered key ", k.key_id, " differs from its key_created entry"));
      }
      continue;
    }
    // Bound later: created without a binding, and the key_bound entry records exactly the one
    // the registry holds.
    KeyRecord unbound = k;
    unbound.binding.reset();
    LogFields binding_fields = KeyCreatedFields(k);
    for (const auto& name : {"key_type", "public_key", "purpose"}) binding_fields.erase(name);
    if (!k.binding.has_value() || !MatchesKeyCreated(it->second->fields, unbound) ||
        later->second->fields != binding_fields) {
      return absl::DataLossError(absl::StrCat(
          "sign log: registered key ", k.key_id, " differs from its key_created and key_bound entries"));
    }
  }
  return log->size();
}

}  // namespace ringfence::signer

#include "hsm_sim/token_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ringfence::hsm_sim {
namespace {

constexpr char kDbName[] = "token.db";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pins(
  role INTEGER PRIMARY KEY,
  salt BLOB NOT NULL,
  opslimit INTEGER NOT NULL,
  memlimit INTEGER NOT NULL,
  wrapped BLOB NOT NULL,
  failures INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  class INTEGER NOT NULL,
  curve INTEGER NOT NULL,
  label BLOB NOT NULL,
  ckaid BLOB NOT NULL,
  ec_params BLOB NOT NULL,
  public_key BLOB NOT NULL,
  sign INTEGER NOT NULL,
  verify INTEGER NOT NULL,
  sealed BLOB);
)sql";

// A prepared statement, finalised on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, const std::vector<uint8_t>& v) {
    // A zero-length BLOB must still be a BLOB, not NULL.
    static const uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, v.empty() ? &kEmpty : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
  }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindText(int i, const char* v) { sqlite3_bind_text(stmt_, i, v, -1, SQLITE_STATIC); }
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  int Type(int col) { return sqlite3_column_type(stmt_, col); }
  std::vector<uint8_t> Blob(int col) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(p, p + n);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// Makes a rename durable: the directory entry itself must reach the disk.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat(dir, ": open: ", std::strerror(errno)));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat(dir, ": fsync: ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status CheckPin(const std::string& where, const PinRecord& pin) {
  if (pin.wrapped_master_key.size() != kSealKeySize + kSealOverhead) {
    return absl::DataLossError(absl::StrCat(where, ": wrapped master key has ",
                                            pin.wrapped_master_key.size(), " bytes, expected ",
                                            kSealKeySize + kSealOverhead));
  }
  if (pin.cost.opslimit == 0 || pin.cost.memlimit == 0) {
    return absl::DataLossError(absl::StrCat(where, ": Argon2id cost is zero"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("HSM_SIM_DIR is empty");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::InternalError(absl::StrCat(dir, ": stat: ", std::strerror(errno)));
    }
    // Only the last component is created: a mistyped parent path is an error, not a new tree.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::NotFoundError(
          absl::StrCat(dir, ": cannot create token directory: ", std::strerror(errno)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": not a directory"));
  }
  std::string db_path = dir + "/" + kDbName;
  std::unique_ptr<TokenStore> store(new TokenStore(dir, db_path));
  if (::stat(db_path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return absl::DataLossError(absl::StrCat(db_path, ": not a regular file"));
    }
    if (absl::Status s = store->OpenDatabase(false); !s.ok()) return s;
  } else if (errno != ENOENT) {
    return absl::InternalError(absl::StrCat(db_path, ": stat: ", std::strerror(errno)));
  }
  return store;
}

TokenStore::~TokenStore() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

absl::Status TokenStore::Error(const std::string& what) const {
  return absl::DataLossError(
      absl::StrCat(db_path_, ": ", what, ": ", db_ ? sqlite3_errmsg(db_) : "not open"));
}

absl::Status TokenStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::DataLossError(absl::StrCat(db_path_, ": ", msg));
  }
  return absl::OkStatus();
}

absl::Status TokenStore::OpenDatabase(bool create) {
  const std::string path = create ? db_path_ + ".new" : db_path_;
  if (create) ::unlink(path.c_str());
  sqlite3* db = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return absl::DataLossError(absl::StrCat(path, ": cannot open: ", msg));
  }
  db_ = db;
  sqlite3_busy_timeout(db_, 5000);
  if (absl::Status s = Exec("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"); !s.ok()) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return s;
  }
  if (create) return absl::OkStatus();
  // A damaged file must be reported, never papered over.
  {
    Stmt check(db_, "PRAGMA quick_check");
    if (!check.ok() || check.Step() != SQLITE_ROW) {
      absl::Status s = Error("not a readable token database");
      sqlite3_close_v2(db_);
      db_ = nullptr;
      return s;
    }
    const std::vector<uint8_t> result = check.Blob(0);
    if (std::string(result.begin(), result.end()) != "ok") {
      absl::Status s = absl::DataLossError(absl::StrCat(db_path_, ": integrity check failed"));
      sqlite3_close_v2(db_);
      db_ = nullptr;
      return s;
    }
  }
  Stmt format(db_, "SELECT value FROM meta WHERE key = 'format'");
  int64_t version = -1;
  if (format.ok() && format.Step() == SQLITE_ROW) version = format.Int(0);
  if (version != kTokenFormatVersion) {
    absl::Status s = absl::DataLossError(
        absl::StrCat(db_path_, ": token format version ", version, " is not the supported version ",
                     kTokenFormatVersion, " (missing or damaged meta table)"));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenState> TokenStore::Load() {
  TokenState state;
  {
    Stmt q(db_, "SELECT key, value FROM meta");
    if (!q.ok()) return Error("reading meta");
    bool have_label = false, have_serial = false, have_tries = false;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      const std::vector<uint8_t> key = q.Blob(0);
      const std::string k(key.begin(), key.end());
      if (k == "label") {
        const std::vector<uint8_t> v = q.Blob(1);
        state.meta.label.assign(v.begin(), v.end());
        have_label = state.meta.label.size() == kLabelSize;
      } else if (k == "serial") {
        const std::vector<uint8_t> v = q.Blob(1);
        state.meta.serial.assign(v.begin(), v.end());
        have_serial = state.meta.serial.size() == kSerialSize;
      } else if (k == "max_pin_tries") {
        const int64_t v = q.Int(1);
        have_tries = v >= 1 && v <= 1000;
        state.meta.max_pin_tries = static_cast<uint32_t>(v);
      }
    }
    if (rc != SQLITE_DONE) return Error("reading meta");
    if (!have_label || !have_serial || !have_tries) {
      return absl::DataLossError(
          absl::StrCat(db_path_,
                       ": meta table lacks a valid label (32 bytes), serial (16 bytes) or "
                       "max_pin_tries (1..1000)"));
    }
  }
  bool have_so = false;
  {
    Stmt q(db_, "SELECT role, salt, opslimit, memlimit, wrapped, failures FROM pins");
    if (!q.ok()) return Error("reading pins");
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      PinRecord pin;
      const int64_t role = q.Int(0);
      const std::vector<uint8_t> salt = q.Blob(1);
      if (salt.size() != kKdfSaltSize) {
        return absl::DataLossError(absl::StrCat(db_path_, ": pin role ", role, ": salt has ",
                                                salt.size(), " bytes, expected ", kKdfSaltSize));
      }
      std::copy(salt.begin(), salt.end(), pin.salt.begin());
      pin.cost.opslimit = static_cast<uint64_t>(q.Int(2));
      pin.cost.memlimit = static_cast<uint64_t>(q.Int(3));
      pin.wrapped_master_key = q.Blob(4);
      pin.failures = static_cast<uint32_t>(q.Int(5));
      if (absl::Status s = CheckPin(absl::StrCat(db_path_, ": pin role ", role), pin); !s.ok()) {
        return s;
      }
      if (role == static_cast<int>(PinRole::kSo)) {
        state.so_pin = std::move(pin);
        have_so = true;
      } else if (role == static_cast<int>(PinRole::kUser)) {
        state.user_pin = std::move(pin);
        state.has_user_pin = true;
      } else {
        return absl::DataLossError(absl::StrCat(db_path_, ": unknown pin role ", role));
      }
    }
    if (rc != SQLITE_DONE) return Error("reading pins");
  }
  if (!have_so) return absl::DataLossError(absl::StrCat(db_path_, ": no SO PIN record"));
  {
    Stmt q(db_,
           "SELECT id, class, curve, label, ckaid, ec_params, public_key, sign, verify, sealed "
           "FROM objects ORDER BY id");
    if (!q.ok()) return Error("reading objects");
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      StoredObject o;
      o.id = static_cast<uint64_t>(q.Int(0));
      const std::string where = absl::StrCat(db_path_, ": object ", o.id);
      const int64_t cls = q.Int(1), curve = q.Int(2);
      if (cls != 0 && cls != 1)
        return absl::DataLossError(absl::StrCat(where, ": bad class ", cls));
      if (curve != 0 && curve != 1) {
        return absl::DataLossError(absl::StrCat(where, ": bad curve ", curve));
      }
      o.object_class = static_cast<ObjectClass>(cls);
      o.curve = static_cast<Curve>(curve);
      o.label = q.Blob(3);
      o.ckaid = q.Blob(4);
      o.ec_params = q.Blob(5);
      o.public_key = q.Blob(6);
      o.sign = q.Int(7) != 0;
      o.verify = q.Int(8) != 0;
      o.sealed_secret = q.Blob(9);
      const auto params_curve = CurveFromEcParams(o.ec_params);
      if (!params_curve || *params_curve != o.curve) {
        return absl::DataLossError(absl::StrCat(where, ": EC parameters do not name its curve"));
      }
      const size_t want_pub =
          o.curve == Curve::kSecp256k1 ? kSecp256k1UncompressedSize : kEd25519PublicSize;
      if (o.public_key.size() != want_pub) {
        return absl::DataLossError(absl::StrCat(where, ": public key has ", o.public_key.size(),
                                                " bytes, expected ", want_pub));
      }
      const size_t want_sealed =
          o.object_class == ObjectClass::kPrivateKey
              ? (o.curve == Curve::kSecp256k1 ? kSecp256k1SecretSize : kEd25519SeedSize) +
                    kSealOverhead
              : 0;
      if (o.sealed_secret.size() != want_sealed) {
        return absl::DataLossError(absl::StrCat(where, ": sealed secret has ",
                                                o.sealed_secret.size(), " bytes, expected ",
                                                want_sealed));
      }
      state.objects.push_back(std::move(o));
    }
    if (rc != SQLITE_DONE) return Error("reading objects");
  }
  return state;
}

absl::StatusOr<PinRecord> TokenStore::LoadPin(PinRole role) {
  Stmt q(db_, "SELECT salt, opslimit, memlimit, wrapped, failures FROM pins WHERE role = ?");
  if (!q.ok()) return Error("reading pins");
  q.Bind(1, static_cast<int64_t>(role));
  const int rc = q.Step();
  if (rc == SQLITE_DONE) {
    return absl::NotFoundError(
        absl::StrCat(db_path_, ": no PIN record for role ", static_cast<int>(role)));
  }
  if (rc != SQLITE_ROW) return Error("reading pins");
  PinRecord pin;
  const std::vector<uint8_t> salt = q.Blob(0);
  if (salt.size() != kKdfSaltSize) return absl::DataLossError(absl::StrCat(db_path_, ": bad salt"));
  std::copy(salt.begin(), salt.end(), pin.salt.begin());
  pin.cost.opslimit = static_cast<uint64_t>(q.Int(1));
  pin.cost.memlimit = static_cast<uint64_t>(q.Int(2));
  pin.wrapped_master_key = q.Blob(3);
  pin.failures = static_cast<uint32_t>(q.Int(4));
  if (absl::Status s = CheckPin(db_path_, pin); !s.ok()) return s;
  return pin;
}

absl::Status TokenStore::Initialize(const TokenMeta& meta, const PinRecord& so_pin) {
  const bool fresh = db_ == nullptr;
  if (fresh) {
    // The first database is built under a temporary name and renamed into place, so a crash
    // leaves either no token or a complete one.
    if (absl::Status s = OpenDatabase(true); !s.ok()) return s;
  }
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Status status = [&]() -> absl::Status {
    if (absl::Status s = Exec(kSchema); !s.ok()) return s;
    if (absl::Status s = Exec("DELETE FROM meta; DELETE FROM pins; DELETE FROM objects;");
        !s.ok()) {
      return s;
    }
    for (int i = 0; i < 4; ++i) {
      Stmt ins(db_, "INSERT INTO meta(key, value) VALUES(?, ?)");
      if (!ins.ok()) return Error("writing meta");
      switch (i) {
        case 0:
          ins.BindText(1, "format");
          ins.Bind(2, int64_t{kTokenFormatVersion});
          break;
        case 1:
          ins.BindText(1, "label");
          ins.Bind(2, meta.label);
          break;
        case 2:
          ins.BindText(1, "serial");
          ins.Bind(2, meta.serial);
          break;
        default:
          ins.BindText(1, "max_pin_tries");
          ins.Bind(2, int64_t{meta.max_pin_tries});
          break;
      }
      if (ins.Step() != SQLITE_DONE) return Error("writing meta");
    }
    Stmt p(db_,
           "INSERT INTO pins(role, salt, opslimit, memlimit, wrapped, failures) "
           "VALUES(?, ?, ?, ?, ?, 0)");
    if (!p.ok()) return Error("writing SO PIN");
    p.Bind(1, static_cast<int64_t>(PinRole::kSo));
    p.Bind(2, std::vector<uint8_t>(so_pin.salt.begin(), so_pin.salt.end()));
    p.Bind(3, static_cast<int64_t>(so_pin.cost.opslimit));
    p.Bind(4, static_cast<int64_t>(so_pin.cost.memlimit));
    p.Bind(5, so_pin.wrapped_master_key);
    if (p.Step() != SQLITE_DONE) return Error("writing SO PIN");
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    Exec("ROLLBACK").IgnoreError();
    if (fresh) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
      ::unlink((db_path_ + ".new").c_str());
    }
    return status;
  }
  if (absl::Status s = Exec("COMMIT"); !s.ok()) return s;
  if (fresh) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    const std::string tmp = db_path_ + ".new";
    if (::rename(tmp.c_str(), db_path_.c_str()) != 0) {
      return absl::InternalError(absl::StrCat(db_path_, ": rename: ", std::strerror(errno)));
    }
    if (absl::Status s = SyncDirectory(dir_); !s.ok()) return s;
    return OpenDatabase(false);
  }
  return absl::OkStatus();
}

absl::Status TokenStore::CheckSerial(const std::string& serial) {
  Stmt q(db_, "SELECT value FROM meta WHERE key = 'serial'");
  if (!q.ok() || q.Step() != SQLITE_ROW) return Error("reading serial");
  const std::vector<uint8_t> v = q.Blob(0);
  if (std::string(v.begin(), v.end()) != serial) {
    return absl::FailedPreconditionError(absl::StrCat(
        db_path_, ": the token was re-initialised by another process (serial ", serial, " is now ",
        std::string(v.begin(), v.end()), "); call C_Finalize and C_Initialize"));
  }
  return absl::OkStatus();
}

absl::Status TokenStore::PutPin(PinRole role, const PinRecord& record, const std::string& serial) {
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Status status = [&]() -> absl::Status {
    if (absl::Status s = CheckSerial(serial); !s.ok()) return s;
    Stmt p(db_,
           "INSERT OR REPLACE INTO pins(role, salt, opslimit, memlimit, wrapped, failures) "
           "VALUES(?, ?, ?, ?, ?, 0)");
    if (!p.ok()) return Error("writing PIN");
    p.Bind(1, static_cast<int64_t>(role));
    p.Bind(2, std::vector<uint8_t>(record.salt.begin(), record.salt.end()));
    p.Bind(3, static_cast<int64_t>(record.cost.opslimit));
    p.Bind(4, static_cast<int64_t>(record.cost.memlimit));
    p.Bind(5, record.wrapped_master_key);
    if (p.Step() != SQLITE_DONE) return Error("writing PIN");
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return status;
  }
  return Exec("COMMIT");
}

absl::StatusOr<uint32_t> TokenStore::CountFailure(PinRole role) {
  Stmt p(db_, "UPDATE pins SET failures = failures + 1 WHERE role = ? RETURNING failures");
  if (!p.ok()) return Error("counting PIN failure");
  p.Bind(1, static_cast<int64_t>(role));
  if (p.Step() != SQLITE_ROW) return Error("counting PIN failure");
  const uint32_t n = static_cast<uint32_t>(p.Int(0));
  if (p.Step() != SQLITE_DONE) return Error("counting PIN failure");
  return n;
}

absl::Status TokenStore::ResetFailures(PinRole role) {
  Stmt p(db_, "UPDATE pins SET failures = 0 WHERE role = ?");
  if (!p.ok()) return Error("resetting PIN failures");
  p.Bind(1, static_cast<int64_t>(role));
  if (p.Step() != SQLITE_DONE) return Error("resetting PIN failures");
  return absl::OkStatus();
}

absl::Status TokenStore::InsertKeyPair(StoredObject* public_key, StoredObject* private_key,
                                       const std::string& serial) {
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  if (absl::Status s = CheckSerial(serial); !s.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  }
  for (StoredObject* o : {public_key, private_key}) {
    Stmt p(db_,
           "INSERT INTO objects(class, curve, label, ckaid, ec_params, public_key, sign, verify, "
           "sealed) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!p.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return Error("inserting key");
    }
    p.Bind(1, static_cast<int64_t>(o->object_class));
    p.Bind(2, static_cast<int64_t>(o->curve));
    p.Bind(3, o->label);
    p.Bind(4, o->ckaid);
    p.Bind(5, o->ec_params);
    p.Bind(6, o->public_key);
    p.Bind(7, o->sign ? 1 : 0);
    p.Bind(8, o->verify ? 1 : 0);
    if (o->object_class == ObjectClass::kPrivateKey) p.Bind(9, o->sealed_secret);
    if (p.Step() != SQLITE_DONE) {
      absl::Status s = Error("inserting key");
      Exec("ROLLBACK").IgnoreError();
      return s;
    }
    o->id = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
  }
  return Exec("COMMIT");
}

absl::Status TokenStore::UpdateLabelAndId(uint64_t id, const std::vector<uint8_t>& label,
                                          const std::vector<uint8_t>& ckaid) {
  Stmt p(db_, "UPDATE objects SET label = ?, ckaid = ? WHERE id = ?");
  if (!p.ok()) return Error("updating object");
  p.Bind(1, label);
  p.Bind(2, ckaid);
  p.Bind(3, static_cast<int64_t>(id));
  if (p.Step() != SQLITE_DONE) return Error("updating object");
  return absl::OkStatus();
}

absl::Status TokenStore::DeleteObject(uint64_t id) {
  Stmt p(db_, "DELETE FROM objects WHERE id = ?");
  if (!p.ok()) return Error("deleting object");
  p.Bind(1, static_cast<int64_t>(id));
  if (p.Step() != SQLITE_DONE) return Error("deleting object");
  return absl::OkStatus();
}

}  // namespace ringfence::hsm_sim

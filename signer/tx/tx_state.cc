#include "signer/tx/tx_state.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "base/text.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_address.h"

namespace ringfence::signer::tx {

using base::Cat;

namespace {

constexpr char kSchema[] = R"sql(
  CREATE TABLE IF NOT EXISTS tx_request (
    request_id TEXT PRIMARY KEY NOT NULL,
    fingerprint BLOB NOT NULL CHECK (length(fingerprint) = 32),
    chain TEXT NOT NULL,
    signed_tx BLOB NOT NULL,
    txid TEXT NOT NULL,
    log_seq INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS tx_eth_nonce (
    chain_id INTEGER NOT NULL,
    sender BLOB NOT NULL CHECK (length(sender) = 20),
    nonce INTEGER NOT NULL,
    request_id TEXT NOT NULL REFERENCES tx_request (request_id),
    PRIMARY KEY (chain_id, sender, nonce)
  ) STRICT;
  CREATE TABLE IF NOT EXISTS tx_btc_outpoint (
    txid BLOB NOT NULL CHECK (length(txid) = 32),
    vout INTEGER NOT NULL,
    request_id TEXT NOT NULL REFERENCES tx_request (request_id),
    PRIMARY KEY (txid, vout)
  ) STRICT;
  CREATE TRIGGER IF NOT EXISTS tx_request_no_update BEFORE UPDATE ON tx_request
    BEGIN SELECT RAISE(ABORT, 'tx_request is append-only'); END;
  CREATE TRIGGER IF NOT EXISTS tx_request_no_delete BEFORE DELETE ON tx_request
    BEGIN SELECT RAISE(ABORT, 'tx_request is append-only'); END;
  CREATE TRIGGER IF NOT EXISTS tx_eth_nonce_no_update BEFORE UPDATE ON tx_eth_nonce
    BEGIN SELECT RAISE(ABORT, 'tx_eth_nonce is append-only'); END;
  CREATE TRIGGER IF NOT EXISTS tx_eth_nonce_no_delete BEFORE DELETE ON tx_eth_nonce
    BEGIN SELECT RAISE(ABORT, 'tx_eth_nonce is append-only'); END;
  CREATE TRIGGER IF NOT EXISTS tx_btc_outpoint_no_update BEFORE UPDATE ON tx_btc_outpoint
    BEGIN SELECT RAISE(ABORT, 'tx_btc_outpoint is append-only'); END;
  CREATE TRIGGER IF NOT EXISTS tx_btc_outpoint_no_delete BEFORE DELETE ON tx_btc_outpoint
    BEGIN SELECT RAISE(ABORT, 'tx_btc_outpoint is append-only'); END;
)sql";

template <size_t N>
std::array<uint8_t, N> ToArray(const std::vector<uint8_t>& v) {
  std::array<uint8_t, N> out{};
  if (v.size() == N) std::memcpy(out.data(), v.data(), N);
  return out;
}

// Prepares `stmt` on `db` the first time (kept until the owner finalises it); every time,
// returns it reset and unbound. Internal error naming the SQL if it cannot be prepared.
absl::StatusOr<sqlite3_stmt*> PrepareOnce(sqlite3* db, sqlite3_stmt*& stmt, const char* sql) {
  if (stmt == nullptr && sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(Cat("preparing \"", sql, "\": ", sqlite3_errmsg(db)));
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return stmt;
}

// The request holding a claim: the one in flight if any, else the committed one `lookup`
// finds in the database (nullopt if none).
template <typename Map, typename Lookup>
absl::StatusOr<std::optional<std::string>> Holder(const Map& in_flight, const typename Map::key_type& key,
                                                  Lookup lookup) {
  if (auto it = in_flight.find(key); it != in_flight.end()) return std::optional<std::string>(it->second);
  return lookup();
}

std::string OutpointText(const chain::OutPoint& o) {
  return Cat(chain::DisplayHex(o.txid), ":", o.vout);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TxState>> TxState::Open(SignerStore* store) {
  std::unique_ptr<TxState> state(new TxState());
  std::string path;
  absl::Status st = store->Transact([&](SignerStore::Txn& txn) -> absl::Status {
    char* err = nullptr;
    if (sqlite3_exec(txn.db(), kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : "unknown error";
      sqlite3_free(err);
      return absl::InternalError(Cat("creating the transaction tables: ", message));
    }
    const char* name = sqlite3_db_filename(txn.db(), "main");
    if (name == nullptr || *name == '\0') {
      return absl::InternalError("the signer database has no file name; the transaction state needs one to read it");
    }
    path = name;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  // Read-only, and guarded by TxState's own mutex, hence NOMUTEX. WAL lets it read while the
  // log writer writes, and each lookup (a statement reset after use) sees every committed batch.
  const int rc = sqlite3_open_v2(path.c_str(), &state->read_db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = state->read_db_ != nullptr ? sqlite3_errmsg(state->read_db_) : sqlite3_errstr(rc);
    return absl::UnavailableError(Cat("opening '", path, "' for reading the transaction state: ", message));
  }
  sqlite3_busy_timeout(state->read_db_, 5000);
  return state;
}

// Why reading the database and the claims in flight under mu_ is enough: Commit() is called
// only after the batch holding the request's rows is durable, so a request leaves in_flight_
// only once its rows are visible to read_db_ (WAL: a read started after a commit sees it).
// Reserve holds mu_ from its look at in_flight_ through its database reads, and Commit needs
// mu_ to drop the claims; so a request that Reserve does not find in flight has either
// committed before (and the reads, started later, find its rows) or was released or never
// reserved. A Reserve racing with a Commit thus sees the other request in flight or in the
// database, never neither. Its rows may be visible while it is still in flight; both places
// then name the same request, so the answer is the same.
absl::StatusOr<TxState::Decision> TxState::Reserve(const CheckedTx& checked) {
  std::unique_lock<std::mutex> lock(mu_);
  const std::string& id = checked.request_id;
  for (auto flying = in_flight_.find(id); flying != in_flight_.end(); flying = in_flight_.find(id)) {
    if (flying->second != checked.fingerprint) {
      return absl::FailedPreconditionError(
          Cat("request_conflict: request ", id, " is being signed for another transaction"));
    }
    changed_.wait(lock);  // the identical request in flight: take its outcome
  }
  // Every lookup below reads one snapshot: one read transaction instead of one per statement,
  // which would each take the WAL read lock and, after any commit, refill the page cache.
  auto reading = BeginRead();
  if (!reading.ok()) return reading.status();
  auto signed_before = LookupRequest(id);
  if (!signed_before.ok()) return signed_before.status();
  if (*signed_before) {
    if ((*signed_before)->fingerprint == checked.fingerprint) return Decision{std::move(**signed_before), TxClaim()};
    return absl::FailedPreconditionError(
        Cat("request_conflict: request ", id, " was already signed for another transaction (",
            (*signed_before)->txid, "); a request id is signed once"));
  }
  std::optional<NonceKey> nonce_key;
  if (checked.nonce) {
    nonce_key = NonceKey{checked.nonce->chain_id, checked.nonce->sender, checked.nonce->nonce};
    auto holder = Holder(nonces_, *nonce_key, [&] { return LookupNonce(*checked.nonce); });
    if (!holder.ok()) return holder.status();
    if (*holder && **holder != id) {
      return absl::FailedPreconditionError(
          Cat("nonce_reused: nonce ", checked.nonce->nonce, " of ",
              chain::EthChecksumAddress(checked.nonce->sender), " on chain id ",
              checked.nonce->chain_id, " was already signed for request ", **holder));
    }
  }
  for (const chain::OutPoint& o : checked.outpoints) {
    auto holder = Holder(outpoints_, OutpointKey{o.txid, o.vout}, [&] { return LookupOutpoint(o); });
    if (!holder.ok()) return holder.status();
    if (*holder && **holder != id) {
      return absl::FailedPreconditionError(Cat("outpoint_spent: outpoint ", OutpointText(o),
                                               " was already signed for request ", **holder));
    }
  }
  // Build the claim before touching the maps, so that nothing that may throw (allocation)
  // runs between claiming in memory and the claim owning the release.
  Decision decision;
  TxClaim& claim = decision.claim;
  claim.request_id_ = id;
  claim.nonce_ = nonce_key;
  claim.outpoints_.reserve(checked.outpoints.size());
  for (const chain::OutPoint& o : checked.outpoints) claim.outpoints_.emplace_back(o.txid, o.vout);
  claim.state_ = this;
  in_flight_.emplace(id, checked.fingerprint);
  if (nonce_key) nonces_.emplace(*nonce_key, id);
  for (const OutpointKey& o : claim.outpoints_) outpoints_.emplace(o, id);
  return decision;
}

absl::StatusOr<TxState::ReadTxn> TxState::BeginRead() {
  auto begin = ReadStatement(kBeginSlot, "BEGIN");
  if (!begin.ok()) return begin.status();
  if (sqlite3_step(*begin) != SQLITE_DONE) {
    return absl::UnavailableError(Cat("starting a read of the transaction state: ", sqlite3_errmsg(read_db_)));
  }
  sqlite3_reset(*begin);
  return ReadTxn(this);
}

void TxState::EndRead() {
  // Ending a read transaction cannot lose anything; if COMMIT fails the snapshot is dropped
  // with ROLLBACK, so that the next Reserve reads newer commits.
  auto end = ReadStatement(kCommitSlot, "COMMIT");
  if (end.ok() && sqlite3_step(*end) == SQLITE_DONE) {
    sqlite3_reset(*end);
    return;
  }
  if (end.ok()) sqlite3_reset(*end);
  sqlite3_exec(read_db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

absl::StatusOr<sqlite3_stmt*> TxState::ReadStatement(int slot, const char* sql) {
  auto stmt = PrepareOnce(read_db_, read_statements_[slot], sql);
  if (!stmt.ok()) return absl::UnavailableError(stmt.status().message());
  return stmt;
}

namespace {

// Steps a lookup once. True with the row's columns readable, false when there is no row.
// The caller resets the statement once it has copied the columns, ending the read
// transaction so that the next lookup sees newer commits.
absl::StatusOr<bool> StepLookup(sqlite3* db, sqlite3_stmt* stmt, std::string_view what) {
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) return true;
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE) return false;
  return absl::UnavailableError(Cat("reading ", what, ": ", sqlite3_errmsg(db)));
}

std::string ColumnText(sqlite3_stmt* stmt, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
  return std::string(p ? p : "", sqlite3_column_bytes(stmt, i));
}

std::vector<uint8_t> ColumnBlob(sqlite3_stmt* stmt, int i) {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, i));
  return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt, i));
}

}  // namespace

absl::StatusOr<std::optional<SignedRecord>> TxState::LookupRequest(const std::string& request_id) {
  auto s = ReadStatement(0, "SELECT fingerprint, signed_tx, txid, log_seq FROM tx_request WHERE request_id = ?");
  if (!s.ok()) return s.status();
  sqlite3_bind_text(*s, 1, request_id.data(), static_cast<int>(request_id.size()), SQLITE_STATIC);
  auto row = StepLookup(read_db_, *s, "tx_request");
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  SignedRecord r;
  r.fingerprint = ToArray<32>(ColumnBlob(*s, 0));
  r.signed_tx = ColumnBlob(*s, 1);
  r.txid = ColumnText(*s, 2);
  r.log_sequence = static_cast<uint64_t>(sqlite3_column_int64(*s, 3));
  sqlite3_reset(*s);
  return r;
}

absl::StatusOr<std::optional<std::string>> TxState::LookupNonce(const EthNonceClaim& nonce) {
  auto s = ReadStatement(1, "SELECT request_id FROM tx_eth_nonce WHERE chain_id = ? AND sender = ? AND nonce = ?");
  if (!s.ok()) return s.status();
  sqlite3_bind_int64(*s, 1, static_cast<int64_t>(nonce.chain_id));
  sqlite3_bind_blob(*s, 2, nonce.sender.data(), static_cast<int>(nonce.sender.size()), SQLITE_STATIC);
  sqlite3_bind_int64(*s, 3, static_cast<int64_t>(nonce.nonce));
  auto row = StepLookup(read_db_, *s, "tx_eth_nonce");
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  std::string holder = ColumnText(*s, 0);
  sqlite3_reset(*s);
  return holder;
}

absl::StatusOr<std::optional<std::string>> TxState::LookupOutpoint(const chain::OutPoint& outpoint) {
  auto s = ReadStatement(2, "SELECT request_id FROM tx_btc_outpoint WHERE txid = ? AND vout = ?");
  if (!s.ok()) return s.status();
  sqlite3_bind_blob(*s, 1, outpoint.txid.data(), static_cast<int>(outpoint.txid.size()), SQLITE_STATIC);
  sqlite3_bind_int64(*s, 2, outpoint.vout);
  auto row = StepLookup(read_db_, *s, "tx_btc_outpoint");
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  std::string holder = ColumnText(*s, 0);
  sqlite3_reset(*s);
  return holder;
}

TxState::~TxState() {
  for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
  for (sqlite3_stmt* stmt : read_statements_) sqlite3_finalize(stmt);
  sqlite3_close(read_db_);
}

absl::StatusOr<sqlite3_stmt*> TxState::Statement(sqlite3* db, int slot, const char* sql) {
  if (statements_db_ != db) {
    for (sqlite3_stmt*& stmt : statements_) {
      sqlite3_finalize(stmt);
      stmt = nullptr;
    }
    statements_db_ = db;
  }
  return PrepareOnce(db, statements_[slot], sql);
}

absl::Status TxState::WriteRows(SignerStore::Txn& txn, const CheckedTx& checked,
                                const SignedRecord& record) {
  sqlite3* db = txn.db();
  auto step = [&](sqlite3_stmt* stmt, std::string_view what) -> absl::Status {
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return absl::InternalError(Cat(what, ": ", sqlite3_errmsg(db)));
    return absl::OkStatus();
  };
  {
    auto s = Statement(db, 0,
                       "INSERT INTO tx_request (request_id, fingerprint, chain, signed_tx, txid, log_seq) "
                       "VALUES (?, ?, ?, ?, ?, ?)");
    if (!s.ok()) return s.status();
    const std::string chain(ChainName(checked.chain));
    sqlite3_bind_text(*s, 1, checked.request_id.data(), static_cast<int>(checked.request_id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(*s, 2, record.fingerprint.data(), 32, SQLITE_TRANSIENT);
    sqlite3_bind_text(*s, 3, chain.data(), static_cast<int>(chain.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(*s, 4, record.signed_tx.data(), static_cast<int>(record.signed_tx.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(*s, 5, record.txid.data(), static_cast<int>(record.txid.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(*s, 6, static_cast<int64_t>(record.log_sequence));
    if (auto st = step(*s, "inserting tx_request"); !st.ok()) return st;
  }
  if (checked.nonce) {
    auto s = Statement(db, 1, "INSERT INTO tx_eth_nonce (chain_id, sender, nonce, request_id) VALUES (?, ?, ?, ?)");
    if (!s.ok()) return s.status();
    sqlite3_bind_int64(*s, 1, static_cast<int64_t>(checked.nonce->chain_id));
    sqlite3_bind_blob(*s, 2, checked.nonce->sender.data(), 20, SQLITE_TRANSIENT);
    sqlite3_bind_int64(*s, 3, static_cast<int64_t>(checked.nonce->nonce));
    sqlite3_bind_text(*s, 4, checked.request_id.data(), static_cast<int>(checked.request_id.size()), SQLITE_TRANSIENT);
    if (auto st = step(*s, "inserting tx_eth_nonce"); !st.ok()) return st;
  }
  for (const chain::OutPoint& o : checked.outpoints) {
    auto s = Statement(db, 2, "INSERT INTO tx_btc_outpoint (txid, vout, request_id) VALUES (?, ?, ?)");
    if (!s.ok()) return s.status();
    sqlite3_bind_blob(*s, 1, o.txid.data(), 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(*s, 2, o.vout);
    sqlite3_bind_text(*s, 3, checked.request_id.data(), static_cast<int>(checked.request_id.size()), SQLITE_TRANSIENT);
    if (auto st = step(*s, "inserting tx_btc_outpoint"); !st.ok()) return st;
  }
  return absl::OkStatus();
}

void TxState::Drop(const TxClaim& claim) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(claim.request_id_);
    if (claim.nonce_) {
      auto it = nonces_.find(*claim.nonce_);
      if (it != nonces_.end() && it->second == claim.request_id_) nonces_.erase(it);
    }
    for (const OutpointKey& o : claim.outpoints_) {
      auto it = outpoints_.find(o);
      if (it != outpoints_.end() && it->second == claim.request_id_) outpoints_.erase(it);
    }
  }
  changed_.notify_all();
}

TxClaim::TxClaim(TxClaim&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)),
      request_id_(std::move(other.request_id_)),
      nonce_(std::move(other.nonce_)),
      outpoints_(std::move(other.outpoints_)) {}

TxClaim& TxClaim::operator=(TxClaim&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::exchange(other.state_, nullptr);
    request_id_ = std::move(other.request_id_);
    nonce_ = std::move(other.nonce_);
    outpoints_ = std::move(other.outpoints_);
  }
  return *this;
}

// Committing and releasing drop the same entries; what differs is what answers afterwards. After
// Commit the rows are durable, so the database answers for this request (see Reserve); after
// Release nothing does, and the request may be tried again.
void TxClaim::Commit() { Release(); }

void TxClaim::Release() {
  if (state_ == nullptr) return;
  std::exchange(state_, nullptr)->Drop(*this);
}

}  // namespace ringfence::signer::tx

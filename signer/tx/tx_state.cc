#include "signer/tx/tx_state.h"

#include <sqlite3.h>

#include <cstring>

#include "chain/bitcoin_tx.h"
#include "chain/eth_address.h"
#include "signer/tx/text.h"

namespace ringfence::signer::tx {
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

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  absl::Status Error(std::string_view what) const {
    return absl::InternalError(Cat(what, ": ", sqlite3_errmsg(db_)));
  }
  void Text(int i, const std::string& s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void Blob(int i, const uint8_t* p, size_t n) { sqlite3_bind_blob(stmt_, i, p, static_cast<int>(n), SQLITE_TRANSIENT); }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::vector<uint8_t> ColumnBlob(int i) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
    return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, i));
  }
  std::string ColumnText(int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return std::string(p ? p : "", sqlite3_column_bytes(stmt_, i));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

template <size_t N>
std::array<uint8_t, N> ToArray(const std::vector<uint8_t>& v) {
  std::array<uint8_t, N> out{};
  if (v.size() == N) std::memcpy(out.data(), v.data(), N);
  return out;
}

std::string OutpointText(const chain::OutPoint& o) {
  return Cat(chain::DisplayHex(o.txid), ":", o.vout);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TxState>> TxState::Open(SignerStore* store) {
  std::unique_ptr<TxState> state(new TxState());
  absl::Status st = store->Transact([&](SignerStore::Txn& txn) -> absl::Status {
    char* err = nullptr;
    if (sqlite3_exec(txn.db(), kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : "unknown error";
      sqlite3_free(err);
      return absl::InternalError(Cat("creating the transaction tables: ", message));
    }
    {
      Stmt s(txn.db(), "SELECT request_id, fingerprint, signed_tx, txid, log_seq FROM tx_request");
      if (!s.ok()) return s.Error("reading tx_request");
      while (sqlite3_step(s.get()) == SQLITE_ROW) {
        SignedRecord r;
        r.fingerprint = ToArray<32>(s.ColumnBlob(1));
        r.signed_tx = s.ColumnBlob(2);
        r.txid = s.ColumnText(3);
        r.log_sequence = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 4));
        state->signed_.emplace(s.ColumnText(0), std::move(r));
      }
    }
    {
      Stmt s(txn.db(), "SELECT chain_id, sender, nonce, request_id FROM tx_eth_nonce");
      if (!s.ok()) return s.Error("reading tx_eth_nonce");
      while (sqlite3_step(s.get()) == SQLITE_ROW) {
        state->nonces_.emplace(NonceKey{static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)),
                                        ToArray<20>(s.ColumnBlob(1)),
                                        static_cast<uint64_t>(sqlite3_column_int64(s.get(), 2))},
                               s.ColumnText(3));
      }
    }
    {
      Stmt s(txn.db(), "SELECT txid, vout, request_id FROM tx_btc_outpoint");
      if (!s.ok()) return s.Error("reading tx_btc_outpoint");
      while (sqlite3_step(s.get()) == SQLITE_ROW) {
        state->outpoints_.emplace(
            OutpointKey{ToArray<32>(s.ColumnBlob(0)), static_cast<uint32_t>(sqlite3_column_int64(s.get(), 1))},
            s.ColumnText(2));
      }
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return state;
}

absl::StatusOr<TxState::Decision> TxState::Reserve(const CheckedTx& checked) {
  std::unique_lock<std::mutex> lock(mu_);
  const std::string& id = checked.request_id;
  for (;;) {
    if (auto it = signed_.find(id); it != signed_.end()) {
      if (it->second.fingerprint == checked.fingerprint) return Decision{it->second};
      return absl::FailedPreconditionError(
          Cat("request_conflict: request ", id, " was already signed for another transaction (",
              it->second.txid, "); a request id is signed once"));
    }
    auto flying = in_flight_.find(id);
    if (flying == in_flight_.end()) break;
    if (flying->second != checked.fingerprint) {
      return absl::FailedPreconditionError(
          Cat("request_conflict: request ", id, " is being signed for another transaction"));
    }
    changed_.wait(lock);  // the identical request in flight: take its outcome
  }
  std::optional<NonceKey> nonce_key;
  if (checked.nonce) {
    nonce_key = NonceKey{checked.nonce->chain_id, checked.nonce->sender, checked.nonce->nonce};
    if (auto it = nonces_.find(*nonce_key); it != nonces_.end() && it->second != id) {
      return absl::FailedPreconditionError(
          Cat("nonce_reused: nonce ", checked.nonce->nonce, " of ",
              chain::EthChecksumAddress(checked.nonce->sender), " on chain id ",
              checked.nonce->chain_id, " was already signed for request ", it->second));
    }
  }
  for (const chain::OutPoint& o : checked.outpoints) {
    if (auto it = outpoints_.find({o.txid, o.vout}); it != outpoints_.end() && it->second != id) {
      return absl::FailedPreconditionError(Cat("outpoint_spent: outpoint ", OutpointText(o),
                                               " was already signed for request ", it->second));
    }
  }
  in_flight_.emplace(id, checked.fingerprint);
  if (nonce_key) nonces_.emplace(*nonce_key, id);
  for (const chain::OutPoint& o : checked.outpoints) outpoints_.emplace(OutpointKey{o.txid, o.vout}, id);
  return Decision{};
}

TxState::~TxState() {
  for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
}

absl::StatusOr<sqlite3_stmt*> TxState::Statement(sqlite3* db, int slot, const char* sql) {
  if (statements_db_ != db) {
    for (sqlite3_stmt*& stmt : statements_) {
      sqlite3_finalize(stmt);
      stmt = nullptr;
    }
    statements_db_ = db;
  }
  sqlite3_stmt*& stmt = statements_[slot];
  if (stmt == nullptr && sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(Cat("preparing \"", sql, "\": ", sqlite3_errmsg(db)));
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return stmt;
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

void TxState::Commit(const CheckedTx& checked, const SignedRecord& record) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(checked.request_id);
    signed_.insert_or_assign(checked.request_id, record);
  }
  changed_.notify_all();
}

void TxState::Release(const CheckedTx& checked) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(checked.request_id);
    if (checked.nonce) {
      auto it = nonces_.find(NonceKey{checked.nonce->chain_id, checked.nonce->sender, checked.nonce->nonce});
      if (it != nonces_.end() && it->second == checked.request_id) nonces_.erase(it);
    }
    for (const chain::OutPoint& o : checked.outpoints) {
      auto it = outpoints_.find({o.txid, o.vout});
      if (it != outpoints_.end() && it->second == checked.request_id) outpoints_.erase(it);
    }
  }
  changed_.notify_all();
}

}  // namespace ringfence::signer::tx

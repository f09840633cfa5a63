#include "tools/chainsim/state_store.h"

#include <cstring>

#include "base/text.h"

namespace ringfence::chainsim {
namespace {

using base::Cat;

constexpr int64_t kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
CREATE TABLE tokens(contract BLOB PRIMARY KEY, decimals INTEGER NOT NULL, registered_seq INTEGER NOT NULL) STRICT;
CREATE TABLE blocks(chain TEXT NOT NULL, height INTEGER NOT NULL, nonce INTEGER NOT NULL,
                    PRIMARY KEY(chain, height)) STRICT;
CREATE TABLE txs(seq INTEGER PRIMARY KEY, chain TEXT NOT NULL, height INTEGER, kind INTEGER NOT NULL,
                 raw BLOB NOT NULL) STRICT;
CREATE INDEX txs_by_height ON txs(chain, height);
INSERT INTO meta VALUES ('schema_version', 1), ('next_seq', 1);
)sql";

std::string ChainText(ChainId chain) { return std::string(ChainName(chain)); }

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::InternalError(Cat("state file ", base::Clip(path, 200), ": ", message));
  }
  std::unique_ptr<StateStore> store(new StateStore(db));
  // One chainsim per state file (an exclusive lock, held until exit); WAL with
  // synchronous=FULL, so that a committed write survives a crash or power loss.
  if (absl::Status s = store->Exec("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
      !s.ok()) {
    return absl::InternalError(Cat(s.message(), " (is another chainsim using ", base::Clip(path, 200), "?)"));
  }
  absl::StatusOr<sqlite3_stmt*> has_meta =
      store->Prepared("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'");
  if (!has_meta.ok()) return has_meta.status();
  if (sqlite3_step(*has_meta) != SQLITE_ROW) {
    std::string message = sqlite3_errmsg(db);
    sqlite3_reset(*has_meta);
    return absl::InternalError(Cat("state file ", base::Clip(path, 200), ": cannot read its schema: ", message));
  }
  const bool fresh = sqlite3_column_int64(*has_meta, 0) == 0;
  sqlite3_reset(*has_meta);
  if (fresh) {
    if (absl::Status s = store->Write([&](Writer&) { return store->Exec(kSchema); }); !s.ok()) return s;
  }
  absl::StatusOr<sqlite3_stmt*> version = store->Prepared("SELECT value FROM meta WHERE name = 'schema_version'");
  if (!version.ok()) return version.status();
  const bool found = sqlite3_step(*version) == SQLITE_ROW;
  const int64_t v = found ? sqlite3_column_int64(*version, 0) : -1;
  sqlite3_reset(*version);
  if (v != kSchemaVersion) {
    return absl::InvalidArgumentError(
        Cat("state file ", base::Clip(path, 200), ": schema version ", v, ", this chainsim reads ", kSchemaVersion));
  }
  return store;
}

StateStore::~StateStore() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status StateStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return absl::InternalError(Cat("state file: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3_stmt*> StateStore::Prepared(const char* sql) {
  for (auto& [text, stmt] : statements_) {
    if (std::strcmp(text, sql) == 0) {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
      return stmt;
    }
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(Cat("state file: prepare: ", sqlite3_errmsg(db_)));
  }
  statements_.emplace_back(sql, stmt);
  return stmt;
}

absl::Status StateStore::Run(sqlite3_stmt* stmt) {
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return absl::InternalError(Cat("state file: ", sqlite3_errmsg(db_)));
  return absl::OkStatus();
}

absl::Status StateStore::Write(const std::function<absl::Status(Writer&)>& fill) {
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Writer writer(this);
  absl::Status s = fill(writer);
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    // Nothing of this write may remain. A failed ROLLBACK after a failed COMMIT means SQLite
    // already rolled back.
    Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredState> StateStore::Load() {
  StoredState state;
  {
    absl::StatusOr<sqlite3_stmt*> stmt = Prepared("SELECT name, value FROM meta");
    if (!stmt.ok()) return stmt.status();
    while (sqlite3_step(*stmt) == SQLITE_ROW) {
      const std::string name(reinterpret_cast<const char*>(sqlite3_column_text(*stmt, 0)));
      const int64_t value = sqlite3_column_int64(*stmt, 1);
      if (name == "next_seq") state.next_seq = value;
    }
    sqlite3_reset(*stmt);
  }
  {
    absl::StatusOr<sqlite3_stmt*> stmt = Prepared("SELECT contract, decimals, registered_seq FROM tokens");
    if (!stmt.ok()) return stmt.status();
    while (sqlite3_step(*stmt) == SQLITE_ROW) {
      chain::EthAddress contract{};
      if (sqlite3_column_bytes(*stmt, 0) != 20) {
        sqlite3_reset(*stmt);
        return absl::DataLossError("state file: a token contract is not 20 bytes");
      }
      std::memcpy(contract.data(), sqlite3_column_blob(*stmt, 0), 20);
      state.tokens[contract] =
          TokenInfo{static_cast<uint32_t>(sqlite3_column_int64(*stmt, 1)), sqlite3_column_int64(*stmt, 2)};
    }
    sqlite3_reset(*stmt);
  }
  for (ChainId chain : {ChainId::kBitcoin, ChainId::kEthereum}) {
    StoredChain& out = state.chains[static_cast<size_t>(chain)];
    const std::string name = ChainText(chain);
    absl::StatusOr<sqlite3_stmt*> blocks = Prepared("SELECT height, nonce FROM blocks WHERE chain = ? ORDER BY height");
    if (!blocks.ok()) return blocks.status();
    sqlite3_bind_text(*blocks, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    while (sqlite3_step(*blocks) == SQLITE_ROW) {
      out.blocks.push_back(StoredBlock{static_cast<uint64_t>(sqlite3_column_int64(*blocks, 0)),
                                       static_cast<uint64_t>(sqlite3_column_int64(*blocks, 1))});
    }
    sqlite3_reset(*blocks);
    absl::StatusOr<sqlite3_stmt*> txs = Prepared("SELECT seq, height, kind, raw FROM txs WHERE chain = ? ORDER BY seq");
    if (!txs.ok()) return txs.status();
    sqlite3_bind_text(*txs, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    while (sqlite3_step(*txs) == SQLITE_ROW) {
      StoredTx tx;
      tx.record.seq = sqlite3_column_int64(*txs, 0);
      if (sqlite3_column_type(*txs, 1) != SQLITE_NULL) tx.height = static_cast<uint64_t>(sqlite3_column_int64(*txs, 1));
      const int64_t kind = sqlite3_column_int64(*txs, 2);
      if (kind != static_cast<int64_t>(TxKind::kCredit) && kind != static_cast<int64_t>(TxKind::kSigned)) {
        sqlite3_reset(*txs);
        return absl::DataLossError(Cat("state file: transaction ", tx.record.seq, " has unknown kind ", kind));
      }
      tx.record.kind = static_cast<TxKind>(kind);
      const auto* raw = static_cast<const uint8_t*>(sqlite3_column_blob(*txs, 3));
      tx.record.raw.assign(raw, raw + sqlite3_column_bytes(*txs, 3));
      out.txs.push_back(std::move(tx));
    }
    sqlite3_reset(*txs);
  }
  return state;
}

absl::Status StateStore::Writer::InsertTx(ChainId chain, const TxRecord& record) {
  absl::StatusOr<sqlite3_stmt*> stmt =
      store_->Prepared("INSERT INTO txs(seq, chain, height, kind, raw) VALUES (?, ?, NULL, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  const std::string name = ChainText(chain);
  sqlite3_bind_int64(*stmt, 1, record.seq);
  sqlite3_bind_text(*stmt, 2, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(*stmt, 3, static_cast<int64_t>(record.kind));
  sqlite3_bind_blob(*stmt, 4, record.raw.data(), static_cast<int>(record.raw.size()), SQLITE_TRANSIENT);
  return store_->Run(*stmt);
}

absl::Status StateStore::Writer::DeleteTx(int64_t seq) {
  absl::StatusOr<sqlite3_stmt*> stmt = store_->Prepared("DELETE FROM txs WHERE seq = ?");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(*stmt, 1, seq);
  return store_->Run(*stmt);
}

absl::Status StateStore::Writer::ConfirmMempool(ChainId chain, uint64_t height) {
  absl::StatusOr<sqlite3_stmt*> stmt = store_->Prepared("UPDATE txs SET height = ? WHERE chain = ? AND height IS NULL");
  if (!stmt.ok()) return stmt.status();
  const std::string name = ChainText(chain);
  sqlite3_bind_int64(*stmt, 1, static_cast<int64_t>(height));
  sqlite3_bind_text(*stmt, 2, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  return store_->Run(*stmt);
}

absl::Status StateStore::Writer::InsertBlock(ChainId chain, uint64_t height, uint64_t nonce) {
  absl::StatusOr<sqlite3_stmt*> stmt = store_->Prepared("INSERT INTO blocks(chain, height, nonce) VALUES (?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  const std::string name = ChainText(chain);
  sqlite3_bind_text(*stmt, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(*stmt, 2, static_cast<int64_t>(height));
  sqlite3_bind_int64(*stmt, 3, static_cast<int64_t>(nonce));
  return store_->Run(*stmt);
}

absl::Status StateStore::Writer::RemoveBlocksAbove(ChainId chain, uint64_t height, bool keep_transactions) {
  const std::string name = ChainText(chain);
  absl::StatusOr<sqlite3_stmt*> txs =
      keep_transactions ? store_->Prepared("UPDATE txs SET height = NULL WHERE chain = ? AND height > ?")
                        : store_->Prepared("DELETE FROM txs WHERE chain = ? AND height > ?");
  if (!txs.ok()) return txs.status();
  sqlite3_bind_text(*txs, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(*txs, 2, static_cast<int64_t>(height));
  if (absl::Status s = store_->Run(*txs); !s.ok()) return s;
  absl::StatusOr<sqlite3_stmt*> blocks = store_->Prepared("DELETE FROM blocks WHERE chain = ? AND height > ?");
  if (!blocks.ok()) return blocks.status();
  sqlite3_bind_text(*blocks, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(*blocks, 2, static_cast<int64_t>(height));
  return store_->Run(*blocks);
}

absl::Status StateStore::Writer::InsertToken(const chain::EthAddress& contract, const TokenInfo& token) {
  absl::StatusOr<sqlite3_stmt*> stmt =
      store_->Prepared("INSERT INTO tokens(contract, decimals, registered_seq) VALUES (?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_blob(*stmt, 1, contract.data(), static_cast<int>(contract.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(*stmt, 2, token.decimals);
  sqlite3_bind_int64(*stmt, 3, token.registered_seq);
  return store_->Run(*stmt);
}

absl::Status StateStore::Writer::SetNextSeq(int64_t next_seq) {
  absl::StatusOr<sqlite3_stmt*> stmt = store_->Prepared("UPDATE meta SET value = ? WHERE name = 'next_seq'");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(*stmt, 1, next_seq);
  return store_->Run(*stmt);
}

}  // namespace ringfence::chainsim

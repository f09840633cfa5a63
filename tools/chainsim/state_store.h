// StateStore: chainsim's state file, a SQLite database (WAL, synchronous=FULL) holding what
// cannot be recomputed: the blocks (height and nonce; hashes are recomputed), every
// transaction with the block it is in (none while in the mempool), the registered tokens and
// the sequence counter. The ledgers, balances and hashes are rebuilt from it at start by replaying
// every transaction. Each Write is one transaction: committed whole and durable before it
// returns, or not at all. The layout is written up in tools/chainsim/README.md.
//
// Owned by the Simulator, which serialises every call; not thread-safe.
#ifndef RINGFENCE_TOOLS_CHAINSIM_STATE_STORE_H_
#define RINGFENCE_TOOLS_CHAINSIM_STATE_STORE_H_

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/chainsim/ledger.h"

namespace ringfence::chainsim {

struct StoredBlock {
  uint64_t height = 0;
  uint64_t nonce = 0;
};

struct StoredTx {
  TxRecord record;
  std::optional<uint64_t> height;  // nullopt: in the mempool
};

struct StoredChain {
  std::vector<StoredBlock> blocks;  // heights 1, 2, ... (genesis is implicit)
  std::vector<StoredTx> txs;        // in seq order
};

struct StoredState {
  TokenRegistry tokens;
  std::array<StoredChain, 2> chains;  // indexed by ChainId
  // The next value of the one sequence that numbers transactions (TxRecord::seq, which is
  // also a credit's serial), token registrations and block nonces.
  int64_t next_seq = 1;
};

class StateStore {
 public:
  // Opens `path`, creating the schema if the file is new. InvalidArgument for a file of
  // another schema version; Internal for SQLite errors.
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  absl::StatusOr<StoredState> Load();

  // The statements of one write transaction.
  class Writer {
   public:
    absl::Status InsertTx(ChainId chain, const TxRecord& record);  // into the mempool
    absl::Status DeleteTx(int64_t seq);
    // Every mempool transaction of `chain` into block `height`.
    absl::Status ConfirmMempool(ChainId chain, uint64_t height);
    absl::Status InsertBlock(ChainId chain, uint64_t height, uint64_t nonce);
    // Removes blocks above `height`; their transactions go back to the mempool or are deleted.
    absl::Status RemoveBlocksAbove(ChainId chain, uint64_t height, bool keep_transactions);
    absl::Status InsertToken(const chain::EthAddress& contract, const TokenInfo& token);
    absl::Status SetNextSeq(int64_t next_seq);

   private:
    friend class StateStore;
    explicit Writer(StateStore* store) : store_(store) {}
    StateStore* store_;
  };

  // Runs `fill` inside BEGIN IMMEDIATE ... COMMIT. If `fill` or the commit fails, everything
  // is rolled back and the error returned.
  absl::Status Write(const std::function<absl::Status(Writer&)>& fill);

 private:
  explicit StateStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);
  // A statement prepared once and reused.
  absl::StatusOr<sqlite3_stmt*> Prepared(const char* sql);
  absl::Status Run(sqlite3_stmt* stmt);

  sqlite3* db_;
  std::vector<std::pair<const char*, sqlite3_stmt*>> statements_;
};

}  // namespace ringfence::chainsim

#endif  // RINGFENCE_TOOLS_CHAINSIM_STATE_STORE_H_

// Deposits: the addresses custodyd hands out, and the ingestor that watches a chain for
// transfers to them and credits them once they are deep enough.
//
// DepositIngestor follows one chain through its ChainAdapter, block by block from the last
// block it stored (docs/custody-api.md, "Deposits"):
//   - each block is one store transaction: the block row, the transfers to our addresses it
//     contains (a deposit row each, pending), every pending deposit that reaches its asset's
//     confirmation count credited through the ledger (debit the wallet, credit the client's
//     available balance, or unattributed:<asset> for a transfer to one of our addresses that is
//     no client's deposit address), and an audit entry for each of those changes. A restart
//     therefore resumes at the last stored height and never credits twice.
//   - a block whose parent hash is not the hash stored for the height below (or a tip that is
//     lower or different) is a reorganisation: the fork point is found by walking down and
//     comparing hashes; pending deposits above it are orphaned (they vanish from balances, and
//     come back pending if the new chain mines them again); a credited deposit above it is an
//     incident: an audit entry and an ERROR log line, and balances are never rewritten.
//   - after catching up, the chain-observed balance of every wallet of the chain's assets is
//     refreshed at the last stored height (for ListWallets and the segregation report): at
//     most once a second while new blocks keep coming, and always by the first poll that
//     finds no new block, so a quiet chain is observed at its tip.
// A node's answer is outside input: transfers are checked (amount non-zero, txid form, known
// asset) and anything odd is logged and skipped, never guessed at.
//
// Threads: Start() runs PollOnce every poll_interval_ms on its own thread until Stop(); tests
// call PollOnce directly instead. PollOnce calls are serialised by the ingestor. The config,
// adapter, store and env are borrowed and must outlive it.
#ifndef RINGFENCE_CUSTODY_DEPOSITS_H_
#define RINGFENCE_CUSTODY_DEPOSITS_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "custody/audit_log.h"
#include "custody/chain/adapter.h"
#include "custody/config.h"
#include "custody/env.h"
#include "custody/store/store.h"

namespace ringfence::custody {

// The deposit address of a secp256k1 public key (33-byte compressed) for `asset`: P2WPKH
// bech32 with the network's HRP (bc/tb/bcrt) on Bitcoin; the EIP-55 account address on
// Ethereum (the same for its ERC-20 tokens). InvalidArgument for a key that is not a point.
absl::StatusOr<std::string> DepositAddressFor(const AssetConfig& asset, std::span<const uint8_t> public_key);

// How far back a reorganisation is followed; a deeper one stops the ingestor (DATA_LOSS) for
// an operator to look at.
inline constexpr uint64_t kMaxReorgDepth = 1000;
// Transfers one block may report to our addresses; more is refused as a malformed answer.
inline constexpr size_t kMaxTransfersPerBlock = 100'000;
// One transaction stores up to this many blocks, fetched first, and stops adding blocks once
// it holds this many transfers (a single block may hold more): few commits while catching up,
// and the store's writer never held for long.
inline constexpr size_t kBlocksPerTransaction = 64;
inline constexpr size_t kTransfersPerTransaction = 4'000;

struct PollResult {
  uint64_t blocks = 0;     // blocks stored
  uint64_t detected = 0;   // new deposits recorded (pending)
  uint64_t own_outputs = 0;  // outputs of our own withdrawals to our addresses (change): not deposits
  uint64_t credited = 0;   // deposits credited
  uint64_t orphaned = 0;   // pending deposits removed by reorganisations
  uint64_t incidents = 0;  // credited deposits a reorganisation removed from the chain
  uint64_t reorgs = 0;
  uint64_t height = 0;     // last stored height after the poll
};

class DepositIngestor {
 public:
  DepositIngestor(const Config& config, const ChainConfig& chain, chain::ChainAdapter& adapter, store::Store& store,
                  Env& env);
  ~DepositIngestor();  // Stop()s
  DepositIngestor(const DepositIngestor&) = delete;
  DepositIngestor& operator=(const DepositIngestor&) = delete;

  // Catches up with the adapter's tip. UNAVAILABLE (and friends) from the adapter pass through;
  // whatever was stored before an error stays stored, and the next poll continues from there.
  absl::StatusOr<PollResult> PollOnce();

  // Polls on a thread until Stop(). Errors are logged (once per distinct message) and retried.
  void Start();
  void Stop();

 private:
  // The addresses of the chain's assets' wallets, kept across polls.
  struct Watch {
    std::vector<std::string> addresses;  // sorted: what GetBlock is asked about
    // Every address above with its row. Address rows are never changed or deleted once
    // stored, so this copy stays exact; an address made after the last refresh cannot appear
    // in a block up to the tip read before it (PollOnce), and one that is missing is still
    // looked up in the store.
    std::unordered_map<std::string, store::AddressRow> rows;
    uint64_t position = 0;  // the last address position read (Txn::ListAddressesAddedAfter)
    uint64_t seen = 0;      // addresses read, of every chain
  };
  // Reads the addresses added since the last refresh into watch_.
  absl::Status RefreshWatch();
  // Stores `blocks` (consecutive, each extending the one before it and the first the last one
  // stored) in one transaction; counts into `result` once it has committed.
  absl::Status StoreBlocks(std::span<const chain::Block> blocks, const Watch& watch, PollResult* result);
  // One block's rows, deposits, credits and audit entries, in `txn`.
  absl::Status ProcessBlock(store::Txn& txn, const chain::Block& block, const Watch& watch, PollResult* result);
  absl::Status HandleReorg(uint64_t from_height, PollResult* result);
  // Credits every pending deposit that has its confirmations at `height` (one Ledger::PostBatch),
  // adding a deposit.credited entry for each to `audit` for the caller to append.
  absl::Status CreditReady(store::Txn& txn, const Watch& watch, uint64_t height, PollResult* result,
                           std::vector<AuditInput>* audit);
  static absl::StatusOr<std::optional<store::AddressRow>> FindAddress(store::Txn& txn, const Watch& watch,
                                                                      const std::string& address);
  absl::Status ObserveBalances(uint64_t height);
  void Run();

  const Config& config_;
  const ChainConfig chain_;
  chain::ChainAdapter& adapter_;
  store::Store& store_;
  Env& env_;

  std::mutex poll_mu_;  // one PollOnce at a time; guards the six below
  Watch watch_;
  bool first_poll_done_ = false;
  bool observed_once_ = false;
  std::string last_observe_error_;
  int64_t last_observe_unix_ms_ = 0;
  std::optional<uint64_t> observed_height_;  // last height observed successfully

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_DEPOSITS_H_

// ChainsimAdapter: a ChainAdapter over chainsim's Node service (proto/chainsim.proto), for
// one of its chains ("bitcoin" or "ethereum").
//
// chainsim's answers are outside input and are checked before anything is returned: hashes
// are 64 lowercase hex digits, a block is the height asked for, every transfer names a txid
// of the right form, an address we asked about in its canonical form, a well-formed token
// contract (none on Bitcoin) and an amount in base/amount.h's grammar; a broadcast's txid is
// the one the adapter computes itself from the bytes it sent. An answer that fails a check is
// DATA_LOSS ("malformed answer ..."); the node's own error messages are clipped.
//
// The spending calls are checked the same way: an unspent output must be one of the addresses
// asked about, with that address's own scriptPubKey, an amount of 1 satoshi to 21,000,000 BTC,
// a height not above the tip, each outpoint once and the list largest first; a pending nonce
// is not below the confirmed one; fee advice within sane bounds (at most 1,000,000 sat/vB,
// 10^15 wei per gas); a confirmed transaction's height within the chain and its confirmation
// count consistent with the tip.
//
// A watch set larger than one request allows (10,000 addresses) is asked in several requests;
// if the block at that height changed in between (a reorganisation), GetBlock returns ABORTED
// and the caller asks again. Transfers are returned in block order within each request.
//
// Thread-safe: the gRPC stub is, and the adapter keeps no other mutable state.
#ifndef RINGFENCE_CUSTODY_CHAIN_CHAINSIM_ADAPTER_H_
#define RINGFENCE_CUSTODY_CHAIN_CHAINSIM_ADAPTER_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "custody/chain/adapter.h"
#include "proto/chainsim.grpc.pb.h"

namespace ringfence::custody::chain {

struct ChainsimAdapterOptions {
  // Each call's deadline; a node that does not answer in time is UNAVAILABLE.
  std::chrono::milliseconds deadline{10'000};
  // Watched addresses per GetBlock request (at most chainsim's limit of 10,000).
  size_t watch_chunk = 10'000;
};

class ChainsimAdapter final : public ChainAdapter {
 public:
  // `chain` is "bitcoin" or "ethereum" (InvalidArgument otherwise); `endpoint` a gRPC target,
  // "unix:/path" or "host:port" (at most 256 bytes). The channel connects lazily: an
  // unreachable chainsim shows as UNAVAILABLE on the first call, not here.
  static absl::StatusOr<std::unique_ptr<ChainsimAdapter>> Create(const std::string& chain, const std::string& endpoint,
                                                                 ChainsimAdapterOptions options = {});
  // Over a channel the caller made.
  static absl::StatusOr<std::unique_ptr<ChainsimAdapter>> Create(const std::string& chain,
                                                                 std::shared_ptr<grpc::Channel> channel,
                                                                 ChainsimAdapterOptions options = {});

  const std::string& chain() const override { return chain_; }
  absl::StatusOr<BlockRef> Tip() override;
  absl::StatusOr<Block> GetBlock(uint64_t height, std::span<const std::string> watched) override;
  absl::StatusOr<base::Amount> BalanceAt(const std::string& address, const std::string& token_contract,
                                         uint64_t height) override;
  // Distinct addresses in chunks of at most kBalanceChunk per GetBalances call; each answer
  // must name the height asked and hold one well-formed amount per address (DATA_LOSS
  // otherwise).
  absl::StatusOr<std::vector<base::Amount>> BalancesAt(std::span<const std::string> addresses,
                                                       const std::string& token_contract, uint64_t height) override;
  static constexpr size_t kBalanceChunk = 1'000;
  absl::StatusOr<std::string> Broadcast(std::span<const uint8_t> signed_tx) override;
  absl::StatusOr<UnspentSet> ListUnspent(std::span<const std::string> addresses) override;
  absl::StatusOr<AccountNonce> Nonce(const std::string& address) override;
  absl::StatusOr<FeeEstimate> EstimateFee() override;
  absl::StatusOr<TxStatus> GetTransaction(const std::string& txid) override;

 private:
  ChainsimAdapter(std::string chain, bool ethereum, std::shared_ptr<grpc::Channel> channel,
                  ChainsimAdapterOptions options);
  std::unique_ptr<grpc::ClientContext> Context() const;
  absl::Status FromGrpc(const grpc::Status& status, std::string_view call) const;
  absl::Status Malformed(std::string_view what) const;
  // A node's amount in base units (at most 39 digits): Malformed, prefixed with `where`, if not.
  absl::StatusOr<base::Amount> AmountAnswer(std::string_view where, const std::string& text) const;
  absl::Status CheckRef(const ringfence::chainsim::v1::BlockRef& ref, std::string_view call) const;
  // Our own addresses in the form chainsim answers with (lowercase bech32, EIP-55).
  absl::StatusOr<std::string> Canonical(const std::string& address, std::string_view field) const;

  std::string chain_;
  bool ethereum_;
  ChainsimAdapterOptions options_;
  std::unique_ptr<ringfence::chainsim::v1::Node::Stub> stub_;
};

}  // namespace ringfence::custody::chain

#endif  // RINGFENCE_CUSTODY_CHAIN_CHAINSIM_ADAPTER_H_

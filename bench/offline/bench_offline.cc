// Air-gap file throughput (docs/signing-bundle.md): signing bundles written and read (strict
// JSON, canonical request, digest), beside the raw limits
// measured in the same run: SHA-256 over the same bytes (the digest's floor) and nlohmann's
// plain JSON parse of the same file (the parser's floor, without the strict checks). A bundle
// carries one transaction of the size given (Bitcoin with 10 inputs is ~500 bytes; the rows
// also take 100 KiB to show the per-byte cost).
#include <sodium.h>

#include <array>
#include <cstdint>
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "offline/bundle.h"

namespace ringfence::offline {
namespace {

SigningBundle MakeBundle(size_t tx_bytes) {
  SigningBundle b;
  b.bundle_id = "topup-bench-0001";
  b.kind = "top_up";
  b.source_wallet = "BTC:client-cold";
  b.created_at = 1800000000;
  b.request.set_request_id(b.bundle_id);
  b.request.set_chain("bitcoin");
  b.request.set_network("regtest");
  b.request.set_unsigned_tx(std::string(tx_bytes, '\x5a'));
  b.request.set_kind(signer::v1::REQUEST_KIND_TOP_UP);
  b.request.set_expires_at(1800003600);
  for (int i = 0; i < 10; ++i) {
    auto* in = b.request.add_bitcoin_inputs();
    in->set_key_id(std::string(32, 'a' + static_cast<char>(i)));
    in->set_amount(100000);
  }
  for (const char* who : {"ops-alice", "ops-bob"}) {
    auto* a = b.request.add_approvals();
    a->set_approver_id(who);
    a->set_signature(std::string(64, '\x07'));
  }
  return b;
}

void BM_SigningBundle_Write(benchmark::State& state) {
  const SigningBundle b = MakeBundle(static_cast<size_t>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> file = WriteSigningBundle(b);
    if (!file.ok()) state.SkipWithError("write failed");
    bytes = file->size();
    benchmark::DoNotOptimize(file);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_SigningBundle_Read(benchmark::State& state) {
  const std::string file = *WriteSigningBundle(MakeBundle(static_cast<size_t>(state.range(0))));
  for (auto _ : state) {
    absl::StatusOr<SigningBundle> b = ReadSigningBundle(file);
    if (!b.ok()) state.SkipWithError("read failed");
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file.size()));
}

// The floors: SHA-256 over the file's bytes, and a plain (non-strict) JSON parse of it.
void BM_Raw_Sha256OfFile(benchmark::State& state) {
  const std::string file = *WriteSigningBundle(MakeBundle(static_cast<size_t>(state.range(0))));
  std::array<uint8_t, 32> out;
  for (auto _ : state) {
    crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(file.data()), file.size());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file.size()));
}

void BM_Raw_JsonParseOfFile(benchmark::State& state) {
  const std::string file = *WriteSigningBundle(MakeBundle(static_cast<size_t>(state.range(0))));
  for (auto _ : state) {
    nlohmann::json j = nlohmann::json::parse(file);
    benchmark::DoNotOptimize(j);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file.size()));
}

BENCHMARK(BM_SigningBundle_Write)->Arg(512)->Arg(100 << 10);
BENCHMARK(BM_SigningBundle_Read)->Arg(512)->Arg(100 << 10);
BENCHMARK(BM_Raw_Sha256OfFile)->Arg(512)->Arg(100 << 10);
BENCHMARK(BM_Raw_JsonParseOfFile)->Arg(512)->Arg(100 << 10);

}  // namespace
}  // namespace ringfence::offline

BENCHMARK_MAIN();

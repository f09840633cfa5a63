// Writes the seed corpus of fuzz_chainsim_broadcast into the directory named on the command
// line: valid transactions for BroadcastFuzzState (a P2WPKH spend, an ether payment, an ERC-20
// transfer), each prefixed with its chain byte, and chain/'s decoder seeds under both chains.
//   make_broadcast_corpus tests/chainsim/corpus/broadcast tests/chain/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/chainsim/broadcast_fuzz_state.h"

namespace {

void Write(const std::filesystem::path& path, uint8_t chain, const std::vector<uint8_t>& raw) {
  std::ofstream out(path, std::ios::binary);
  out.put(static_cast<char>(chain));
  out.write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringfence::chainsim::testing;
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_broadcast_corpus OUT_DIR CHAIN_CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  BroadcastFuzzState state = MakeBroadcastFuzzState();
  const TestKey btc_alice(0x11), btc_bob(0x22), eth_alice(0x44), eth_bob(0x55), token(0x66);
  Write(out / "btc_spend", 0,
        SignedSpend({{state.btc_credit, 0, 100'000'000, btc_alice}},
                    {{btc_bob.BitcoinAddress(), 60'000'000}, {btc_alice.BitcoinAddress(), 39'000'000}}));
  Write(out / "eth_payment", 1, SignedEthTransfer(eth_alice, Pay(eth_bob.EthAddress(), 12345)));
  Write(out / "eth_token_transfer", 1,
        SignedEthTransfer(eth_alice, TokenCall(token.EthAddress(), eth_bob.EthAddress(), 250)));
  const std::filesystem::path chain_corpus = argv[2];
  for (const char* dir : {"bitcoin_tx", "eth_tx"}) {
    for (const auto& entry : std::filesystem::directory_iterator(chain_corpus / dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const uint8_t chain = std::string(dir) == "bitcoin_tx" ? 0 : 1;
      Write(out / (std::string(dir) + "_" + entry.path().filename().string()), chain, raw);
    }
  }
  return 0;
}

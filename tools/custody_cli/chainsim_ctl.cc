// chainsimctl: drives chainsim's Control service (proto/chainsim.proto) from a shell, for
// scripts/demo.sh and scripts/serve.sh: register a token, credit an address, mine, reorganise,
// read the tip. chainsim has no authentication and listens only on loopback or a Unix socket,
// so this speaks plaintext. Exit status: 0 done; 1 the call failed (gRPC code and message on
// stderr); 2 bad input.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "base/amount.h"
#include "proto/chainsim.grpc.pb.h"

namespace {

namespace sim = ringfence::chainsim::v1;

constexpr int kExitCallFailed = 1;
constexpr int kExitBadInput = 2;

int Failed(const grpc::Status& status) {
  std::cerr << "chainsimctl: " << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))
            << ": " << status.error_message() << "\n";
  return kExitCallFailed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chainsimctl: credits, mines and reorganises chainsim's development chains (Control service)"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string target;
  std::string chain, address, amount, token, contract, unit;
  uint32_t blocks = 1, depth = 1, decimals = 0;
  int shown_decimals = -1;
  bool keep = false;
  app.add_option("--chainsim", target, "chainsim's address: unix:/abs/path or a loopback host:port "
                                       "(env RINGFENCE_CHAINSIM_ADDR)");
  CLI::App* register_token = app.add_subcommand("register-token", "register an ERC-20 token on the ethereum chain");
  register_token->add_option("--contract", contract, "the token's contract address")->required();
  register_token->add_option("--decimals", decimals, "the token's decimals, 0..38")->required();
  CLI::App* credit = app.add_subcommand("credit", "credit an address from the faucet (into the mempool)");
  credit->add_option("--chain", chain, "bitcoin | ethereum")->required();
  credit->add_option("--address", address, "the address to credit")->required();
  credit->add_option("--amount", amount, "base units (satoshi, wei, token base units)")->required();
  credit->add_option("--token", token, "ERC-20 contract (ethereum only; empty: ether)");
  credit->add_option("--decimals", shown_decimals, "show the amount in display units with these decimals")
      ->check(CLI::Range(0, ringfence::base::kMaxDecimals));
  credit->add_option("--unit", unit, "the display unit's name, with --decimals (e.g. BTC)");
  CLI::App* mine = app.add_subcommand("mine", "mine blocks (the first takes the whole mempool)");
  mine->add_option("--chain", chain, "bitcoin | ethereum")->required();
  mine->add_option("--blocks", blocks, "1..1000 (default 1)");
  CLI::App* reorg = app.add_subcommand("reorg", "replace the last blocks by new empty ones");
  reorg->add_option("--chain", chain, "bitcoin | ethereum")->required();
  reorg->add_option("--depth", depth, "blocks to replace, 1..100 (default 1)");
  reorg->add_flag("--keep-transactions", keep, "put their transactions back in the mempool (default: they vanish)");
  CLI::App* tip = app.add_subcommand("tip", "the chain's tip height and hash");
  tip->add_option("--chain", chain, "bitcoin | ethereum")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  if (target.empty()) {
    const char* env = std::getenv("RINGFENCE_CHAINSIM_ADDR");
    if (env != nullptr) target = env;
  }
  if (target.empty()) {
    std::cerr << "chainsimctl: --chainsim is required (or set RINGFENCE_CHAINSIM_ADDR)\n";
    return kExitBadInput;
  }
  std::string shown;
  if (credit->parsed()) {
    absl::StatusOr<ringfence::base::Amount> parsed = ringfence::base::ParseBaseUnits(amount);
    if (!parsed.ok()) {
      std::cerr << "chainsimctl: --amount: " << parsed.status().message() << "\n";
      return kExitBadInput;
    }
    shown = shown_decimals >= 0 ? ringfence::base::FormatLabelledAmount(*parsed, shown_decimals, unit)
                                : amount + " base units";
  }

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto control = sim::Control::NewStub(channel);
  auto node = sim::Node::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (register_token->parsed()) {
    sim::RegisterTokenRequest req;
    req.set_contract(contract);
    req.set_decimals(decimals);
    sim::RegisterTokenResponse resp;
    const grpc::Status s = control->RegisterToken(&context, req, &resp);
    if (!s.ok()) return Failed(s);
    std::cout << "registered token " << resp.contract() << " (" << decimals << " decimals)\n";
  } else if (credit->parsed()) {
    sim::CreditRequest req;
    req.set_chain(chain);
    req.set_address(address);
    req.set_amount(amount);
    req.set_token_contract(token);
    sim::CreditResponse resp;
    const grpc::Status s = control->Credit(&context, req, &resp);
    if (!s.ok()) return Failed(s);
    std::cout << "credited " << shown << " to " << address << " on " << chain << ", txid " << resp.txid()
              << " (in the mempool)\n";
  } else if (mine->parsed()) {
    sim::MineRequest req;
    req.set_chain(chain);
    req.set_blocks(blocks);
    sim::MineResponse resp;
    const grpc::Status s = control->Mine(&context, req, &resp);
    if (!s.ok()) return Failed(s);
    std::cout << "mined " << blocks << " block" << (blocks == 1 ? "" : "s") << " on " << chain << ": tip "
              << resp.tip().height() << " " << resp.tip().hash() << "\n";
  } else if (reorg->parsed()) {
    sim::ReorgRequest req;
    req.set_chain(chain);
    req.set_depth(depth);
    req.set_keep_transactions(keep);
    sim::ReorgResponse resp;
    const grpc::Status s = control->Reorg(&context, req, &resp);
    if (!s.ok()) return Failed(s);
    std::cout << "reorganised the last " << depth << " block" << (depth == 1 ? "" : "s") << " of " << chain
              << ": tip " << resp.tip().height() << " " << resp.tip().hash() << ", " << resp.evicted_txids_size()
              << " transaction" << (resp.evicted_txids_size() == 1 ? "" : "s") << " gone for good\n";
    for (const std::string& txid : resp.evicted_txids()) std::cout << "  gone: " << txid << "\n";
  } else if (tip->parsed()) {
    sim::GetTipRequest req;
    req.set_chain(chain);
    sim::GetTipResponse resp;
    const grpc::Status s = node->GetTip(&context, req, &resp);
    if (!s.ok()) return Failed(s);
    std::cout << resp.tip().height() << " " << resp.tip().hash() << "\n";
  }
  return 0;
}

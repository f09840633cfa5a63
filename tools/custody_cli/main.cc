// custodyctl: a command line for custodyd's Custody API (proto/custody.proto) over mTLS, for
// the demo and for operations. Parses flags, makes one call, prints the answer: aligned text
// with amounts in display units and base units labelled, or with --json the response in
// protobuf's JSON mapping. Exit status: 0 done; 1 the call failed (its gRPC code and message
// on stderr); 2 bad input (flags, a missing or unreadable certificate file).
#include <sys/random.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "base/hex.h"
#include "base/text.h"
#include "proto/custody.grpc.pb.h"
#include "tools/custody_cli/connection.h"
#include "tools/custody_cli/render.h"

namespace {

using ringfence::base::Cat;
namespace cli = ringfence::custody_cli;
namespace v1 = ringfence::custody::v1;

constexpr int kExitCallFailed = 1;
constexpr int kExitBadInput = 2;

int BadInput(const std::string& message) {
  std::cerr << "custodyctl: " << message << "\n";
  return kExitBadInput;
}

// A fresh idempotency key: 128 random bits, so two separate invocations never share one.
std::string NewIdempotencyKey() {
  uint8_t bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return Cat("custodyctl-", ringfence::base::HexEncode(std::span<const uint8_t>(bytes, sizeof(bytes))));
}

struct Flags {
  cli::ConnectionOptions connection;
  bool json = false;
  unsigned timeout_seconds = 30;
  std::string idempotency_key;
  std::string client_id, client_ref, asset_id, wallet_id, reason, page_token;
  std::string address, label, amount, withdrawal_id, file, out;
  uint32_t page_size = 0;
  uint64_t from_seq = 0, at_seq = 0, after_seq = 0;
};

// Runs one call and prints its answer; `call` fills the response.
template <typename Response>
int Call(const Flags& flags, const std::function<grpc::Status(grpc::ClientContext*, Response*)>& call,
         const std::function<std::string(const Response&)>& render, const std::string& generated_key = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(flags.timeout_seconds));
  Response response;
  const grpc::Status status = call(&context, &response);
  if (!status.ok()) {
    std::cerr << "custodyctl: "
              << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())) << ": "
              << status.error_message() << "\n";
    if (!generated_key.empty()) std::cerr << "custodyctl: the request's idempotency key was " << generated_key << "\n";
    return kExitCallFailed;
  }
  if (flags.json) {
    std::cout << cli::RenderJson(response);
  } else {
    std::cout << render(response);
    if (!generated_key.empty()) std::cout << "idempotency key: " << generated_key << "\n";
  }
  return 0;
}

// At most `limit` bytes of the file at `path`; nullopt when it cannot be opened.
std::optional<std::string> ReadUpTo(const std::string& path, std::streamsize limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes(static_cast<size_t>(limit), '\0');
  in.read(bytes.data(), limit);
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "custodyctl: calls custodyd's Custody API over TLS with a client certificate (the certificate "
      "decides the role). Connection flags fall back to RINGFENCE_CUSTODY_ADDR, RINGFENCE_CUSTODY_CA, "
      "RINGFENCE_CUSTODY_CERT and RINGFENCE_CUSTODY_KEY."};
  app.require_subcommand(1);
  app.fallthrough();
  Flags f;
  app.add_option("--addr", f.connection.addr, "custodyd's address, host:port (env RINGFENCE_CUSTODY_ADDR)");
  app.add_option("--ca", f.connection.ca, "CA certificate, PEM (env RINGFENCE_CUSTODY_CA)");
  app.add_option("--cert", f.connection.cert, "client certificate of a role, PEM (env RINGFENCE_CUSTODY_CERT)");
  app.add_option("--key", f.connection.key, "that certificate's private key, PEM (env RINGFENCE_CUSTODY_KEY)");
  app.add_flag("--plaintext", f.connection.plaintext,
               "no TLS: only for a custodyd on loopback started with --insecure-loopback ROLE");
  app.add_flag("--json", f.json, "print the response in protobuf's JSON mapping, for programs");
  app.add_option("--timeout", f.timeout_seconds, "seconds to wait for the answer (default 30)")
      ->check(CLI::Range(1u, 3600u));

  auto key_option = [&f](CLI::App* sub) {
    sub->add_option("--idempotency-key", f.idempotency_key,
                    "retry key (1..128 of [A-Za-z0-9._:-]); a fresh one is made when not given");
  };
  auto page_options = [&f](CLI::App* sub) {
    sub->add_option("--page-size", f.page_size, "entries per page, 1..1000 (default 100)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--page-token", f.page_token, "the next_page_token of the previous page");
  };

  CLI::App* assets = app.add_subcommand("assets", "the configured assets (ListAssets)");
  CLI::App* wallets = app.add_subcommand("wallets", "wallets with ledger and chain balances (ListWallets)");
  wallets->add_option("--asset", f.asset_id, "only this asset");
  CLI::App* create_client = app.add_subcommand("create-client", "a new client (CreateClient)");
  create_client->add_option("--ref", f.client_ref, "the platform's own unique reference")->required();
  key_option(create_client);
  CLI::App* get_client = app.add_subcommand("get-client", "one client by id or reference (GetClient)");
  CLI::Option* get_id = get_client->add_option("--client", f.client_id, "client id (c_...)");
  CLI::Option* get_ref = get_client->add_option("--ref", f.client_ref, "the platform's reference");
  get_id->excludes(get_ref);
  CLI::App* list_clients = app.add_subcommand("list-clients", "clients in id order (ListClients)");
  page_options(list_clients);
  CLI::App* freeze = app.add_subcommand("freeze", "freeze a client: nothing leaves (FreezeClient, admin)");
  CLI::App* unfreeze = app.add_subcommand("unfreeze", "unfreeze a client (UnfreezeClient, admin)");
  for (CLI::App* sub : {freeze, unfreeze}) {
    sub->add_option("--client", f.client_id, "client id (c_...)")->required();
    sub->add_option("--reason", f.reason, "why, 1..256 printable characters")->required();
    key_option(sub);
  }
  CLI::App* create_address =
      app.add_subcommand("create-deposit-address", "a new deposit address for a client (CreateDepositAddress)");
  create_address->add_option("--client", f.client_id, "client id (c_...)")->required();
  create_address->add_option("--asset", f.asset_id, "asset id, e.g. BTC")->required();
  key_option(create_address);
  CLI::App* list_addresses =
      app.add_subcommand("list-deposit-addresses", "a client's deposit addresses (ListDepositAddresses)");
  list_addresses->add_option("--client", f.client_id, "client id (c_...)")->required();
  list_addresses->add_option("--asset", f.asset_id, "only this asset");
  page_options(list_addresses);
  CLI::App* balances = app.add_subcommand("balances", "a client's available, held and pending (GetBalances)");
  balances->add_option("--client", f.client_id, "client id (c_...)")->required();
  balances->add_option("--asset", f.asset_id, "only this asset");
  CLI::App* ledger = app.add_subcommand("ledger", "journal entries of a client or a wallet (ListLedgerEntries)");
  CLI::Option* ledger_client = ledger->add_option("--client", f.client_id, "client id (c_...)");
  CLI::Option* ledger_wallet = ledger->add_option("--wallet", f.wallet_id, "wallet id, e.g. BTC:client-hot");
  ledger_client->excludes(ledger_wallet);
  ledger->add_option("--asset", f.asset_id, "only this asset");
  page_options(ledger);
  CLI::App* statement = app.add_subcommand("statement", "a client's positions and movements (GetStatement)");
  statement->add_option("--client", f.client_id, "client id (c_...)")->required();
  statement->add_option("--from-seq", f.from_seq, "movements after this ledger seq (default 0: from the start)")
      ->check(CLI::NonNegativeNumber);
  statement->add_option("--at-seq", f.at_seq, "positions as of this ledger seq (default 0: now)")
      ->check(CLI::NonNegativeNumber);
  CLI::App* segregation = app.add_subcommand(
      "segregation-report", "client liabilities against client wallet holdings per asset (GetSegregationReport)");
  CLI::App* whitelist_add = app.add_subcommand(
      "whitelist-add", "ask for a withdrawal address on a client's whitelist (AddWhitelistAddress)");
  whitelist_add->add_option("--client", f.client_id, "client id (c_...)")->required();
  whitelist_add->add_option("--asset", f.asset_id, "asset id, e.g. BTC")->required();
  whitelist_add->add_option("--address", f.address, "the address, in canonical form")->required();
  whitelist_add->add_option("--label", f.label, "the platform's note, 0..128 printable characters");
  key_option(whitelist_add);
  CLI::App* whitelist = app.add_subcommand("whitelist", "a client's whitelist (ListWhitelist)");
  whitelist->add_option("--client", f.client_id, "client id (c_...)")->required();
  whitelist->add_option("--asset", f.asset_id, "only this asset");
  page_options(whitelist);
  CLI::App* create_withdrawal =
      app.add_subcommand("create-withdrawal", "request a withdrawal to a whitelisted address (CreateWithdrawal)");
  create_withdrawal->add_option("--client", f.client_id, "client id (c_...)")->required();
  create_withdrawal->add_option("--asset", f.asset_id, "asset id, e.g. BTC")->required();
  create_withdrawal->add_option("--amount", f.amount, "what the destination receives, in base units")->required();
  create_withdrawal->add_option("--destination", f.address, "a usable whitelisted address")->required();
  key_option(create_withdrawal);
  CLI::App* withdrawal = app.add_subcommand("withdrawal", "one withdrawal (GetWithdrawal)");
  withdrawal->add_option("--id", f.withdrawal_id, "withdrawal id (w_...)")->required();
  CLI::App* withdrawals = app.add_subcommand("withdrawals", "withdrawals, newest first (ListWithdrawals)");
  withdrawals->add_option("--client", f.client_id, "only this client");
  withdrawals->add_option("--asset", f.asset_id, "only this asset");
  page_options(withdrawals);
  CLI::App* house_address =
      app.add_subcommand("create-house-address", "an address of the asset's house-hot wallet (CreateHouseAddress, admin)");
  house_address->add_option("--asset", f.asset_id, "asset id, e.g. BTC")->required();
  key_option(house_address);
  CLI::App* allocation = app.add_subcommand("allocation", "hot and cold client holdings against the cap (GetAllocation)");
  allocation->add_option("--asset", f.asset_id, "only this asset");
  CLI::App* coverage = app.add_subcommand("coverage", "insurance cover required against configured (GetCoverage)");
  coverage->add_option("--asset", f.asset_id, "only this asset");
  CLI::App* reconciliation = app.add_subcommand(
      "reconciliation", "chain against ledger per wallet, freezes and unknown incoming transfers (GetReconciliation)");
  reconciliation->add_option("--asset", f.asset_id, "only this asset");
  CLI::App* import_cold = app.add_subcommand(
      "import-cold-keys", "the client-cold wallets' keys from the offline signer's cold-key file (ImportColdKeys, admin)");
  import_cold->add_option("--file", f.file, "the cold-key file `signerd --offline ... create-keys` wrote")->required();
  key_option(import_cold);
  CLI::App* export_bundle = app.add_subcommand(
      "export-bundle", "an approved top-up's signing bundle for the offline signer (ExportSigningBundle, approver or admin)");
  export_bundle->add_option("--id", f.withdrawal_id, "the top-up's id (w_...)")->required();
  export_bundle->add_option("--out", f.out, "where to write the bundle (written beside it, then renamed)")->required();
  key_option(export_bundle);
  CLI::App* import_signed = app.add_subcommand(
      "import-signed-bundle", "the offline signer's signed bundle of a top-up (ImportSignedBundle, approver or admin)");
  import_signed->add_option("--file", f.file, "the file `signerd --offline ... sign` wrote")->required();
  key_option(import_signed);
  CLI::App* audit = app.add_subcommand("audit", "the hash-chained audit log, oldest first (ListAuditEntries)");
  audit->add_option("--after-seq", f.after_seq, "entries after this seq (default 0)")
      ->check(CLI::NonNegativeNumber);
  audit->add_option("--page-size", f.page_size, "entries, 1..1000 (default 100)")
      ->check(CLI::NonNegativeNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  if (get_client->parsed() && f.client_id.empty() && f.client_ref.empty()) {
    return BadInput("get-client: give --client or --ref");
  }
  if (ledger->parsed() && f.client_id.empty() && f.wallet_id.empty()) {
    return BadInput("ledger: give --client or --wallet");
  }

  cli::FillFromEnvironment(&f.connection);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = cli::MakeChannel(f.connection);
  if (!channel.ok()) return BadInput(std::string(channel.status().message()));
  std::unique_ptr<v1::Custody::Stub> stub = v1::Custody::NewStub(*channel);
  v1::Custody::Stub* s = stub.get();

  std::string generated_key;
  auto key = [&]() -> std::string {
    if (!f.idempotency_key.empty()) return f.idempotency_key;
    generated_key = NewIdempotencyKey();
    return generated_key;
  };

  if (assets->parsed()) {
    return Call<v1::ListAssetsResponse>(
        f, [s](grpc::ClientContext* c, v1::ListAssetsResponse* r) { return s->ListAssets(c, {}, r); },
        cli::RenderAssets);
  }
  if (wallets->parsed()) {
    v1::ListWalletsRequest req;
    req.set_asset_id(f.asset_id);
    return Call<v1::ListWalletsResponse>(
        f, [&](grpc::ClientContext* c, v1::ListWalletsResponse* r) { return s->ListWallets(c, req, r); },
        cli::RenderWallets);
  }
  if (create_client->parsed()) {
    v1::CreateClientRequest req;
    req.set_idempotency_key(key());
    req.set_client_ref(f.client_ref);
    return Call<v1::CreateClientResponse>(
        f, [&](grpc::ClientContext* c, v1::CreateClientResponse* r) { return s->CreateClient(c, req, r); },
        [](const v1::CreateClientResponse& r) { return cli::RenderClient(r.client()); }, generated_key);
  }
  if (get_client->parsed()) {
    v1::GetClientRequest req;
    req.set_client_id(f.client_id);
    req.set_client_ref(f.client_ref);
    return Call<v1::GetClientResponse>(
        f, [&](grpc::ClientContext* c, v1::GetClientResponse* r) { return s->GetClient(c, req, r); },
        [](const v1::GetClientResponse& r) { return cli::RenderClient(r.client()); });
  }
  if (list_clients->parsed()) {
    v1::ListClientsRequest req;
    req.set_page_size(f.page_size);
    req.set_page_token(f.page_token);
    return Call<v1::ListClientsResponse>(
        f, [&](grpc::ClientContext* c, v1::ListClientsResponse* r) { return s->ListClients(c, req, r); },
        cli::RenderClients);
  }
  if (freeze->parsed()) {
    v1::FreezeClientRequest req;
    req.set_idempotency_key(key());
    req.set_client_id(f.client_id);
    req.set_reason(f.reason);
    return Call<v1::FreezeClientResponse>(
        f, [&](grpc::ClientContext* c, v1::FreezeClientResponse* r) { return s->FreezeClient(c, req, r); },
        [](const v1::FreezeClientResponse& r) { return cli::RenderClient(r.client()); }, generated_key);
  }
  if (unfreeze->parsed()) {
    v1::UnfreezeClientRequest req;
    req.set_idempotency_key(key());
    req.set_client_id(f.client_id);
    req.set_reason(f.reason);
    return Call<v1::UnfreezeClientResponse>(
        f, [&](grpc::ClientContext* c, v1::UnfreezeClientResponse* r) { return s->UnfreezeClient(c, req, r); },
        [](const v1::UnfreezeClientResponse& r) { return cli::RenderClient(r.client()); }, generated_key);
  }
  if (create_address->parsed()) {
    v1::CreateDepositAddressRequest req;
    req.set_idempotency_key(key());
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    return Call<v1::CreateDepositAddressResponse>(
        f,
        [&](grpc::ClientContext* c, v1::CreateDepositAddressResponse* r) { return s->CreateDepositAddress(c, req, r); },
        [](const v1::CreateDepositAddressResponse& r) { return cli::RenderDepositAddress(r.deposit_address()); },
        generated_key);
  }
  if (list_addresses->parsed()) {
    v1::ListDepositAddressesRequest req;
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    req.set_page_size(f.page_size);
    req.set_page_token(f.page_token);
    return Call<v1::ListDepositAddressesResponse>(
        f,
        [&](grpc::ClientContext* c, v1::ListDepositAddressesResponse* r) { return s->ListDepositAddresses(c, req, r); },
        cli::RenderDepositAddresses);
  }
  if (balances->parsed()) {
    v1::GetBalancesRequest req;
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    return Call<v1::GetBalancesResponse>(
        f, [&](grpc::ClientContext* c, v1::GetBalancesResponse* r) { return s->GetBalances(c, req, r); },
        cli::RenderBalances);
  }
  if (ledger->parsed()) {
    v1::ListLedgerEntriesRequest req;
    req.set_client_id(f.client_id);
    req.set_wallet_id(f.wallet_id);
    req.set_asset_id(f.asset_id);
    req.set_page_size(f.page_size);
    req.set_page_token(f.page_token);
    return Call<v1::ListLedgerEntriesResponse>(
        f, [&](grpc::ClientContext* c, v1::ListLedgerEntriesResponse* r) { return s->ListLedgerEntries(c, req, r); },
        cli::RenderLedger);
  }
  if (statement->parsed()) {
    v1::GetStatementRequest req;
    req.set_client_id(f.client_id);
    req.set_from_seq(f.from_seq);
    req.set_at_seq(f.at_seq);
    return Call<v1::GetStatementResponse>(
        f, [&](grpc::ClientContext* c, v1::GetStatementResponse* r) { return s->GetStatement(c, req, r); },
        cli::RenderStatement);
  }
  if (house_address->parsed()) {
    v1::CreateHouseAddressRequest req;
    req.set_idempotency_key(key());
    req.set_asset_id(f.asset_id);
    return Call<v1::CreateHouseAddressResponse>(
        f, [&](grpc::ClientContext* c, v1::CreateHouseAddressResponse* r) { return s->CreateHouseAddress(c, req, r); },
        [](const v1::CreateHouseAddressResponse& r) { return cli::RenderDepositAddress(r.house_address()); },
        generated_key);
  }
  if (allocation->parsed()) {
    v1::GetAllocationRequest req;
    req.set_asset_id(f.asset_id);
    return Call<v1::GetAllocationResponse>(
        f, [&](grpc::ClientContext* c, v1::GetAllocationResponse* r) { return s->GetAllocation(c, req, r); },
        cli::RenderAllocation);
  }
  if (coverage->parsed()) {
    v1::GetCoverageRequest req;
    req.set_asset_id(f.asset_id);
    return Call<v1::GetCoverageResponse>(
        f, [&](grpc::ClientContext* c, v1::GetCoverageResponse* r) { return s->GetCoverage(c, req, r); },
        cli::RenderCoverage);
  }
  if (reconciliation->parsed()) {
    v1::GetReconciliationRequest req;
    req.set_asset_id(f.asset_id);
    return Call<v1::GetReconciliationResponse>(
        f, [&](grpc::ClientContext* c, v1::GetReconciliationResponse* r) { return s->GetReconciliation(c, req, r); },
        cli::RenderReconciliation);
  }
  if (import_cold->parsed()) {
    // custodyd refuses a file above its limit (4 MiB) naming the rule; reading stops just past it.
    std::optional<std::string> bytes = ReadUpTo(f.file, (std::streamsize{4} << 20) + 1);
    if (!bytes) return BadInput("import-cold-keys: cannot read " + ringfence::base::Clip(f.file, 200));
    v1::ImportColdKeysRequest req;
    req.set_idempotency_key(key());
    req.set_file(*std::move(bytes));
    return Call<v1::ImportColdKeysResponse>(
        f, [&](grpc::ClientContext* c, v1::ImportColdKeysResponse* r) { return s->ImportColdKeys(c, req, r); },
        [](const v1::ImportColdKeysResponse& r) {
          std::string out;
          for (const v1::ColdKeyImport& k : r.keys()) {
            out += k.key_id() + "  " + k.wallet_id() + "  " + k.address() + (k.already_known() ? "  (already known)" : "") + "\n";
          }
          return out + std::to_string(r.added()) + " of " + std::to_string(r.keys_size()) + " keys added\n";
        },
        generated_key);
  }
  if (export_bundle->parsed()) {
    v1::ExportSigningBundleRequest req;
    req.set_idempotency_key(key());
    req.set_withdrawal_id(f.withdrawal_id);
    return Call<v1::ExportSigningBundleResponse>(
        f,
        [&](grpc::ClientContext* c, v1::ExportSigningBundleResponse* r) {
          grpc::Status status = s->ExportSigningBundle(c, req, r);
          if (!status.ok()) return status;
          // Written beside its name and renamed into place: a reader never sees half a bundle.
          const std::string tmp = f.out + ".part";
          {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out.write(r->file().data(), static_cast<std::streamsize>(r->file().size()));
            out.close();
            if (!out || std::rename(tmp.c_str(), f.out.c_str()) != 0) {
              std::remove(tmp.c_str());
              return grpc::Status(grpc::StatusCode::ABORTED,
                                  "cannot write " + ringfence::base::Clip(f.out, 200) +
                                      "; the top-up is exported: the same command again returns the same bundle");
            }
          }
          return status;
        },
        [&](const v1::ExportSigningBundleResponse& r) {
          return cli::RenderWithdrawal(r.withdrawal()) + "signing bundle " + r.bundle_digest() + " (" +
                 std::to_string(r.file().size()) + " bytes) written to " + f.out + "\n";
        },
        generated_key);
  }
  if (import_signed->parsed()) {
    // custodyd refuses a file above its limit (16 MiB) naming the rule; reading stops just past it.
    std::optional<std::string> bytes = ReadUpTo(f.file, (std::streamsize{16} << 20) + 1);
    if (!bytes) return BadInput("import-signed-bundle: cannot read " + ringfence::base::Clip(f.file, 200));
    v1::ImportSignedBundleRequest req;
    req.set_idempotency_key(key());
    req.set_file(*std::move(bytes));
    return Call<v1::ImportSignedBundleResponse>(
        f, [&](grpc::ClientContext* c, v1::ImportSignedBundleResponse* r) { return s->ImportSignedBundle(c, req, r); },
        [](const v1::ImportSignedBundleResponse& r) {
          return cli::RenderWithdrawal(r.withdrawal()) +
                 (r.already_imported() ? "already imported: nothing changed\n"
                                       : "imported: custodyd broadcasts it and settles it once confirmed\n");
        },
        generated_key);
  }
  if (segregation->parsed()) {
    return Call<v1::GetSegregationReportResponse>(
        f,
        [s](grpc::ClientContext* c, v1::GetSegregationReportResponse* r) { return s->GetSegregationReport(c, {}, r); },
        cli::RenderSegregationReport);
  }
  if (whitelist_add->parsed()) {
    v1::AddWhitelistAddressRequest req;
    req.set_idempotency_key(key());
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    req.set_address(f.address);
    req.set_label(f.label);
    return Call<v1::AddWhitelistAddressResponse>(
        f, [&](grpc::ClientContext* c, v1::AddWhitelistAddressResponse* r) { return s->AddWhitelistAddress(c, req, r); },
        [](const v1::AddWhitelistAddressResponse& r) { return cli::RenderWhitelistEntry(r.entry()); }, generated_key);
  }
  if (whitelist->parsed()) {
    v1::ListWhitelistRequest req;
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    req.set_page_size(f.page_size);
    req.set_page_token(f.page_token);
    return Call<v1::ListWhitelistResponse>(
        f, [&](grpc::ClientContext* c, v1::ListWhitelistResponse* r) { return s->ListWhitelist(c, req, r); },
        cli::RenderWhitelist);
  }
  if (create_withdrawal->parsed()) {
    v1::CreateWithdrawalRequest req;
    req.set_idempotency_key(key());
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    req.set_amount(f.amount);
    req.set_destination(f.address);
    return Call<v1::CreateWithdrawalResponse>(
        f, [&](grpc::ClientContext* c, v1::CreateWithdrawalResponse* r) { return s->CreateWithdrawal(c, req, r); },
        [](const v1::CreateWithdrawalResponse& r) { return cli::RenderWithdrawal(r.withdrawal()); }, generated_key);
  }
  if (withdrawal->parsed()) {
    v1::GetWithdrawalRequest req;
    req.set_withdrawal_id(f.withdrawal_id);
    return Call<v1::GetWithdrawalResponse>(
        f, [&](grpc::ClientContext* c, v1::GetWithdrawalResponse* r) { return s->GetWithdrawal(c, req, r); },
        [](const v1::GetWithdrawalResponse& r) { return cli::RenderWithdrawal(r.withdrawal()); });
  }
  if (withdrawals->parsed()) {
    v1::ListWithdrawalsRequest req;
    req.set_client_id(f.client_id);
    req.set_asset_id(f.asset_id);
    req.set_page_size(f.page_size);
    req.set_page_token(f.page_token);
    return Call<v1::ListWithdrawalsResponse>(
        f, [&](grpc::ClientContext* c, v1::ListWithdrawalsResponse* r) { return s->ListWithdrawals(c, req, r); },
        cli::RenderWithdrawals);
  }
  if (audit->parsed()) {
    v1::ListAuditEntriesRequest req;
    req.set_after_seq(f.after_seq);
    req.set_page_size(f.page_size);
    return Call<v1::ListAuditEntriesResponse>(
        f, [&](grpc::ClientContext* c, v1::ListAuditEntriesResponse* r) { return s->ListAuditEntries(c, req, r); },
        cli::RenderAudit);
  }
  return BadInput("no command given (see --help)");
}

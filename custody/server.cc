#include "custody/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/secret.h"
#include "base/status.h"
#include "base/text.h"
#include "custody/audit_log.h"
#include "custody/chain/chainsim_adapter.h"
#include "custody/invariants.h"
#include "custody/store/sqlite_store.h"
#include "offline/bundle.h"

namespace ringfence::custody {
namespace {

using base::Cat;

constexpr size_t kMaxPemSize = 1 << 20;

absl::Status Annotate(const absl::Status& s, std::string_view prefix) {
  return absl::Status(s.code(), Cat(prefix, s.message()));
}

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view field) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::NotFoundError(Cat(field, ": '", path, "' is not a readable file"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxPemSize) {
    return absl::InvalidArgumentError(Cat(field, ": '", path, "' is larger than ", kMaxPemSize, " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(Cat(field, ": '", path, "' cannot be read"));
  return text.str();
}

// The configured assets' wallets, inserted or brought up to date; each change is audited.
absl::Status UpsertWallets(const Config& config, store::Store& store, Env& env) {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store.Begin());
  RF_ASSIGN_OR_RETURN(std::vector<store::WalletRow> existing, txn->ListWallets());
  bool changed = false;
  for (const AssetConfig& a : config.assets) {
    for (const store::WalletRow& w : WalletsOf(a)) {
      auto it = std::find_if(existing.begin(), existing.end(),
                             [&](const store::WalletRow& e) { return e.wallet_id == w.wallet_id; });
      if (it != existing.end() && it->asset_id == w.asset_id && it->owner_class == w.owner_class &&
          it->tier == w.tier && it->signer == w.signer) {
        continue;
      }
      RF_RETURN_IF_ERROR(txn->UpsertWallet(w));
      const nlohmann::json details = {
          {"asset_id", w.asset_id}, {"owner_class", w.owner_class}, {"tier", w.tier}, {"signer", w.signer}};
      RF_RETURN_IF_ERROR(AuditLog::Append(*txn, "system", it == existing.end() ? "wallet.created" : "wallet.updated",
                                          w.wallet_id, details.dump(), env.NowUnixMs())
                             .status());
      changed = true;
    }
  }
  if (!changed) return absl::OkStatus();
  return txn->Commit();
}

absl::StatusOr<std::unique_ptr<store::SqliteStore>> OpenStore(const Config& config) {
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(config.database_path);
  if (!s.ok()) return Annotate(s.status(), Cat("database '", config.database_path, "': "));
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Custodyd>> Custodyd::Start(const Config& config, const ServerOptions& options,
                                                          Env& env) {
  std::unique_ptr<Custodyd> d(new Custodyd());
  d->config_ = config;
  const Config& cfg = d->config_;

  std::optional<std::pair<std::string, uint16_t>> listen = SplitListen(cfg.server.listen);
  if (!listen) return absl::InvalidArgumentError(Cat("server.listen: '", cfg.server.listen, "' is not host:port"));
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (options.insecure_role.has_value()) {
    if (!IsLoopbackHost(listen->first)) {
      return absl::FailedPreconditionError(Cat("--insecure-loopback: server.listen '", cfg.server.listen,
                                               "' is not a loopback address; plaintext is allowed only there"));
    }
    std::fprintf(stderr,
                 "custodyd: WARNING plaintext listener on %s without client certificates: every caller is "
                 "role %s (--insecure-loopback); never use this beyond development\n",
                 cfg.server.listen.c_str(), std::string(RoleName(*options.insecure_role)).c_str());
    credentials = grpc::InsecureServerCredentials();
  } else {
    if (!cfg.server.tls.has_value()) {
      return absl::FailedPreconditionError(
          "server.tls: required to serve (or run with --insecure-loopback ROLE on a loopback address)");
    }
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    RF_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(cfg.server.tls->client_ca, "server.tls.client_ca"));
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    RF_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(cfg.server.tls->cert, "server.tls.cert"));
    RF_ASSIGN_OR_RETURN(pair.private_key, ReadPem(cfg.server.tls->key, "server.tls.key"));
    ssl.pem_key_cert_pairs.push_back(pair);
    base::Wipe(pair.private_key.data(), pair.private_key.size());
    credentials = grpc::SslServerCredentials(ssl);
    for (auto& p : ssl.pem_key_cert_pairs) base::Wipe(p.private_key.data(), p.private_key.size());
    if (cfg.roles.empty()) {
      std::fprintf(stderr, "custodyd: WARNING no [[roles]] configured: every caller will be denied\n");
    }
  }

  RF_ASSIGN_OR_RETURN(d->store_, OpenStore(cfg));
  RF_RETURN_IF_ERROR(UpsertWallets(cfg, *d->store_, env));
  d->signer_ = ConnectSigner(cfg.signer_socket);
  for (const ChainConfig& c : cfg.chains) {
    absl::StatusOr<std::unique_ptr<chain::ChainsimAdapter>> adapter = chain::ChainsimAdapter::Create(c.name, c.endpoint);
    if (!adapter.ok()) return Annotate(adapter.status(), Cat("chain ", c.name, ": "));
    d->ingestors_.push_back(std::make_unique<DepositIngestor>(cfg, c, **adapter, *d->store_, env));
    d->adapters_.push_back(*std::move(adapter));
  }
  d->tx_signer_ = ConnectTxSigner(cfg.signer_socket);
  std::map<std::string, chain::ChainAdapter*> by_chain;
  for (const auto& adapter : d->adapters_) by_chain[adapter->chain()] = adapter.get();
  ExecutorOptions executor_options = options.executor;
  // The service is made below and outlives the executor's thread (started after it, stopped first).
  executor_options.on_commit = [raw = d.get()] {
    if (raw->service_ != nullptr) raw->service_->NotifyWithdrawalEvents();
  };
  d->executor_ =
      std::make_unique<WithdrawalExecutor>(cfg, *d->store_, env, *d->signer_, *d->tx_signer_, by_chain, executor_options);
  d->auth_ = std::make_unique<Authenticator>(cfg.roles, options.insecure_role);
  d->service_ = std::make_unique<CustodyService>(cfg, *d->store_, env, *d->signer_, *d->auth_);
  d->service_->SetExecutor(d->executor_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg.server.listen, credentials, &port);
  builder.RegisterService(d->service_.get());
  // The largest request is ImportSignedBundle with a signed bundle of its largest size; gRPC's
  // default (4 MiB) would refuse it before the service could say why.
  builder.SetMaxReceiveMessageSize(static_cast<int>(offline::kMaxBundleFileBytes + (64 << 10)));
  d->server_ = builder.BuildAndStart();
  if (d->server_ == nullptr || port == 0) {
    d->server_.reset();
    return absl::UnavailableError(Cat("server.listen: cannot listen on ", cfg.server.listen));
  }
  d->address_ = Cat(listen->first, ":", port);
  d->server_->GetHealthCheckService()->SetServingStatus(std::string(v1::Custody::service_full_name()), true);
  if (options.run_ingestors) {
    for (auto& ingestor : d->ingestors_) ingestor->Start();
  }
  if (options.run_executor) d->executor_->Start();
  if (cfg.withdrawals.has_value()) {
    std::fprintf(stderr, "custodyd: withdrawal executor %s\n",
                 options.run_executor ? "on: approved withdrawals are signed, broadcast and settled"
                                      : "off ([withdrawals] executor = false): approved withdrawals wait");
  }
  return d;
}

void Custodyd::Shutdown() {
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    server_->Wait();
    server_.reset();
  }
  if (executor_ != nullptr) executor_->Stop();
  for (auto& ingestor : ingestors_) ingestor->Stop();
}

Custodyd::~Custodyd() {
  Shutdown();
  // The executor and the ingestors borrow the adapters and the store; the service borrows the rest.
  executor_.reset();
  ingestors_.clear();
  service_.reset();
}

absl::Status RunCustodyd(const Config& config, const ServerOptions& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before gRPC and the ingestors start their threads, so that they inherit the mask
  // and only sigwait below sees the signals.
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) return absl::InternalError("cannot block SIGTERM and SIGINT");
  RF_ASSIGN_OR_RETURN(std::unique_ptr<Custodyd> d, Custodyd::Start(config, options, RealEnv()));
  std::printf("listening %s\n", d->address().c_str());
  std::fflush(stdout);
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  std::fprintf(stderr, "custodyd: %s received, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  d->Shutdown();
  return absl::OkStatus();
}

absl::StatusOr<bool> CheckCustodyInvariants(const Config& config) {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> store, OpenStore(config));
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store->BeginRead());
  std::vector<std::string> assets;
  for (const AssetConfig& a : config.assets) assets.push_back(a.id);
  RF_ASSIGN_OR_RETURN(InvariantReport report, CheckInvariants(*txn, assets, InvariantScope::kFull));
  std::printf("%s", FormatInvariantReport(report).c_str());
  return report.holds;
}

absl::StatusOr<bool> VerifyCustodyAudit(const Config& config, const std::string& anchor_text) {
  std::optional<AuditAnchor> anchor;
  if (!anchor_text.empty()) {
    const size_t colon = anchor_text.find(':');
    AuditAnchor a;
    const base::BaseUnitsScan seq = base::ScanBaseUnits(anchor_text.substr(0, colon));
    if (colon == std::string::npos || !seq.ok() || seq.value == 0 || seq.value > UINT64_MAX ||
        anchor_text.size() - colon - 1 != 64) {
      return absl::InvalidArgumentError(Cat("--anchor: must be <seq>:<64 hex digits> (got ", base::Clip(anchor_text), ")"));
    }
    a.seq = static_cast<uint64_t>(seq.value);
    a.hash = anchor_text.substr(colon + 1);
    anchor = a;
  }
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> store, OpenStore(config));
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store->BeginRead());
  RF_ASSIGN_OR_RETURN(AuditVerifyResult result, AuditLog::Verify(*txn, anchor));
  if (result.ok) {
    std::printf("audit log verified: %llu entries; head %llu:%s\n", static_cast<unsigned long long>(result.entries),
                static_cast<unsigned long long>(result.head_seq), result.head_hash.c_str());
  } else {
    std::printf("audit log BROKEN at seq %llu: %s\n", static_cast<unsigned long long>(result.first_bad_seq),
                result.reason.c_str());
  }
  return result.ok;
}

}  // namespace ringfence::custody

#include "signer/server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "signer/pin.h"
#include "signer/request_limits.h"

namespace ringfence::signer {
namespace {

absl::Status CheckSocketPath(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "socket path '", path,
        "' already exists; another signerd may be using it (remove it only if none is running)"));
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(parent, ec)) {
    return absl::NotFoundError(
        absl::StrCat("socket directory '", parent.string(), "' does not exist"));
  }
  return absl::OkStatus();
}

absl::StatusOr<base::SecretBytes> ReadPin(const Pkcs11Config& config) {
  if (!config.pin_file.empty()) return ReadPinFile(config.pin_file);
  return ReadPinEnv(config.pin_env);
}

absl::Status Annotate(const absl::Status& s, absl::string_view prefix) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Signerd>> Signerd::Start(
    const Config& config, const std::vector<ServiceFactory>& extra_services) {
  std::unique_ptr<Signerd> d(new Signerd());
  d->config_ = config;
  if (absl::Status s = CheckSocketPath(config.server.socket); !s.ok()) return s;

  absl::StatusOr<std::shared_ptr<Pkcs11Module>> module = Pkcs11Module::Load(config.pkcs11.module);
  if (!module.ok()) return Annotate(module.status(), "pkcs11: ");
  d->module_ = *module;
  absl::StatusOr<base::SecretBytes> pin = ReadPin(config.pkcs11);
  if (!pin.ok()) return Annotate(pin.status(), "pkcs11: ");
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token = Pkcs11Token::Open(
      d->module_, config.pkcs11.token_label, *std::move(pin), config.pkcs11.session_pool_size);
  if (!token.ok()) return Annotate(token.status(), "pkcs11: ");
  d->token_ = *std::move(token);

  absl::StatusOr<int> lock = LockDatabase(config.server.database);
  if (!lock.ok()) return lock.status();
  d->database_lock_fd_ = *lock;
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(config.server.database);
  if (!store.ok()) return store.status();
  d->store_ = *std::move(store);
  d->keys_ = std::make_unique<KeyService>(d->token_.get(), d->store_.get());
  d->service_ = std::make_unique<SignerServiceImpl>(d->keys_.get());
  SignerdParts parts{&d->config_, d->token_.get(), d->store_.get(), d->keys_.get()};
  for (const ServiceFactory& factory : extra_services) {
    absl::StatusOr<std::unique_ptr<grpc::Service>> service = factory(parts);
    if (!service.ok()) return service.status();
    d->extra_services_.push_back(*std::move(service));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", config.server.socket),
                           grpc::InsecureServerCredentials());
  // The largest valid request (signer/request_limits.h), not gRPC's 4 MiB default.
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));
  builder.RegisterService(d->service_.get());
  for (const std::unique_ptr<grpc::Service>& service : d->extra_services_) {
    builder.RegisterService(service.get());
  }
  // The socket is born 0600: no window in which another user could connect.
  mode_t old_umask = umask(0177);
  d->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (d->server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on unix:", config.server.socket));
  }
  d->socket_created_ = true;
  struct stat st {};
  if (stat(config.server.socket.c_str(), &st) != 0 || (st.st_mode & 0777) != 0600) {
    if (chmod(config.server.socket.c_str(), 0600) != 0) {
      return absl::InternalError(absl::StrCat("cannot set mode 0600 on socket '",
                                              config.server.socket, "': ", std::strerror(errno)));
    }
  }
  d->server_->GetHealthCheckService()->SetServingStatus("ringfence.signer.v1.Signer", true);
  return d;
}

void Signerd::Shutdown() {
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    server_->Wait();
    server_.reset();
  }
  if (socket_created_) {
    unlink(config_.server.socket.c_str());
    socket_created_ = false;
  }
}

Signerd::~Signerd() {
  Shutdown();
  // The parts go before the lock: nothing of this signerd touches the database after it.
  extra_services_.clear();
  service_.reset();
  keys_.reset();
  store_.reset();
  if (database_lock_fd_ >= 0) close(database_lock_fd_);
}

absl::Status RunSignerd(const Config& config, const std::vector<ServiceFactory>& extra_services) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before gRPC starts its threads, so that they inherit the mask and only sigwait
  // below sees the signals.
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    return absl::InternalError("cannot block SIGTERM and SIGINT");
  }
  absl::StatusOr<std::unique_ptr<Signerd>> d = Signerd::Start(config, extra_services);
  if (!d.ok()) return d.status();
  std::fprintf(stderr, "signerd: serving on unix:%s\n", config.server.socket.c_str());
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  std::fprintf(stderr, "signerd: %s received, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*d)->Shutdown();
  return absl::OkStatus();
}

absl::StatusOr<int> LockDatabase(const std::string& database) {
  const std::string path = database + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open lock file '", path, "': ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database '", database, "' is in use: a signerd is running on it (it holds ", path, "); stop it first"));
    }
    return absl::UnavailableError(absl::StrCat("cannot lock '", path, "': ", std::strerror(err)));
  }
  return fd;
}

absl::StatusOr<LogEntry> BindKeyOffline(const Config& config, const std::string& key_id,
                                        const WalletBinding& binding, const Clock& clock) {
  if (absl::Status s = ValidateKeyId(key_id); !s.ok()) return s;
  if (absl::Status s = ValidateWalletBinding(binding); !s.ok()) return s;
  absl::StatusOr<int> lock = LockDatabase(config.server.database);
  if (!lock.ok()) return lock.status();
  struct Unlock {
    int fd;
    ~Unlock() { close(fd); }
  } unlock{*lock};
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(config.server.database);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<KeyRecord>> keys = (*store)->ListKeys();
  if (!keys.ok()) return keys.status();
  for (const KeyRecord& k : *keys) {
    if (k.key_id == key_id && k.binding.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat("key ", key_id, " is already bound to wallet ",
                                                        k.binding->wallet_id, "; a binding is never changed"));
    }
  }
  if (absl::Status s = CheckSameWallet(**store, binding); !s.ok()) return s;
  return (*store)->BindKey(key_id, binding, clock());
}

absl::StatusOr<uint64_t> VerifySignLog(const Config& config) {
  absl::StatusOr<std::unique_ptr<SignerStore>> store = SignerStore::Open(config.server.database);
  if (!store.ok()) return store.status();
  return (*store)->VerifyLog();
}

}  // namespace ringfence::signer

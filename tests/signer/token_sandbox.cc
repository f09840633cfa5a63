#include "tests/signer/token_sandbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

namespace ringfence::signer::testing {
namespace {

constexpr char kUnset[] = "\x01";

std::string RequiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "%s is not set: run this suite through ctest\n", name);
    std::abort();
  }
  return v;
}

}  // namespace

std::string ModulePath() { return RequiredEnv("RINGFENCE_SIGNER_MODULE"); }
std::string ModuleKind() { return RequiredEnv("RINGFENCE_SIGNER_MODULE_KIND"); }
bool IsHsmSim() { return ModuleKind() == "hsm_sim"; }

TokenSandbox::TokenSandbox(std::map<std::string, std::string> extra_env, bool init_token)
    : temp_("signer-token") {
  std::filesystem::create_directories(token_dir());
  if (IsHsmSim()) {
    env_["HSM_SIM_DIR"] = token_dir().string();
    // The cheapest Argon2id settings keep tests fast; production cost is hsm_sim's default.
    // (Strings constructed, not assigned from a literal: GCC 12 at -O3 reports a false
    // -Wrestrict in std::string's assignment from a one-character literal.)
    env_.insert_or_assign("HSM_SIM_ARGON2_OPSLIMIT", std::string("1"));
    env_.insert_or_assign("HSM_SIM_ARGON2_MEMLIMIT_KIB", std::string("8"));
  } else {
    std::filesystem::path conf = temp_.path() / "softhsm2.conf";
    std::ofstream(conf) << "directories.tokendir = " << token_dir().string() << "\n"
                        << "objectstore.backend = file\nlog.level = ERROR\n"
                        << "slots.removable = false\n";
    env_["SOFTHSM2_CONF"] = conf.string();
  }
  for (auto& [k, v] : extra_env) env_[k] = v;
  for (const auto& [k, v] : std::map<std::string, std::string>(env_)) Set(k, v);
  int fd = open(pin_file().c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || write(fd, kUserPin, std::strlen(kUserPin)) < 0 || write(fd, "\n", 1) != 1) {
    std::perror("writing the PIN file");
    std::abort();
  }
  close(fd);
  if (init_token) {
    absl::StatusOr<CK_SLOT_ID> slot = Module()->InitToken(
        kTokenLabel, base::SecretBytes::CopyOf(kSoPin), base::SecretBytes::CopyOf(kUserPin));
    if (!slot.ok()) {
      ADD_FAILURE() << "initialising the test token: " << slot.status();
    }
  }
}

void TokenSandbox::Set(const std::string& name, const std::string& value) {
  if (!saved_.contains(name)) {
    const char* old = std::getenv(name.c_str());
    saved_[name] = old == nullptr ? kUnset : old;
  }
  env_[name] = value;
  setenv(name.c_str(), value.c_str(), 1);
}

void TokenSandbox::Reload(const std::map<std::string, std::string>& env) {
  ReleaseModule();
  for (const auto& [k, v] : env) Set(k, v);
}

TokenSandbox::~TokenSandbox() {
  module_.reset();
  for (const auto& [k, v] : saved_) {
    if (v == kUnset) {
      unsetenv(k.c_str());
    } else {
      setenv(k.c_str(), v.c_str(), 1);
    }
  }
}

std::shared_ptr<Pkcs11Module> TokenSandbox::Module() {
  if (module_ == nullptr) {
    absl::StatusOr<std::shared_ptr<Pkcs11Module>> m = Pkcs11Module::Load(ModulePath());
    if (!m.ok()) {
      ADD_FAILURE() << "loading " << ModulePath() << ": " << m.status();
      std::abort();
    }
    module_ = *m;
  }
  return module_;
}

absl::StatusOr<std::unique_ptr<Pkcs11Token>> TokenSandbox::OpenToken(const std::string& pin,
                                                                     size_t pool_size) {
  return Pkcs11Token::Open(Module(), kTokenLabel, base::SecretBytes::CopyOf(pin), pool_size);
}

}  // namespace ringfence::signer::testing

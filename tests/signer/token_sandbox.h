// Test support: a private, freshly initialised token in the PKCS#11 module under test.
//
// The suite runs once per module; ctest sets RINGFENCE_SIGNER_MODULE (path of the module) and
// RINGFENCE_SIGNER_MODULE_KIND ("hsm_sim" or "softhsm2"). A TokenSandbox points the module at
// a new temporary token directory (HSM_SIM_DIR, or SOFTHSM2_CONF naming a private config),
// initialises a token with a known SO PIN and user PIN, and writes the user PIN to a 0600
// file. Environment changes are process-wide, so sandboxes are used one at a time.
#ifndef RINGFENCE_TESTS_SIGNER_TOKEN_SANDBOX_H_
#define RINGFENCE_TESTS_SIGNER_TOKEN_SANDBOX_H_

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "signer/pkcs11_client.h"
#include "tests/common/temp_dir.h"

namespace ringfence::signer::testing {

inline constexpr char kTokenLabel[] = "ringfence-test";
inline constexpr char kSoPin[] = "so-pin-8642";
inline constexpr char kUserPin[] = "user-pin-1357";

// The module under test; aborts the test binary if the environment does not name one.
std::string ModulePath();
// "hsm_sim" or "softhsm2".
std::string ModuleKind();
bool IsHsmSim();

class TokenSandbox {
 public:
  // `extra_env` is set (and restored afterwards) before the module is loaded, for hsm_sim's
  // fault injection variables. If `init_token` is false the directory is left empty.
  explicit TokenSandbox(std::map<std::string, std::string> extra_env = {}, bool init_token = true);
  ~TokenSandbox();

  // Loads the module with this sandbox's environment (initialising it if needed).
  std::shared_ptr<Pkcs11Module> Module();
  // Logs in with `pin` (default: the right one).
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> OpenToken(const std::string& pin = kUserPin,
                                                         size_t pool_size = 2);
  // Drops this sandbox's reference to the module so the next Module() re-initialises it.
  void ReleaseModule() { module_.reset(); }
  // ReleaseModule, then sets `env` (restored with the rest on destruction), so that the next
  // Module() starts the module with it: fault injection on an already initialised token.
  void Reload(const std::map<std::string, std::string>& env);

  const std::filesystem::path& dir() const { return temp_.path(); }
  // The directory holding the token's state files.
  std::filesystem::path token_dir() const { return temp_.path() / "tokens"; }
  std::filesystem::path pin_file() const { return temp_.path() / "pin"; }
  // Environment assignments a child process (signerd) needs to see this token.
  const std::map<std::string, std::string>& env() const { return env_; }

 private:
  ringfence::testing::TempDir temp_;
  std::map<std::string, std::string> env_;
  void Set(const std::string& name, const std::string& value);

  std::map<std::string, std::string> saved_;  // Previous values ("\x01" = unset).
  std::shared_ptr<Pkcs11Module> module_;
};

}  // namespace ringfence::signer::testing

#endif  // RINGFENCE_TESTS_SIGNER_TOKEN_SANDBOX_H_

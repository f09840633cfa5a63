// PKCS#11 client: loads a module by path, logs in to one token and keeps a session pool.
//
// Pkcs11Module owns a dlopen'ed PKCS#11 module (hsm_sim, SoftHSM2, a vendor HSM) and its
// C_Initialize/C_Finalize lifetime. A process holds at most one live Pkcs11Module per path:
// Load() returns the existing one while any owner keeps it, because a module is initialised
// once per process. The library stays mapped after the last owner is gone (some modules do not
// survive dlclose); a later Load() initialises it again, re-reading its configuration.
//
// Pkcs11Token is a logged-in view of one token (found by label) with a pool of sessions.
// It keeps one extra session open for its whole lifetime so that the login, which PKCS#11
// ties to the application rather than to a session, survives pool sessions being replaced.
// A session that returned an error is closed and replaced on next use, so a token error
// mid-sign affects that one request only. All Pkcs11Token methods are thread-safe; the pool
// bounds how many PKCS#11 calls run at once.
//
// Every failure is an absl::Status naming the PKCS#11 function and its CKR_ code.
#ifndef RINGFENCE_SIGNER_PKCS11_CLIENT_H_
#define RINGFENCE_SIGNER_PKCS11_CLIENT_H_

#include <p11-kit/pkcs11.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/secret.h"
#include "chain/ecdsa.h"
#include "signer/crypto.h"

namespace ringfence::signer {

// "CKR_PIN_INCORRECT" etc., or "CKR_0x..." for codes without a name here.
std::string CkrName(CK_RV rv);

// A Status for a failed PKCS#11 call: "<function> failed: <CKR name> (0x..)" plus `context`,
// with a code that tells the caller what to do (PIN errors PermissionDenied/FailedPrecondition,
// device errors Unavailable, object errors NotFound, argument errors InvalidArgument).
absl::Status Pkcs11Error(const char* function, CK_RV rv, absl::string_view context = {});

class Pkcs11Module {
 public:
  // Loads (or returns the live instance of) the module at `path`, calls C_GetFunctionList and
  // C_Initialize with CKF_OS_LOCKING_OK. NotFound if the file is missing; FailedPrecondition
  // if dlopen fails or the symbol is missing; the module's error if C_Initialize fails.
  static absl::StatusOr<std::shared_ptr<Pkcs11Module>> Load(const std::string& path);
  ~Pkcs11Module();  // C_Finalize.
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  CK_FUNCTION_LIST* functions() const { return fn_; }
  const std::string& path() const { return path_; }

  // The slot whose token's label is `label` (compared after trimming the space padding).
  // NotFound, listing the labels present, if there is none; FailedPrecondition if two match.
  absl::StatusOr<CK_SLOT_ID> FindTokenSlot(const std::string& label) const;

  // Provisioning (tests, tools): initialises the token in the first slot that has an
  // uninitialised token (or, failing that, the first slot) with `label` and `so_pin`, then
  // sets the user PIN. Returns the slot id. Both PINs are wiped before returning, whatever the
  // outcome. Not for signerd, which never initialises tokens.
  absl::StatusOr<CK_SLOT_ID> InitToken(const std::string& label, base::SecretBytes so_pin,
                                       base::SecretBytes user_pin);

 private:
  // C_GetSlotList(tokenPresent = TRUE): the slots that hold a token.
  absl::StatusOr<std::vector<CK_SLOT_ID>> SlotsWithToken() const;

  Pkcs11Module(std::string path, void* handle, CK_FUNCTION_LIST* fn)
      : path_(std::move(path)), handle_(handle), fn_(fn) {}

  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
};

struct TokenKey {
  KeyType type;
  std::vector<uint8_t> id;          // CKA_ID.
  std::vector<uint8_t> public_key;  // 33-byte compressed SEC1 or 32-byte Ed25519.
};

class Pkcs11Token {
 public:
  // Finds the token labelled `label`, logs in as the user with `pin`, opens `pool_size`
  // (>= 1) read-write sessions lazily. `pin` is wiped before returning, whatever the outcome.
  // Errors: NotFound (no such token), PermissionDenied (wrong PIN), FailedPrecondition (PIN
  // locked or not initialised), or the failing call's error.
  static absl::StatusOr<std::unique_ptr<Pkcs11Token>> Open(std::shared_ptr<Pkcs11Module> module,
                                                          const std::string& label,
                                                          base::SecretBytes pin, size_t pool_size);
  ~Pkcs11Token();
  Pkcs11Token(const Pkcs11Token&) = delete;
  Pkcs11Token& operator=(const Pkcs11Token&) = delete;

  // Generates a persistent key pair inside the token with CKA_ID = `id` and CKA_LABEL =
  // `label` (private key sensitive, not extractable). Returns the key with its public key.
  absl::StatusOr<TokenKey> GenerateKeyPair(KeyType type, std::span<const uint8_t> id,
                                           const std::string& label);

  // Reads the public key of the key pair with CKA_ID `id`. NotFound if the token has none.
  absl::StatusOr<TokenKey> FindKey(std::span<const uint8_t> id);

  // Signs a 32-byte digest with CKM_ECDSA, returning the token's raw r || s. Callers want
  // SignEcdsa below; this is exposed for tests and the benchmark to observe the token itself.
  absl::StatusOr<std::vector<uint8_t>> SignRaw(KeyType type, std::span<const uint8_t> id,
                                               std::span<const uint8_t> data);

  // CKM_ECDSA over `digest`, checked by CheckTokenEcdsa against `public_key` (33-byte
  // compressed): low S, with its recovery id when `recovery` asks for it. A malformed token
  // output is Unavailable; a signature that is not the key's aborts (see CheckTokenEcdsa).
  absl::StatusOr<chain::FinishedSignature> SignEcdsa(std::span<const uint8_t> id,
                                                     std::span<const uint8_t, 32> digest,
                                                     std::span<const uint8_t> public_key,
                                                     chain::RecoveryId recovery);

  // CKM_EDDSA (pure Ed25519) over `message`, verified against the 32-byte `public_key`.
  absl::StatusOr<std::array<uint8_t, 64>> SignEd25519(std::span<const uint8_t> id,
                                                      std::span<const uint8_t> message,
                                                      std::span<const uint8_t> public_key);

  CK_SLOT_ID slot() const { return slot_; }
  const Pkcs11Module& module() const { return *module_; }

 private:
  class Lease;
  Pkcs11Token(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot, size_t pool_size)
      : module_(std::move(module)), slot_(slot), pool_size_(pool_size) {}

  absl::StatusOr<CK_SESSION_HANDLE> AcquireSession();
  void ReleaseSession(CK_SESSION_HANDLE session, bool healthy);
  absl::StatusOr<CK_OBJECT_HANDLE> FindObject(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls,
                                              std::span<const uint8_t> id);
  absl::StatusOr<CK_OBJECT_HANDLE> PrivateKeyHandle(CK_SESSION_HANDLE session,
                                                    std::span<const uint8_t> id);
  absl::StatusOr<std::vector<uint8_t>> ReadPublicKey(CK_SESSION_HANDLE session, KeyType type,
                                                     CK_OBJECT_HANDLE pub);

  std::shared_ptr<Pkcs11Module> module_;
  CK_SLOT_ID slot_;
  size_t pool_size_;
  CK_SESSION_HANDLE login_session_ = CK_INVALID_HANDLE;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<CK_SESSION_HANDLE> idle_;  // Guarded by mu_.
  size_t open_ = 0;                      // Pool sessions open (idle or leased); guarded by mu_.
  // Private key handles by CKA_ID: handles are valid in every session of this application.
  // The id's bytes are held as a std::string: GCC 12 at -O3 reports a false
  // -Wstringop-overread in std::map's comparison of std::vector<uint8_t> keys.
  std::map<std::string, CK_OBJECT_HANDLE> key_handles_;  // Guarded by mu_.
};

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_PKCS11_CLIENT_H_

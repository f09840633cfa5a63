// Module: the state behind hsm_sim's PKCS#11 entry points: one slot with one token (backed by
// a TokenStore), the open sessions, the login state, the token master key and the unsealed
// private keys of a logged-in user. Each method implements the PKCS#11 function of the same
// name, validates its arguments itself and returns a CK_RV; none throws except std::bad_alloc,
// which the entry points turn into CKR_HOST_MEMORY.
//
// Thread-safety: every method may be called from any thread. A reader-writer lock guards the
// session table, the object table and the login state; each session has its own mutex for its
// operation state. C_Sign holds neither lock while it computes the signature: it works on a
// shared_ptr to the unsealed key, so signing in different sessions runs in parallel.
//
// Secrets: the master key and unsealed private keys live in base::SecretBytes (sodium_malloc) and
// are wiped at C_Logout, when the last session closes, and at C_Finalize.
#ifndef RINGFENCE_HSM_SIM_MODULE_H_
#define RINGFENCE_HSM_SIM_MODULE_H_

#include <p11-kit/pkcs11.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/secret.h"
#include "hsm_sim/config.h"
#include "hsm_sim/crypto.h"
#include "hsm_sim/templates.h"
#include "hsm_sim/token_store.h"

namespace ringfence::hsm_sim {

inline constexpr CK_SLOT_ID kSlotId = 0;
inline constexpr size_t kMinPinLen = 4;
inline constexpr size_t kMaxPinLen = 255;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_RV Initialize(CK_VOID_PTR init_args);
  CK_RV Finalize(CK_VOID_PTR reserved);
  CK_RV GetInfo(CK_INFO_PTR info);
  CK_RV GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
  CK_RV GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
  CK_RV GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
  CK_RV GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
  CK_RV GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
  CK_RV InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label);
  CK_RV InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
  CK_RV SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
               CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len);
  CK_RV OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out);
  CK_RV CloseSession(CK_SESSION_HANDLE h);
  CK_RV CloseAllSessions(CK_SLOT_ID slot);
  CK_RV GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info);
  CK_RV Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
  CK_RV Logout(CK_SESSION_HANDLE h);
  CK_RV GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                        CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                        CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out);
  CK_RV GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG count);
  CK_RV SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG count);
  CK_RV FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
  CK_RV FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                    CK_ULONG_PTR count);
  CK_RV FindObjectsFinal(CK_SESSION_HANDLE h);
  CK_RV DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o);
  CK_RV SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
  CK_RV Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len);
  CK_RV VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
  CK_RV Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
               CK_ULONG sig_len);
  CK_RV GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len);

 private:
  // An unsealed private key: 32-byte secp256k1 scalar or libsodium's 64-byte Ed25519 secret.
  struct KeySecret {
    Curve curve;
    base::SecretBytes bytes;
  };
  struct Object {
    StoredObject stored;
    std::shared_ptr<const KeySecret> secret;  // private keys, while the user is logged in
  };
  enum class LoginState { kPublic, kUser, kSo };
  struct SignOp {
    bool active = false;
    CK_MECHANISM_TYPE mechanism = 0;
    std::shared_ptr<const KeySecret> key;
  };
  struct VerifyOp {
    bool active = false;
    CK_MECHANISM_TYPE mechanism = 0;
    Curve curve = Curve::kSecp256k1;
    std::vector<uint8_t> public_key;
  };
  struct FindOp {
    bool active = false;
    std::vector<CK_OBJECT_HANDLE> results;
    size_t next = 0;
  };
  struct Session {
    CK_SESSION_HANDLE handle = 0;
    bool read_write = false;
    std::mutex mu;  // guards the operations below
    SignOp sign;
    VerifyOp verify;
    FindOp find;
  };

  // REQUIRES: mu_ held (shared or exclusive). CKR_SESSION_HANDLE_INVALID if unknown.
  CK_RV FindSession(CK_SESSION_HANDLE h, std::shared_ptr<Session>* out) const;
  // REQUIRES: mu_ held. The object if it exists and the current login may see it.
  std::shared_ptr<Object> VisibleObject(CK_OBJECT_HANDLE o) const;
  // REQUIRES: mu_ held exclusively. Wipes the master key and every unsealed key and ends
  // every sign operation.
  void ForgetSecretsLocked();
  // REQUIRES: mu_ held exclusively. Checks `pin` against the role's wrapped master key,
  // counting a failure on disk before trying and clearing it on success. On success
  // `*master_key` holds the unwrapped master key.
  CK_RV VerifyPinLocked(PinRole role, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                        base::SecretBytes* master_key);
  // Wraps `master_key` under a fresh salt and `pin`.
  CK_RV WrapMasterKey(PinRole role, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                      const base::SecretBytes& master_key, PinRecord* out) const;
  // REQUIRES: mu_ held exclusively and master_key_ set. Unseals every private key.
  CK_RV UnsealAllLocked();
  std::shared_ptr<KeySecret> Unseal(const StoredObject& o) const;
  std::vector<uint8_t> MasterKeyAd(PinRole role) const;
  std::vector<uint8_t> KeyAd(const StoredObject& o) const;
  CK_RV DeviceError(const absl::Status& status) const;

  mutable std::shared_mutex mu_;
  bool initialized_ = false;
  Config config_;
  std::unique_ptr<TokenStore> store_;
  TokenState token_;
  std::map<CK_OBJECT_HANDLE, std::shared_ptr<Object>> objects_;
  std::unordered_map<CK_SESSION_HANDLE, std::shared_ptr<Session>> sessions_;
  CK_SESSION_HANDLE next_session_ = 1;
  LoginState login_ = LoginState::kPublic;
  base::SecretBytes master_key_;
  std::atomic<uint64_t> sign_calls_{0};
  std::atomic<uint64_t> open_calls_{0};
};

}  // namespace ringfence::hsm_sim

#endif  // RINGFENCE_HSM_SIM_MODULE_H_

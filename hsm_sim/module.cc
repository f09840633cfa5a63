#include "hsm_sim/module.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "hsm_sim/templates.h"

namespace ringfence::hsm_sim {
namespace {

constexpr CK_MECHANISM_TYPE kMechanisms[] = {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA,
                                             CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA};

void PadCopy(CK_UTF8CHAR* dst, size_t size, std::string_view src) {
  std::memset(dst, ' ', size);
  std::memcpy(dst, src.data(), std::min(size, src.size()));
}

std::vector<uint8_t> Bool(bool b) { return {static_cast<uint8_t>(b ? CK_TRUE : CK_FALSE)}; }

std::vector<uint8_t> Ulong(CK_ULONG v) {
  std::vector<uint8_t> out(sizeof(CK_ULONG));
  std::memcpy(out.data(), &v, sizeof(v));
  return out;
}

CK_KEY_TYPE KeyTypeOf(Curve c) { return c == Curve::kSecp256k1 ? CKK_EC : CKK_EC_EDWARDS; }
CK_MECHANISM_TYPE GenMechanismOf(Curve c) {
  return c == Curve::kSecp256k1 ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN;
}
CK_MECHANISM_TYPE SignMechanismOf(Curve c) {
  return c == Curve::kSecp256k1 ? CKM_ECDSA : CKM_EDDSA;
}

}  // namespace

// ---- helpers ---------------------------------------------------------------------------

CK_RV Module::DeviceError(const absl::Status& status) const {
  // PKCS#11 has no channel for a message, so the reason goes to stderr for the operator.
  std::fprintf(stderr, "hsm_sim: %s\n", status.ToString().c_str());
  return CKR_DEVICE_ERROR;
}

CK_RV Module::FindSession(CK_SESSION_HANDLE h, std::shared_ptr<Session>* out) const {
  auto it = sessions_.find(h);
  if (it == sessions_.end()) return CKR_SESSION_HANDLE_INVALID;
  *out = it->second;
  return CKR_OK;
}

std::shared_ptr<Module::Object> Module::VisibleObject(CK_OBJECT_HANDLE o) const {
  auto it = objects_.find(o);
  if (it == objects_.end()) return nullptr;
  if (it->second->stored.object_class == ObjectClass::kPrivateKey && login_ != LoginState::kUser) {
    return nullptr;
  }
  return it->second;
}

void Module::ForgetSecretsLocked() {
  master_key_.Wipe();
  for (auto& [handle, object] : objects_) object->secret.reset();
  for (auto& [handle, session] : sessions_) {
    std::lock_guard<std::mutex> guard(session->mu);
    session->sign = SignOp{};
  }
  login_ = LoginState::kPublic;
}

std::vector<uint8_t> Module::MasterKeyAd(PinRole role) const {
  // Binds a wrapped master key to its token and role, so records cannot be swapped.
  const std::string ad = absl::StrCat("ringfence.hsm_sim.master_key.v1|", token_.meta.serial, "|",
                                      role == PinRole::kSo ? "so" : "user");
  return std::vector<uint8_t>(ad.begin(), ad.end());
}

std::vector<uint8_t> Module::KeyAd(const StoredObject& o) const {
  // Binds a sealed private key to its token, curve and public key.
  const std::string prefix =
      absl::StrCat("ringfence.hsm_sim.key.v1|", token_.meta.serial, "|",
                   o.curve == Curve::kSecp256k1 ? "secp256k1" : "ed25519", "|");
  std::vector<uint8_t> ad(prefix.begin(), prefix.end());
  ad.insert(ad.end(), o.public_key.begin(), o.public_key.end());
  return ad;
}

std::shared_ptr<Module::KeySecret> Module::Unseal(const StoredObject& o) const {
  const size_t plain = o.sealed_secret.size() - kSealOverhead;
  base::SecretBytes material(plain);
  if (!Open(std::span<const uint8_t, kSealKeySize>(master_key_.data(), kSealKeySize),
            o.sealed_secret, KeyAd(o), std::span<uint8_t>(material.data(), plain))) {
    return nullptr;
  }
  auto secret = std::make_shared<KeySecret>();
  secret->curve = o.curve;
  if (o.curve == Curve::kSecp256k1) {
    if (plain != kSecp256k1SecretSize) return nullptr;
    uint8_t pub[kSecp256k1UncompressedSize];
    const std::span<const uint8_t, kSecp256k1SecretSize> sk(material.data(), kSecp256k1SecretSize);
    if (!Secp256k1PublicKey(sk, pub) || o.public_key.size() != sizeof(pub) ||
        std::memcmp(pub, o.public_key.data(), sizeof(pub)) != 0) {
      return nullptr;
    }
    secret->bytes = std::move(material);
  } else {
    if (plain != kEd25519SeedSize) return nullptr;
    base::SecretBytes sk(kEd25519SecretSize);
    uint8_t pub[kEd25519PublicSize];
    Ed25519KeyPair(std::span<const uint8_t, kEd25519SeedSize>(material.data(), kEd25519SeedSize),
                   pub, std::span<uint8_t, kEd25519SecretSize>(sk.data(), kEd25519SecretSize));
    if (o.public_key.size() != sizeof(pub) ||
        std::memcmp(pub, o.public_key.data(), sizeof(pub)) != 0) {
      return nullptr;
    }
    secret->bytes = std::move(sk);
  }
  return secret;
}

CK_RV Module::UnsealAllLocked() {
  for (auto& [handle, object] : objects_) {
    if (object->stored.object_class != ObjectClass::kPrivateKey) continue;
    std::shared_ptr<KeySecret> secret = Unseal(object->stored);
    if (secret == nullptr) {
      return DeviceError(absl::DataLossError(
          absl::StrCat(store_->path(), ": object ", handle,
                       ": sealed private key does not open under the master key or does not "
                       "match its public key")));
    }
    object->secret = std::move(secret);
  }
  return CKR_OK;
}

CK_RV Module::WrapMasterKey(PinRole role, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                            const base::SecretBytes& master_key, PinRecord* out) const {
  PinRecord rec;
  randombytes_buf(rec.salt.data(), rec.salt.size());
  rec.cost = config_.kdf_cost;
  base::SecretBytes kek;
  if (!DerivePinKey(std::span<const uint8_t>(pin, pin_len), rec.salt, rec.cost, &kek)) {
    return CKR_HOST_MEMORY;
  }
  rec.wrapped_master_key =
      Seal(std::span<const uint8_t, kSealKeySize>(kek.data(), kSealKeySize),
           std::span<const uint8_t>(master_key.data(), master_key.size()), MasterKeyAd(role));
  *out = std::move(rec);
  return CKR_OK;
}

CK_RV Module::VerifyPinLocked(PinRole role, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                              base::SecretBytes* master_key) {
  PinRecord& cached = role == PinRole::kSo ? token_.so_pin : token_.user_pin;
  // The record is read again because another process may have counted failures.
  absl::StatusOr<PinRecord> rec = store_->LoadPin(role);
  if (!rec.ok()) {
    if (absl::IsNotFound(rec.status())) return CKR_USER_PIN_NOT_INITIALIZED;
    return DeviceError(rec.status());
  }
  cached.failures = rec->failures;
  if (rec->failures >= token_.meta.max_pin_tries) return CKR_PIN_LOCKED;
  base::SecretBytes kek;
  const bool length_ok = pin_len >= kMinPinLen && pin_len <= kMaxPinLen;
  if (length_ok &&
      !DerivePinKey(std::span<const uint8_t>(pin, pin_len), rec->salt, rec->cost, &kek)) {
    return CKR_HOST_MEMORY;
  }
  // The failure is on disk before the outcome is known, so killing the process after a wrong
  // guess cannot save a try.
  absl::StatusOr<uint32_t> failures = store_->CountFailure(role);
  if (!failures.ok()) return DeviceError(failures.status());
  cached.failures = *failures;
  if (!length_ok) return CKR_PIN_INCORRECT;
  base::SecretBytes mk(kSealKeySize);
  if (!Open(std::span<const uint8_t, kSealKeySize>(kek.data(), kSealKeySize),
            rec->wrapped_master_key, MasterKeyAd(role), std::span<uint8_t>(mk.data(), mk.size()))) {
    return CKR_PIN_INCORRECT;
  }
  if (absl::Status s = store_->ResetFailures(role); !s.ok()) return DeviceError(s);
  cached.failures = 0;
  *master_key = std::move(mk);
  return CKR_OK;
}

// ---- general purpose and slot/token functions ------------------------------------------

CK_RV Module::Initialize(CK_VOID_PTR init_args) {
  if (init_args != nullptr) {
    const auto* args = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
    if (args->pReserved != nullptr) return CKR_ARGUMENTS_BAD;
    const int given = (args->CreateMutex != nullptr) + (args->DestroyMutex != nullptr) +
                      (args->LockMutex != nullptr) + (args->UnlockMutex != nullptr);
    if (given != 0 && given != 4) return CKR_ARGUMENTS_BAD;
    // Only the operating system's locks are used; application callbacks are not.
    if (given == 4 && !(args->flags & CKF_OS_LOCKING_OK)) return CKR_CANT_LOCK;
  }
  std::unique_lock lock(mu_);
  if (initialized_) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  if (!InitCrypto()) {
    std::fprintf(stderr, "hsm_sim: cannot initialise libsodium or libsecp256k1\n");
    return CKR_GENERAL_ERROR;
  }
  absl::StatusOr<Config> config = Config::FromEnvironment();
  if (!config.ok()) {
    std::fprintf(stderr, "hsm_sim: %s\n", std::string(config.status().message()).c_str());
    return CKR_GENERAL_ERROR;
  }
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(config->dir);
  if (!store.ok()) return DeviceError(store.status());
  TokenState state;
  if ((*store)->initialized()) {
    absl::StatusOr<TokenState> loaded = (*store)->Load();
    if (!loaded.ok()) return DeviceError(loaded.status());
    state = std::move(*loaded);
  }
  config_ = std::move(*config);
  store_ = std::move(*store);
  token_ = std::move(state);
  objects_.clear();
  for (StoredObject& o : token_.objects) {
    auto object = std::make_shared<Object>();
    object->stored = std::move(o);
    objects_[object->stored.id] = std::move(object);
  }
  token_.objects.clear();
  sessions_.clear();
  login_ = LoginState::kPublic;
  sign_calls_ = 0;
  open_calls_ = 0;
  initialized_ = true;
  return CKR_OK;
}

CK_RV Module::Finalize(CK_VOID_PTR reserved) {
  if (reserved != nullptr) return CKR_ARGUMENTS_BAD;
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  ForgetSecretsLocked();
  sessions_.clear();
  objects_.clear();
  token_ = TokenState{};
  store_.reset();
  initialized_ = false;
  return CKR_OK;
}

CK_RV Module::GetInfo(CK_INFO_PTR info) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  std::memset(info, 0, sizeof(*info));
  info->cryptokiVersion = {2, 40};
  PadCopy(info->manufacturerID, sizeof(info->manufacturerID), "Ringfence");
  info->flags = 0;
  PadCopy(info->libraryDescription, sizeof(info->libraryDescription), "hsm_sim software HSM");
  info->libraryVersion = {0, 1};
  return CKR_OK;
}

CK_RV Module::GetSlotList(CK_BBOOL, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (count == nullptr) return CKR_ARGUMENTS_BAD;
  // The one token is always present, initialised or not.
  if (list == nullptr) {
    *count = 1;
    return CKR_OK;
  }
  if (*count < 1) {
    *count = 1;
    return CKR_BUFFER_TOO_SMALL;
  }
  list[0] = kSlotId;
  *count = 1;
  return CKR_OK;
}

CK_RV Module::GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  std::memset(info, 0, sizeof(*info));
  PadCopy(info->slotDescription, sizeof(info->slotDescription), "hsm_sim slot");
  PadCopy(info->manufacturerID, sizeof(info->manufacturerID), "Ringfence");
  info->flags = CKF_TOKEN_PRESENT;
  info->hardwareVersion = {0, 1};
  info->firmwareVersion = {0, 1};
  return CKR_OK;
}

CK_RV Module::GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  std::memset(info, 0, sizeof(*info));
  const bool inited = store_->initialized();
  PadCopy(info->label, sizeof(info->label), inited ? token_.meta.label : "");
  PadCopy(info->manufacturerID, sizeof(info->manufacturerID), "Ringfence");
  PadCopy(info->model, sizeof(info->model), "hsm_sim");
  PadCopy(info->serialNumber, sizeof(info->serialNumber),
          inited ? token_.meta.serial : "0000000000000000");
  CK_FLAGS flags = CKF_RNG | CKF_LOGIN_REQUIRED;
  if (inited) {
    flags |= CKF_TOKEN_INITIALIZED;
    const uint32_t max = token_.meta.max_pin_tries;
    auto pin_flags = [max](uint32_t failures, CK_FLAGS low, CK_FLAGS final_try, CK_FLAGS locked) {
      if (failures >= max) return locked;
      CK_FLAGS f = failures > 0 ? low : 0;
      if (failures + 1 == max) f |= final_try;
      return f;
    };
    flags |= pin_flags(token_.so_pin.failures, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                       CKF_SO_PIN_LOCKED);
    if (token_.has_user_pin) {
      flags |= CKF_USER_PIN_INITIALIZED;
      flags |= pin_flags(token_.user_pin.failures, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                         CKF_USER_PIN_LOCKED);
    }
  }
  info->flags = flags;
  info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulSessionCount = sessions_.size();
  info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulRwSessionCount = static_cast<CK_ULONG>(
      std::count_if(sessions_.begin(), sessions_.end(),
                    [](const auto& entry) { return entry.second->read_write; }));
  info->ulMaxPinLen = kMaxPinLen;
  info->ulMinPinLen = kMinPinLen;
  info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->hardwareVersion = {0, 1};
  info->firmwareVersion = {0, 1};
  return CKR_OK;
}

CK_RV Module::GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  if (count == nullptr) return CKR_ARGUMENTS_BAD;
  constexpr CK_ULONG n = std::size(kMechanisms);
  if (list == nullptr) {
    *count = n;
    return CKR_OK;
  }
  if (*count < n) {
    *count = n;
    return CKR_BUFFER_TOO_SMALL;
  }
  std::copy(std::begin(kMechanisms), std::end(kMechanisms), list);
  *count = n;
  return CKR_OK;
}

CK_RV Module::GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                               CK_MECHANISM_INFO_PTR info) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  constexpr CK_FLAGS kEcFlags = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
  switch (type) {
    case CKM_EC_KEY_PAIR_GEN:
      *info = {256, 256, CKF_HW | CKF_GENERATE_KEY_PAIR | kEcFlags};
      return CKR_OK;
    case CKM_ECDSA:
      *info = {256, 256, CKF_HW | CKF_SIGN | CKF_VERIFY | kEcFlags};
      return CKR_OK;
    case CKM_EC_EDWARDS_KEY_PAIR_GEN:
      *info = {255, 255, CKF_HW | CKF_GENERATE_KEY_PAIR};
      return CKR_OK;
    case CKM_EDDSA:
      *info = {255, 255, CKF_HW | CKF_SIGN | CKF_VERIFY};
      return CKR_OK;
    default:
      return CKR_MECHANISM_INVALID;
  }
}

CK_RV Module::InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                        CK_UTF8CHAR_PTR label) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  // A NULL PIN asks for a protected authentication path, which this token does not have.
  if (pin == nullptr || label == nullptr) return CKR_ARGUMENTS_BAD;
  if (!sessions_.empty()) return CKR_SESSION_EXISTS;
  if (store_->initialized()) {
    base::SecretBytes old_master;
    if (CK_RV rv = VerifyPinLocked(PinRole::kSo, pin, pin_len, &old_master); rv != CKR_OK) {
      return rv;
    }
  } else if (pin_len < kMinPinLen || pin_len > kMaxPinLen) {
    return CKR_PIN_LEN_RANGE;
  }
  // Re-initialising makes a new token: new serial and master key, so nothing sealed before
  // can be opened again.
  uint8_t serial_bytes[kSerialSize / 2];
  randombytes_buf(serial_bytes, sizeof(serial_bytes));
  char serial_hex[kSerialSize + 1];
  sodium_bin2hex(serial_hex, sizeof(serial_hex), serial_bytes, sizeof(serial_bytes));
  TokenState fresh;
  fresh.meta.label.assign(reinterpret_cast<const char*>(label), kLabelSize);
  fresh.meta.serial = serial_hex;
  fresh.meta.max_pin_tries = config_.max_pin_tries;
  base::SecretBytes master(kSealKeySize);
  randombytes_buf(master.data(), master.size());
  const TokenState previous = token_;
  token_.meta = fresh.meta;  // MasterKeyAd reads the new serial
  CK_RV rv = WrapMasterKey(PinRole::kSo, pin, pin_len, master, &fresh.so_pin);
  if (rv == CKR_OK) {
    if (absl::Status s = store_->Initialize(fresh.meta, fresh.so_pin); !s.ok()) {
      rv = DeviceError(s);
    }
  }
  if (rv != CKR_OK) {
    token_ = previous;
    return rv;
  }
  ForgetSecretsLocked();
  objects_.clear();
  token_ = std::move(fresh);
  return CKR_OK;
}

CK_RV Module::InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (login_ != LoginState::kSo) return CKR_USER_NOT_LOGGED_IN;
  if (!s->read_write) return CKR_SESSION_READ_ONLY;
  if (pin == nullptr) return CKR_ARGUMENTS_BAD;
  if (pin_len < kMinPinLen || pin_len > kMaxPinLen) return CKR_PIN_LEN_RANGE;
  PinRecord rec;
  if (CK_RV rv = WrapMasterKey(PinRole::kUser, pin, pin_len, master_key_, &rec); rv != CKR_OK) {
    return rv;
  }
  if (absl::Status st = store_->PutPin(PinRole::kUser, rec, token_.meta.serial); !st.ok())
    return DeviceError(st);
  token_.user_pin = std::move(rec);
  token_.has_user_pin = true;
  return CKR_OK;
}

CK_RV Module::SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
                     CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (!s->read_write) return CKR_SESSION_READ_ONLY;
  if (old_pin == nullptr || new_pin == nullptr) return CKR_ARGUMENTS_BAD;
  if (!store_->initialized()) return CKR_USER_PIN_NOT_INITIALIZED;
  const PinRole role = login_ == LoginState::kSo ? PinRole::kSo : PinRole::kUser;
  if (role == PinRole::kUser && !token_.has_user_pin) return CKR_USER_PIN_NOT_INITIALIZED;
  if (new_len < kMinPinLen || new_len > kMaxPinLen) return CKR_PIN_LEN_RANGE;
  base::SecretBytes master;
  if (CK_RV rv = VerifyPinLocked(role, old_pin, old_len, &master); rv != CKR_OK) return rv;
  PinRecord rec;
  if (CK_RV rv = WrapMasterKey(role, new_pin, new_len, master, &rec); rv != CKR_OK) return rv;
  if (absl::Status st = store_->PutPin(role, rec, token_.meta.serial); !st.ok())
    return DeviceError(st);
  (role == PinRole::kSo ? token_.so_pin : token_.user_pin) = std::move(rec);
  return CKR_OK;
}

// ---- sessions and login ----------------------------------------------------------------

CK_RV Module::OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  if (out == nullptr) return CKR_ARGUMENTS_BAD;
  if (!(flags & CKF_SERIAL_SESSION)) return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
  const uint64_t n = ++open_calls_;
  if (config_.fail_open_session_every != 0 && n % config_.fail_open_session_every == 0) {
    return CKR_DEVICE_ERROR;
  }
  const bool rw = (flags & CKF_RW_SESSION) != 0;
  if (login_ == LoginState::kSo && !rw) return CKR_SESSION_READ_WRITE_SO_EXISTS;
  auto session = std::make_shared<Session>();
  session->handle = next_session_++;
  session->read_write = rw;
  sessions_[session->handle] = session;
  *out = session->handle;
  return CKR_OK;
}

CK_RV Module::CloseSession(CK_SESSION_HANDLE h) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (sessions_.erase(h) == 0) return CKR_SESSION_HANDLE_INVALID;
  // The login belongs to the application's sessions: it ends with the last one.
  if (sessions_.empty()) ForgetSecretsLocked();
  return CKR_OK;
}

CK_RV Module::CloseAllSessions(CK_SLOT_ID slot) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kSlotId) return CKR_SLOT_ID_INVALID;
  sessions_.clear();
  ForgetSecretsLocked();
  return CKR_OK;
}

CK_RV Module::GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  std::memset(info, 0, sizeof(*info));
  info->slotID = kSlotId;
  switch (login_) {
    case LoginState::kPublic:
      info->state = s->read_write ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
      break;
    case LoginState::kUser:
      info->state = s->read_write ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
      break;
    case LoginState::kSo:
      info->state = CKS_RW_SO_FUNCTIONS;
      break;
  }
  info->flags = CKF_SERIAL_SESSION | (s->read_write ? CKF_RW_SESSION : 0);
  return CKR_OK;
}

CK_RV Module::Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (user == CKU_CONTEXT_SPECIFIC) return CKR_OPERATION_NOT_INITIALIZED;
  if (user != CKU_SO && user != CKU_USER) return CKR_USER_TYPE_INVALID;
  if (pin == nullptr) return CKR_ARGUMENTS_BAD;
  const LoginState wanted = user == CKU_SO ? LoginState::kSo : LoginState::kUser;
  if (login_ == wanted) return CKR_USER_ALREADY_LOGGED_IN;
  if (login_ != LoginState::kPublic) return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
  if (!store_->initialized()) return CKR_USER_PIN_NOT_INITIALIZED;
  if (wanted == LoginState::kSo) {
    for (const auto& [handle, session] : sessions_) {
      if (!session->read_write) return CKR_SESSION_READ_ONLY_EXISTS;
    }
  } else if (!token_.has_user_pin) {
    return CKR_USER_PIN_NOT_INITIALIZED;
  }
  const PinRole role = wanted == LoginState::kSo ? PinRole::kSo : PinRole::kUser;
  base::SecretBytes master;
  if (CK_RV rv = VerifyPinLocked(role, pin, pin_len, &master); rv != CKR_OK) return rv;
  master_key_ = std::move(master);
  if (wanted == LoginState::kUser) {
    if (CK_RV rv = UnsealAllLocked(); rv != CKR_OK) {
      ForgetSecretsLocked();
      return rv;
    }
  }
  login_ = wanted;
  return CKR_OK;
}

CK_RV Module::Logout(CK_SESSION_HANDLE h) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (login_ == LoginState::kPublic) return CKR_USER_NOT_LOGGED_IN;
  ForgetSecretsLocked();
  return CKR_OK;
}

// ---- objects ---------------------------------------------------------------------------

CK_RV Module::GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                              CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                              CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (mech == nullptr || pub_out == nullptr || priv_out == nullptr) return CKR_ARGUMENTS_BAD;
  Curve curve;
  if (mech->mechanism == CKM_EC_KEY_PAIR_GEN) {
    curve = Curve::kSecp256k1;
  } else if (mech->mechanism == CKM_EC_EDWARDS_KEY_PAIR_GEN) {
    curve = Curve::kEd25519;
  } else {
    return CKR_MECHANISM_INVALID;
  }
  if (mech->pParameter != nullptr || mech->ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
  if (!s->read_write) return CKR_SESSION_READ_ONLY;
  if (login_ != LoginState::kUser) return CKR_USER_NOT_LOGGED_IN;
  KeyTemplate pub_t, priv_t;
  if (CK_RV rv = ParseKeyTemplate(pub_tmpl, pub_count, false, KeyTypeOf(curve), &pub_t);
      rv != CKR_OK) {
    return rv;
  }
  if (CK_RV rv = ParseKeyTemplate(priv_tmpl, priv_count, true, KeyTypeOf(curve), &priv_t);
      rv != CKR_OK) {
    return rv;
  }
  if (pub_t.ec_params && priv_t.ec_params && *pub_t.ec_params != *priv_t.ec_params) {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  const std::optional<std::vector<uint8_t>>& params =
      pub_t.ec_params ? pub_t.ec_params : priv_t.ec_params;
  if (!params) return CKR_TEMPLATE_INCOMPLETE;
  const std::optional<Curve> named = CurveFromEcParams(*params);
  if (!named) return CKR_CURVE_NOT_SUPPORTED;
  if (*named != curve) return CKR_TEMPLATE_INCONSISTENT;

  StoredObject pub_o, priv_o;
  pub_o.object_class = ObjectClass::kPublicKey;
  priv_o.object_class = ObjectClass::kPrivateKey;
  for (StoredObject* o : {&pub_o, &priv_o}) {
    o->curve = curve;
    o->ec_params = *params;
  }
  pub_o.label = pub_t.label;
  pub_o.ckaid = pub_t.ckaid;
  pub_o.verify = pub_t.usage;
  priv_o.label = priv_t.label;
  priv_o.ckaid = priv_t.ckaid;
  priv_o.sign = priv_t.usage;

  auto secret = std::make_shared<KeySecret>();
  secret->curve = curve;
  base::SecretBytes sealed_material;
  if (curve == Curve::kSecp256k1) {
    base::SecretBytes sk(kSecp256k1SecretSize);
    const std::span<uint8_t, kSecp256k1SecretSize> sk_span(sk.data(), kSecp256k1SecretSize);
    do {
      randombytes_buf(sk.data(), sk.size());
    } while (!Secp256k1SecretValid(sk_span));
    pub_o.public_key.resize(kSecp256k1UncompressedSize);
    if (!Secp256k1PublicKey(sk_span, std::span<uint8_t, kSecp256k1UncompressedSize>(
                                         pub_o.public_key.data(), kSecp256k1UncompressedSize))) {
      return CKR_GENERAL_ERROR;
    }
    sealed_material = base::SecretBytes(kSecp256k1SecretSize);
    std::memcpy(sealed_material.data(), sk.data(), sk.size());
    secret->bytes = std::move(sk);
  } else {
    base::SecretBytes seed(kEd25519SeedSize);
    randombytes_buf(seed.data(), seed.size());
    base::SecretBytes sk(kEd25519SecretSize);
    pub_o.public_key.resize(kEd25519PublicSize);
    Ed25519KeyPair(
        std::span<const uint8_t, kEd25519SeedSize>(seed.data(), kEd25519SeedSize),
        std::span<uint8_t, kEd25519PublicSize>(pub_o.public_key.data(), kEd25519PublicSize),
        std::span<uint8_t, kEd25519SecretSize>(sk.data(), kEd25519SecretSize));
    sealed_material = std::move(seed);
    secret->bytes = std::move(sk);
  }
  priv_o.public_key = pub_o.public_key;
  priv_o.sealed_secret =
      Seal(std::span<const uint8_t, kSealKeySize>(master_key_.data(), kSealKeySize),
           std::span<const uint8_t>(sealed_material.data(), sealed_material.size()), KeyAd(priv_o));
  if (absl::Status st = store_->InsertKeyPair(&pub_o, &priv_o, token_.meta.serial); !st.ok())
    return DeviceError(st);
  auto pub_obj = std::make_shared<Object>();
  pub_obj->stored = std::move(pub_o);
  auto priv_obj = std::make_shared<Object>();
  priv_obj->stored = std::move(priv_o);
  priv_obj->secret = std::move(secret);
  *pub_out = pub_obj->stored.id;
  *priv_out = priv_obj->stored.id;
  objects_[pub_obj->stored.id] = std::move(pub_obj);
  objects_[priv_obj->stored.id] = std::move(priv_obj);
  return CKR_OK;
}

namespace {

// The value of one attribute of `o`, or CKR_ATTRIBUTE_SENSITIVE / CKR_ATTRIBUTE_TYPE_INVALID.
CK_RV AttributeOf(const StoredObject& o, CK_ATTRIBUTE_TYPE type, std::vector<uint8_t>* out) {
  const bool priv = o.object_class == ObjectClass::kPrivateKey;
  switch (type) {
    case CKA_CLASS:
      *out = Ulong(priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY);
      return CKR_OK;
    case CKA_TOKEN:
      *out = Bool(true);
      return CKR_OK;
    case CKA_PRIVATE:
      *out = Bool(priv);
      return CKR_OK;
    case CKA_MODIFIABLE:
      *out = Bool(true);
      return CKR_OK;
    case CKA_COPYABLE:
      *out = Bool(false);
      return CKR_OK;
    case CKA_DESTROYABLE:
      *out = Bool(true);
      return CKR_OK;
    case CKA_LABEL:
      *out = o.label;
      return CKR_OK;
    case CKA_ID:
      *out = o.ckaid;
      return CKR_OK;
    case CKA_KEY_TYPE:
      *out = Ulong(KeyTypeOf(o.curve));
      return CKR_OK;
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_SUBJECT:
      out->clear();
      return CKR_OK;
    case CKA_DERIVE:
      *out = Bool(false);
      return CKR_OK;
    case CKA_LOCAL:
      *out = Bool(true);
      return CKR_OK;
    case CKA_KEY_GEN_MECHANISM:
      *out = Ulong(GenMechanismOf(o.curve));
      return CKR_OK;
    case CKA_ALLOWED_MECHANISMS:
      *out = Ulong(SignMechanismOf(o.curve));
      return CKR_OK;
    case CKA_EC_PARAMS:
      *out = o.ec_params;
      return CKR_OK;
    default:
      break;
  }
  if (!priv) {
    switch (type) {
      case CKA_ENCRYPT:
      case CKA_WRAP:
      case CKA_VERIFY_RECOVER:
      case CKA_TRUSTED:
        *out = Bool(false);
        return CKR_OK;
      case CKA_VERIFY:
        *out = Bool(o.verify);
        return CKR_OK;
      case CKA_EC_POINT:
        *out = EncodeEcPoint(o.public_key);
        return CKR_OK;
      default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
  }
  switch (type) {
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
      *out = Bool(true);
      return CKR_OK;
    case CKA_EXTRACTABLE:
    case CKA_DECRYPT:
    case CKA_UNWRAP:
    case CKA_SIGN_RECOVER:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE:
      *out = Bool(false);
      return CKR_OK;
    case CKA_SIGN:
      *out = Bool(o.sign);
      return CKR_OK;
    case CKA_VALUE:
      return CKR_ATTRIBUTE_SENSITIVE;
    default:
      return CKR_ATTRIBUTE_TYPE_INVALID;
  }
}

}  // namespace

CK_RV Module::GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl,
                                CK_ULONG count) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (tmpl == nullptr && count > 0) return CKR_ARGUMENTS_BAD;
  std::shared_ptr<Object> obj = VisibleObject(o);
  if (obj == nullptr) return CKR_OBJECT_HANDLE_INVALID;
  // Every attribute is processed; the result reports the last problem found, as PKCS#11 asks.
  CK_RV result = CKR_OK;
  std::vector<uint8_t> value;
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_ATTRIBUTE& a = tmpl[i];
    const CK_RV rv = AttributeOf(obj->stored, a.type, &value);
    if (rv != CKR_OK) {
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      result = rv;
      continue;
    }
    if (a.pValue == nullptr) {
      a.ulValueLen = value.size();
    } else if (a.ulValueLen < value.size()) {
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      result = CKR_BUFFER_TOO_SMALL;
    } else {
      if (!value.empty()) std::memcpy(a.pValue, value.data(), value.size());
      a.ulValueLen = value.size();
    }
  }
  return result;
}

CK_RV Module::SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl,
                                CK_ULONG count) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (tmpl == nullptr && count > 0) return CKR_ARGUMENTS_BAD;
  std::shared_ptr<Object> obj = VisibleObject(o);
  if (obj == nullptr) return CKR_OBJECT_HANDLE_INVALID;
  if (!s->read_write) return CKR_SESSION_READ_ONLY;
  std::vector<uint8_t> label = obj->stored.label, ckaid = obj->stored.ckaid;
  std::set<CK_ATTRIBUTE_TYPE> seen;
  std::vector<uint8_t> ignored;
  // Validate everything first, so a rejected template changes nothing.
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = tmpl[i];
    if (!seen.insert(a.type).second) return CKR_TEMPLATE_INCONSISTENT;
    if (a.type == CKA_LABEL || a.type == CKA_ID) {
      if ((a.pValue == nullptr && a.ulValueLen > 0) || a.ulValueLen > kMaxLabelOrIdLen) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
      }
      (a.type == CKA_LABEL ? label : ckaid) = AttributeBytes(a);
      continue;
    }
    const CK_RV known = AttributeOf(obj->stored, a.type, &ignored);
    return known == CKR_ATTRIBUTE_TYPE_INVALID ? CKR_ATTRIBUTE_TYPE_INVALID
                                               : CKR_ATTRIBUTE_READ_ONLY;
  }
  if (absl::Status st = store_->UpdateLabelAndId(obj->stored.id, label, ckaid); !st.ok()) {
    return DeviceError(st);
  }
  obj->stored.label = std::move(label);
  obj->stored.ckaid = std::move(ckaid);
  return CKR_OK;
}

CK_RV Module::FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (tmpl == nullptr && count > 0) return CKR_ARGUMENTS_BAD;
  std::lock_guard<std::mutex> guard(s->mu);
  if (s->find.active) return CKR_OPERATION_ACTIVE;
  std::vector<CK_OBJECT_HANDLE> results;
  std::vector<uint8_t> value;
  for (const auto& [handle, object] : objects_) {
    if (VisibleObject(handle) == nullptr) continue;
    bool match = true;
    for (CK_ULONG i = 0; i < count && match; ++i) {
      const CK_ATTRIBUTE& a = tmpl[i];
      if (AttributeOf(object->stored, a.type, &value) != CKR_OK || value.size() != a.ulValueLen ||
          (a.ulValueLen > 0 &&
           (a.pValue == nullptr || std::memcmp(value.data(), a.pValue, a.ulValueLen) != 0))) {
        match = false;
      }
    }
    if (match) results.push_back(handle);
  }
  s->find.active = true;
  s->find.results = std::move(results);
  s->find.next = 0;
  return CKR_OK;
}

CK_RV Module::FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                          CK_ULONG_PTR count) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  std::lock_guard<std::mutex> guard(s->mu);
  if (!s->find.active) return CKR_OPERATION_NOT_INITIALIZED;
  if ((out == nullptr && max > 0) || count == nullptr) return CKR_ARGUMENTS_BAD;
  CK_ULONG n = 0;
  while (n < max && s->find.next < s->find.results.size()) {
    out[n++] = s->find.results[s->find.next++];
  }
  *count = n;
  return CKR_OK;
}

CK_RV Module::FindObjectsFinal(CK_SESSION_HANDLE h) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  std::lock_guard<std::mutex> guard(s->mu);
  if (!s->find.active) return CKR_OPERATION_NOT_INITIALIZED;
  s->find = FindOp{};
  return CKR_OK;
}

CK_RV Module::DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o) {
  std::unique_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (VisibleObject(o) == nullptr) return CKR_OBJECT_HANDLE_INVALID;
  if (!s->read_write) return CKR_SESSION_READ_ONLY;
  if (absl::Status st = store_->DeleteObject(o); !st.ok()) return DeviceError(st);
  objects_.erase(o);
  return CKR_OK;
}

// ---- signing and verification ----------------------------------------------------------

CK_RV Module::SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (mech == nullptr) return CKR_ARGUMENTS_BAD;
  std::lock_guard<std::mutex> guard(s->mu);
  if (s->sign.active) return CKR_OPERATION_ACTIVE;
  if (mech->mechanism != CKM_ECDSA && mech->mechanism != CKM_EDDSA) return CKR_MECHANISM_INVALID;
  if (mech->pParameter != nullptr || mech->ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
  if (login_ != LoginState::kUser) return CKR_USER_NOT_LOGGED_IN;
  std::shared_ptr<Object> obj = VisibleObject(key);
  if (obj == nullptr) return CKR_KEY_HANDLE_INVALID;
  if (obj->stored.object_class != ObjectClass::kPrivateKey) return CKR_KEY_TYPE_INCONSISTENT;
  if (SignMechanismOf(obj->stored.curve) != mech->mechanism) return CKR_KEY_TYPE_INCONSISTENT;
  if (!obj->stored.sign) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (obj->secret == nullptr) return CKR_GENERAL_ERROR;
  s->sign.active = true;
  s->sign.mechanism = mech->mechanism;
  s->sign.key = obj->secret;
  return CKR_OK;
}

CK_RV Module::Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                   CK_ULONG_PTR sig_len) {
  std::shared_ptr<Session> s;
  uint64_t latency_us, fail_every;
  {
    std::shared_lock lock(mu_);
    if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
    latency_us = config_.latency_us;
    fail_every = config_.fail_sign_every;
  }
  std::shared_ptr<const KeySecret> key;
  CK_MECHANISM_TYPE mechanism;
  {
    std::lock_guard<std::mutex> guard(s->mu);
    if (!s->sign.active) return CKR_OPERATION_NOT_INITIALIZED;
    mechanism = s->sign.mechanism;
    // Any outcome but a length query or a short buffer ends the operation.
    if ((data == nullptr && data_len > 0) || sig_len == nullptr) {
      s->sign = SignOp{};
      return CKR_ARGUMENTS_BAD;
    }
    if (mechanism == CKM_ECDSA && data_len != 32) {
      s->sign = SignOp{};
      return CKR_DATA_LEN_RANGE;
    }
    constexpr CK_ULONG kSigLen = 64;
    if (sig == nullptr) {
      *sig_len = kSigLen;
      return CKR_OK;
    }
    if (*sig_len < kSigLen) {
      *sig_len = kSigLen;
      return CKR_BUFFER_TOO_SMALL;
    }
    key = std::move(s->sign.key);
    s->sign = SignOp{};
  }
  // From here no lock is held: the key stays alive through `key` even if the user logs out.
  if (fail_every != 0 && (++sign_calls_ % fail_every) == 0) return CKR_DEVICE_ERROR;
  if (latency_us != 0) std::this_thread::sleep_for(std::chrono::microseconds(latency_us));
  if (mechanism == CKM_ECDSA) {
    EcdsaSignature out;
    if (!EcdsaSign(
            std::span<const uint8_t, kSecp256k1SecretSize>(key->bytes.data(), kSecp256k1SecretSize),
            std::span<const uint8_t, 32>(data, 32), nullptr, &out)) {
      return CKR_GENERAL_ERROR;
    }
    std::memcpy(sig, out.compact.data(), out.compact.size());
  } else {
    static const uint8_t kEmpty = 0;
    Ed25519Sign(std::span<const uint8_t, kEd25519SecretSize>(key->bytes.data(), kEd25519SecretSize),
                std::span<const uint8_t>(data == nullptr ? &kEmpty : data, data_len),
                std::span<uint8_t, kEd25519SignatureSize>(sig, kEd25519SignatureSize));
  }
  *sig_len = 64;
  return CKR_OK;
}

CK_RV Module::VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (mech == nullptr) return CKR_ARGUMENTS_BAD;
  std::lock_guard<std::mutex> guard(s->mu);
  if (s->verify.active) return CKR_OPERATION_ACTIVE;
  if (mech->mechanism != CKM_ECDSA && mech->mechanism != CKM_EDDSA) return CKR_MECHANISM_INVALID;
  if (mech->pParameter != nullptr || mech->ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
  std::shared_ptr<Object> obj = VisibleObject(key);
  if (obj == nullptr) return CKR_KEY_HANDLE_INVALID;
  if (obj->stored.object_class != ObjectClass::kPublicKey) return CKR_KEY_TYPE_INCONSISTENT;
  if (SignMechanismOf(obj->stored.curve) != mech->mechanism) return CKR_KEY_TYPE_INCONSISTENT;
  if (!obj->stored.verify) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  s->verify.active = true;
  s->verify.mechanism = mech->mechanism;
  s->verify.curve = obj->stored.curve;
  s->verify.public_key = obj->stored.public_key;
  return CKR_OK;
}

CK_RV Module::Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                     CK_ULONG sig_len) {
  std::shared_ptr<Session> s;
  {
    std::shared_lock lock(mu_);
    if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  }
  VerifyOp op;
  {
    std::lock_guard<std::mutex> guard(s->mu);
    if (!s->verify.active) return CKR_OPERATION_NOT_INITIALIZED;
    op = std::move(s->verify);
    s->verify = VerifyOp{};
  }
  if ((data == nullptr && data_len > 0) || sig == nullptr) return CKR_ARGUMENTS_BAD;
  if (op.mechanism == CKM_ECDSA && data_len != 32) return CKR_DATA_LEN_RANGE;
  if (sig_len != 64) return CKR_SIGNATURE_LEN_RANGE;
  static const uint8_t kEmpty = 0;
  const std::span<const uint8_t> message(data == nullptr ? &kEmpty : data, data_len);
  const std::span<const uint8_t> signature(sig, sig_len);
  const bool ok = op.curve == Curve::kSecp256k1
                      ? EcdsaVerifyCompact(op.public_key, message, signature)
                      : Ed25519Verify(op.public_key, message, signature);
  return ok ? CKR_OK : CKR_SIGNATURE_INVALID;
}

CK_RV Module::GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len) {
  std::shared_lock lock(mu_);
  if (!initialized_) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::shared_ptr<Session> s;
  if (CK_RV rv = FindSession(h, &s); rv != CKR_OK) return rv;
  if (out == nullptr && len > 0) return CKR_ARGUMENTS_BAD;
  if (len > 0) randombytes_buf(out, len);
  return CKR_OK;
}

}  // namespace ringfence::hsm_sim

#include "signer/pkcs11_client.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/hex.h"
#include "base/status.h"
#include "chain/ecdsa.h"

namespace ringfence::signer {
namespace {

// DER encodings of the curve parameters (CKA_EC_PARAMS).
constexpr uint8_t kSecp256k1Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};  // 1.3.132.0.10
constexpr uint8_t kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};                 // 1.3.101.112
// PKCS#11 3.0 also allows the curve name as a PrintableString; older modules want only that.
constexpr uint8_t kEd25519Name[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                    's', '2', '5', '5', '1', '9'};

struct CkrEntry {
  CK_RV rv;
  const char* name;
};

constexpr CkrEntry kCkrNames[] = {
    {CKR_OK, "CKR_OK"},
    {CKR_CANCEL, "CKR_CANCEL"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED"},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
};

absl::StatusCode CodeFor(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
      return absl::StatusCode::kPermissionDenied;
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
      return absl::StatusCode::kFailedPrecondition;
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_HOST_MEMORY:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_COUNT:
    case CKR_FUNCTION_FAILED:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_CANCELED:
      return absl::StatusCode::kUnavailable;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
      return absl::StatusCode::kNotFound;
    case CKR_MECHANISM_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_FUNCTION_NOT_SUPPORTED:
      return absl::StatusCode::kUnimplemented;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string TrimPadded(const unsigned char* field, size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// Labels are 32 bytes padded with spaces.
std::array<unsigned char, 32> PaddedLabel(const std::string& label) {
  std::array<unsigned char, 32> out;
  out.fill(' ');
  std::memcpy(out.data(), label.data(), std::min(label.size(), out.size()));
  return out;
}

// Registry of live modules: one C_Initialize per module per process.
struct ModuleEntry {
  std::weak_ptr<Pkcs11Module> module;
  bool finalizing = false;  // The last owner is gone and C_Finalize has not returned yet.
};
std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::condition_variable& RegistryCv() {
  static std::condition_variable cv;
  return cv;
}
std::map<std::string, ModuleEntry>& Registry() {
  static auto* registry = new std::map<std::string, ModuleEntry>();
  return *registry;
}

// Strips a DER OCTET STRING wrapper if `der` is exactly one; otherwise returns it unchanged.
std::span<const uint8_t> UnwrapOctetString(std::span<const uint8_t> der) {
  if (der.size() < 2 || der[0] != 0x04) return der;
  size_t len = der[1];
  size_t header = 2;
  if (len == 0x81) {
    if (der.size() < 3) return der;
    len = der[2];
    header = 3;
  } else if (len > 0x80) {
    return der;
  }
  if (header + len != der.size()) return der;
  return der.subspan(header);
}

absl::StatusOr<std::vector<uint8_t>> GetAttribute(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                                  CK_OBJECT_HANDLE object,
                                                  CK_ATTRIBUTE_TYPE type, const char* name) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  CK_RV rv = fn->C_GetAttributeValue(session, object, &attr, 1);
  if (rv != CKR_OK) return Pkcs11Error("C_GetAttributeValue", rv, name);
  if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION || attr.ulValueLen > 4096) {
    return absl::InternalError(absl::StrCat("token gave no usable length for ", name));
  }
  std::vector<uint8_t> value(attr.ulValueLen);
  attr.pValue = value.data();
  rv = fn->C_GetAttributeValue(session, object, &attr, 1);
  if (rv != CKR_OK) return Pkcs11Error("C_GetAttributeValue", rv, name);
  value.resize(attr.ulValueLen);
  return value;
}

}  // namespace

std::string CkrName(CK_RV rv) {
  for (const CkrEntry& e : kCkrNames) {
    if (e.rv == rv) return e.name;
  }
  return absl::StrFormat("CKR_0x%lx", static_cast<unsigned long>(rv));
}

absl::Status Pkcs11Error(const char* function, CK_RV rv, absl::string_view context) {
  std::string message = absl::StrFormat("%s failed: %s (0x%lx)", function, CkrName(rv),
                                        static_cast<unsigned long>(rv));
  if (rv == CKR_PIN_INCORRECT) absl::StrAppend(&message, ": wrong PIN");
  if (rv == CKR_PIN_LOCKED) absl::StrAppend(&message, ": the PIN is locked after too many wrong tries");
  if (!context.empty()) absl::StrAppend(&message, " (", context, ")");
  return absl::Status(CodeFor(rv), message);
}

// ---------------------------------------------------------------------------------------
// Pkcs11Module

absl::StatusOr<std::shared_ptr<Pkcs11Module>> Pkcs11Module::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("pkcs11 module '", path, "' does not exist"));
  }
  std::unique_lock<std::mutex> lock(RegistryMutex());
  ModuleEntry& entry = Registry()[path];
  RegistryCv().wait(lock, [&] { return !entry.finalizing; });
  if (std::shared_ptr<Pkcs11Module> live = entry.module.lock()) return live;

  // Never dlclose'd: see the header.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load pkcs11 module '", path, "': ", dlerror()));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", path, "' is not a PKCS#11 module: it has no C_GetFunctionList"));
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    return Pkcs11Error("C_GetFunctionList", rv, path);
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  if (rv != CKR_OK) {
    return Pkcs11Error("C_Initialize", rv,
                       absl::StrCat("module '", path,
                                    "'; check the module's configuration and token directory"));
  }
  std::shared_ptr<Pkcs11Module> module(
      new Pkcs11Module(path, handle, fn), [](Pkcs11Module* m) { delete m; });
  entry.module = module;
  return module;
}

Pkcs11Module::~Pkcs11Module() {
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry()[path_].finalizing = true;
  }
  fn_->C_Finalize(nullptr);
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry()[path_].finalizing = false;
  }
  RegistryCv().notify_all();
}

absl::StatusOr<std::vector<CK_SLOT_ID>> Pkcs11Module::SlotsWithToken() const {
  CK_ULONG count = 0;
  CK_RV rv = fn_->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return Pkcs11Error("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(count);
  rv = fn_->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) return Pkcs11Error("C_GetSlotList", rv);
  slots.resize(count);
  return slots;
}

absl::StatusOr<CK_SLOT_ID> Pkcs11Module::FindTokenSlot(const std::string& label) const {
  RF_ASSIGN_OR_RETURN(std::vector<CK_SLOT_ID> slots, SlotsWithToken());
  std::vector<std::string> seen;
  std::vector<CK_SLOT_ID> matches;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    // A token that cannot describe itself is not the one we want.
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    std::string this_label = TrimPadded(info.label, sizeof(info.label));
    if (this_label == label) matches.push_back(slot);
    seen.push_back(absl::StrCat("'", this_label, "'"));
  }
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no initialised token labelled '", label, "' in pkcs11 module '", path_,
        "' (initialised tokens: ", seen.empty() ? "none" : absl::StrJoin(seen, ", "), ")"));
  }
  if (matches.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "more than one token is labelled '", label, "' in pkcs11 module '", path_, "'"));
  }
  return matches.front();
}

absl::StatusOr<CK_SLOT_ID> Pkcs11Module::InitToken(const std::string& label,
                                                   base::SecretBytes so_pin,
                                                   base::SecretBytes user_pin) {
  RF_ASSIGN_OR_RETURN(std::vector<CK_SLOT_ID> slots, SlotsWithToken());
  if (slots.empty()) return absl::NotFoundError("module has no slot with a token");
  CK_SLOT_ID target = slots.front();
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED) == 0) {
      target = slot;
      break;
    }
  }
  std::array<unsigned char, 32> padded = PaddedLabel(label);
  CK_RV rv = fn_->C_InitToken(target, so_pin.data(), so_pin.size(), padded.data());
  if (rv != CKR_OK) return Pkcs11Error("C_InitToken", rv);
  // SoftHSM2 moves a freshly initialised token to a new slot id.
  absl::StatusOr<CK_SLOT_ID> slot = FindTokenSlot(label);
  if (!slot.ok()) return slot.status();
  CK_SESSION_HANDLE session;
  rv = fn_->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
  if (rv != CKR_OK) return Pkcs11Error("C_OpenSession", rv);
  rv = fn_->C_Login(session, CKU_SO, so_pin.data(), so_pin.size());
  if (rv != CKR_OK) {
    fn_->C_CloseSession(session);
    return Pkcs11Error("C_Login(SO)", rv);
  }
  rv = fn_->C_InitPIN(session, user_pin.data(), user_pin.size());
  fn_->C_Logout(session);
  fn_->C_CloseSession(session);
  if (rv != CKR_OK) return Pkcs11Error("C_InitPIN", rv);
  return *slot;
}

// ---------------------------------------------------------------------------------------
// Pkcs11Token

// A pool session for the duration of one operation. Mark it failed after any PKCS#11 error
// so that it is closed instead of going back to the pool.
class Pkcs11Token::Lease {
 public:
  Lease(Pkcs11Token* token, CK_SESSION_HANDLE session) : token_(token), session_(session) {}
  ~Lease() { token_->ReleaseSession(session_, healthy_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  CK_SESSION_HANDLE get() const { return session_; }
  void MarkFailed() { healthy_ = false; }

 private:
  Pkcs11Token* token_;
  CK_SESSION_HANDLE session_;
  bool healthy_ = true;
};

absl::StatusOr<std::unique_ptr<Pkcs11Token>> Pkcs11Token::Open(
    std::shared_ptr<Pkcs11Module> module, const std::string& label, base::SecretBytes pin,
    size_t pool_size) {
  if (pool_size == 0) {
    pin.Wipe();
    return absl::InvalidArgumentError("session pool size must be at least 1");
  }
  absl::StatusOr<CK_SLOT_ID> slot = module->FindTokenSlot(label);
  if (!slot.ok()) {
    pin.Wipe();
    return slot.status();
  }
  std::unique_ptr<Pkcs11Token> token(new Pkcs11Token(module, *slot, pool_size));
  CK_FUNCTION_LIST* fn = module->functions();
  CK_RV rv = fn->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                               &token->login_session_);
  if (rv != CKR_OK) {
    pin.Wipe();
    token->login_session_ = CK_INVALID_HANDLE;
    return Pkcs11Error("C_OpenSession", rv, absl::StrCat("token '", label, "'"));
  }
  rv = fn->C_Login(token->login_session_, CKU_USER, pin.data(), pin.size());
  pin.Wipe();
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    return Pkcs11Error("C_Login", rv, absl::StrCat("token '", label, "'"));
  }
  return token;
}

Pkcs11Token::~Pkcs11Token() {
  CK_FUNCTION_LIST* fn = module_->functions();
  std::unique_lock<std::mutex> lock(mu_);
  // Leases must not outlive the token; wait for any in flight rather than closing under them.
  cv_.wait(lock, [&] { return idle_.size() == open_; });
  for (CK_SESSION_HANDLE s : idle_) fn->C_CloseSession(s);
  idle_.clear();
  open_ = 0;
  if (login_session_ != CK_INVALID_HANDLE) fn->C_CloseSession(login_session_);
}

absl::StatusOr<CK_SESSION_HANDLE> Pkcs11Token::AcquireSession() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < pool_size_; });
    if (!idle_.empty()) {
      CK_SESSION_HANDLE s = idle_.back();
      idle_.pop_back();
      return s;
    }
    ++open_;
  }
  CK_SESSION_HANDLE session;
  CK_RV rv = module_->functions()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                                 nullptr, nullptr, &session);
  if (rv != CKR_OK) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
    cv_.notify_all();
    return Pkcs11Error("C_OpenSession", rv);
  }
  return session;
}

void Pkcs11Token::ReleaseSession(CK_SESSION_HANDLE session, bool healthy) {
  if (!healthy) module_->functions()->C_CloseSession(session);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (healthy) {
      idle_.push_back(session);
    } else {
      --open_;
    }
  }
  cv_.notify_all();
}

absl::StatusOr<CK_OBJECT_HANDLE> Pkcs11Token::FindObject(CK_SESSION_HANDLE session,
                                                         CK_OBJECT_CLASS cls,
                                                         std::span<const uint8_t> id) {
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_ID, const_cast<uint8_t*>(id.data()), id.size()},
  };
  CK_RV rv = fn->C_FindObjectsInit(session, tmpl, 2);
  if (rv != CKR_OK) return Pkcs11Error("C_FindObjectsInit", rv);
  CK_OBJECT_HANDLE found[2];
  CK_ULONG count = 0;
  rv = fn->C_FindObjects(session, found, 2, &count);
  CK_RV final_rv = fn->C_FindObjectsFinal(session);
  if (rv != CKR_OK) return Pkcs11Error("C_FindObjects", rv);
  if (final_rv != CKR_OK) return Pkcs11Error("C_FindObjectsFinal", final_rv);
  const char* what = cls == CKO_PRIVATE_KEY ? "private" : "public";
  if (count == 0) {
    return absl::NotFoundError(
        absl::StrCat("the token has no ", what, " key with CKA_ID ", base::HexEncode(id)));
  }
  if (count > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("the token has more than one ", what, " key with CKA_ID ", base::HexEncode(id)));
  }
  return found[0];
}

absl::StatusOr<CK_OBJECT_HANDLE> Pkcs11Token::PrivateKeyHandle(CK_SESSION_HANDLE session,
                                                               std::span<const uint8_t> id) {
  std::string key(id.begin(), id.end());
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = key_handles_.find(key);
    if (it != key_handles_.end()) return it->second;
  }
  absl::StatusOr<CK_OBJECT_HANDLE> handle = FindObject(session, CKO_PRIVATE_KEY, id);
  if (!handle.ok()) return handle;
  std::lock_guard<std::mutex> lock(mu_);
  key_handles_[key] = *handle;
  return handle;
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Token::ReadPublicKey(CK_SESSION_HANDLE session,
                                                                KeyType type,
                                                                CK_OBJECT_HANDLE pub) {
  CK_FUNCTION_LIST* fn = module_->functions();
  absl::StatusOr<std::vector<uint8_t>> point = GetAttribute(fn, session, pub, CKA_EC_POINT, "CKA_EC_POINT");
  if (!point.ok()) return point.status();
  std::span<const uint8_t> raw(*point);
  std::span<const uint8_t> inner = UnwrapOctetString(raw);
  if (type == KeyType::kEd25519) {
    if (inner.size() == kEd25519PublicKeySize) return std::vector<uint8_t>(inner.begin(), inner.end());
    if (raw.size() == kEd25519PublicKeySize) return std::vector<uint8_t>(raw.begin(), raw.end());
    return absl::InternalError(absl::StrCat(
        "token's CKA_EC_POINT for an Ed25519 key is ", raw.size(), " bytes, not a 32-byte point"));
  }
  absl::StatusOr<std::array<uint8_t, 33>> compressed = chain::CompressPublicKey(inner);
  if (!compressed.ok()) compressed = chain::CompressPublicKey(raw);
  if (!compressed.ok()) {
    return absl::InternalError(absl::StrCat("token's CKA_EC_POINT is not a secp256k1 point: ",
                                            compressed.status().message()));
  }
  return std::vector<uint8_t>(compressed->begin(), compressed->end());
}

absl::StatusOr<TokenKey> Pkcs11Token::GenerateKeyPair(KeyType type, std::span<const uint8_t> id,
                                                      const std::string& label) {
  absl::StatusOr<CK_SESSION_HANDLE> session = AcquireSession();
  if (!session.ok()) return session.status();
  Lease lease(this, *session);
  CK_FUNCTION_LIST* fn = module_->functions();

  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  std::vector<uint8_t> id_copy(id.begin(), id.end());
  std::string label_copy = label;
  CK_MECHANISM mech{type == KeyType::kSecp256k1 ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN,
                    nullptr, 0};

  std::vector<std::span<const uint8_t>> params;
  if (type == KeyType::kSecp256k1) {
    params.push_back(kSecp256k1Oid);
  } else {
    params.push_back(kEd25519Oid);
    params.push_back(kEd25519Name);
  }
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
  CK_RV rv = CKR_GENERAL_ERROR;
  for (std::span<const uint8_t> p : params) {
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, const_cast<uint8_t*>(p.data()), p.size()},
        {CKA_ID, id_copy.data(), id_copy.size()},
        {CKA_LABEL, label_copy.data(), label_copy.size()},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_ID, id_copy.data(), id_copy.size()},
        {CKA_LABEL, label_copy.data(), label_copy.size()},
    };
    rv = fn->C_GenerateKeyPair(lease.get(), &mech, pub_tmpl, std::size(pub_tmpl), priv_tmpl,
                               std::size(priv_tmpl), &pub, &priv);
    // Only the encoding of the curve is in question: retry with the next one.
    if (rv != CKR_ATTRIBUTE_VALUE_INVALID && rv != CKR_DOMAIN_PARAMS_INVALID &&
        rv != CKR_CURVE_NOT_SUPPORTED) {
      break;
    }
  }
  if (rv != CKR_OK) {
    lease.MarkFailed();
    return Pkcs11Error("C_GenerateKeyPair", rv,
                       absl::StrCat(KeyTypeName(type), " key ", base::HexEncode(id)));
  }
  absl::StatusOr<std::vector<uint8_t>> public_key = ReadPublicKey(lease.get(), type, pub);
  if (!public_key.ok()) {
    lease.MarkFailed();
    return public_key.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    key_handles_[std::string(id_copy.begin(), id_copy.end())] = priv;
  }
  return TokenKey{type, std::move(id_copy), *std::move(public_key)};
}

absl::StatusOr<TokenKey> Pkcs11Token::FindKey(std::span<const uint8_t> id) {
  absl::StatusOr<CK_SESSION_HANDLE> session = AcquireSession();
  if (!session.ok()) return session.status();
  Lease lease(this, *session);
  CK_FUNCTION_LIST* fn = module_->functions();
  absl::StatusOr<CK_OBJECT_HANDLE> pub = FindObject(lease.get(), CKO_PUBLIC_KEY, id);
  if (!pub.ok()) {
    if (pub.status().code() != absl::StatusCode::kNotFound) lease.MarkFailed();
    return pub.status();
  }
  CK_KEY_TYPE key_type = 0;
  CK_ATTRIBUTE attr{CKA_KEY_TYPE, &key_type, sizeof(key_type)};
  CK_RV rv = fn->C_GetAttributeValue(lease.get(), *pub, &attr, 1);
  if (rv != CKR_OK) {
    lease.MarkFailed();
    return Pkcs11Error("C_GetAttributeValue", rv, "CKA_KEY_TYPE");
  }
  KeyType type;
  if (key_type == CKK_EC_EDWARDS) {
    type = KeyType::kEd25519;
  } else if (key_type == CKK_EC) {
    absl::StatusOr<std::vector<uint8_t>> params =
        GetAttribute(fn, lease.get(), *pub, CKA_EC_PARAMS, "CKA_EC_PARAMS");
    if (!params.ok()) {
      lease.MarkFailed();
      return params.status();
    }
    if (!std::equal(params->begin(), params->end(), std::begin(kSecp256k1Oid),
                    std::end(kSecp256k1Oid))) {
      return absl::FailedPreconditionError(
          absl::StrCat("key ", base::HexEncode(id), " is an EC key on a curve other than secp256k1"));
    }
    type = KeyType::kSecp256k1;
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", base::HexEncode(id), " has unsupported CKA_KEY_TYPE 0x",
                     absl::Hex(key_type)));
  }
  absl::StatusOr<std::vector<uint8_t>> public_key = ReadPublicKey(lease.get(), type, *pub);
  if (!public_key.ok()) {
    lease.MarkFailed();
    return public_key.status();
  }
  return TokenKey{type, std::vector<uint8_t>(id.begin(), id.end()), *std::move(public_key)};
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Token::SignRaw(KeyType type,
                                                          std::span<const uint8_t> id,
                                                          std::span<const uint8_t> data) {
  if (type == KeyType::kSecp256k1 && data.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECDSA signs a 32-byte digest, got ", data.size(), " bytes"));
  }
  absl::StatusOr<CK_SESSION_HANDLE> session = AcquireSession();
  if (!session.ok()) return session.status();
  Lease lease(this, *session);
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_MECHANISM mech{type == KeyType::kSecp256k1 ? CKM_ECDSA : CKM_EDDSA, nullptr, 0};
  CK_RV rv = CKR_OK;
  // A cached handle can go stale if the key was destroyed and recreated; look it up once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<CK_OBJECT_HANDLE> key = PrivateKeyHandle(lease.get(), id);
    if (!key.ok()) {
      if (key.status().code() != absl::StatusCode::kNotFound) lease.MarkFailed();
      return key.status();
    }
    rv = fn->C_SignInit(lease.get(), &mech, *key);
    if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
      std::lock_guard<std::mutex> lock(mu_);
      key_handles_.erase(std::string(id.begin(), id.end()));
      continue;
    }
    break;
  }
  if (rv != CKR_OK) {
    lease.MarkFailed();
    return Pkcs11Error("C_SignInit", rv, absl::StrCat("key ", base::HexEncode(id)));
  }
  // Ed25519 and ECDSA signatures are both 64 bytes; the spare room tolerates a module that
  // rejects an exact-size buffer without costing the two-call length query on every sign.
  std::vector<uint8_t> sig(128);
  CK_ULONG sig_len = sig.size();
  rv = fn->C_Sign(lease.get(), const_cast<uint8_t*>(data.data()), data.size(), sig.data(), &sig_len);
  if (rv != CKR_OK) {
    lease.MarkFailed();
    return Pkcs11Error("C_Sign", rv, absl::StrCat("key ", base::HexEncode(id)));
  }
  sig.resize(sig_len);
  return sig;
}

absl::StatusOr<chain::FinishedSignature> Pkcs11Token::SignEcdsa(std::span<const uint8_t> id,
                                                                std::span<const uint8_t, 32> digest,
                                                                std::span<const uint8_t> public_key,
                                                                chain::RecoveryId recovery) {
  absl::StatusOr<std::vector<uint8_t>> raw = SignRaw(KeyType::kSecp256k1, id, digest);
  if (!raw.ok()) return raw.status();
  std::array<uint8_t, 32> digest_bytes;
  std::copy(digest.begin(), digest.end(), digest_bytes.begin());
  return CheckTokenEcdsa(*raw, digest_bytes, public_key, recovery);
}

absl::StatusOr<std::array<uint8_t, 64>> Pkcs11Token::SignEd25519(
    std::span<const uint8_t> id, std::span<const uint8_t> message,
    std::span<const uint8_t> public_key) {
  absl::StatusOr<std::vector<uint8_t>> raw = SignRaw(KeyType::kEd25519, id, message);
  if (!raw.ok()) return raw.status();
  absl::Status checked = CheckEd25519(*raw, message, public_key);
  if (!checked.ok()) return checked;
  std::array<uint8_t, 64> out{};
  std::copy(raw->begin(), raw->end(), out.begin());
  return out;
}

}  // namespace ringfence::signer

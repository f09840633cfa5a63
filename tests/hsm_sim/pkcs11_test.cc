// PKCS#11 conformance of libhsm_sim.so, loaded exactly as a client loads it: dlopen the path
// in HSM_SIM_MODULE, call C_GetFunctionList, and use nothing else. Signatures are checked with
// libsecp256k1 and libsodium directly, independently of hsm_sim's own code. Each test gets a
// fresh token directory and a cheap Argon2id cost.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <secp256k1.h>
#include <sodium.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace {

using Bytes = std::vector<uint8_t>;

CK_FUNCTION_LIST_PTR Functions() {
  static CK_FUNCTION_LIST_PTR list = [] {
    const char* path = std::getenv("HSM_SIM_MODULE");
    if (path == nullptr) {
      ADD_FAILURE() << "HSM_SIM_MODULE is not set";
      std::abort();
    }
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      ADD_FAILURE() << "dlopen " << path << ": " << dlerror();
      std::abort();
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR f = nullptr;
    if (get == nullptr || get(&f) != CKR_OK || f == nullptr) std::abort();
    return f;
  }();
  return list;
}

constexpr char kSoPin[] = "so-secret-1";
constexpr char kUserPin[] = "user-pin-1";
const Bytes kSecp256k1Params = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
const Bytes kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};
const Bytes kEdwardsString = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                              'd',  's',  '2', '5', '5', '1', '9'};
const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
// secp256k1's group order n, big-endian.
const Bytes kOrder = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                      0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                      0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

CK_UTF8CHAR_PTR Pin(const char* p) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(p));
}

// s <= n/2, comparing big-endian bytes: 2s <= n.
bool IsLowS(const uint8_t* s) {
  Bytes twice(33, 0);
  unsigned carry = 0;
  for (int i = 31; i >= 0; --i) {
    const unsigned v = (s[i] << 1) | carry;
    twice[i + 1] = v & 0xff;
    carry = v >> 8;
  }
  twice[0] = carry;
  Bytes n(1, 0);
  n.insert(n.end(), kOrder.begin(), kOrder.end());
  return twice <= n;
}

class Pkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    f_ = Functions();
    setenv("HSM_SIM_DIR", (dir_.path() / "token").c_str(), 1);
    setenv("HSM_SIM_ARGON2_OPSLIMIT", "1", 1);
    setenv("HSM_SIM_ARGON2_MEMLIMIT_KIB", "8", 1);
    for (const char* v : {"HSM_SIM_MAX_PIN_TRIES", "HSM_SIM_LATENCY_US", "HSM_SIM_FAIL_SIGN_EVERY",
                          "HSM_SIM_FAIL_OPEN_SESSION"}) {
      unsetenv(v);
    }
  }
  void TearDown() override { f_->C_Finalize(nullptr); }

  CK_RV Init() {
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    return f_->C_Initialize(&args);
  }

  // Initialises the library and the token and sets the user PIN.
  void InitAll() {
    ASSERT_EQ(Init(), CKR_OK);
    InitTokenAndPin();
  }
  void InitTokenAndPin() {
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof(label));
    std::memcpy(label, "ringfence-test", 14);
    ASSERT_EQ(f_->C_InitToken(0, Pin(kSoPin), std::strlen(kSoPin), label), CKR_OK);
    CK_SESSION_HANDLE s = OpenRw();
    ASSERT_EQ(f_->C_Login(s, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_OK);
    ASSERT_EQ(f_->C_InitPIN(s, Pin(kUserPin), std::strlen(kUserPin)), CKR_OK);
    ASSERT_EQ(f_->C_CloseSession(s), CKR_OK);
  }
  CK_SESSION_HANDLE OpenRw() {
    CK_SESSION_HANDLE s = 0;
    EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
              CKR_OK);
    return s;
  }
  CK_SESSION_HANDLE OpenRo() {
    CK_SESSION_HANDLE s = 0;
    EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_OK);
    return s;
  }
  CK_SESSION_HANDLE UserSession() {
    CK_SESSION_HANDLE s = OpenRw();
    EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_OK);
    return s;
  }
  CK_RV GenerateWith(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, std::vector<CK_ATTRIBUTE> pub,
                     std::vector<CK_ATTRIBUTE> priv, CK_OBJECT_HANDLE* pub_h,
                     CK_OBJECT_HANDLE* priv_h) {
    CK_MECHANISM m{mech, nullptr, 0};
    return f_->C_GenerateKeyPair(s, &m, pub.data(), pub.size(), priv.data(), priv.size(), pub_h,
                                 priv_h);
  }
  // Generates a key pair the way pkcs11-tool does, with the given CKA_ID.
  void Generate(CK_SESSION_HANDLE s, bool secp256k1, const std::string& id, CK_OBJECT_HANDLE* pub_h,
                CK_OBJECT_HANDLE* priv_h) {
    CK_BBOOL t = CK_TRUE;
    const Bytes& params = secp256k1 ? kSecp256k1Params : kEdwardsString;
    std::vector<CK_ATTRIBUTE> pub = {
        {CKA_TOKEN, &t, sizeof(t)},
        {CKA_VERIFY, &t, sizeof(t)},
        {CKA_EC_PARAMS, const_cast<uint8_t*>(params.data()), params.size()},
        {CKA_ID, const_cast<char*>(id.data()), id.size()}};
    std::vector<CK_ATTRIBUTE> priv = {{CKA_TOKEN, &t, sizeof(t)},
                                      {CKA_PRIVATE, &t, sizeof(t)},
                                      {CKA_SENSITIVE, &t, sizeof(t)},
                                      {CKA_SIGN, &t, sizeof(t)},
                                      {CKA_ID, const_cast<char*>(id.data()), id.size()}};
    ASSERT_EQ(GenerateWith(s, secp256k1 ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN, pub,
                           priv, pub_h, priv_h),
              CKR_OK);
  }
  CK_RV SignWith(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key,
                 const Bytes& data, Bytes* sig) {
    CK_MECHANISM m{mech, nullptr, 0};
    if (CK_RV rv = f_->C_SignInit(s, &m, key); rv != CKR_OK) return rv;
    sig->assign(64, 0);
    CK_ULONG len = sig->size();
    const CK_RV rv =
        f_->C_Sign(s, const_cast<uint8_t*>(data.data()), data.size(), sig->data(), &len);
    sig->resize(rv == CKR_OK ? len : 0);
    return rv;
  }
  Bytes Attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    EXPECT_EQ(f_->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
    Bytes out(a.ulValueLen);
    a.pValue = out.data();
    EXPECT_EQ(f_->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
    return out;
  }
  // The raw point inside CKA_EC_POINT's DER OCTET STRING.
  Bytes Point(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub) {
    Bytes der = Attribute(s, pub, CKA_EC_POINT);
    EXPECT_GE(der.size(), 2u);
    EXPECT_EQ(der[0], 0x04);
    EXPECT_EQ(der[1], der.size() - 2);
    return Bytes(der.begin() + 2, der.end());
  }
  std::vector<CK_OBJECT_HANDLE> Find(CK_SESSION_HANDLE s, std::vector<CK_ATTRIBUTE> tmpl) {
    EXPECT_EQ(f_->C_FindObjectsInit(s, tmpl.data(), tmpl.size()), CKR_OK);
    std::vector<CK_OBJECT_HANDLE> out(64);
    CK_ULONG n = 0;
    EXPECT_EQ(f_->C_FindObjects(s, out.data(), out.size(), &n), CKR_OK);
    EXPECT_EQ(f_->C_FindObjectsFinal(s), CKR_OK);
    out.resize(n);
    return out;
  }
  CK_FLAGS TokenFlags() {
    CK_TOKEN_INFO info;
    EXPECT_EQ(f_->C_GetTokenInfo(0, &info), CKR_OK);
    return info.flags;
  }
  std::filesystem::path TokenDir() const { return dir_.path() / "token"; }

  ringfence::testing::TempDir dir_{"hsm_sim_pkcs11"};
  CK_FUNCTION_LIST_PTR f_ = nullptr;
};

bool VerifySecp256k1(const Bytes& point, const Bytes& digest, const Bytes& sig) {
  static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  secp256k1_pubkey pub;
  secp256k1_ecdsa_signature s;
  return digest.size() == 32 && sig.size() == 64 &&
         secp256k1_ec_pubkey_parse(ctx, &pub, point.data(), point.size()) &&
         secp256k1_ecdsa_signature_parse_compact(ctx, &s, sig.data()) &&
         secp256k1_ecdsa_verify(ctx, &s, digest.data(), &pub) == 1;
}

TEST_F(Pkcs11Test, LibraryLifecycleAndInitArguments) {
  CK_INFO info;
  EXPECT_EQ(f_->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
  CK_SESSION_HANDLE s;
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s),
            CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(f_->C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);

  CK_C_INITIALIZE_ARGS reserved{};
  reserved.pReserved = &reserved;
  EXPECT_EQ(f_->C_Initialize(&reserved), CKR_ARGUMENTS_BAD);
  auto create = [](CK_VOID_PTR_PTR) -> CK_RV { return CKR_OK; };
  auto other = [](CK_VOID_PTR) -> CK_RV { return CKR_OK; };
  CK_C_INITIALIZE_ARGS callbacks{};
  callbacks.CreateMutex = create;
  callbacks.DestroyMutex = other;
  callbacks.LockMutex = other;
  callbacks.UnlockMutex = other;
  EXPECT_EQ(f_->C_Initialize(&callbacks), CKR_CANT_LOCK);
  CK_C_INITIALIZE_ARGS partial{};
  partial.CreateMutex = create;
  EXPECT_EQ(f_->C_Initialize(&partial), CKR_ARGUMENTS_BAD);

  callbacks.flags = CKF_OS_LOCKING_OK;
  ASSERT_EQ(f_->C_Initialize(&callbacks), CKR_OK);
  EXPECT_EQ(Init(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
  ASSERT_EQ(f_->C_GetInfo(&info), CKR_OK);
  EXPECT_EQ(info.cryptokiVersion.major, 2);
  EXPECT_EQ(info.cryptokiVersion.minor, 40);
  EXPECT_EQ(f_->C_GetInfo(nullptr), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->version.major, 2);
  EXPECT_EQ(f_->version.minor, 40);
  // Unsupported functions say so, with or without valid arguments.
  EXPECT_EQ(f_->C_EncryptInit(1, nullptr, 0), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(f_->C_DigestInit(1, nullptr), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(f_->C_SignUpdate(1, nullptr, 0), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(f_->C_CreateObject(1, nullptr, 0, nullptr), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(f_->C_DeriveKey(1, nullptr, 0, nullptr, 0, nullptr), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(f_->C_Finalize(&info), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_Finalize(nullptr), CKR_OK);
  EXPECT_EQ(f_->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
}

TEST_F(Pkcs11Test, SlotTokenAndMechanismListsUseTheTwoCallConvention) {
  ASSERT_EQ(Init(), CKR_OK);
  CK_ULONG n = 0;
  EXPECT_EQ(f_->C_GetSlotList(CK_TRUE, nullptr, nullptr), CKR_ARGUMENTS_BAD);
  ASSERT_EQ(f_->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
  ASSERT_EQ(n, 1u);
  CK_SLOT_ID slots[2] = {99, 99};
  n = 0;
  EXPECT_EQ(f_->C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, 1u);
  n = 2;
  ASSERT_EQ(f_->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
  EXPECT_EQ(n, 1u);
  const CK_SLOT_ID slot = slots[0];

  CK_SLOT_INFO slot_info;
  ASSERT_EQ(f_->C_GetSlotInfo(slot, &slot_info), CKR_OK);
  EXPECT_TRUE(slot_info.flags & CKF_TOKEN_PRESENT);
  EXPECT_EQ(f_->C_GetSlotInfo(slot + 7, &slot_info), CKR_SLOT_ID_INVALID);
  CK_TOKEN_INFO token;
  EXPECT_EQ(f_->C_GetTokenInfo(slot + 7, &token), CKR_SLOT_ID_INVALID);
  EXPECT_FALSE(TokenFlags() & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(TokenFlags() & CKF_USER_PIN_INITIALIZED);
  // The directory is created on first use; the database only when the token is initialised.
  EXPECT_TRUE(std::filesystem::is_directory(TokenDir()));
  EXPECT_FALSE(std::filesystem::exists(TokenDir() / "token.db"));

  ASSERT_EQ(f_->C_GetMechanismList(slot, nullptr, &n), CKR_OK);
  ASSERT_EQ(n, 4u);
  std::vector<CK_MECHANISM_TYPE> mechs(n);
  CK_ULONG small = 1;
  EXPECT_EQ(f_->C_GetMechanismList(slot, mechs.data(), &small), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(small, 4u);
  ASSERT_EQ(f_->C_GetMechanismList(slot, mechs.data(), &n), CKR_OK);
  for (CK_MECHANISM_TYPE m :
       {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA}) {
    EXPECT_NE(std::find(mechs.begin(), mechs.end(), m), mechs.end()) << m;
  }
  CK_MECHANISM_INFO mi;
  ASSERT_EQ(f_->C_GetMechanismInfo(slot, CKM_ECDSA, &mi), CKR_OK);
  EXPECT_TRUE(mi.flags & CKF_SIGN);
  EXPECT_TRUE(mi.flags & CKF_VERIFY);
  ASSERT_EQ(f_->C_GetMechanismInfo(slot, CKM_EC_EDWARDS_KEY_PAIR_GEN, &mi), CKR_OK);
  EXPECT_TRUE(mi.flags & CKF_GENERATE_KEY_PAIR);
  EXPECT_EQ(f_->C_GetMechanismInfo(slot, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);
  EXPECT_EQ(f_->C_GetMechanismInfo(slot, CKM_ECDSA_SHA256, &mi), CKR_MECHANISM_INVALID);

  InitTokenAndPin();
  ASSERT_EQ(f_->C_GetTokenInfo(slot, &token), CKR_OK);
  EXPECT_TRUE(token.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_TRUE(token.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(token.flags & CKF_LOGIN_REQUIRED);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(token.label), 14), "ringfence-test");
  EXPECT_EQ(token.label[14], ' ');
}

TEST_F(Pkcs11Test, SessionAndLoginStates) {
  InitAll();
  CK_SESSION_HANDLE h;
  EXPECT_EQ(f_->C_OpenSession(0, CKF_RW_SESSION, nullptr, nullptr, &h),
            CKR_SESSION_PARALLEL_NOT_SUPPORTED);
  EXPECT_EQ(f_->C_OpenSession(5, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_SLOT_ID_INVALID);
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, nullptr), CKR_ARGUMENTS_BAD);
  const CK_SESSION_HANDLE ro = OpenRo();
  const CK_SESSION_HANDLE rw = OpenRw();
  CK_SESSION_INFO info;
  ASSERT_EQ(f_->C_GetSessionInfo(ro, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RO_PUBLIC_SESSION);
  ASSERT_EQ(f_->C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_PUBLIC_SESSION);
  EXPECT_TRUE(info.flags & CKF_RW_SESSION);
  EXPECT_EQ(f_->C_GetSessionInfo(rw + 100, &info), CKR_SESSION_HANDLE_INVALID);
  EXPECT_EQ(f_->C_GetSessionInfo(rw, nullptr), CKR_ARGUMENTS_BAD);

  EXPECT_EQ(f_->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
  EXPECT_EQ(f_->C_Login(rw, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)),
            CKR_SESSION_READ_ONLY_EXISTS);
  EXPECT_EQ(f_->C_Login(rw, 7, Pin(kUserPin), std::strlen(kUserPin)), CKR_USER_TYPE_INVALID);
  EXPECT_EQ(f_->C_Login(rw, CKU_USER, nullptr, 0), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_Login(rw + 100, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)),
            CKR_SESSION_HANDLE_INVALID);
  ASSERT_EQ(f_->C_Login(rw, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_OK);
  // Login is shared by all of the application's sessions.
  ASSERT_EQ(f_->C_GetSessionInfo(ro, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RO_USER_FUNCTIONS);
  ASSERT_EQ(f_->C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_USER_FUNCTIONS);
  EXPECT_EQ(f_->C_Login(ro, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)),
            CKR_USER_ALREADY_LOGGED_IN);
  EXPECT_EQ(f_->C_Login(ro, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)),
            CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
  ASSERT_EQ(f_->C_Logout(ro), CKR_OK);
  ASSERT_EQ(f_->C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_PUBLIC_SESSION);

  ASSERT_EQ(f_->C_CloseSession(ro), CKR_OK);
  EXPECT_EQ(f_->C_CloseSession(ro), CKR_SESSION_HANDLE_INVALID);
  ASSERT_EQ(f_->C_Login(rw, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_OK);
  ASSERT_EQ(f_->C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_SO_FUNCTIONS);
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h),
            CKR_SESSION_READ_WRITE_SO_EXISTS);
  // Closing the last session ends the login.
  ASSERT_EQ(f_->C_CloseAllSessions(0), CKR_OK);
  const CK_SESSION_HANDLE again = OpenRw();
  ASSERT_EQ(f_->C_GetSessionInfo(again, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_PUBLIC_SESSION);
  EXPECT_EQ(f_->C_GetSessionInfo(rw, &info), CKR_SESSION_HANDLE_INVALID);

  Bytes random(48, 0);
  ASSERT_EQ(f_->C_GenerateRandom(again, random.data(), random.size()), CKR_OK);
  EXPECT_NE(random, Bytes(48, 0));
  EXPECT_EQ(f_->C_GenerateRandom(again, nullptr, 4), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_GenerateRandom(again + 9, random.data(), 4), CKR_SESSION_HANDLE_INVALID);
}

TEST_F(Pkcs11Test, UninitialisedTokenRefusesLoginAndInitTokenNeedsNoSessions) {
  ASSERT_EQ(Init(), CKR_OK);
  const CK_SESSION_HANDLE s = OpenRw();
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)),
            CKR_USER_PIN_NOT_INITIALIZED);
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof(label));
  EXPECT_EQ(f_->C_InitToken(0, Pin(kSoPin), std::strlen(kSoPin), label), CKR_SESSION_EXISTS);
  ASSERT_EQ(f_->C_CloseSession(s), CKR_OK);
  EXPECT_EQ(f_->C_InitToken(0, Pin("abc"), 3, label), CKR_PIN_LEN_RANGE);
  EXPECT_EQ(f_->C_InitToken(0, nullptr, 0, label), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_InitToken(0, Pin(kSoPin), std::strlen(kSoPin), nullptr), CKR_ARGUMENTS_BAD);
  EXPECT_FALSE(std::filesystem::exists(TokenDir() / "token.db"));
  ASSERT_EQ(f_->C_InitToken(0, Pin(kSoPin), std::strlen(kSoPin), label), CKR_OK);
  EXPECT_TRUE(TokenFlags() & CKF_TOKEN_INITIALIZED);
  const CK_SESSION_HANDLE s2 = OpenRw();
  EXPECT_EQ(f_->C_Login(s2, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)),
            CKR_USER_PIN_NOT_INITIALIZED);
  EXPECT_EQ(f_->C_InitPIN(s2, Pin(kUserPin), std::strlen(kUserPin)), CKR_USER_NOT_LOGGED_IN);
  ASSERT_EQ(f_->C_Login(s2, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_OK);
  EXPECT_EQ(f_->C_InitPIN(s2, Pin("12"), 2), CKR_PIN_LEN_RANGE);
  EXPECT_EQ(f_->C_InitPIN(s2, nullptr, 4), CKR_ARGUMENTS_BAD);
}

TEST_F(Pkcs11Test, Secp256k1SignsDeterministicLowSThatVerifiesIndependently) {
  InitAll();
  const CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "k1", &pub, &priv);
  const Bytes point = Point(s, pub);
  ASSERT_EQ(point.size(), 65u);
  EXPECT_EQ(point[0], 0x04);
  EXPECT_EQ(Attribute(s, pub, CKA_EC_PARAMS), kSecp256k1Params);
  EXPECT_EQ(Attribute(s, priv, CKA_EC_PARAMS), kSecp256k1Params);

  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
  Bytes digest(32);
  size_t high_s_possible = 0;
  for (int i = 0; i < 64; ++i) {
    randombytes_buf(digest.data(), digest.size());
    // Length query first: NULL buffer, then a short one; the operation stays active.
    ASSERT_EQ(f_->C_SignInit(s, &ecdsa, priv), CKR_OK);
    CK_ULONG len = 0;
    ASSERT_EQ(f_->C_Sign(s, digest.data(), 32, nullptr, &len), CKR_OK);
    ASSERT_EQ(len, 64u);
    Bytes sig(64);
    len = 10;
    ASSERT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), &len), CKR_BUFFER_TOO_SMALL);
    ASSERT_EQ(len, 64u);
    ASSERT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), &len), CKR_OK);
    ASSERT_EQ(len, 64u);
    // The operation ended with the signature.
    EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
    ASSERT_TRUE(IsLowS(sig.data() + 32));
    ASSERT_TRUE(VerifySecp256k1(point, digest, sig));
    Bytes again;
    ASSERT_EQ(SignWith(s, CKM_ECDSA, priv, digest, &again), CKR_OK);
    ASSERT_EQ(again, sig) << "RFC 6979 signing must be deterministic";
    // C_Verify agrees, and rejects the high-S twin and a tampered digest.
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    ASSERT_EQ(f_->C_VerifyInit(s, &m, pub), CKR_OK);
    ASSERT_EQ(f_->C_Verify(s, digest.data(), 32, sig.data(), 64), CKR_OK);
    Bytes high = sig;
    int borrow = 0;
    for (int b = 31; b >= 0; --b) {
      int v = kOrder[b] - sig[32 + b] - borrow;
      borrow = v < 0;
      high[32 + b] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
    }
    ASSERT_TRUE(VerifySecp256k1(point, digest, sig));
    ASSERT_EQ(f_->C_VerifyInit(s, &m, pub), CKR_OK);
    ASSERT_EQ(f_->C_Verify(s, digest.data(), 32, high.data(), 64), CKR_SIGNATURE_INVALID);
    high_s_possible += !IsLowS(high.data() + 32);
    Bytes other = digest;
    other[0] ^= 0x80;
    ASSERT_EQ(f_->C_VerifyInit(s, &m, pub), CKR_OK);
    ASSERT_EQ(f_->C_Verify(s, other.data(), 32, sig.data(), 64), CKR_SIGNATURE_INVALID);
  }
  EXPECT_EQ(high_s_possible, 64u);
}

TEST_F(Pkcs11Test, Ed25519SignsPureEdDsaThatVerifiesIndependently) {
  InitAll();
  const CK_SESSION_HANDLE s = UserSession();
  for (const Bytes& params : {kEdwardsString, kEd25519Oid}) {
    CK_BBOOL t = CK_TRUE;
    std::vector<CK_ATTRIBUTE> pub_t = {
        {CKA_EC_PARAMS, const_cast<uint8_t*>(params.data()), params.size()},
        {CKA_TOKEN, &t, sizeof(t)}};
    CK_OBJECT_HANDLE pub, priv;
    ASSERT_EQ(GenerateWith(s, CKM_EC_EDWARDS_KEY_PAIR_GEN, pub_t, {}, &pub, &priv), CKR_OK);
    EXPECT_EQ(Attribute(s, pub, CKA_EC_PARAMS), params);
    CK_KEY_TYPE kt;
    std::memcpy(&kt, Attribute(s, pub, CKA_KEY_TYPE).data(), sizeof(kt));
    EXPECT_EQ(kt, CKK_EC_EDWARDS);
    const Bytes point = Point(s, pub);
    ASSERT_EQ(point.size(), 32u);
    for (size_t len : {0, 1, 33, 1000}) {
      Bytes msg(len);
      randombytes_buf(msg.data(), msg.size());
      Bytes sig;
      ASSERT_EQ(SignWith(s, CKM_EDDSA, priv, msg, &sig), CKR_OK) << len;
      ASSERT_EQ(sig.size(), 64u);
      const uint8_t dummy = 0;
      EXPECT_EQ(crypto_sign_ed25519_verify_detached(sig.data(), msg.empty() ? &dummy : msg.data(),
                                                    msg.size(), point.data()),
                0)
          << len;
      CK_MECHANISM m{CKM_EDDSA, nullptr, 0};
      ASSERT_EQ(f_->C_VerifyInit(s, &m, pub), CKR_OK);
      EXPECT_EQ(f_->C_Verify(s, msg.data(), msg.size(), sig.data(), 64), CKR_OK);
      ASSERT_EQ(f_->C_VerifyInit(s, &m, pub), CKR_OK);
      EXPECT_EQ(f_->C_Verify(s, msg.data(), msg.size(), sig.data(), 63), CKR_SIGNATURE_LEN_RANGE);
      sig[40] ^= 4;
      ASSERT_EQ(f_->C_VerifyInit(s, &m, pub), CKR_OK);
      EXPECT_EQ(f_->C_Verify(s, msg.data(), msg.size(), sig.data(), 64), CKR_SIGNATURE_INVALID);
    }
  }
}

TEST_F(Pkcs11Test, SignAndVerifyErrorCodes) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE k_pub, k_priv, e_pub, e_priv;
  Generate(s, true, "k", &k_pub, &k_priv);
  Generate(s, false, "e", &e_pub, &e_priv);
  Bytes digest(32, 7), sig(64);
  CK_ULONG len = 64;
  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0}, eddsa{CKM_EDDSA, nullptr, 0};
  CK_MECHANISM sha{CKM_ECDSA_SHA256, nullptr, 0};
  uint8_t param = 0;
  CK_MECHANISM with_param{CKM_ECDSA, &param, 1};
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
  EXPECT_EQ(f_->C_SignInit(s, &sha, k_priv), CKR_MECHANISM_INVALID);
  EXPECT_EQ(f_->C_SignInit(s, &with_param, k_priv), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(f_->C_SignInit(s, nullptr, k_priv), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_SignInit(s, &ecdsa, e_priv), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(f_->C_SignInit(s, &eddsa, k_priv), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(f_->C_SignInit(s, &ecdsa, k_pub), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(f_->C_SignInit(s, &ecdsa, 0xdead), CKR_KEY_HANDLE_INVALID);
  EXPECT_EQ(f_->C_SignInit(s + 50, &ecdsa, k_priv), CKR_SESSION_HANDLE_INVALID);
  ASSERT_EQ(f_->C_SignInit(s, &ecdsa, k_priv), CKR_OK);
  EXPECT_EQ(f_->C_SignInit(s, &ecdsa, k_priv), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 31, sig.data(), &len), CKR_DATA_LEN_RANGE);
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
  ASSERT_EQ(f_->C_SignInit(s, &ecdsa, k_priv), CKR_OK);
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), nullptr), CKR_ARGUMENTS_BAD);

  EXPECT_EQ(f_->C_Verify(s, digest.data(), 32, sig.data(), 64), CKR_OPERATION_NOT_INITIALIZED);
  EXPECT_EQ(f_->C_VerifyInit(s, &ecdsa, k_priv), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(f_->C_VerifyInit(s, &eddsa, k_pub), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(f_->C_VerifyInit(s, &sha, k_pub), CKR_MECHANISM_INVALID);
  ASSERT_EQ(f_->C_VerifyInit(s, &ecdsa, k_pub), CKR_OK);
  EXPECT_EQ(f_->C_VerifyInit(s, &ecdsa, k_pub), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(f_->C_Verify(s, digest.data(), 33, sig.data(), 64), CKR_DATA_LEN_RANGE);

  // After logout, private keys are invisible and signing needs a login again.
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  EXPECT_EQ(f_->C_SignInit(s, &ecdsa, k_priv), CKR_USER_NOT_LOGGED_IN);
  // Verification with a public key needs no login.
  ASSERT_EQ(f_->C_VerifyInit(s, &ecdsa, k_pub), CKR_OK);
  EXPECT_EQ(f_->C_Verify(s, digest.data(), 32, sig.data(), 64), CKR_SIGNATURE_INVALID);
}

TEST_F(Pkcs11Test, LogoutEndsAnActiveSignOperation) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "k", &pub, &priv);
  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
  ASSERT_EQ(f_->C_SignInit(s, &ecdsa, priv), CKR_OK);
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  Bytes digest(32, 1), sig(64);
  CK_ULONG len = 64;
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(Pkcs11Test, KeyTemplatesAreCheckedAndRejectionsChangeNothing) {
  InitAll();
  const CK_SESSION_HANDLE s = UserSession();
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
  CK_KEY_TYPE ec = CKK_EC, rsa = CKK_RSA;
  CK_ULONG bits = 2048;
  uint8_t two = 2;
  auto params = [](const Bytes& p) {
    return CK_ATTRIBUTE{CKA_EC_PARAMS, const_cast<uint8_t*>(p.data()), p.size()};
  };
  const CK_ATTRIBUTE k1 = params(kSecp256k1Params);
  const Bytes truncated(kSecp256k1Params.begin(), kSecp256k1Params.end() - 1);
  CK_OBJECT_HANDLE pub, priv;
  struct Case {
    const char* what;
    CK_MECHANISM_TYPE mech;
    std::vector<CK_ATTRIBUTE> pub, priv;
    CK_RV want;
  };
  const std::vector<Case> cases = {
      {"no EC params", CKM_EC_KEY_PAIR_GEN, {}, {}, CKR_TEMPLATE_INCOMPLETE},
      {"P-256", CKM_EC_KEY_PAIR_GEN, {params(kP256Params)}, {}, CKR_CURVE_NOT_SUPPORTED},
      {"truncated OID", CKM_EC_KEY_PAIR_GEN, {params(truncated)}, {}, CKR_CURVE_NOT_SUPPORTED},
      {"Ed25519 params with EC mechanism",
       CKM_EC_KEY_PAIR_GEN,
       {params(kEd25519Oid)},
       {},
       CKR_TEMPLATE_INCONSISTENT},
      {"secp256k1 params with Edwards mechanism",
       CKM_EC_EDWARDS_KEY_PAIR_GEN,
       {k1},
       {},
       CKR_TEMPLATE_INCONSISTENT},
      {"mismatched params",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {params(kP256Params)},
       CKR_TEMPLATE_INCONSISTENT},
      {"insensitive",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {{CKA_SENSITIVE, &f, sizeof(f)}},
       CKR_TEMPLATE_INCONSISTENT},
      {"extractable",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {{CKA_EXTRACTABLE, &t, sizeof(t)}},
       CKR_TEMPLATE_INCONSISTENT},
      {"public private key",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {{CKA_PRIVATE, &f, sizeof(f)}},
       CKR_TEMPLATE_INCONSISTENT},
      {"session object",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_TOKEN, &f, sizeof(f)}},
       {},
       CKR_TEMPLATE_INCONSISTENT},
      {"wrong class",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_CLASS, &priv_class, sizeof(priv_class)}},
       {},
       CKR_TEMPLATE_INCONSISTENT},
      {"wrong private class",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {{CKA_CLASS, &pub_class, sizeof(pub_class)}},
       CKR_TEMPLATE_INCONSISTENT},
      {"wrong key type",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_KEY_TYPE, &rsa, sizeof(rsa)}},
       {},
       CKR_TEMPLATE_INCONSISTENT},
      {"Edwards key type CKK_EC",
       CKM_EC_EDWARDS_KEY_PAIR_GEN,
       {params(kEd25519Oid), {CKA_KEY_TYPE, &ec, sizeof(ec)}},
       {},
       CKR_TEMPLATE_INCONSISTENT},
      {"decrypting key",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {{CKA_DECRYPT, &t, sizeof(t)}},
       CKR_TEMPLATE_INCONSISTENT},
      {"duplicate attribute", CKM_EC_KEY_PAIR_GEN, {k1, k1}, {}, CKR_TEMPLATE_INCONSISTENT},
      {"unknown attribute",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_MODULUS_BITS, &bits, sizeof(bits)}},
       {},
       CKR_ATTRIBUTE_TYPE_INVALID},
      {"sign on public half",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_SIGN, &t, sizeof(t)}},
       {},
       CKR_ATTRIBUTE_TYPE_INVALID},
      {"bool of wrong size",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_TOKEN, &bits, sizeof(bits)}},
       {},
       CKR_ATTRIBUTE_VALUE_INVALID},
      {"bool out of range",
       CKM_EC_KEY_PAIR_GEN,
       {k1},
       {{CKA_SIGN, &two, 1}},
       CKR_ATTRIBUTE_VALUE_INVALID},
      {"oversized label",
       CKM_EC_KEY_PAIR_GEN,
       {k1, {CKA_LABEL, &bits, 5000}},
       {},
       CKR_ATTRIBUTE_VALUE_INVALID},
      {"RSA mechanism", CKM_RSA_PKCS_KEY_PAIR_GEN, {k1}, {}, CKR_MECHANISM_INVALID},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(GenerateWith(s, c.mech, c.pub, c.priv, &pub, &priv), c.want) << c.what;
  }
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_ATTRIBUTE a = k1;
  EXPECT_EQ(f_->C_GenerateKeyPair(s, &gen, &a, 1, nullptr, 0, nullptr, &priv), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_GenerateKeyPair(s, nullptr, &a, 1, nullptr, 0, &pub, &priv), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(f_->C_GenerateKeyPair(s, &gen, nullptr, 1, nullptr, 0, &pub, &priv), CKR_ARGUMENTS_BAD);
  uint8_t p = 1;
  CK_MECHANISM gen_param{CKM_EC_KEY_PAIR_GEN, &p, 1};
  EXPECT_EQ(f_->C_GenerateKeyPair(s, &gen_param, &a, 1, nullptr, 0, &pub, &priv),
            CKR_MECHANISM_PARAM_INVALID);
  const CK_SESSION_HANDLE ro = OpenRo();
  EXPECT_EQ(f_->C_GenerateKeyPair(ro, &gen, &a, 1, nullptr, 0, &pub, &priv), CKR_SESSION_READ_ONLY);
  EXPECT_TRUE(Find(s, {}).empty()) << "a rejected template must create nothing";
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  EXPECT_EQ(f_->C_GenerateKeyPair(s, &gen, &a, 1, nullptr, 0, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
}

TEST_F(Pkcs11Test, PrivateKeysAreSensitiveAndHiddenWithoutLogin) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "secret-key", &pub, &priv);
  CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, never = CK_FALSE, always = CK_FALSE;
  uint8_t value[64];
  CK_ATTRIBUTE attrs[] = {{CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
                          {CKA_VALUE, value, sizeof(value)},
                          {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
                          {CKA_NEVER_EXTRACTABLE, &never, sizeof(never)},
                          {CKA_ALWAYS_SENSITIVE, &always, sizeof(always)}};
  EXPECT_EQ(f_->C_GetAttributeValue(s, priv, attrs, 5), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(attrs[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(sensitive, CK_TRUE);
  EXPECT_EQ(extractable, CK_FALSE);
  EXPECT_EQ(never, CK_TRUE);
  EXPECT_EQ(always, CK_TRUE);
  CK_ATTRIBUTE query{CKA_VALUE, nullptr, 0};
  EXPECT_EQ(f_->C_GetAttributeValue(s, priv, &query, 1), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(query.ulValueLen, CK_UNAVAILABLE_INFORMATION);

  CK_ATTRIBUTE unknown{CKA_MODULUS, nullptr, 0};
  EXPECT_EQ(f_->C_GetAttributeValue(s, pub, &unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
  EXPECT_EQ(unknown.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  uint8_t tiny[3];
  CK_ATTRIBUTE short_buf{CKA_EC_POINT, tiny, sizeof(tiny)};
  EXPECT_EQ(f_->C_GetAttributeValue(s, pub, &short_buf, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(short_buf.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(f_->C_GetAttributeValue(s, 0x77777, &query, 1), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(f_->C_GetAttributeValue(s, pub, nullptr, 1), CKR_ARGUMENTS_BAD);

  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  EXPECT_EQ(Find(s, {{CKA_CLASS, &priv_class, sizeof(priv_class)}}),
            std::vector<CK_OBJECT_HANDLE>{priv});
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  EXPECT_TRUE(Find(s, {{CKA_CLASS, &priv_class, sizeof(priv_class)}}).empty());
  EXPECT_EQ(Find(s, {}), std::vector<CK_OBJECT_HANDLE>{pub});
  CK_ATTRIBUTE label{CKA_LABEL, nullptr, 0};
  EXPECT_EQ(f_->C_GetAttributeValue(s, priv, &label, 1), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(f_->C_GetAttributeValue(s, pub, &label, 1), CKR_OK);
}

TEST_F(Pkcs11Test, FindSetAndDestroyObjects) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE a_pub, a_priv, b_pub, b_priv;
  Generate(s, true, "a", &a_pub, &a_priv);
  Generate(s, false, "b", &b_pub, &b_priv);
  EXPECT_EQ(Find(s, {}).size(), 4u);
  std::string id = "b";
  EXPECT_EQ(Find(s, {{CKA_ID, id.data(), id.size()}}).size(), 2u);
  CK_KEY_TYPE edwards = CKK_EC_EDWARDS;
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
  EXPECT_EQ(Find(s, {{CKA_KEY_TYPE, &edwards, sizeof(edwards)},
                     {CKA_CLASS, &pub_class, sizeof(pub_class)}}),
            std::vector<CK_OBJECT_HANDLE>{b_pub});

  CK_OBJECT_HANDLE out[1];
  CK_ULONG n;
  EXPECT_EQ(f_->C_FindObjects(s, out, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
  EXPECT_EQ(f_->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
  ASSERT_EQ(f_->C_FindObjectsInit(s, nullptr, 0), CKR_OK);
  EXPECT_EQ(f_->C_FindObjectsInit(s, nullptr, 0), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(f_->C_FindObjects(s, out, 1, nullptr), CKR_ARGUMENTS_BAD);
  size_t total = 0;
  do {
    ASSERT_EQ(f_->C_FindObjects(s, out, 1, &n), CKR_OK);
    total += n;
  } while (n > 0);
  EXPECT_EQ(total, 4u);
  ASSERT_EQ(f_->C_FindObjectsFinal(s), CKR_OK);

  std::string label = "renamed", new_id = "zz";
  CK_ATTRIBUTE set[] = {{CKA_LABEL, label.data(), label.size()},
                        {CKA_ID, new_id.data(), new_id.size()}};
  ASSERT_EQ(f_->C_SetAttributeValue(s, a_priv, set, 2), CKR_OK);
  const Bytes got = Attribute(s, a_priv, CKA_LABEL);
  EXPECT_EQ(std::string(got.begin(), got.end()), label);
  CK_BBOOL f = CK_FALSE;
  CK_ATTRIBUTE ro_attr[] = {{CKA_LABEL, label.data(), 3}, {CKA_SENSITIVE, &f, sizeof(f)}};
  EXPECT_EQ(f_->C_SetAttributeValue(s, a_priv, ro_attr, 2), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(Attribute(s, a_priv, CKA_LABEL), got) << "a rejected template must change nothing";
  CK_ATTRIBUTE bad{CKA_MODULUS, label.data(), 1};
  EXPECT_EQ(f_->C_SetAttributeValue(s, a_priv, &bad, 1), CKR_ATTRIBUTE_TYPE_INVALID);
  const CK_SESSION_HANDLE ro = OpenRo();
  EXPECT_EQ(f_->C_SetAttributeValue(ro, a_priv, set, 1), CKR_SESSION_READ_ONLY);
  EXPECT_EQ(f_->C_DestroyObject(ro, b_pub), CKR_SESSION_READ_ONLY);

  ASSERT_EQ(f_->C_DestroyObject(s, b_pub), CKR_OK);
  EXPECT_EQ(f_->C_DestroyObject(s, b_pub), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(Find(s, {}).size(), 3u);

  // All of it is on disk: a fresh library instance sees the same objects.
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);
  ASSERT_EQ(Init(), CKR_OK);
  s = UserSession();
  EXPECT_EQ(Find(s, {}).size(), 3u);
  EXPECT_EQ(Find(s, {{CKA_ID, new_id.data(), new_id.size()}}),
            std::vector<CK_OBJECT_HANDLE>{a_priv});
  EXPECT_TRUE(Find(s, {{CKA_ID, id.data(), id.size()}, {CKA_CLASS, &pub_class, sizeof(pub_class)}})
                  .empty());
}

TEST_F(Pkcs11Test, KeysPersistAcrossFinalizeAndSignTheSame) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE k_pub, k_priv, e_pub, e_priv;
  Generate(s, true, "k", &k_pub, &k_priv);
  Generate(s, false, "e", &e_pub, &e_priv);
  Bytes digest(32, 0x42), msg = {'h', 'i'}, k_sig, e_sig;
  ASSERT_EQ(SignWith(s, CKM_ECDSA, k_priv, digest, &k_sig), CKR_OK);
  ASSERT_EQ(SignWith(s, CKM_EDDSA, e_priv, msg, &e_sig), CKR_OK);
  const Bytes k_point = Point(s, k_pub);
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);

  ASSERT_EQ(Init(), CKR_OK);
  EXPECT_TRUE(TokenFlags() & CKF_USER_PIN_INITIALIZED);
  s = UserSession();
  std::string id = "k";
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  const auto found =
      Find(s, {{CKA_ID, id.data(), id.size()}, {CKA_CLASS, &priv_class, sizeof(priv_class)}});
  ASSERT_EQ(found, std::vector<CK_OBJECT_HANDLE>{k_priv});
  Bytes again;
  ASSERT_EQ(SignWith(s, CKM_ECDSA, k_priv, digest, &again), CKR_OK);
  EXPECT_EQ(again, k_sig);
  ASSERT_EQ(SignWith(s, CKM_EDDSA, e_priv, msg, &again), CKR_OK);
  EXPECT_EQ(again, e_sig);
  EXPECT_EQ(Point(s, k_pub), k_point);
  EXPECT_TRUE(VerifySecp256k1(k_point, digest, k_sig));

  // The key material on disk is sealed: the secret scalar never appears in the file.
  const std::string file = [&] {
    std::ifstream in(TokenDir() / "token.db", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  EXPECT_NE(file.find(std::string(k_point.begin() + 1, k_point.end())), std::string::npos)
      << "the public key should be stored in the clear";

  // Re-initialising the token (with the SO PIN) wipes every key.
  ASSERT_EQ(f_->C_CloseAllSessions(0), CKR_OK);
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof(label));
  EXPECT_EQ(f_->C_InitToken(0, Pin("wrong-so-pin"), 12, label), CKR_PIN_INCORRECT);
  ASSERT_EQ(f_->C_InitToken(0, Pin(kSoPin), std::strlen(kSoPin), label), CKR_OK);
  EXPECT_FALSE(TokenFlags() & CKF_USER_PIN_INITIALIZED);
  s = OpenRw();
  EXPECT_TRUE(Find(s, {}).empty());
}

TEST_F(Pkcs11Test, WrongPinCountsAndLocksPersistently) {
  setenv("HSM_SIM_MAX_PIN_TRIES", "3", 1);
  InitAll();
  CK_SESSION_HANDLE s = OpenRw();
  const char* wrong = "not-the-pin";
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(wrong), std::strlen(wrong)), CKR_PIN_INCORRECT);
  EXPECT_TRUE(TokenFlags() & CKF_USER_PIN_COUNT_LOW);
  EXPECT_FALSE(TokenFlags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin("x"), 1), CKR_PIN_INCORRECT) << "too short still counts";
  EXPECT_TRUE(TokenFlags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(wrong), std::strlen(wrong)), CKR_PIN_INCORRECT);
  EXPECT_TRUE(TokenFlags() & CKF_USER_PIN_LOCKED);
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_PIN_LOCKED);

  // The lock is on disk, not in memory.
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);
  ASSERT_EQ(Init(), CKR_OK);
  EXPECT_TRUE(TokenFlags() & CKF_USER_PIN_LOCKED);
  s = OpenRw();
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_PIN_LOCKED);

  // The SO unlocks the user by setting a new PIN; a success resets the count.
  ASSERT_EQ(f_->C_Login(s, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_OK);
  const char* fresh = "fresh-user-pin";
  ASSERT_EQ(f_->C_InitPIN(s, Pin(fresh), std::strlen(fresh)), CKR_OK);
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  EXPECT_FALSE(TokenFlags() & CKF_USER_PIN_LOCKED);
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(wrong), std::strlen(wrong)), CKR_PIN_INCORRECT);
  ASSERT_EQ(f_->C_Login(s, CKU_USER, Pin(fresh), std::strlen(fresh)), CKR_OK);
  EXPECT_FALSE(TokenFlags() & CKF_USER_PIN_COUNT_LOW);
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);

  // The SO PIN locks too, and then even re-initialising the token is refused.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f_->C_Login(s, CKU_SO, Pin(wrong), std::strlen(wrong)), CKR_PIN_INCORRECT);
  }
  EXPECT_TRUE(TokenFlags() & CKF_SO_PIN_LOCKED);
  EXPECT_EQ(f_->C_Login(s, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_PIN_LOCKED);
  ASSERT_EQ(f_->C_CloseAllSessions(0), CKR_OK);
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof(label));
  EXPECT_EQ(f_->C_InitToken(0, Pin(kSoPin), std::strlen(kSoPin), label), CKR_PIN_LOCKED);
}

TEST_F(Pkcs11Test, SetPinRewrapsTheMasterKey) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "k", &pub, &priv);
  Bytes digest(32, 9), before, after;
  ASSERT_EQ(SignWith(s, CKM_ECDSA, priv, digest, &before), CKR_OK);
  const char* next = "next-user-pin";
  const CK_SESSION_HANDLE ro = OpenRo();
  EXPECT_EQ(f_->C_SetPIN(ro, Pin(kUserPin), std::strlen(kUserPin), Pin(next), std::strlen(next)),
            CKR_SESSION_READ_ONLY);
  EXPECT_EQ(f_->C_SetPIN(s, Pin(kUserPin), std::strlen(kUserPin), Pin("ab"), 2), CKR_PIN_LEN_RANGE);
  EXPECT_EQ(f_->C_SetPIN(s, Pin("bad-old-pin"), 11, Pin(next), std::strlen(next)),
            CKR_PIN_INCORRECT);
  EXPECT_EQ(f_->C_SetPIN(s, nullptr, 0, Pin(next), std::strlen(next)), CKR_ARGUMENTS_BAD);
  ASSERT_EQ(f_->C_SetPIN(s, Pin(kUserPin), std::strlen(kUserPin), Pin(next), std::strlen(next)),
            CKR_OK);
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_PIN_INCORRECT);
  ASSERT_EQ(f_->C_Login(s, CKU_USER, Pin(next), std::strlen(next)), CKR_OK);
  ASSERT_EQ(SignWith(s, CKM_ECDSA, priv, digest, &after), CKR_OK);
  EXPECT_EQ(after, before);
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  // The SO changes its own PIN from an SO session.
  const char* so_next = "next-so-pin";
  ASSERT_EQ(f_->C_CloseSession(ro), CKR_OK);
  ASSERT_EQ(f_->C_Login(s, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_OK);
  ASSERT_EQ(f_->C_SetPIN(s, Pin(kSoPin), std::strlen(kSoPin), Pin(so_next), std::strlen(so_next)),
            CKR_OK);
  ASSERT_EQ(f_->C_Logout(s), CKR_OK);
  EXPECT_EQ(f_->C_Login(s, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), CKR_PIN_INCORRECT);
  EXPECT_EQ(f_->C_Login(s, CKU_SO, Pin(so_next), std::strlen(so_next)), CKR_OK);
}

TEST_F(Pkcs11Test, CorruptOrMissingStateIsAnErrorAndNeverReset) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "k", &pub, &priv);
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);
  const std::filesystem::path db = TokenDir() / "token.db";
  const std::string good = [&] {
    std::ifstream in(db, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  auto write = [&](const std::string& content) {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);
    out << content;
  };

  write(std::string(4096, 'x'));
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);
  EXPECT_EQ(std::filesystem::file_size(db), 4096u) << "a corrupt token must not be re-created";
  write(good.substr(0, good.size() / 2));
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);
  write("");
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR) << "an empty token.db is damage, not a fresh token";

  // A sealed key that was tampered with stops the login rather than vanishing quietly.
  write(good);
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h,
                           "UPDATE objects SET sealed = zeroblob(length(sealed)) "
                           "WHERE sealed IS NOT NULL",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  ASSERT_EQ(Init(), CKR_OK);
  s = OpenRw();
  EXPECT_EQ(f_->C_Login(s, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_DEVICE_ERROR);
  CK_SESSION_INFO info;
  ASSERT_EQ(f_->C_GetSessionInfo(s, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_PUBLIC_SESSION);
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);

  // A record with an impossible shape is named and refused at load.
  write(good);
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "UPDATE objects SET public_key = x'0102'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);
  write(good);
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "DELETE FROM pins WHERE role = 0", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);

  // token.db that is not a file, a directory path that is a file, a missing parent.
  std::filesystem::remove(db);
  std::filesystem::create_directory(db);
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);
  std::filesystem::remove(db);
  const std::filesystem::path file = dir_.path() / "plain-file";
  std::ofstream(file) << "x";
  setenv("HSM_SIM_DIR", file.c_str(), 1);
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);
  setenv("HSM_SIM_DIR", (dir_.path() / "missing" / "token").c_str(), 1);
  EXPECT_EQ(Init(), CKR_DEVICE_ERROR);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "missing"));
  unsetenv("HSM_SIM_DIR");
  EXPECT_EQ(Init(), CKR_GENERAL_ERROR);
  setenv("HSM_SIM_DIR", TokenDir().c_str(), 1);
  setenv("HSM_SIM_FAIL_SIGN_EVERY", "three", 1);
  EXPECT_EQ(Init(), CKR_GENERAL_ERROR);
  setenv("HSM_SIM_FAIL_SIGN_EVERY", "-1", 1);
  EXPECT_EQ(Init(), CKR_GENERAL_ERROR);
  unsetenv("HSM_SIM_FAIL_SIGN_EVERY");
  setenv("HSM_SIM_ARGON2_MEMLIMIT_KIB", "1", 1);
  EXPECT_EQ(Init(), CKR_GENERAL_ERROR);
  setenv("HSM_SIM_ARGON2_MEMLIMIT_KIB", "8", 1);
  // With the database gone (and the directory kept) the token is simply uninitialised.
  ASSERT_EQ(Init(), CKR_OK);
  EXPECT_FALSE(TokenFlags() & CKF_TOKEN_INITIALIZED);
}

TEST_F(Pkcs11Test, FaultInjectionFailsEveryNthSignAndOpenSession) {
  setenv("HSM_SIM_FAIL_SIGN_EVERY", "3", 1);
  setenv("HSM_SIM_FAIL_OPEN_SESSION", "4", 1);
  InitAll();                            // opens one session: call 1
  CK_SESSION_HANDLE s = UserSession();  // call 2
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "k", &pub, &priv);
  Bytes digest(32, 3), sig;
  std::vector<CK_RV> results;
  for (int i = 0; i < 6; ++i) results.push_back(SignWith(s, CKM_ECDSA, priv, digest, &sig));
  EXPECT_EQ(results, (std::vector<CK_RV>{CKR_OK, CKR_OK, CKR_DEVICE_ERROR, CKR_OK, CKR_OK,
                                         CKR_DEVICE_ERROR}));
  // A failed C_Sign ends the operation; the next one starts clean.
  CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
  CK_ULONG len = 64;
  Bytes out(64);
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, out.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
  ASSERT_EQ(f_->C_SignInit(s, &m, priv), CKR_OK);
  // Length queries are not signatures and do not count.
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, nullptr, &len), CKR_OK);
  EXPECT_EQ(f_->C_Sign(s, digest.data(), 32, out.data(), &len), CKR_OK);

  CK_SESSION_HANDLE h;
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_OK);            // 3
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_DEVICE_ERROR);  // 4
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_OK);            // 5
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);

  setenv("HSM_SIM_FAIL_OPEN_SESSION", "1", 1);
  unsetenv("HSM_SIM_FAIL_SIGN_EVERY");
  ASSERT_EQ(Init(), CKR_OK);
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_DEVICE_ERROR);
  EXPECT_EQ(f_->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_DEVICE_ERROR);
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);

  unsetenv("HSM_SIM_FAIL_OPEN_SESSION");
  setenv("HSM_SIM_LATENCY_US", "30000", 1);
  ASSERT_EQ(Init(), CKR_OK);
  s = UserSession();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(SignWith(s, CKM_ECDSA, priv, digest, &sig), CKR_OK);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // A lower bound only: the added latency must be there; nothing is asserted about speed.
  EXPECT_GE(elapsed, std::chrono::microseconds(30000));
}

TEST_F(Pkcs11Test, TwoThreadsSignConcurrentlyInTheirOwnSessions) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE k_pub, k_priv, e_pub, e_priv;
  Generate(s, true, "k", &k_pub, &k_priv);
  Generate(s, false, "e", &e_pub, &e_priv);
  const Bytes k_point = Point(s, k_pub), e_point = Point(s, e_pub);
  constexpr int kPerThread = 300;
  std::atomic<int> good{0}, bad{0};
  auto worker = [&](int seed) {
    const CK_SESSION_HANDLE mine = OpenRo();
    for (int i = 0; i < kPerThread; ++i) {
      Bytes digest(32, static_cast<uint8_t>(seed));
      digest[0] = static_cast<uint8_t>(i);
      digest[1] = static_cast<uint8_t>(i >> 8);
      Bytes sig;
      const bool ecdsa = i % 3 != 0;
      if (SignWith(mine, ecdsa ? CKM_ECDSA : CKM_EDDSA, ecdsa ? k_priv : e_priv, digest, &sig) !=
          CKR_OK) {
        ++bad;
        continue;
      }
      const bool ok = ecdsa ? VerifySecp256k1(k_point, digest, sig)
                            : crypto_sign_ed25519_verify_detached(sig.data(), digest.data(), 32,
                                                                  e_point.data()) == 0;
      ++(ok ? good : bad);
    }
    f_->C_CloseSession(mine);
  };
  std::thread a(worker, 1), b(worker, 2);
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(good.load(), 2 * kPerThread);
}

TEST_F(Pkcs11Test, WritesAfterAnotherProcessReinitialisedTheTokenAreRefused) {
  InitAll();
  CK_SESSION_HANDLE s = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(s, true, "before", &pub, &priv);
  // Another process re-initialises the token: the file now carries another serial.
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open((TokenDir() / "token.db").c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "UPDATE meta SET value = 'ffffffffffffffff' WHERE key = 'serial'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  CK_BBOOL t = CK_TRUE;
  std::vector<CK_ATTRIBUTE> pub_t = {
      {CKA_EC_PARAMS, const_cast<uint8_t*>(kSecp256k1Params.data()), kSecp256k1Params.size()},
      {CKA_TOKEN, &t, sizeof(t)}};
  CK_OBJECT_HANDLE p2, k2;
  EXPECT_EQ(GenerateWith(s, CKM_EC_KEY_PAIR_GEN, pub_t, {}, &p2, &k2), CKR_DEVICE_ERROR);
  const char* next = "another-pin";
  EXPECT_EQ(f_->C_SetPIN(s, Pin(kUserPin), std::strlen(kUserPin), Pin(next), std::strlen(next)),
            CKR_DEVICE_ERROR);
  EXPECT_EQ(Find(s, {}).size(), 2u);
}

TEST_F(Pkcs11Test, SigningRacesWithLogoutAndLoginSafely) {
  InitAll();
  const CK_SESSION_HANDLE admin = UserSession();
  CK_OBJECT_HANDLE pub, priv;
  Generate(admin, true, "k", &pub, &priv);
  const Bytes point = Point(admin, pub);
  std::atomic<bool> stop{false};
  std::atomic<int> signed_ok{0}, bad_signature{0}, unexpected{0}, attempts{0};
  auto signer = [&] {
    const CK_SESSION_HANDLE mine = OpenRo();
    Bytes digest(32, 0x21), sig;
    while (!stop) {
      const CK_RV rv = SignWith(mine, CKM_ECDSA, priv, digest, &sig);
      ++attempts;
      if (rv == CKR_OK) {
        ++(VerifySecp256k1(point, digest, sig) ? signed_ok : bad_signature);
      } else if (rv != CKR_USER_NOT_LOGGED_IN && rv != CKR_OPERATION_NOT_INITIALIZED &&
                 rv != CKR_KEY_HANDLE_INVALID) {
        ++unexpected;
      }
    }
  };
  // Waits (30 s ceiling, never a speed assertion) until `done` holds.
  auto wait_until = [](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  std::thread a(signer), b(signer);
  // The race starts once both signers are signing, however slowly the machine schedules them.
  wait_until([&] { return attempts.load() >= 2; });
  // Logging out wipes the unsealed keys while the other threads may be signing with them.
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(f_->C_Logout(admin), CKR_OK);
    EXPECT_EQ(f_->C_Login(admin, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), CKR_OK);
  }
  // Logged in again: the signers' sessions sign validly again (on a loaded machine they may not
  // have had a turn between a login and the next logout above).
  wait_until([&] { return signed_ok.load() > 0; });
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(bad_signature.load(), 0);
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(signed_ok.load(), 0);
}

TEST_F(Pkcs11Test, KillingAWriterMidKeygenLeavesAConsistentToken) {
  InitAll();
  ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);
  size_t total_pairs = 0;
  for (int round = 0; round < 3; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // The child generates keys until it is killed, reporting each finished pair.
      close(pipe_fds[0]);
      if (Init() != CKR_OK) _exit(2);
      const CK_SESSION_HANDLE s = UserSession();
      for (int i = 0;; ++i) {
        CK_OBJECT_HANDLE pub, priv;
        Generate(s, i % 2 == 0, "crash", &pub, &priv);
        const char done = 'k';
        if (write(pipe_fds[1], &done, 1) != 1) _exit(3);
      }
    }
    close(pipe_fds[1]);
    // Kill it while it is inside its next C_GenerateKeyPair (after a few completed ones).
    char c;
    for (int i = 0; i < 3 + round; ++i) ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    close(pipe_fds[0]);

    // The token opens, every pair is whole and every sealed key unseals and signs.
    ASSERT_EQ(Init(), CKR_OK);
    const CK_SESSION_HANDLE s = UserSession();
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
    const auto pubs = Find(s, {{CKA_CLASS, &pub_class, sizeof(pub_class)}});
    const auto privs = Find(s, {{CKA_CLASS, &priv_class, sizeof(priv_class)}});
    EXPECT_EQ(pubs.size(), privs.size());
    EXPECT_GE(privs.size(), total_pairs + 3 + round);
    total_pairs = privs.size();
    for (CK_OBJECT_HANDLE priv : privs) {
      CK_KEY_TYPE kt;
      std::memcpy(&kt, Attribute(s, priv, CKA_KEY_TYPE).data(), sizeof(kt));
      Bytes sig;
      EXPECT_EQ(SignWith(s, kt == CKK_EC ? CKM_ECDSA : CKM_EDDSA, priv, Bytes(32, 5), &sig),
                CKR_OK);
    }
    ASSERT_EQ(f_->C_Finalize(nullptr), CKR_OK);
  }
}

}  // namespace

// The exported PKCS#11 surface of libhsm_sim.so. Only C_GetFunctionList is visible from the
// shared object; every other function is reached through the function list it returns.
// Each entry point forwards to the one Module and turns any escaping exception into an error
// code: SecretBytes buffers on the unwound stack have already wiped their secrets by the time the
// handler runs, so nothing secret outlives the failed call.
#include <p11-kit/pkcs11.h>

#include <new>

#include "hsm_sim/module.h"

namespace ringfence::hsm_sim {
namespace {

Module& TheModule() {
  // Never destroyed: a thread still inside the library at process exit must not find it gone.
  static Module* module = new Module();
  return *module;
}

template <typename F>
CK_RV Guard(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return CKR_HOST_MEMORY;
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

template <typename... Args>
CK_RV NotSupported(Args...) {
  return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV Initialize(CK_VOID_PTR a) {
  return Guard([&] { return TheModule().Initialize(a); });
}
CK_RV Finalize(CK_VOID_PTR r) {
  return Guard([&] { return TheModule().Finalize(r); });
}
CK_RV GetInfo(CK_INFO_PTR i) {
  return Guard([&] { return TheModule().GetInfo(i); });
}
CK_RV GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);
CK_RV GetSlotList(CK_BBOOL p, CK_SLOT_ID_PTR l, CK_ULONG_PTR c) {
  return Guard([&] { return TheModule().GetSlotList(p, l, c); });
}
CK_RV GetSlotInfo(CK_SLOT_ID s, CK_SLOT_INFO_PTR i) {
  return Guard([&] { return TheModule().GetSlotInfo(s, i); });
}
CK_RV GetTokenInfo(CK_SLOT_ID s, CK_TOKEN_INFO_PTR i) {
  return Guard([&] { return TheModule().GetTokenInfo(s, i); });
}
CK_RV GetMechanismList(CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, CK_ULONG_PTR c) {
  return Guard([&] { return TheModule().GetMechanismList(s, l, c); });
}
CK_RV GetMechanismInfo(CK_SLOT_ID s, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO_PTR i) {
  return Guard([&] { return TheModule().GetMechanismInfo(s, t, i); });
}
CK_RV InitToken(CK_SLOT_ID s, CK_UTF8CHAR_PTR p, CK_ULONG n, CK_UTF8CHAR_PTR l) {
  return Guard([&] { return TheModule().InitToken(s, p, n, l); });
}
CK_RV InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR p, CK_ULONG n) {
  return Guard([&] { return TheModule().InitPIN(h, p, n); });
}
CK_RV SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR o, CK_ULONG on, CK_UTF8CHAR_PTR p, CK_ULONG pn) {
  return Guard([&] { return TheModule().SetPIN(h, o, on, p, pn); });
}
CK_RV OpenSession(CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR, CK_NOTIFY, CK_SESSION_HANDLE_PTR h) {
  // Notification callbacks are never called: this token raises no surrender events.
  return Guard([&] { return TheModule().OpenSession(s, f, h); });
}
CK_RV CloseSession(CK_SESSION_HANDLE h) {
  return Guard([&] { return TheModule().CloseSession(h); });
}
CK_RV CloseAllSessions(CK_SLOT_ID s) {
  return Guard([&] { return TheModule().CloseAllSessions(s); });
}
CK_RV GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR i) {
  return Guard([&] { return TheModule().GetSessionInfo(h, i); });
}
CK_RV Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG n) {
  return Guard([&] { return TheModule().Login(h, u, p, n); });
}
CK_RV Logout(CK_SESSION_HANDLE h) {
  return Guard([&] { return TheModule().Logout(h); });
}
CK_RV GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pt, CK_ULONG pc,
                      CK_ATTRIBUTE_PTR vt, CK_ULONG vc, CK_OBJECT_HANDLE_PTR po,
                      CK_OBJECT_HANDLE_PTR vo) {
  return Guard([&] { return TheModule().GenerateKeyPair(h, m, pt, pc, vt, vc, po, vo); });
}
CK_RV GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG c) {
  return Guard([&] { return TheModule().GetAttributeValue(h, o, t, c); });
}
CK_RV SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG c) {
  return Guard([&] { return TheModule().SetAttributeValue(h, o, t, c); });
}
CK_RV FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG c) {
  return Guard([&] { return TheModule().FindObjectsInit(h, t, c); });
}
CK_RV FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR c) {
  return Guard([&] { return TheModule().FindObjects(h, o, m, c); });
}
CK_RV FindObjectsFinal(CK_SESSION_HANDLE h) {
  return Guard([&] { return TheModule().FindObjectsFinal(h); });
}
CK_RV DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o) {
  return Guard([&] { return TheModule().DestroyObject(h, o); });
}
CK_RV SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  return Guard([&] { return TheModule().SignInit(h, m, k); });
}
CK_RV Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl) {
  return Guard([&] { return TheModule().Sign(h, d, dl, s, sl); });
}
CK_RV VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  return Guard([&] { return TheModule().VerifyInit(h, m, k); });
}
CK_RV Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl) {
  return Guard([&] { return TheModule().Verify(h, d, dl, s, sl); });
}
CK_RV GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG n) {
  return Guard([&] { return TheModule().GenerateRandom(h, o, n); });
}

CK_FUNCTION_LIST BuildFunctionList() {
  CK_FUNCTION_LIST f{};
  f.version = {2, 40};
  f.C_Initialize = Initialize;
  f.C_Finalize = Finalize;
  f.C_GetInfo = GetInfo;
  f.C_GetFunctionList = GetFunctionList;
  f.C_GetSlotList = GetSlotList;
  f.C_GetSlotInfo = GetSlotInfo;
  f.C_GetTokenInfo = GetTokenInfo;
  f.C_GetMechanismList = GetMechanismList;
  f.C_GetMechanismInfo = GetMechanismInfo;
  f.C_InitToken = InitToken;
  f.C_InitPIN = InitPIN;
  f.C_SetPIN = SetPIN;
  f.C_OpenSession = OpenSession;
  f.C_CloseSession = CloseSession;
  f.C_CloseAllSessions = CloseAllSessions;
  f.C_GetSessionInfo = GetSessionInfo;
  f.C_GetOperationState = NotSupported;
  f.C_SetOperationState = NotSupported;
  f.C_Login = Login;
  f.C_Logout = Logout;
  f.C_CreateObject = NotSupported;
  f.C_CopyObject = NotSupported;
  f.C_DestroyObject = DestroyObject;
  f.C_GetObjectSize = NotSupported;
  f.C_GetAttributeValue = GetAttributeValue;
  f.C_SetAttributeValue = SetAttributeValue;
  f.C_FindObjectsInit = FindObjectsInit;
  f.C_FindObjects = FindObjects;
  f.C_FindObjectsFinal = FindObjectsFinal;
  f.C_EncryptInit = NotSupported;
  f.C_Encrypt = NotSupported;
  f.C_EncryptUpdate = NotSupported;
  f.C_EncryptFinal = NotSupported;
  f.C_DecryptInit = NotSupported;
  f.C_Decrypt = NotSupported;
  f.C_DecryptUpdate = NotSupported;
  f.C_DecryptFinal = NotSupported;
  f.C_DigestInit = NotSupported;
  f.C_Digest = NotSupported;
  f.C_DigestUpdate = NotSupported;
  f.C_DigestKey = NotSupported;
  f.C_DigestFinal = NotSupported;
  f.C_SignInit = SignInit;
  f.C_Sign = Sign;
  f.C_SignUpdate = NotSupported;
  f.C_SignFinal = NotSupported;
  f.C_SignRecoverInit = NotSupported;
  f.C_SignRecover = NotSupported;
  f.C_VerifyInit = VerifyInit;
  f.C_Verify = Verify;
  f.C_VerifyUpdate = NotSupported;
  f.C_VerifyFinal = NotSupported;
  f.C_VerifyRecoverInit = NotSupported;
  f.C_VerifyRecover = NotSupported;
  f.C_DigestEncryptUpdate = NotSupported;
  f.C_DecryptDigestUpdate = NotSupported;
  f.C_SignEncryptUpdate = NotSupported;
  f.C_DecryptVerifyUpdate = NotSupported;
  f.C_GenerateKey = NotSupported;
  f.C_GenerateKeyPair = GenerateKeyPair;
  f.C_WrapKey = NotSupported;
  f.C_UnwrapKey = NotSupported;
  f.C_DeriveKey = NotSupported;
  f.C_SeedRandom = NotSupported;
  f.C_GenerateRandom = GenerateRandom;
  f.C_GetFunctionStatus = NotSupported;
  f.C_CancelFunction = NotSupported;
  f.C_WaitForSlotEvent = NotSupported;
  return f;
}

CK_FUNCTION_LIST g_function_list = BuildFunctionList();

CK_RV GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = &g_function_list;
  return CKR_OK;
}

}  // namespace
}  // namespace ringfence::hsm_sim

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR list) {
  return ringfence::hsm_sim::GetFunctionList(list);
}

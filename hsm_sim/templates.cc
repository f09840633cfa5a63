#include "hsm_sim/templates.h"

#include <cstring>
#include <optional>
#include <set>

namespace ringfence::hsm_sim {
namespace {

CK_RV ReadUlong(const CK_ATTRIBUTE& a, CK_ULONG* out) {
  if (a.pValue == nullptr || a.ulValueLen != sizeof(CK_ULONG)) return CKR_ATTRIBUTE_VALUE_INVALID;
  std::memcpy(out, a.pValue, sizeof(CK_ULONG));
  return CKR_OK;
}

}  // namespace

std::vector<uint8_t> AttributeBytes(const CK_ATTRIBUTE& a) {
  const auto* p = static_cast<const uint8_t*>(a.pValue);
  return p == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(p, p + a.ulValueLen);
}

CK_RV ReadBool(const CK_ATTRIBUTE& a, bool* out) {
  if (a.pValue == nullptr || a.ulValueLen != sizeof(CK_BBOOL)) return CKR_ATTRIBUTE_VALUE_INVALID;
  const CK_BBOOL v = *static_cast<const CK_BBOOL*>(a.pValue);
  if (v != CK_TRUE && v != CK_FALSE) return CKR_ATTRIBUTE_VALUE_INVALID;
  *out = v == CK_TRUE;
  return CKR_OK;
}

// The token honours only what it can keep: token objects, sensitive non-extractable private
// keys used for signing alone. Anything else is refused rather than silently ignored.
CK_RV ParseKeyTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, bool is_private,
                       CK_KEY_TYPE key_type, KeyTemplate* out) {
  if (tmpl == nullptr && count > 0) return CKR_ARGUMENTS_BAD;
  std::set<CK_ATTRIBUTE_TYPE> seen;
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = tmpl[i];
    if (!seen.insert(a.type).second) return CKR_TEMPLATE_INCONSISTENT;
    // Boolean attributes whose value is fixed for this token: true if it must be set.
    std::optional<bool> fixed;
    switch (a.type) {
      case CKA_CLASS: {
        CK_ULONG v;
        if (CK_RV rv = ReadUlong(a, &v); rv != CKR_OK) return rv;
        if (v != (is_private ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY)) return CKR_TEMPLATE_INCONSISTENT;
        continue;
      }
      case CKA_KEY_TYPE: {
        CK_ULONG v;
        if (CK_RV rv = ReadUlong(a, &v); rv != CKR_OK) return rv;
        if (v != key_type) return CKR_TEMPLATE_INCONSISTENT;
        continue;
      }
      case CKA_LABEL:
      case CKA_ID:
        if (a.pValue == nullptr && a.ulValueLen > 0) return CKR_ATTRIBUTE_VALUE_INVALID;
        if (a.ulValueLen > kMaxLabelOrIdLen) return CKR_ATTRIBUTE_VALUE_INVALID;
        (a.type == CKA_LABEL ? out->label : out->ckaid) = AttributeBytes(a);
        continue;
      case CKA_EC_PARAMS:
        if (a.pValue == nullptr || a.ulValueLen == 0 || a.ulValueLen > 64) {
          return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        out->ec_params = AttributeBytes(a);
        continue;
      case CKA_SIGN:
      case CKA_VERIFY:
        if ((a.type == CKA_SIGN) != is_private) return CKR_ATTRIBUTE_TYPE_INVALID;
        if (CK_RV rv = ReadBool(a, &out->usage); rv != CKR_OK) return rv;
        continue;
      case CKA_TOKEN:
      case CKA_MODIFIABLE:
      case CKA_DESTROYABLE:
        fixed = true;
        break;
      case CKA_COPYABLE:
        fixed = false;
        break;
      case CKA_DERIVE: {
        // OpenSC's pkcs11-tool asks for derivation on every EC key. The token has no
        // derivation mechanism, so the request is accepted and the key reads CKA_DERIVE false.
        bool ignored;
        if (CK_RV rv = ReadBool(a, &ignored); rv != CKR_OK) return rv;
        continue;
      }
      case CKA_PRIVATE:
        fixed = is_private;
        break;
      case CKA_ENCRYPT:
      case CKA_WRAP:
      case CKA_VERIFY_RECOVER:
      case CKA_TRUSTED:
        if (is_private) return CKR_ATTRIBUTE_TYPE_INVALID;
        fixed = false;
        break;
      case CKA_SENSITIVE:
        if (!is_private) return CKR_ATTRIBUTE_TYPE_INVALID;
        fixed = true;
        break;
      case CKA_EXTRACTABLE:
      case CKA_DECRYPT:
      case CKA_UNWRAP:
      case CKA_SIGN_RECOVER:
      case CKA_ALWAYS_AUTHENTICATE:
      case CKA_WRAP_WITH_TRUSTED:
        if (!is_private) return CKR_ATTRIBUTE_TYPE_INVALID;
        fixed = false;
        break;
      default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    bool v;
    if (CK_RV rv = ReadBool(a, &v); rv != CKR_OK) return rv;
    if (v != *fixed) return CKR_TEMPLATE_INCONSISTENT;
  }
  return CKR_OK;
}

}  // namespace ringfence::hsm_sim

// Parsing of the attribute templates a client hands to C_GenerateKeyPair and
// C_SetAttributeValue. These are the token's parsers of outside input: the functions read the
// caller's CK_ATTRIBUTE arrays (which the caller owns) and never write to them. Stateless and
// thread-safe.
#ifndef RINGFENCE_HSM_SIM_TEMPLATES_H_
#define RINGFENCE_HSM_SIM_TEMPLATES_H_

#include <p11-kit/pkcs11.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ringfence::hsm_sim {

inline constexpr size_t kMaxLabelOrIdLen = 1024;

// What one half of a GenerateKeyPair template asks for.
struct KeyTemplate {
  std::vector<uint8_t> label;
  std::vector<uint8_t> ckaid;
  std::optional<std::vector<uint8_t>> ec_params;
  bool usage = true;  // CKA_SIGN (private half) or CKA_VERIFY (public half)
};

// The bytes of an attribute value (empty for a NULL pointer).
std::vector<uint8_t> AttributeBytes(const CK_ATTRIBUTE& a);

// A CK_BBOOL attribute: CKR_ATTRIBUTE_VALUE_INVALID unless it is one byte holding CK_TRUE or
// CK_FALSE.
CK_RV ReadBool(const CK_ATTRIBUTE& a, bool* out);

// Parses one half of a key pair template for a key of `key_type`. Returns CKR_OK and fills
// `out`, or: CKR_ARGUMENTS_BAD (NULL template with a count), CKR_TEMPLATE_INCONSISTENT (a
// duplicate attribute, a class or key type that does not match, or a value the token will not
// honour such as CKA_SENSITIVE false), CKR_ATTRIBUTE_TYPE_INVALID (an attribute this half of the
// pair does not have), CKR_ATTRIBUTE_VALUE_INVALID (a malformed or oversized value).
CK_RV ParseKeyTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, bool is_private,
                       CK_KEY_TYPE key_type, KeyTemplate* out);

}  // namespace ringfence::hsm_sim

#endif  // RINGFENCE_HSM_SIM_TEMPLATES_H_

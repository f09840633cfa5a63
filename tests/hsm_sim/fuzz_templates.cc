// Fuzz target for the C_GenerateKeyPair template parser. Input layout: one flags byte (bit 0:
// private half, bit 1: Ed25519 key type), then records of [attribute selector][length][value];
// a length of 0xff stands for a NULL value pointer with a non-zero length. Properties checked:
// no crash, and an accepted template never carries an oversized label, id or EC parameters.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "hsm_sim/templates.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::hsm_sim;
  static const CK_ATTRIBUTE_TYPE kTypes[] = {CKA_CLASS,
                                             CKA_KEY_TYPE,
                                             CKA_LABEL,
                                             CKA_ID,
                                             CKA_EC_PARAMS,
                                             CKA_SIGN,
                                             CKA_VERIFY,
                                             CKA_TOKEN,
                                             CKA_MODIFIABLE,
                                             CKA_DESTROYABLE,
                                             CKA_COPYABLE,
                                             CKA_DERIVE,
                                             CKA_PRIVATE,
                                             CKA_ENCRYPT,
                                             CKA_WRAP,
                                             CKA_TRUSTED,
                                             CKA_SENSITIVE,
                                             CKA_EXTRACTABLE,
                                             CKA_DECRYPT,
                                             CKA_UNWRAP,
                                             CKA_SIGN_RECOVER,
                                             CKA_VERIFY_RECOVER,
                                             CKA_ALWAYS_AUTHENTICATE,
                                             CKA_WRAP_WITH_TRUSTED,
                                             CKA_MODULUS_BITS};
  constexpr size_t kTypeCount = sizeof(kTypes) / sizeof(kTypes[0]);
  if (size == 0) return 0;
  const bool is_private = data[0] & 1;
  const CK_KEY_TYPE key_type = (data[0] & 2) ? CKK_EC_EDWARDS : CKK_EC;
  std::vector<std::vector<uint8_t>> values;
  std::vector<CK_ATTRIBUTE> tmpl;
  values.reserve(size);
  size_t pos = 1;
  while (pos + 2 <= size) {
    const uint8_t selector = data[pos];
    const uint8_t len = data[pos + 1];
    pos += 2;
    const CK_ATTRIBUTE_TYPE type =
        selector < kTypeCount ? kTypes[selector] : static_cast<CK_ATTRIBUTE_TYPE>(selector) * 0x101;
    if (len == 0xff) {
      tmpl.push_back({type, nullptr, 5});
      continue;
    }
    const size_t take = len <= size - pos ? len : size - pos;
    values.emplace_back(data + pos, data + pos + take);
    pos += take;
    tmpl.push_back(
        {type, values.back().empty() ? nullptr : values.back().data(), values.back().size()});
  }
  KeyTemplate out;
  const CK_RV rv = ParseKeyTemplate(tmpl.data(), tmpl.size(), is_private, key_type, &out);
  if (rv == CKR_OK) {
    if (out.label.size() > kMaxLabelOrIdLen || out.ckaid.size() > kMaxLabelOrIdLen) std::abort();
    if (out.ec_params && (out.ec_params->empty() || out.ec_params->size() > 64)) std::abort();
  }
  KeyTemplate empty;
  if (ParseKeyTemplate(nullptr, 0, is_private, key_type, &empty) != CKR_OK) std::abort();
  return 0;
}

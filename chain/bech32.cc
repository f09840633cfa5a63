#include "chain/bech32.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ringfence::chain {
namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr uint32_t kBech32Constant = 1;
constexpr uint32_t kBech32mConstant = 0x2bc830a3;
constexpr size_t kMaxLength = 90;

int CharsetIndex(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kCharset[i] == c) return i;
  }
  return -1;
}

uint32_t PolyMod(const std::vector<uint8_t>& values) {
  static constexpr uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[i];
    }
  }
  return chk;
}

std::vector<uint8_t> HrpExpand(std::string_view hrp) {
  std::vector<uint8_t> out;
  out.reserve(hrp.size() * 2 + 1);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) & 31);
  return out;
}

uint32_t EncodingConstant(Bech32Encoding e) {
  return e == Bech32Encoding::kBech32 ? kBech32Constant : kBech32mConstant;
}

// Regroups bits. Decoding direction (pad == false) enforces BIP-173: at most 4 padding bits,
// all zero.
absl::StatusOr<std::vector<uint8_t>> ConvertBits(std::span<const uint8_t> in, int from, int to, bool pad) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  const uint32_t maxv = (1u << to) - 1;
  for (uint8_t v : in) {
    if (v >> from) return absl::InvalidArgumentError("value out of range for bit regrouping");
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<uint8_t>((acc >> bits) & maxv));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<uint8_t>((acc << (to - bits)) & maxv));
  } else if (bits >= from) {
    return absl::InvalidArgumentError("segwit address: more than 4 padding bits");
  } else if ((acc << (to - bits)) & maxv) {
    return absl::InvalidArgumentError("segwit address: non-zero padding bits");
  }
  return out;
}

absl::Status CheckSegwitHrp(std::string_view hrp) {
  if (hrp != "bc" && hrp != "tb" && hrp != "bcrt") {
    return absl::InvalidArgumentError(
        absl::StrCat("segwit address: human-readable part \"", std::string(hrp), "\" is not bc, tb or bcrt"));
  }
  return absl::OkStatus();
}

absl::Status CheckProgram(int version, size_t size) {
  if (version < 0 || version > 16) {
    return absl::InvalidArgumentError(absl::StrCat("segwit address: witness version ", version, " outside 0..16"));
  }
  if (size < 2 || size > 40) {
    return absl::InvalidArgumentError(absl::StrCat("segwit address: program length ", size, " outside 2..40"));
  }
  if (version == 0 && size != 20 && size != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("segwit address: version 0 program must be 20 or 32 bytes, got ", size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bech32Data> Bech32Decode(std::string_view s) {
  if (s.size() > kMaxLength) {
    return absl::InvalidArgumentError(absl::StrCat("bech32: length ", s.size(), " exceeds 90 characters"));
  }
  bool has_lower = false;
  bool has_upper = false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 33 || c > 126) {
      return absl::InvalidArgumentError(absl::StrCat("bech32: character at position ", i, " outside ASCII 33..126"));
    }
    if (c >= 'a' && c <= 'z') has_lower = true;
    if (c >= 'A' && c <= 'Z') has_upper = true;
  }
  if (has_lower && has_upper) return absl::InvalidArgumentError("bech32: mixed upper and lower case");
  size_t sep = s.rfind('1');
  if (sep == std::string_view::npos) return absl::InvalidArgumentError("bech32: no separator '1'");
  if (sep == 0) return absl::InvalidArgumentError("bech32: empty human-readable part");
  if (sep > 83) return absl::InvalidArgumentError("bech32: human-readable part longer than 83 characters");
  if (s.size() - sep - 1 < 6) return absl::InvalidArgumentError("bech32: data part shorter than the 6-character checksum");
  Bech32Data out;
  out.hrp.reserve(sep);
  for (size_t i = 0; i < sep; ++i) {
    char c = s[i];
    out.hrp.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  std::vector<uint8_t> values;
  for (size_t i = sep + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    int v = CharsetIndex(c);
    if (v < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bech32: invalid data character '", std::string(1, s[i]),
                                                      "' at position ", i));
    }
    values.push_back(static_cast<uint8_t>(v));
  }
  std::vector<uint8_t> check = HrpExpand(out.hrp);
  check.insert(check.end(), values.begin(), values.end());
  uint32_t mod = PolyMod(check);
  if (mod == kBech32Constant) {
    out.encoding = Bech32Encoding::kBech32;
  } else if (mod == kBech32mConstant) {
    out.encoding = Bech32Encoding::kBech32m;
  } else {
    return absl::InvalidArgumentError("bech32: checksum does not match (neither bech32 nor bech32m)");
  }
  values.resize(values.size() - 6);
  out.values = std::move(values);
  return out;
}

absl::StatusOr<std::string> Bech32Encode(std::string_view hrp, std::span<const uint8_t> values,
                                         Bech32Encoding encoding) {
  if (hrp.empty() || hrp.size() > 83) {
    return absl::InvalidArgumentError(absl::StrCat("bech32: human-readable part length ", hrp.size(), " outside 1..83"));
  }
  for (char c : hrp) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || (c >= 'A' && c <= 'Z')) {
      return absl::InvalidArgumentError("bech32: human-readable part must be lowercase ASCII 33..126");
    }
  }
  if (hrp.size() + 1 + values.size() + 6 > kMaxLength) {
    return absl::InvalidArgumentError("bech32: encoding would exceed 90 characters");
  }
  std::vector<uint8_t> check = HrpExpand(hrp);
  for (uint8_t v : values) {
    if (v >= 32) return absl::InvalidArgumentError("bech32: data value is not 5 bits");
    check.push_back(v);
  }
  check.insert(check.end(), 6, 0);
  uint32_t mod = PolyMod(check) ^ EncodingConstant(encoding);
  std::string out(hrp);
  out.push_back('1');
  for (uint8_t v : values) out.push_back(kCharset[v]);
  for (int i = 0; i < 6; ++i) out.push_back(kCharset[(mod >> (5 * (5 - i))) & 31]);
  return out;
}

std::string_view SegwitHrp(BitcoinNetwork network) {
  switch (network) {
    case BitcoinNetwork::kMainnet:
      return "bc";
    case BitcoinNetwork::kTestnet:
      return "tb";
    case BitcoinNetwork::kRegtest:
      return "bcrt";
  }
  return "bc";
}

absl::StatusOr<SegwitAddress> DecodeSegwitAddress(std::string_view address) {
  absl::StatusOr<Bech32Data> data = Bech32Decode(address);
  if (!data.ok()) return data.status();
  if (absl::Status st = CheckSegwitHrp(data->hrp); !st.ok()) return st;
  if (data->values.empty()) return absl::InvalidArgumentError("segwit address: no witness version");
  int version = data->values[0];
  if (version > 16) {
    return absl::InvalidArgumentError(absl::StrCat("segwit address: witness version ", version, " outside 0..16"));
  }
  Bech32Encoding want = version == 0 ? Bech32Encoding::kBech32 : Bech32Encoding::kBech32m;
  if (data->encoding != want) {
    return absl::InvalidArgumentError(absl::StrCat("segwit address: witness version ", version, " requires ",
                                                   version == 0 ? "bech32" : "bech32m", " checksum"));
  }
  absl::StatusOr<std::vector<uint8_t>> program =
      ConvertBits(std::span<const uint8_t>(data->values).subspan(1), 5, 8, false);
  if (!program.ok()) return program.status();
  if (absl::Status st = CheckProgram(version, program->size()); !st.ok()) return st;
  return SegwitAddress{std::move(data->hrp), version, std::move(*program)};
}

absl::StatusOr<std::string> EncodeSegwitAddress(const SegwitAddress& address) {
  if (absl::Status st = CheckSegwitHrp(address.hrp); !st.ok()) return st;
  if (absl::Status st = CheckProgram(address.witness_version, address.program.size()); !st.ok()) return st;
  std::vector<uint8_t> values;
  values.reserve(1 + (address.program.size() * 8 + 4) / 5);
  values.push_back(static_cast<uint8_t>(address.witness_version));
  absl::StatusOr<std::vector<uint8_t>> regrouped = ConvertBits(address.program, 8, 5, true);
  if (!regrouped.ok()) return regrouped.status();
  values.insert(values.end(), regrouped->begin(), regrouped->end());
  return Bech32Encode(address.hrp, values,
                      address.witness_version == 0 ? Bech32Encoding::kBech32 : Bech32Encoding::kBech32m);
}

absl::StatusOr<std::vector<uint8_t>> SegwitScriptPubKey(int witness_version, std::span<const uint8_t> program) {
  if (absl::Status st = CheckProgram(witness_version, program.size()); !st.ok()) return st;
  std::vector<uint8_t> out;
  out.push_back(witness_version == 0 ? 0x00 : static_cast<uint8_t>(0x50 + witness_version));
  out.push_back(static_cast<uint8_t>(program.size()));
  out.insert(out.end(), program.begin(), program.end());
  return out;
}

absl::StatusOr<SegwitAddress> SegwitAddressFromScriptPubKey(std::span<const uint8_t> script_pubkey,
                                                            std::string_view hrp) {
  if (script_pubkey.size() < 4 || script_pubkey.size() > 42) {
    return absl::InvalidArgumentError("scriptPubKey: not a witness program (length outside 4..42)");
  }
  uint8_t op = script_pubkey[0];
  int version;
  if (op == 0x00) {
    version = 0;
  } else if (op >= 0x51 && op <= 0x60) {
    version = op - 0x50;
  } else {
    return absl::InvalidArgumentError("scriptPubKey: not a witness program (first opcode is not OP_0..OP_16)");
  }
  if (script_pubkey[1] + 2u != script_pubkey.size()) {
    return absl::InvalidArgumentError("scriptPubKey: not a witness program (must be one push of the rest)");
  }
  SegwitAddress out{std::string(hrp), version,
                    std::vector<uint8_t>(script_pubkey.begin() + 2, script_pubkey.end())};
  if (absl::Status st = CheckSegwitHrp(out.hrp); !st.ok()) return st;
  if (absl::Status st = CheckProgram(version, out.program.size()); !st.ok()) return st;
  return out;
}

std::vector<uint8_t> P2wpkhScriptPubKey(const std::array<uint8_t, 20>& key_hash) {
  std::vector<uint8_t> out;
  out.reserve(22);
  out.push_back(0x00);
  out.push_back(0x14);
  out.insert(out.end(), key_hash.begin(), key_hash.end());
  return out;
}

absl::StatusOr<std::array<uint8_t, 20>> ParseP2wpkhScriptPubKey(std::span<const uint8_t> script_pubkey) {
  if (script_pubkey.size() != 22 || script_pubkey[0] != 0x00 || script_pubkey[1] != 0x14) {
    return absl::InvalidArgumentError("scriptPubKey: not P2WPKH (expected 0x00 0x14 and a 20-byte key hash)");
  }
  std::array<uint8_t, 20> out;
  std::copy(script_pubkey.begin() + 2, script_pubkey.end(), out.begin());
  return out;
}

absl::StatusOr<std::string> P2wpkhAddress(std::string_view hrp, const std::array<uint8_t, 20>& key_hash) {
  return EncodeSegwitAddress(SegwitAddress{std::string(hrp), 0, std::vector<uint8_t>(key_hash.begin(), key_hash.end())});
}

absl::StatusOr<std::vector<uint8_t>> ScriptPubKeyForAddress(std::string_view address) {
  absl::StatusOr<SegwitAddress> decoded = DecodeSegwitAddress(address);
  if (!decoded.ok()) return decoded.status();
  return SegwitScriptPubKey(decoded->witness_version, decoded->program);
}

}  // namespace ringfence::chain

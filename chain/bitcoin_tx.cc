#include "chain/bitcoin_tx.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "chain/ecdsa.h"
#include "base/hex.h"
#include "base/status.h"

namespace ringfence::chain {
namespace {

// Smallest serialised input: 32 txid + 4 vout + 1 script length + 4 sequence.
constexpr size_t kMinInputSize = 41;
// Smallest serialised output: 8 value + 1 script length.
constexpr size_t kMinOutputSize = 9;

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutCompactSize(std::vector<uint8_t>& out, uint64_t v) {
  if (v < 0xfd) {
    out.push_back(static_cast<uint8_t>(v));
  } else if (v <= 0xffff) {
    out.push_back(0xfd);
    for (int i = 0; i < 2; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  } else if (v <= 0xffffffff) {
    out.push_back(0xfe);
    PutU32(out, static_cast<uint32_t>(v));
  } else {
    out.push_back(0xff);
    PutU64(out, v);
  }
}

void PutBytes(std::vector<uint8_t>& out, std::span<const uint8_t> data) {
  PutCompactSize(out, data.size());
  out.insert(out.end(), data.begin(), data.end());
}

void PutOutput(std::vector<uint8_t>& out, const TxOut& o) {
  PutU64(out, o.value);
  PutBytes(out, o.script_pubkey);
}

void SerializeInto(std::vector<uint8_t>& out, const Transaction& tx, bool with_witness) {
  PutU32(out, tx.version);
  if (with_witness) {
    out.push_back(0x00);
    out.push_back(0x01);
  }
  PutCompactSize(out, tx.inputs.size());
  for (const TxIn& in : tx.inputs) {
    out.insert(out.end(), in.prevout.txid.begin(), in.prevout.txid.end());
    PutU32(out, in.prevout.vout);
    PutBytes(out, in.script_sig);
    PutU32(out, in.sequence);
  }
  PutCompactSize(out, tx.outputs.size());
  for (const TxOut& o : tx.outputs) PutOutput(out, o);
  if (with_witness) {
    for (const TxIn& in : tx.inputs) {
      PutCompactSize(out, in.witness.size());
      for (const std::vector<uint8_t>& item : in.witness) PutBytes(out, item);
    }
  }
  PutU32(out, tx.locktime);
}

// Cursor over untrusted bytes; every read names the field it is reading so an error says
// exactly what was wrong and where.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  size_t pos() const { return pos_; }
  size_t left() const { return data_.size() - pos_; }

  absl::Status Need(size_t n, const std::string& field) const {
    if (left() < n) {
      return absl::InvalidArgumentError(
          absl::StrCat("bitcoin tx: ", field, " truncated (needs ", n, " bytes, ", left(), " left at offset ", pos_, ")"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> U32(const std::string& field) {
    if (absl::Status st = Need(4, field); !st.ok()) return st;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }

  absl::StatusOr<uint64_t> U64(const std::string& field) {
    if (absl::Status st = Need(8, field); !st.ok()) return st;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }

  absl::StatusOr<uint64_t> CompactSize(const std::string& field) {
    if (absl::Status st = Need(1, field); !st.ok()) return st;
    uint8_t tag = data_[pos_++];
    uint64_t v;
    uint64_t min;
    size_t width;
    if (tag < 0xfd) return tag;
    if (tag == 0xfd) {
      width = 2;
      min = 0xfd;
    } else if (tag == 0xfe) {
      width = 4;
      min = 0x10000;
    } else {
      width = 8;
      min = 0x100000000ULL;
    }
    if (absl::Status st = Need(width, field); !st.ok()) return st;
    v = 0;
    for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += width;
    if (v < min) {
      return absl::InvalidArgumentError(absl::StrCat("bitcoin tx: ", field, " uses a non-canonical compact size (",
                                                     v, " encoded in ", width + 1, " bytes)"));
    }
    return v;
  }

  // A count of items each at least `min_item_size` bytes long, checked against what is left
  // so a forged count cannot make the parser reserve memory it will never fill.
  absl::StatusOr<uint64_t> Count(const std::string& field, size_t min_item_size) {
    absl::StatusOr<uint64_t> n = CompactSize(field);
    if (!n.ok()) return n;
    if (*n > left() / min_item_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("bitcoin tx: ", field, " ", *n, " is more than the ", left(), " bytes left can hold"));
    }
    return n;
  }

  absl::StatusOr<std::vector<uint8_t>> Bytes(const std::string& field) {
    absl::StatusOr<uint64_t> n = CompactSize(field + " length");
    if (!n.ok()) return n.status();
    if (*n > left()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bitcoin tx: ", field, " length ", *n, " exceeds the ", left(), " bytes left"));
    }
    std::vector<uint8_t> out(data_.begin() + pos_, data_.begin() + pos_ + *n);
    pos_ += *n;
    return out;
  }

  absl::Status Fixed(uint8_t* out, size_t n, const std::string& field) {
    if (absl::Status st = Need(n, field); !st.ok()) return st;
    std::copy(data_.begin() + pos_, data_.begin() + pos_ + n, out);
    pos_ += n;
    return absl::OkStatus();
  }

  uint8_t Peek(size_t offset) const { return data_[pos_ + offset]; }
  void Skip(size_t n) { pos_ += n; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace

bool Transaction::HasWitness() const {
  return std::any_of(inputs.begin(), inputs.end(), [](const TxIn& in) { return !in.witness.empty(); });
}

std::vector<uint8_t> Serialize(const Transaction& tx) {
  std::vector<uint8_t> out;
  SerializeInto(out, tx, tx.HasWitness());
  return out;
}

std::vector<uint8_t> SerializeWithoutWitness(const Transaction& tx) {
  std::vector<uint8_t> out;
  SerializeInto(out, tx, false);
  return out;
}

absl::StatusOr<Transaction> ParseTransaction(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxTxSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("bitcoin tx: ", bytes.size(), " bytes exceeds the maximum of ", kMaxTxSize));
  }
  Reader r(bytes);
  Transaction tx;
  RF_ASSIGN_OR_RETURN(tx.version, r.U32("version"));
  bool segwit = false;
  if (r.left() >= 1 && r.Peek(0) == 0x00) {
    // A zero input count is how BIP-144 marks the extended form; a real transaction always
    // has inputs, so the byte is read as the marker and the flag must follow.
    RF_RETURN_IF_ERROR(r.Need(2, "segwit marker and flag"));
    if (r.Peek(1) != 0x01) {
      return absl::InvalidArgumentError(
          absl::StrCat("bitcoin tx: segwit flag must be 0x01, got 0x", base::HexEncode(std::span<const uint8_t>(&bytes[r.pos() + 1], 1))));
    }
    r.Skip(2);
    segwit = true;
  }
  uint64_t n_in;
  RF_ASSIGN_OR_RETURN(n_in, r.Count("input count", kMinInputSize));
  if (n_in == 0) return absl::InvalidArgumentError("bitcoin tx: input count is zero");
  tx.inputs.resize(n_in);
  std::set<OutPoint> spent;
  for (uint64_t i = 0; i < n_in; ++i) {
    TxIn& in = tx.inputs[i];
    std::string f = absl::StrCat("input ", i);
    RF_RETURN_IF_ERROR(r.Fixed(in.prevout.txid.data(), 32, f + " prevout txid"));
    RF_ASSIGN_OR_RETURN(in.prevout.vout, r.U32(f + " prevout index"));
    RF_ASSIGN_OR_RETURN(in.script_sig, r.Bytes(f + " scriptSig"));
    RF_ASSIGN_OR_RETURN(in.sequence, r.U32(f + " sequence"));
    if (!spent.insert(in.prevout).second) {
      return absl::InvalidArgumentError(absl::StrCat("bitcoin tx: ", f, " spends the same outpoint ",
                                                     DisplayHex(in.prevout.txid), ":", in.prevout.vout,
                                                     " as an earlier input"));
    }
  }
  uint64_t n_out;
  RF_ASSIGN_OR_RETURN(n_out, r.Count("output count", kMinOutputSize));
  if (n_out == 0) return absl::InvalidArgumentError("bitcoin tx: output count is zero");
  tx.outputs.resize(n_out);
  uint64_t total = 0;
  for (uint64_t i = 0; i < n_out; ++i) {
    TxOut& o = tx.outputs[i];
    std::string f = absl::StrCat("output ", i);
    RF_ASSIGN_OR_RETURN(o.value, r.U64(f + " value"));
    if (o.value > kMaxMoney) {
      return absl::InvalidArgumentError(
          absl::StrCat("bitcoin tx: ", f, " value ", o.value, " exceeds 21,000,000 BTC (or is a negative int64)"));
    }
    total += o.value;
    if (total > kMaxMoney) {
      return absl::InvalidArgumentError(absl::StrCat("bitcoin tx: outputs up to ", f, " sum above 21,000,000 BTC"));
    }
    RF_ASSIGN_OR_RETURN(o.script_pubkey, r.Bytes(f + " scriptPubKey"));
  }
  if (segwit) {
    for (uint64_t i = 0; i < n_in; ++i) {
      std::string f = absl::StrCat("input ", i, " witness");
      uint64_t n_items;
      RF_ASSIGN_OR_RETURN(n_items, r.Count(f + " item count", 1));
      tx.inputs[i].witness.resize(n_items);
      for (uint64_t j = 0; j < n_items; ++j) {
        RF_ASSIGN_OR_RETURN(tx.inputs[i].witness[j], r.Bytes(absl::StrCat(f, " item ", j)));
      }
    }
    if (!tx.HasWitness()) {
      return absl::InvalidArgumentError("bitcoin tx: segwit marker present but every witness is empty");
    }
  }
  RF_ASSIGN_OR_RETURN(tx.locktime, r.U32("locktime"));
  if (r.left() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bitcoin tx: ", r.left(), " trailing bytes after locktime at offset ", r.pos()));
  }
  return tx;
}

std::array<uint8_t, 32> Txid(const Transaction& tx) { return DoubleSha256(SerializeWithoutWitness(tx)); }

std::array<uint8_t, 32> Wtxid(const Transaction& tx) { return DoubleSha256(Serialize(tx)); }

std::string DisplayHex(const std::array<uint8_t, 32>& hash) {
  std::array<uint8_t, 32> reversed;
  std::reverse_copy(hash.begin(), hash.end(), reversed.begin());
  return base::HexEncode(reversed);
}

std::vector<uint8_t> P2wpkhScriptCode(const std::array<uint8_t, 20>& key_hash) {
  std::vector<uint8_t> out;
  out.reserve(25);
  out.push_back(0x76);
  out.push_back(0xa9);
  out.push_back(0x14);
  out.insert(out.end(), key_hash.begin(), key_hash.end());
  out.push_back(0x88);
  out.push_back(0xac);
  return out;
}

Bip143Shared Bip143Precompute(const Transaction& tx) {
  Bip143Shared shared;
  std::vector<uint8_t> buf;
  buf.reserve(tx.inputs.size() * 36);
  for (const TxIn& in : tx.inputs) {
    buf.insert(buf.end(), in.prevout.txid.begin(), in.prevout.txid.end());
    PutU32(buf, in.prevout.vout);
  }
  shared.hash_prevouts = DoubleSha256(buf);
  buf.clear();
  for (const TxIn& in : tx.inputs) PutU32(buf, in.sequence);
  shared.hash_sequence = DoubleSha256(buf);
  buf.clear();
  for (const TxOut& o : tx.outputs) PutOutput(buf, o);
  shared.hash_outputs = DoubleSha256(buf);
  return shared;
}

absl::StatusOr<Bip143Parts> Bip143Compute(const Transaction& tx, const Bip143Shared& shared, size_t input_index,
                                          std::span<const uint8_t> script_code, uint64_t amount,
                                          uint32_t sighash_type) {
  if (input_index >= tx.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("BIP-143: input index ", input_index, " out of range (", tx.inputs.size(), " inputs)"));
  }
  if (sighash_type != kSighashAll) {
    return absl::InvalidArgumentError(absl::StrCat("BIP-143: sighash type ", sighash_type, " not supported (only SIGHASH_ALL)"));
  }
  if (amount > kMaxMoney) {
    return absl::InvalidArgumentError(absl::StrCat("BIP-143: input amount ", amount, " exceeds 21,000,000 BTC"));
  }
  Bip143Parts parts;
  parts.hash_prevouts = shared.hash_prevouts;
  parts.hash_sequence = shared.hash_sequence;
  parts.hash_outputs = shared.hash_outputs;

  const TxIn& in = tx.inputs[input_index];
  std::vector<uint8_t>& p = parts.preimage;
  // The preimage's whole size up front: 156 fixed bytes, the script code and its length prefix.
  // Growing it step by step made GCC 12 at -O3 report a false -Wstringop-overflow.
  p.reserve(156 + 9 + script_code.size());
  PutU32(p, tx.version);
  p.insert(p.end(), parts.hash_prevouts.begin(), parts.hash_prevouts.end());
  p.insert(p.end(), parts.hash_sequence.begin(), parts.hash_sequence.end());
  p.insert(p.end(), in.prevout.txid.begin(), in.prevout.txid.end());
  PutU32(p, in.prevout.vout);
  PutBytes(p, script_code);
  PutU64(p, amount);
  PutU32(p, in.sequence);
  p.insert(p.end(), parts.hash_outputs.begin(), parts.hash_outputs.end());
  PutU32(p, tx.locktime);
  PutU32(p, sighash_type);
  parts.sighash = DoubleSha256(p);
  return parts;
}

absl::StatusOr<Bip143Parts> Bip143Compute(const Transaction& tx, size_t input_index,
                                          std::span<const uint8_t> script_code, uint64_t amount,
                                          uint32_t sighash_type) {
  return Bip143Compute(tx, Bip143Precompute(tx), input_index, script_code, amount, sighash_type);
}

absl::StatusOr<std::array<uint8_t, 32>> Bip143Sighash(const Transaction& tx, const Bip143Shared& shared,
                                                      size_t input_index, std::span<const uint8_t> script_code,
                                                      uint64_t amount, uint32_t sighash_type) {
  absl::StatusOr<Bip143Parts> parts = Bip143Compute(tx, shared, input_index, script_code, amount, sighash_type);
  if (!parts.ok()) return parts.status();
  return parts->sighash;
}

absl::StatusOr<std::array<uint8_t, 32>> Bip143Sighash(const Transaction& tx, size_t input_index,
                                                      std::span<const uint8_t> script_code, uint64_t amount,
                                                      uint32_t sighash_type) {
  return Bip143Sighash(tx, Bip143Precompute(tx), input_index, script_code, amount, sighash_type);
}

namespace {

// Bitcoin Core's GetScriptOp: advances `pc` past one opcode and its push data; false when
// the script ends or a push runs past the end (then `pc` stays where reading stopped).
bool NextOp(std::span<const uint8_t> script, size_t& pc, uint8_t& opcode) {
  if (pc >= script.size()) return false;
  opcode = script[pc++];
  if (opcode > 0x4e) return true;
  uint64_t size = 0;
  if (opcode < 0x4c) {
    size = opcode;
  } else {
    size_t width = opcode == 0x4c ? 1 : opcode == 0x4d ? 2 : 4;
    if (script.size() - pc < width) return false;
    for (size_t i = 0; i < width; ++i) size |= static_cast<uint64_t>(script[pc + i]) << (8 * i);
    pc += width;
  }
  if (script.size() - pc < size) return false;
  pc += size;
  return true;
}

// scriptCode with every OP_CODESEPARATOR removed, replicating Core's serializer exactly
// (including its length prefix counting separators in the whole script).
void PutLegacyScriptCode(std::vector<uint8_t>& out, std::span<const uint8_t> script) {
  constexpr uint8_t kOpCodeSeparator = 0xab;
  size_t pc = 0;
  uint8_t op;
  uint64_t separators = 0;
  while (NextOp(script, pc, op)) {
    if (op == kOpCodeSeparator) ++separators;
  }
  PutCompactSize(out, script.size() - separators);
  pc = 0;
  size_t begin = 0;
  while (NextOp(script, pc, op)) {
    if (op == kOpCodeSeparator) {
      out.insert(out.end(), script.begin() + begin, script.begin() + pc - 1);
      begin = pc;
    }
  }
  if (begin != script.size()) out.insert(out.end(), script.begin() + begin, script.begin() + pc);
}

}  // namespace

std::array<uint8_t, 32> LegacySighash(const Transaction& tx, size_t input_index, std::span<const uint8_t> script_code,
                                      int32_t hash_type) {
  std::array<uint8_t, 32> one{};
  one[0] = 1;
  const uint32_t base = static_cast<uint32_t>(hash_type) & 0x1f;
  const bool anyone_can_pay = (static_cast<uint32_t>(hash_type) & 0x80) != 0;
  const bool single = base == 3;
  const bool none = base == 2;
  if (input_index >= tx.inputs.size()) return one;
  if (single && input_index >= tx.outputs.size()) return one;

  std::vector<uint8_t> s;
  PutU32(s, tx.version);
  size_t n_inputs = anyone_can_pay ? 1 : tx.inputs.size();
  PutCompactSize(s, n_inputs);
  for (size_t k = 0; k < n_inputs; ++k) {
    size_t i = anyone_can_pay ? input_index : k;
    const TxIn& in = tx.inputs[i];
    s.insert(s.end(), in.prevout.txid.begin(), in.prevout.txid.end());
    PutU32(s, in.prevout.vout);
    if (i == input_index) {
      PutLegacyScriptCode(s, script_code);
    } else {
      PutCompactSize(s, 0);
    }
    PutU32(s, (i != input_index && (single || none)) ? 0 : in.sequence);
  }
  size_t n_outputs = none ? 0 : single ? input_index + 1 : tx.outputs.size();
  PutCompactSize(s, n_outputs);
  for (size_t i = 0; i < n_outputs; ++i) {
    if (single && i != input_index) {
      PutU64(s, 0xffffffffffffffffULL);  // CTxOut() : value -1, empty script
      PutCompactSize(s, 0);
    } else {
      PutOutput(s, tx.outputs[i]);
    }
  }
  PutU32(s, tx.locktime);
  PutU32(s, static_cast<uint32_t>(hash_type));
  return DoubleSha256(s);
}

std::vector<uint8_t> P2wpkhSignatureItem(const std::array<uint8_t, 64>& low_s_signature, uint8_t sighash_type) {
  std::vector<uint8_t> out = EncodeDerSignature(low_s_signature);
  out.push_back(sighash_type);
  return out;
}

absl::Status SetP2wpkhWitness(Transaction& tx, size_t input_index, std::span<const uint8_t> signature_item,
                              std::span<const uint8_t> compressed_pubkey) {
  if (input_index >= tx.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("P2WPKH witness: input index ", input_index, " out of range (", tx.inputs.size(), " inputs)"));
  }
  if (compressed_pubkey.size() != 33 || (compressed_pubkey[0] != 0x02 && compressed_pubkey[0] != 0x03)) {
    return absl::InvalidArgumentError("P2WPKH witness: public key must be 33 bytes, compressed (0x02/0x03)");
  }
  if (signature_item.empty() || signature_item.back() != kSighashAll) {
    return absl::InvalidArgumentError("P2WPKH witness: signature must end with the SIGHASH_ALL byte");
  }
  absl::StatusOr<CompactSignature> sig = ParseDerSignature(signature_item.first(signature_item.size() - 1));
  if (!sig.ok()) return sig.status();
  if (!IsLowS(*sig)) return absl::InvalidArgumentError("P2WPKH witness: signature has high S");
  TxIn& in = tx.inputs[input_index];
  in.script_sig.clear();
  in.witness = {std::vector<uint8_t>(signature_item.begin(), signature_item.end()),
                std::vector<uint8_t>(compressed_pubkey.begin(), compressed_pubkey.end())};
  return absl::OkStatus();
}

uint64_t Weight(const Transaction& tx) {
  return 3 * SerializeWithoutWitness(tx).size() + Serialize(tx).size();
}

uint64_t VirtualSize(const Transaction& tx) { return (Weight(tx) + 3) / 4; }

uint64_t MaxSignedP2wpkhWeight(const Transaction& unsigned_tx) {
  // Per input: item count (1), signature length (1) + at most 72, key length (1) + 33.
  constexpr uint64_t kMaxP2wpkhWitness = 1 + 1 + 72 + 1 + 33;
  constexpr uint64_t kMarkerAndFlag = 2;
  return 4 * SerializeWithoutWitness(unsigned_tx).size() + kMarkerAndFlag +
         kMaxP2wpkhWitness * unsigned_tx.inputs.size();
}

uint64_t MaxSignedP2wpkhVsize(const Transaction& unsigned_tx) { return (MaxSignedP2wpkhWeight(unsigned_tx) + 3) / 4; }

absl::StatusOr<uint64_t> Fee(const Transaction& tx, std::span<const uint64_t> input_amounts) {
  if (input_amounts.size() != tx.inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("fee: ", input_amounts.size(), " input amounts given for ",
                                                   tx.inputs.size(), " inputs"));
  }
  uint64_t in_total = 0;
  for (size_t i = 0; i < input_amounts.size(); ++i) {
    if (input_amounts[i] > kMaxMoney || in_total + input_amounts[i] > kMaxMoney) {
      return absl::InvalidArgumentError(absl::StrCat("fee: input amounts up to input ", i, " exceed 21,000,000 BTC"));
    }
    in_total += input_amounts[i];
  }
  uint64_t out_total = 0;
  for (size_t i = 0; i < tx.outputs.size(); ++i) {
    if (tx.outputs[i].value > kMaxMoney || out_total + tx.outputs[i].value > kMaxMoney) {
      return absl::InvalidArgumentError(absl::StrCat("fee: output values up to output ", i, " exceed 21,000,000 BTC"));
    }
    out_total += tx.outputs[i].value;
  }
  if (out_total > in_total) {
    return absl::InvalidArgumentError(
        absl::StrCat("fee: outputs (", out_total, " sat) exceed inputs (", in_total, " sat)"));
  }
  return in_total - out_total;
}

}  // namespace ringfence::chain

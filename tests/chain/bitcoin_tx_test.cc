#include "chain/bitcoin_tx.h"

#include <gtest/gtest.h>

#include "chain/bech32.h"
#include "chain/ecdsa.h"
#include "base/hex.h"
#include "tests/chain/test_signing.h"

namespace ringfence::chain {
namespace {

Transaction SampleTx(size_t n_in = 2, size_t n_out = 2) {
  Transaction tx;
  tx.version = 2;
  for (size_t i = 0; i < n_in; ++i) {
    TxIn in;
    in.prevout.txid.fill(static_cast<uint8_t>(0x10 + i));
    in.prevout.vout = static_cast<uint32_t>(i);
    in.sequence = 0xfffffffd;
    tx.inputs.push_back(in);
  }
  for (size_t i = 0; i < n_out; ++i) {
    std::array<uint8_t, 20> h;
    h.fill(static_cast<uint8_t>(0x40 + i));
    tx.outputs.push_back(TxOut{50'000 + i, P2wpkhScriptPubKey(h)});
  }
  tx.locktime = 800'000;
  return tx;
}

std::string ParseError(const std::vector<uint8_t>& bytes) {
  absl::StatusOr<Transaction> tx = ParseTransaction(bytes);
  return tx.ok() ? std::string("OK") : std::string(tx.status().message());
}

void ExpectRejected(const std::vector<uint8_t>& bytes, std::string_view needle) {
  std::string err = ParseError(bytes);
  EXPECT_NE(err, "OK") << "expected rejection containing: " << needle;
  EXPECT_NE(err.find(needle), std::string::npos) << err;
}

TEST(BitcoinTx, RoundTripLegacyAndSegwit) {
  Transaction tx = SampleTx();
  std::vector<uint8_t> legacy = Serialize(tx);
  EXPECT_EQ(legacy, SerializeWithoutWitness(tx));
  absl::StatusOr<Transaction> back = ParseTransaction(legacy);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, tx);
  EXPECT_EQ(Txid(tx), Wtxid(tx));

  tx.inputs[1].witness = {{0x01, 0x02}, {}};
  std::vector<uint8_t> segwit = Serialize(tx);
  EXPECT_EQ(segwit[4], 0x00);
  EXPECT_EQ(segwit[5], 0x01);
  back = ParseTransaction(segwit);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, tx);
  EXPECT_NE(Txid(tx), Wtxid(tx));
  EXPECT_EQ(Weight(tx), 3 * legacy.size() + segwit.size());
  EXPECT_EQ(VirtualSize(tx), (Weight(tx) + 3) / 4);
}

TEST(BitcoinTx, RejectsTrailingAndTruncatedBytes) {
  std::vector<uint8_t> bytes = Serialize(SampleTx());
  std::vector<uint8_t> trailing = bytes;
  trailing.push_back(0x00);
  ExpectRejected(trailing, "trailing");
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + cut);
    EXPECT_NE(ParseError(truncated), "OK") << "cut at " << cut;
  }
  ExpectRejected({}, "version truncated");
}

TEST(BitcoinTx, RejectsNonCanonicalCompactSize) {
  Transaction tx = SampleTx(1, 1);
  std::vector<uint8_t> bytes = Serialize(tx);
  // Input count 1 written as 0xfd 0x01 0x00.
  std::vector<uint8_t> padded(bytes.begin(), bytes.begin() + 4);
  padded.insert(padded.end(), {0xfd, 0x01, 0x00});
  padded.insert(padded.end(), bytes.begin() + 5, bytes.end());
  ExpectRejected(padded, "non-canonical compact size");
  // scriptSig length 0 written as 0xfe 00000000.
  std::vector<uint8_t> padded_script(bytes.begin(), bytes.begin() + 5 + 36);
  padded_script.insert(padded_script.end(), {0xfe, 0x00, 0x00, 0x00, 0x00});
  padded_script.insert(padded_script.end(), bytes.begin() + 5 + 37, bytes.end());
  ExpectRejected(padded_script, "input 0 scriptSig length uses a non-canonical");
}

TEST(BitcoinTx, RejectsOversizedCounts) {
  Transaction tx = SampleTx(1, 1);
  std::vector<uint8_t> bytes = Serialize(tx);
  std::vector<uint8_t> huge(bytes.begin(), bytes.begin() + 4);
  huge.insert(huge.end(), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  huge.insert(huge.end(), bytes.begin() + 5, bytes.end());
  ExpectRejected(huge, "input count");
  std::vector<uint8_t> long_script(bytes.begin(), bytes.begin() + 5 + 36);
  long_script.insert(long_script.end(), {0xfd, 0x00, 0x10});
  long_script.insert(long_script.end(), bytes.begin() + 5 + 37, bytes.end());
  ExpectRejected(long_script, "exceeds");
  std::vector<uint8_t> too_big(kMaxTxSize + 1, 0);
  ExpectRejected(too_big, "exceeds the maximum");
}

TEST(BitcoinTx, RejectsZeroCountsAndBadSegwitMarker) {
  Transaction tx = SampleTx(1, 1);
  std::vector<uint8_t> bytes = Serialize(tx);
  std::vector<uint8_t> bad_flag = bytes;
  bad_flag.insert(bad_flag.begin() + 4, {0x00, 0x02});
  ExpectRejected(bad_flag, "segwit flag must be 0x01");
  // Marker present but no witness anywhere.
  std::vector<uint8_t> empty_witness(bytes.begin(), bytes.end() - 4);
  empty_witness.insert(empty_witness.begin() + 4, {0x00, 0x01});
  empty_witness.push_back(0x00);  // input 0: zero witness items
  empty_witness.insert(empty_witness.end(), bytes.end() - 4, bytes.end());
  ExpectRejected(empty_witness, "every witness is empty");
  // Zero outputs.
  Transaction no_out = tx;
  no_out.outputs.clear();
  ExpectRejected(Serialize(no_out), "output count is zero");
}

TEST(BitcoinTx, RejectsOverflowingValuesAndDuplicateInputs) {
  Transaction tx = SampleTx(2, 2);
  Transaction big = tx;
  big.outputs[0].value = kMaxMoney + 1;
  ExpectRejected(Serialize(big), "output 0 value");
  Transaction negative = tx;
  negative.outputs[1].value = 0xffffffffffffffffULL;  // -1 as int64
  ExpectRejected(Serialize(negative), "output 1 value");
  Transaction sum = tx;
  sum.outputs[0].value = kMaxMoney;
  sum.outputs[1].value = 1;
  ExpectRejected(Serialize(sum), "sum above");
  Transaction dup = tx;
  dup.inputs[1].prevout = dup.inputs[0].prevout;
  ExpectRejected(Serialize(dup), "same outpoint");
  // Same txid, different index is fine.
  Transaction same_txid = tx;
  same_txid.inputs[1].prevout.txid = same_txid.inputs[0].prevout.txid;
  EXPECT_EQ(ParseError(Serialize(same_txid)), "OK");
}

TEST(BitcoinTx, FeeChecks) {
  Transaction tx = SampleTx(2, 2);
  std::vector<uint64_t> amounts = {60'000, 50'000};
  absl::StatusOr<uint64_t> fee = Fee(tx, amounts);
  ASSERT_TRUE(fee.ok());
  EXPECT_EQ(*fee, 110'000u - 50'000 - 50'001);
  std::vector<uint64_t> short_amounts = {60'000};
  EXPECT_FALSE(Fee(tx, short_amounts).ok());
  std::vector<uint64_t> too_little = {50'000, 50'000};
  EXPECT_FALSE(Fee(tx, too_little).ok());
  std::vector<uint64_t> overflow = {kMaxMoney, kMaxMoney};
  EXPECT_FALSE(Fee(tx, overflow).ok());
  std::vector<uint64_t> wrap = {0xffffffffffffffffULL, 2};
  EXPECT_FALSE(Fee(tx, wrap).ok());
}

TEST(BitcoinTx, Bip143RejectsBadArguments) {
  Transaction tx = SampleTx();
  std::array<uint8_t, 20> h{};
  std::vector<uint8_t> code = P2wpkhScriptCode(h);
  EXPECT_FALSE(Bip143Sighash(tx, 2, code, 1, kSighashAll).ok());
  EXPECT_FALSE(Bip143Sighash(tx, 0, code, 1, 2).ok());
  EXPECT_FALSE(Bip143Sighash(tx, 0, code, 0x81, 0x81).ok());
  EXPECT_FALSE(Bip143Sighash(tx, 0, code, kMaxMoney + 1, kSighashAll).ok());
  absl::StatusOr<std::array<uint8_t, 32>> a = Bip143Sighash(tx, 0, code, 1000, kSighashAll);
  absl::StatusOr<std::array<uint8_t, 32>> b = Bip143Sighash(tx, 0, code, 1001, kSighashAll);
  absl::StatusOr<std::array<uint8_t, 32>> c = Bip143Sighash(tx, 1, code, 1000, kSighashAll);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_NE(*a, *b);  // the amount is committed to
  EXPECT_NE(*a, *c);
}

TEST(BitcoinTx, Bip143PrecomputedHashesGiveTheSameSighashForEveryInput) {
  Transaction tx = SampleTx();
  std::array<uint8_t, 20> h{};
  h[0] = 7;
  const std::vector<uint8_t> code = P2wpkhScriptCode(h);
  const Bip143Shared shared = Bip143Precompute(tx);
  for (size_t i = 0; i < tx.inputs.size(); ++i) {
    absl::StatusOr<Bip143Parts> alone = Bip143Compute(tx, i, code, 5000 + i, kSighashAll);
    absl::StatusOr<Bip143Parts> with_shared = Bip143Compute(tx, shared, i, code, 5000 + i, kSighashAll);
    ASSERT_TRUE(alone.ok() && with_shared.ok());
    EXPECT_EQ(alone->preimage, with_shared->preimage) << "input " << i;
    EXPECT_EQ(alone->sighash, with_shared->sighash) << "input " << i;
  }
  // The shared hashes commit to the outputs: another transaction's do not fit this one.
  Transaction other = tx;
  other.outputs[0].value += 1;
  EXPECT_NE(Bip143Sighash(tx, Bip143Precompute(other), 0, code, 5000, kSighashAll).value(),
            Bip143Sighash(tx, shared, 0, code, 5000, kSighashAll).value());
}

TEST(BitcoinTx, SignAndAssembleP2wpkhWitness) {
  std::vector<uint8_t> secret(32, 0x21);
  std::array<uint8_t, 33> pk = testing::CompressedPubkey(secret);
  std::array<uint8_t, 20> h = Hash160(pk);
  Transaction tx = SampleTx(1, 1);
  absl::StatusOr<std::array<uint8_t, 32>> digest = Bip143Sighash(tx, 0, P2wpkhScriptCode(h), 70'000, kSighashAll);
  ASSERT_TRUE(digest.ok());
  testing::RecoverableSignature sig = testing::SignDigest(secret, *digest);
  std::vector<uint8_t> item = P2wpkhSignatureItem(sig.rs);
  ASSERT_TRUE(SetP2wpkhWitness(tx, 0, item, pk).ok());
  absl::StatusOr<Transaction> back = ParseTransaction(Serialize(tx));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->inputs[0].witness.size(), 2u);
  absl::StatusOr<CompactSignature> parsed =
      ParseDerSignature(std::span<const uint8_t>(back->inputs[0].witness[0]).first(item.size() - 1));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(VerifyEcdsa(*digest, *parsed, back->inputs[0].witness[1]).ok());

  std::array<uint8_t, 65> upk = testing::UncompressedPubkey(secret);
  EXPECT_FALSE(SetP2wpkhWitness(tx, 0, item, upk).ok());
  EXPECT_FALSE(SetP2wpkhWitness(tx, 1, item, pk).ok());
  std::vector<uint8_t> wrong_type = item;
  wrong_type.back() = 0x81;
  EXPECT_FALSE(SetP2wpkhWitness(tx, 0, wrong_type, pk).ok());
  std::vector<uint8_t> not_der = item;
  not_der[0] = 0x31;
  EXPECT_FALSE(SetP2wpkhWitness(tx, 0, not_der, pk).ok());
}

TEST(BitcoinTx, SignedWeightEstimateIsAnUpperBound) {
  std::vector<uint8_t> secret(32, 0x44);
  std::array<uint8_t, 33> pk = testing::CompressedPubkey(secret);
  std::array<uint8_t, 20> h = Hash160(pk);
  for (size_t n_in = 1; n_in <= 5; ++n_in) {
    Transaction tx = SampleTx(n_in, 2);
    uint64_t bound = MaxSignedP2wpkhWeight(tx);
    for (size_t i = 0; i < n_in; ++i) {
      absl::StatusOr<std::array<uint8_t, 32>> digest = Bip143Sighash(tx, i, P2wpkhScriptCode(h), 10'000, kSighashAll);
      ASSERT_TRUE(digest.ok());
      ASSERT_TRUE(SetP2wpkhWitness(tx, i, P2wpkhSignatureItem(testing::SignDigest(secret, *digest).rs), pk).ok());
    }
    EXPECT_LE(Weight(tx), bound);
    // Signatures are 71 or 72 bytes with their sighash byte, rarely shorter.
    EXPECT_GE(Weight(tx) + 2 * n_in, bound);
    EXPECT_LE(VirtualSize(tx), MaxSignedP2wpkhVsize(tx));
    EXPECT_EQ(MaxSignedP2wpkhWeight(tx), bound);  // existing witnesses do not count twice
  }
}

TEST(Ecdsa, StrictDer) {
  CompactSignature sig{};
  sig[31] = 1;   // r = 1
  sig[32] = 0x80;  // s with the top bit set needs a 0x00 pad
  sig[63] = 5;
  std::vector<uint8_t> der = EncodeDerSignature(sig);
  absl::StatusOr<CompactSignature> back = ParseDerSignature(der);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, sig);
  // A superfluous leading zero on r.
  std::vector<uint8_t> padded = {0x30, static_cast<uint8_t>(der[1] + 1), 0x02, 0x02, 0x00, 0x01};
  padded.insert(padded.end(), der.begin() + 5, der.end());
  EXPECT_FALSE(ParseDerSignature(padded).ok());
  std::vector<uint8_t> trailing = der;
  trailing.push_back(0);
  EXPECT_FALSE(ParseDerSignature(trailing).ok());
  std::vector<uint8_t> negative = der;
  negative[4] = 0x81;
  EXPECT_FALSE(ParseDerSignature(negative).ok());
  // r written in 33 bytes with a non-zero first byte is 2^256 or more, not r.
  std::vector<uint8_t> wide = {0x30, 0x26, 0x02, 0x21, 0x01};
  wide.insert(wide.end(), 32, 0x11);
  wide.insert(wide.end(), {0x02, 0x01, 0x05});
  absl::StatusOr<CompactSignature> wide_r = ParseDerSignature(wide);
  ASSERT_FALSE(wide_r.ok());
  EXPECT_NE(wide_r.status().ToString().find("larger than 256 bits"), std::string::npos) << wide_r.status();
  EXPECT_FALSE(NormalizeLowS(std::vector<uint8_t>(64, 0)).ok());
  EXPECT_FALSE(NormalizeLowS(std::vector<uint8_t>(64, 0xff)).ok());
  EXPECT_FALSE(NormalizeLowS(std::vector<uint8_t>(63, 1)).ok());
}

TEST(Ecdsa, RecoveryIdMatchesSigner) {
  std::vector<uint8_t> secret(32, 0x33);
  std::array<uint8_t, 33> pk = testing::CompressedPubkey(secret);
  for (uint8_t i = 0; i < 16; ++i) {
    std::array<uint8_t, 32> digest = Sha256(std::span<const uint8_t>(&i, 1));
    testing::RecoverableSignature sig = testing::SignDigest(secret, digest);
    absl::StatusOr<int> recid = ComputeRecoveryId(digest, sig.rs, pk);
    ASSERT_TRUE(recid.ok()) << recid.status();
    EXPECT_EQ(*recid, sig.recid);
    digest[0] ^= 1;
    EXPECT_FALSE(ComputeRecoveryId(digest, sig.rs, pk).ok());
  }
}

}  // namespace
}  // namespace ringfence::chain

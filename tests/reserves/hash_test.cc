// Primitives of custody-por/1: tagged hashes, the batched SHA-256 against OpenSSL, encodings,
// amounts, strict JSON, and the appendix A known-answer vector byte for byte.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "base/hex.h"
#include "tests/common/vectors.h"
#include "reserves/amount.h"
#include "reserves/format.h"
#include "reserves/hash.h"
#include "reserves/sha256_batch.h"
#include "reserves/strict_json.h"
#include "reserves/tree.h"

namespace ringfence::reserves {
namespace {

std::string H(const uint8_t* p) { return base::HexEncode(std::span<const uint8_t>(p, 32)); }
std::string H(const Hash32& h) { return base::HexEncode(h); }

Hash32 Sha(std::string_view s) {
  return Sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

TEST(TaggedHash, MatchesDefinition) {
  // TH(tag, m) = SHA256(SHA256(tag) || SHA256(tag) || m), computed the long way.
  Hash32 t = Sha("por/v1/node");
  std::vector<uint8_t> buf(t.begin(), t.end());
  buf.insert(buf.end(), t.begin(), t.end());
  std::string m = "abc";
  buf.insert(buf.end(), m.begin(), m.end());
  EXPECT_EQ(H(Sha256(buf)), H(NodeTag().Hash(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.data()), 3))));
}

TEST(Sha256Batch, AgreesWithOpenSslForEveryLengthAndLaneCount) {
  std::mt19937 rng(7);
  TaggedHasher base("por/v1/test");
  std::vector<uint8_t> prefix(37);
  for (auto& b : prefix) b = static_cast<uint8_t>(rng());
  TaggedHasher prefixed = base.Prefixed(prefix);
  for (const TaggedHasher* th : {&base, &prefixed}) {
    for (size_t len = 0; len <= 200; len += 7) {
      for (size_t count = 1; count <= kBatchLanes; ++count) {
        std::vector<std::vector<uint8_t>> msgs(count, std::vector<uint8_t>(len));
        const uint8_t* ptrs[kBatchLanes];
        uint8_t outs[kBatchLanes][32];
        uint8_t* out_ptrs[kBatchLanes];
        for (size_t k = 0; k < count; ++k) {
          for (auto& b : msgs[k]) b = static_cast<uint8_t>(rng());
          ptrs[k] = msgs[k].data();
          out_ptrs[k] = outs[k];
        }
        th->HashBatch(count, ptrs, len, out_ptrs);
        for (size_t k = 0; k < count; ++k) {
          EXPECT_EQ(H(outs[k]), H(th->Hash(msgs[k]))) << "len " << len << " count " << count << " lane " << k;
        }
      }
    }
  }
}

TEST(Sha256Batch, LanesOfDifferentLengths) {
  Sha256Mid mid;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (int i = 0; i < 8; ++i) mid.h[i] = ctx.h[i];
  mid.bytes = 0;
  std::vector<std::string> msgs = {"", "a", std::string(55, 'b'), std::string(56, 'c'), std::string(64, 'd'),
                                   std::string(119, 'e'), std::string(120, 'f'), std::string(247, 'g')};
  const uint8_t* ptrs[8];
  size_t lens[8];
  uint8_t outs[8][32];
  uint8_t* out_ptrs[8];
  for (int k = 0; k < 8; ++k) {
    ptrs[k] = reinterpret_cast<const uint8_t*>(msgs[k].data());
    lens[k] = msgs[k].size();
    out_ptrs[k] = outs[k];
  }
  Sha256FinishBatch(mid, 8, ptrs, lens, out_ptrs);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(H(outs[k]), H(Sha(msgs[k]))) << "lane " << k;
}

// The path the batch runs on is the one the environment and the CPU call for. ctest runs this
// binary twice, with RINGFENCE_SHA256_PATH=auto and =portable, so that every test here runs on
// both paths and this test proves which one it was (a forced run cannot quietly use the same
// path as the normal one on a CPU with a vector path).
TEST(Sha256Batch, PathFollowsEnvironmentAndCpu) {
  const char* env = std::getenv("RINGFENCE_SHA256_PATH");
  const std::string request = env != nullptr ? env : "";
  Sha256Path expected = Sha256Path::kPortable;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if ((request.empty() || request == "auto") && __builtin_cpu_supports("avx512f")) {
    expected = Sha256Path::kAvx512;
  } else if ((request.empty() || request == "auto" || request == "avx2") && __builtin_cpu_supports("avx2")) {
    expected = Sha256Path::kAvx2;
  }
#endif
  EXPECT_EQ(Sha256BatchPath(), expected) << "RINGFENCE_SHA256_PATH=" << request << ", path " << Sha256BatchPathName();
  if (request == "portable") {
    EXPECT_EQ(Sha256BatchPath(), Sha256Path::kPortable);
    EXPECT_STREQ(Sha256BatchPathName(), "portable");
  }
}

// FIPS 180-2 known answers, through every lane of full and partial batches, so that both
// paths are held to the same fixed digests and not only to each other.
TEST(Sha256Batch, KnownAnswersInEveryLane) {
  Sha256Mid iv;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (int i = 0; i < 8; ++i) iv.h[i] = ctx.h[i];
  iv.bytes = 0;
  const std::string abc = "abc";
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (size_t count = 1; count <= kBatchLanes; ++count) {
    const uint8_t* ptrs[kBatchLanes];
    size_t lens[kBatchLanes];
    uint8_t outs[kBatchLanes][32];
    uint8_t* out_ptrs[kBatchLanes];
    for (size_t k = 0; k < count; ++k) {
      const std::string& m = k % 2 == 0 ? abc : two_blocks;
      ptrs[k] = reinterpret_cast<const uint8_t*>(m.data());
      lens[k] = m.size();
      out_ptrs[k] = outs[k];
    }
    Sha256FinishBatch(iv, count, ptrs, lens, out_ptrs);
    for (size_t k = 0; k < count; ++k) {
      EXPECT_EQ(H(outs[k]), k % 2 == 0 ? "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                                       : "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
          << "count " << count << " lane " << k << " on " << Sha256BatchPathName();
    }
  }
}

TEST(ClientRef, BatchAgreesWithSingle) {
  std::vector<std::string> ids = {"A", "ACC-0002", std::string(64, 'z'), "x.y:z_1-2", "B", "C", "DD", "EEE"};
  std::string_view views[8];
  uint8_t outs[8][32];
  uint8_t* out_ptrs[8];
  for (int k = 0; k < 8; ++k) {
    views[k] = ids[k];
    out_ptrs[k] = outs[k];
  }
  ClientRefBatch(8, views, out_ptrs);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(H(outs[k]), H(ClientRef(ids[k])));
}

// Appendix A of the spec.
class AppendixA : public ::testing::Test {
 protected:
  Hash32 snapshot_;
  std::vector<Node> leaves_;
  void SetUp() override {
    snapshot_.fill(0x11);
    TreeHasher hasher(snapshot_, "BTC");
    TaggedHasher demo("por/v1/demo-salt");
    const char* ids[3] = {"ACC-0001", "ACC-0002", "ACC-0003"};
    const base::Amount amounts[3] = {base::Amount(150000000), base::Amount(2500), base::Amount(99999999)};
    for (uint8_t i = 0; i < 3; ++i) {
      Hash32 salt = demo.Hash(std::span<const uint8_t>(&i, 1));
      Hash32 ref = ClientRef(ids[i]);
      Node n;
      hasher.Leaf(ref.data(), 0, 1, salt.data(), amounts[i], n.hash);
      n.sum = amounts[i];
      leaves_.push_back(n);
    }
  }
};

TEST_F(AppendixA, ClientRef) {
  EXPECT_EQ(H(ClientRef("ACC-0002")), "c3ce0ea4f609b733b11a0c6ea2c44c8edd7d66fd15be68ce7f7a61d8ca3f7034");
}

TEST_F(AppendixA, LeafHashes) {
  EXPECT_EQ(H(leaves_[0].hash), "9afc353f1fb370ea6f6f92ab781559e09e5669799551567614e7591b2ce49487");
  EXPECT_EQ(H(leaves_[1].hash), "b97f338990f527f50172fff292a3c5636737d4b8a0ddd3bc5ceee09882796aee");
  EXPECT_EQ(H(leaves_[2].hash), "a87b7498354c748e30c662f44ee94a5171d9bd8e1843690a1a64a7445fcfb0ab");
}

TEST_F(AppendixA, PadHash) {
  TreeHasher hasher(snapshot_, "BTC");
  uint8_t pad[32];
  hasher.Pad(3, pad);
  EXPECT_EQ(H(pad), "337e3b2e3d377a0051fb9edeaa958d710f3092043ffe6fee22a5cb3abc26aeee");
  EXPECT_EQ(H(hasher.PadRoot(0, 3).hash), H(pad));
}

TEST_F(AppendixA, RootAndRootCommit) {
  TreeHasher hasher(snapshot_, "BTC");
  std::vector<Node> leaves = leaves_;
  auto root = BuildTree(hasher, leaves, 2, BuildOptions{});
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(H(root->hash), "4c3e0a3d61658174c2f08c3217a6cb211bc166a9846e171a81030e4a345bff92");
  EXPECT_EQ(root->sum.ToBaseUnitString(), "250002499");
  AssetCommit a;
  a.asset_id = "BTC";
  a.decimals = 8;
  a.depth = 2;
  a.n_leaves = 3;
  std::copy(root->hash, root->hash + 32, a.root_hash.begin());
  a.root_sum = root->sum;
  EXPECT_EQ(H(RootCommit(snapshot_, a)), "bfa48d93aa198db793f932ee5bdb58d4bf42867a5a9d94725e3ce8a47adec2e2");
}

TEST_F(AppendixA, InclusionPathOfAcc0002) {
  TreeHasher hasher(snapshot_, "BTC");
  std::vector<Node> leaves = leaves_;
  std::vector<uint64_t> track = {1};
  std::vector<std::vector<Node>> paths;
  BuildOptions bo;
  bo.track = &track;
  bo.paths = &paths;
  auto root = BuildTree(hasher, leaves, 2, bo);
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(paths.size(), 1u);
  ASSERT_EQ(paths[0].size(), 2u);
  EXPECT_EQ(H(paths[0][0].hash), "9afc353f1fb370ea6f6f92ab781559e09e5669799551567614e7591b2ce49487");
  EXPECT_EQ(paths[0][0].sum.ToBaseUnitString(), "150000000");
  EXPECT_EQ(H(paths[0][1].hash), "00bdb5917c57f9cf3f8ffa69656af73c961ec43d128c4d0bd27ce9f5907bb91f");
  EXPECT_EQ(paths[0][1].sum.ToBaseUnitString(), "99999999");
  auto folded = FoldPath(leaves_[1], 1, paths[0]);
  ASSERT_TRUE(folded.has_value());
  EXPECT_EQ(H(folded->hash), "4c3e0a3d61658174c2f08c3217a6cb211bc166a9846e171a81030e4a345bff92");
  EXPECT_EQ(folded->sum.ToBaseUnitString(), "250002499");
  // The same path from the kept levels.
  auto levels = BuildTreeLevels(hasher, leaves_, 2, 1);
  ASSERT_TRUE(levels.ok());
  auto path = PathFromLevels(*levels, 1);
  EXPECT_EQ(H(path[1].hash), "00bdb5917c57f9cf3f8ffa69656af73c961ec43d128c4d0bd27ce9f5907bb91f");
}

}  // namespace
}  // namespace ringfence::reserves

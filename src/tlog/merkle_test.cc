// Tests for tlog/merkle.h: the transparency-dev/merkle JSON test vectors (inclusion, consistency,
// subtree inclusion and subtree consistency), plus proofs generated over in-memory trees.
#include "tlog/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::tlog {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Helpers shared by the vector and the tree tests.

Hash LeafAt(uint64_t i) {
  return HashLeaf("leaf-" + std::to_string(i));
}

std::vector<Hash> MakeLeaves(uint64_t n) {
  std::vector<Hash> leaves;
  leaves.reserve(n);
  for (uint64_t i = 0; i < n; ++i) leaves.push_back(LeafAt(i));
  return leaves;
}

// MTH(D[begin:end]) straight from RFC 9162 2.1.1, independent of the library's RangeRoot.
Hash Mth(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end) {
  uint64_t n = end - begin;
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaves[begin];
  uint64_t k = std::bit_floor(n - 1);
  return HashChildren(Mth(leaves, begin, begin + k), Mth(leaves, begin + k, end));
}

// A HashSource over leaf hashes held in memory: every complete subtree is precomputed.
class MemorySource : public HashSource {
 public:
  explicit MemorySource(std::vector<Hash> leaves) {
    levels_.push_back(std::move(leaves));
    while (levels_.back().size() >= 2) {
      const std::vector<Hash>& below = levels_.back();
      std::vector<Hash> above;
      above.reserve(below.size() / 2);
      for (size_t i = 0; i + 1 < below.size(); i += 2) {
        above.push_back(HashChildren(below[i], below[i + 1]));
      }
      levels_.push_back(std::move(above));
    }
  }

  Result<Hash> Node(int level, uint64_t index) override {
    ++calls_;
    if (level < 0 || static_cast<size_t>(level) >= levels_.size() || index >= levels_[level].size()) {
      return NotFound("no node at level " + std::to_string(level) + " index " + std::to_string(index));
    }
    return levels_[level][index];
  }

  uint64_t calls() const { return calls_; }

 private:
  std::vector<std::vector<Hash>> levels_;
  uint64_t calls_ = 0;
};

Hash FlipBit(Hash h, unsigned bit) {
  h[(bit / 8) % h.size()] ^= static_cast<uint8_t>(1u << (bit % 8));
  return h;
}

// ---------------------------------------------------------------------------------------------
// Test vectors from transparency-dev/merkle (testdata/{inclusion,consistency,subtree*}).

// ACCORD_SHARED_DATA (set by ctest) names shared/data; run by hand, the test falls back to
// shared/data beside the source tree (<repo>/../shared/data), found from this file's path.
fs::path TestdataDir() {
  fs::path shared;
  if (const char* env = std::getenv("ACCORD_SHARED_DATA"); env != nullptr && *env != '\0') {
    shared = env;
  } else {
    shared = fs::path(__FILE__).parent_path() / ".." / ".." / ".." / "shared" / "data";
  }
  return (shared / "merkle-testdata" / "testdata").lexically_normal();
}

Bytes DecodeB64(const json& j, const std::string& key, const std::string& file) {
  std::optional<Bytes> b = Base64Decode(j.at(key).get<std::string>());
  if (!b) {
    ADD_FAILURE() << file << ": field " << key << " is not strict base64";
    return {};
  }
  return *b;
}

// A value of the wrong length cannot be a Hash: such a vector is rejected before verification.
bool ToHash(ByteView b, Hash& out) {
  if (b.size() != out.size()) return false;
  std::copy(b.begin(), b.end(), reinterpret_cast<char*>(out.data()));
  return true;
}

bool DecodeProof(const json& j, const std::string& file, std::vector<Hash>& out) {
  out.clear();
  const json& p = j.at("proof");
  if (p.is_null()) return true;
  for (const json& e : p) {
    std::optional<Bytes> b = Base64Decode(e.get<std::string>());
    if (!b) {
      ADD_FAILURE() << file << ": proof element is not strict base64";
      return false;
    }
    Hash h;
    if (!ToHash(*b, h)) return false;
    out.push_back(h);
  }
  return true;
}

struct VectorOutcome {
  bool error = false;
  bool rejected_by_type = false;  // a leaf or proof hash was not 32 bytes
  std::string message;
};

VectorOutcome RunInclusion(const json& j, const std::string& file) {
  VectorOutcome o;
  Bytes leaf = DecodeB64(j, "leafHash", file);
  Bytes root = DecodeB64(j, "root", file);
  Hash leaf_hash;
  std::vector<Hash> proof;
  if (!ToHash(leaf, leaf_hash) || !DecodeProof(j, file, proof)) {
    o.error = o.rejected_by_type = true;
    return o;
  }
  Status st = VerifyInclusion(j.at("leafIdx").get<uint64_t>(), j.at("treeSize").get<uint64_t>(), leaf_hash,
                              proof, root);
  o.error = !st.ok();
  o.message = st.ToString();
  return o;
}

VectorOutcome RunConsistency(const json& j, const std::string& file) {
  VectorOutcome o;
  Bytes root1 = DecodeB64(j, "root1", file);
  Bytes root2 = DecodeB64(j, "root2", file);
  std::vector<Hash> proof;
  if (!DecodeProof(j, file, proof)) {
    o.error = o.rejected_by_type = true;
    return o;
  }
  Status st =
      VerifyConsistency(j.at("size1").get<uint64_t>(), j.at("size2").get<uint64_t>(), root1, root2, proof);
  o.error = !st.ok();
  o.message = st.ToString();
  return o;
}

VectorOutcome RunSubtreeInclusion(const json& j, const std::string& file) {
  VectorOutcome o;
  Bytes leaf = DecodeB64(j, "leafHash", file);
  Bytes root = DecodeB64(j, "root", file);
  Hash leaf_hash;
  std::vector<Hash> proof;
  if (!ToHash(leaf, leaf_hash) || !DecodeProof(j, file, proof)) {
    o.error = o.rejected_by_type = true;
    return o;
  }
  Status st = VerifySubtreeInclusion(j.at("leafIdx").get<uint64_t>(), j.at("start").get<uint64_t>(),
                                     j.at("end").get<uint64_t>(), leaf_hash, proof, root);
  o.error = !st.ok();
  o.message = st.ToString();
  return o;
}

VectorOutcome RunSubtreeConsistency(const json& j, const std::string& file) {
  VectorOutcome o;
  Bytes root1 = DecodeB64(j, "root1", file);
  Bytes root2 = DecodeB64(j, "root2", file);
  std::vector<Hash> proof;
  if (!DecodeProof(j, file, proof)) {
    o.error = o.rejected_by_type = true;
    return o;
  }
  Status st = VerifySubtreeConsistency(j.at("start").get<uint64_t>(), j.at("end").get<uint64_t>(),
                                       j.at("size").get<uint64_t>(), root1, root2, proof);
  o.error = !st.ok();
  o.message = st.ToString();
  return o;
}

struct FolderCounts {
  int files = 0;
  int matched = 0;
  int accepted = 0;          // wantErr false, verified
  int rejected = 0;          // wantErr true, rejected by the verifier
  int rejected_by_type = 0;  // wantErr true, a hash of the wrong length never reached it
};

TEST(MerkleVectors, AllFilesMatchWantErr) {
  fs::path dir = TestdataDir();
  ASSERT_TRUE(fs::is_directory(dir))
      << dir << " is not a directory; set ACCORD_SHARED_DATA to the shared/data directory";

  using Runner = std::function<VectorOutcome(const json&, const std::string&)>;
  const std::vector<std::pair<std::string, Runner>> folders = {
      {"inclusion", RunInclusion},
      {"consistency", RunConsistency},
      {"subtreeinclusion", RunSubtreeInclusion},
      {"subtreeconsistency", RunSubtreeConsistency},
  };
  int total = 0;
  for (const auto& [name, run] : folders) {
    fs::path folder = dir / name;
    ASSERT_TRUE(fs::is_directory(folder)) << folder << " is missing";
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(folder)) {
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    FolderCounts c;
    for (const fs::path& path : files) {
      const std::string file = path.string();
      std::ifstream in(path);
      json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        ADD_FAILURE() << file << ": not a JSON object";
        continue;
      }
      ++c.files;
      bool want_err = j.at("wantErr").get<bool>();
      VectorOutcome o = run(j, file);
      EXPECT_EQ(o.error, want_err) << file << " (" << j.value("desc", "") << "): want "
                                   << (want_err ? "an error" : "success") << ", got "
                                   << (o.rejected_by_type ? "rejected: a hash is not 32 bytes"
                                                          : (o.error ? o.message : "success"));
      if (o.error != want_err) continue;
      ++c.matched;
      if (!want_err) {
        ++c.accepted;
      } else if (o.rejected_by_type) {
        ++c.rejected_by_type;
      } else {
        ++c.rejected;
      }
    }
    std::cout << "[ vectors  ] " << name << ": " << c.matched << "/" << c.files << " match (" << c.accepted
              << " valid accepted, " << c.rejected << " invalid rejected by the "
              << "verifier, " << c.rejected_by_type << " rejected for a hash not 32 bytes)\n";
    EXPECT_GT(c.files, 0) << folder << " holds no vectors";
    total += c.files;
  }
  EXPECT_GT(total, 500) << "expected the full transparency-dev/merkle vector set";
}

// ---------------------------------------------------------------------------------------------
// Trees of sizes 1..300 built from leaves "leaf-<i>".

constexpr uint64_t kMaxSize = 300;

class MerkleTreeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    leaves_ = new std::vector<Hash>(MakeLeaves(kMaxSize));
    roots_ = new std::vector<Hash>();
    roots_->push_back(EmptyRoot());
    for (uint64_t n = 1; n <= kMaxSize; ++n) roots_->push_back(Mth(*leaves_, 0, n));
  }
  static void TearDownTestSuite() {
    delete leaves_;
    delete roots_;
    leaves_ = nullptr;
    roots_ = nullptr;
  }
  static const Hash& root(uint64_t n) { return (*roots_)[n]; }

  static std::vector<Hash>* leaves_;
  static std::vector<Hash>* roots_;  // roots_[n] = MTH(D[0:n])
};

std::vector<Hash>* MerkleTreeTest::leaves_ = nullptr;
std::vector<Hash>* MerkleTreeTest::roots_ = nullptr;

TEST_F(MerkleTreeTest, KnownHashes) {
  // RFC 6962 / RFC 9162: the empty tree and leaf hashing.
  EXPECT_EQ(HexEncode(crypto::AsView(EmptyRoot())),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(crypto::AsView(HashLeaf(""))),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST_F(MerkleTreeTest, CompactRangeAndRangeRootAgree) {
  MemorySource source(*leaves_);
  CompactRange range;
  EXPECT_EQ(range.Root(), EmptyRoot());
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    range.Append((*leaves_)[n - 1]);
    ASSERT_EQ(range.size(), n);
    EXPECT_EQ(range.hashes().size(), static_cast<size_t>(std::popcount(n))) << "size " << n;
    EXPECT_EQ(range.Root(), root(n)) << "CompactRange root at size " << n;
    Result<Hash> r = RangeRoot(source, 0, n);
    ASSERT_TRUE(r.ok()) << "size " << n << ": " << r.status().ToString();
    EXPECT_EQ(*r, root(n)) << "RangeRoot at size " << n;

    Result<CompactRange> restored = CompactRange::FromHashes(n, range.hashes());
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_EQ(restored->Root(), root(n));
  }
  EXPECT_FALSE(CompactRange::FromHashes(3, {}).ok());
  EXPECT_FALSE(RangeRoot(source, 5, 5).ok());
}

TEST_F(MerkleTreeTest, InclusionProofsVerifyAndTamperingFails) {
  MemorySource source(*leaves_);
  uint64_t checked = 0;
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      Result<std::vector<Hash>> proof = ProveInclusion(source, i, n);
      ASSERT_TRUE(proof.ok()) << "index " << i << " size " << n << ": " << proof.status().ToString();
      const Hash& leaf = (*leaves_)[i];
      Status st = VerifyInclusion(i, n, leaf, *proof, crypto::AsView(root(n)));
      ASSERT_TRUE(st.ok()) << "index " << i << " size " << n << ": " << st.ToString();
      Result<Hash> implied = RootFromInclusionProof(i, n, leaf, *proof);
      ASSERT_TRUE(implied.ok());
      EXPECT_EQ(*implied, root(n));
      ++checked;

      for (size_t k = 0; k < proof->size(); ++k) {
        std::vector<Hash> bad = *proof;
        bad[k] = FlipBit(bad[k], static_cast<unsigned>(i + 7 * k + n));
        EXPECT_FALSE(VerifyInclusion(i, n, leaf, bad, crypto::AsView(root(n))).ok())
            << "index " << i << " size " << n << ": flipped a bit of proof[" << k << "]";
      }
      EXPECT_FALSE(
          VerifyInclusion(i, n, FlipBit(leaf, static_cast<unsigned>(i)), *proof, crypto::AsView(root(n)))
              .ok());
      if (!proof->empty()) {
        std::vector<Hash> shorter(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyInclusion(i, n, leaf, shorter, crypto::AsView(root(n))).ok());
      }
      std::vector<Hash> longer = *proof;
      longer.push_back(leaf);
      EXPECT_FALSE(VerifyInclusion(i, n, leaf, longer, crypto::AsView(root(n))).ok());
    }
    EXPECT_FALSE(ProveInclusion(source, n, n).ok());
  }
  EXPECT_EQ(checked, kMaxSize * (kMaxSize + 1) / 2);
}

TEST_F(MerkleTreeTest, ConsistencyProofsVerifyAndTamperingFails) {
  MemorySource source(*leaves_);
  uint64_t checked = 0;
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      Result<std::vector<Hash>> proof = ProveConsistency(source, m, n);
      ASSERT_TRUE(proof.ok()) << m << " -> " << n << ": " << proof.status().ToString();
      ByteView r1 = crypto::AsView(root(m)), r2 = crypto::AsView(root(n));
      Status st = VerifyConsistency(m, n, r1, r2, *proof);
      ASSERT_TRUE(st.ok()) << m << " -> " << n << ": " << st.ToString();
      ++checked;
      if (m == n) {
        EXPECT_TRUE(proof->empty());
      }

      for (size_t k = 0; k < proof->size(); ++k) {
        std::vector<Hash> bad = *proof;
        bad[k] = FlipBit(bad[k], static_cast<unsigned>(m + 5 * k + n));
        EXPECT_FALSE(VerifyConsistency(m, n, r1, r2, bad).ok())
            << m << " -> " << n << ": flipped a bit of proof[" << k << "]";
      }
      Hash other = FlipBit(root(m), 3);
      EXPECT_FALSE(VerifyConsistency(m, n, crypto::AsView(other), r2, *proof).ok());
      other = FlipBit(root(n), 3);
      EXPECT_FALSE(VerifyConsistency(m, n, r1, crypto::AsView(other), *proof).ok());
      if (!proof->empty()) {
        std::vector<Hash> shorter(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyConsistency(m, n, r1, r2, shorter).ok());
      }
      std::vector<Hash> longer = *proof;
      longer.push_back(root(m));
      EXPECT_FALSE(VerifyConsistency(m, n, r1, r2, longer).ok());
    }
    EXPECT_FALSE(ProveConsistency(source, 0, n).ok());
    EXPECT_FALSE(ProveConsistency(source, n + 1, n).ok());
  }
  EXPECT_EQ(checked, kMaxSize * (kMaxSize + 1) / 2);
}

// ---------------------------------------------------------------------------------------------
// Subtrees (draft-ietf-plants-merkle-tree-certs).

// SUBTREE_SUBPROOF(start, end, D[lo:hi], known_end) as the draft defines it (start and end are
// relative to lo), written over plain leaf hashes so it shares no code with the library.
void SubtreeSubproof(const std::vector<Hash>& leaves, uint64_t start, uint64_t end, uint64_t lo, uint64_t hi,
                     bool known_end, std::vector<Hash>& out) {
  uint64_t n = hi - lo;
  if (start == 0 && end == n) {
    if (!known_end) out.push_back(Mth(leaves, lo, hi));
    return;
  }
  uint64_t k = std::bit_floor(n - 1);
  if (end <= k) {
    SubtreeSubproof(leaves, start, end, lo, lo + k, known_end, out);
    out.push_back(Mth(leaves, lo + k, hi));
  } else if (start >= k) {
    SubtreeSubproof(leaves, start - k, end - k, lo + k, hi, known_end, out);
    out.push_back(Mth(leaves, lo, lo + k));
  } else {
    // Only start == 0 straddles k; from here on it is RFC 9162's SUBPROOF.
    SubtreeSubproof(leaves, 0, end - k, lo + k, hi, false, out);
    out.push_back(Mth(leaves, lo, lo + k));
  }
}

std::vector<Hash> SubtreeProof(const std::vector<Hash>& leaves, uint64_t start, uint64_t end, uint64_t size) {
  std::vector<Hash> out;
  SubtreeSubproof(leaves, start, end, 0, size, true, out);
  return out;
}

TEST_F(MerkleTreeTest, IsValidSubtree) {
  EXPECT_TRUE(IsValidSubtree(0, 1));
  EXPECT_TRUE(IsValidSubtree(0, 13));
  EXPECT_TRUE(IsValidSubtree(4, 8));
  EXPECT_TRUE(IsValidSubtree(8, 13));
  EXPECT_TRUE(IsValidSubtree(7, 8));
  EXPECT_FALSE(IsValidSubtree(0, 0));
  EXPECT_FALSE(IsValidSubtree(3, 2));
  EXPECT_FALSE(IsValidSubtree(1, 3));
  EXPECT_FALSE(IsValidSubtree(2, 5));
  EXPECT_FALSE(IsValidSubtree(4, 9));
  EXPECT_FALSE(IsValidSubtree(1, UINT64_MAX));
}

TEST_F(MerkleTreeTest, SubtreeConsistencyDraftExamples) {
  // The draft's figures: [4, 8) and [8, 13) in a tree of 14 leaves.
  const std::vector<Hash>& l = *leaves_;
  Hash root14 = root(14);
  std::vector<Hash> p48 = {Mth(l, 0, 4), Mth(l, 8, 14)};
  EXPECT_EQ(SubtreeProof(l, 4, 8, 14), p48);
  Status st = VerifySubtreeConsistency(4, 8, 14, crypto::AsView(Mth(l, 4, 8)), crypto::AsView(root14), p48);
  EXPECT_TRUE(st.ok()) << st.ToString();

  std::vector<Hash> p813 = {Mth(l, 12, 13), Mth(l, 13, 14), Mth(l, 8, 12), Mth(l, 0, 8)};
  EXPECT_EQ(SubtreeProof(l, 8, 13, 14), p813);
  st = VerifySubtreeConsistency(8, 13, 14, crypto::AsView(Mth(l, 8, 13)), crypto::AsView(root14), p813);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(MerkleTreeTest, SubtreeConsistencyProofsVerifyAndTamperingFails) {
  MemorySource source(*leaves_);
  constexpr uint64_t kSubtreeMax = 70;
  uint64_t checked = 0;
  for (uint64_t n = 1; n <= kSubtreeMax; ++n) {
    ByteView tree_root = crypto::AsView(root(n));
    for (uint64_t start = 0; start < n; ++start) {
      for (uint64_t end = start + 1; end <= n; ++end) {
        if (!IsValidSubtree(start, end)) {
          EXPECT_FALSE(VerifySubtreeConsistency(start, end, n, tree_root, tree_root, {}).ok());
          continue;
        }
        Hash sub = Mth(*leaves_, start, end);
        ByteView sub_root = crypto::AsView(sub);
        std::vector<Hash> proof = SubtreeProof(*leaves_, start, end, n);
        Status st = VerifySubtreeConsistency(start, end, n, sub_root, tree_root, proof);
        ASSERT_TRUE(st.ok()) << "[" << start << ", " << end << ") in " << n << ": " << st.ToString();
        ++checked;
        if (start == 0) {
          // SUBTREE_PROOF(0, end, D_n) is PROOF(end, D_n).
          Result<std::vector<Hash>> rfc = ProveConsistency(source, end, n);
          ASSERT_TRUE(rfc.ok());
          EXPECT_EQ(*rfc, proof) << "[0, " << end << ") in " << n;
        }

        for (size_t k = 0; k < proof.size(); ++k) {
          std::vector<Hash> bad = proof;
          bad[k] = FlipBit(bad[k], static_cast<unsigned>(start + end + 3 * k));
          EXPECT_FALSE(VerifySubtreeConsistency(start, end, n, sub_root, tree_root, bad).ok())
              << "[" << start << ", " << end << ") in " << n << ": flipped proof[" << k << "]";
        }
        Hash other = FlipBit(sub, 1);
        EXPECT_FALSE(VerifySubtreeConsistency(start, end, n, crypto::AsView(other), tree_root, proof).ok());
        other = FlipBit(root(n), 1);
        EXPECT_FALSE(VerifySubtreeConsistency(start, end, n, sub_root, crypto::AsView(other), proof).ok());
        if (!proof.empty()) {
          std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
          EXPECT_FALSE(VerifySubtreeConsistency(start, end, n, sub_root, tree_root, shorter).ok());
        }
        std::vector<Hash> longer = proof;
        longer.push_back(sub);
        EXPECT_FALSE(VerifySubtreeConsistency(start, end, n, sub_root, tree_root, longer).ok());
        // The same proof against a larger tree or a subtree past the end does not verify.
        EXPECT_FALSE(
            VerifySubtreeConsistency(start, end, n + 1, sub_root, crypto::AsView(root(n + 1)), proof).ok());
      }
    }
    EXPECT_FALSE(VerifySubtreeConsistency(0, n + 1, n, tree_root, tree_root, {}).ok());
    // An empty subtree [k, k) is in every tree of size >= k; its hash is MTH({}).
    Hash empty = EmptyRoot();
    for (uint64_t k = 0; k <= n; ++k) {
      EXPECT_TRUE(VerifySubtreeConsistency(k, k, n, crypto::AsView(empty), tree_root, {}).ok());
      EXPECT_FALSE(VerifySubtreeConsistency(k, k, n, tree_root, tree_root, {}).ok());
      std::vector<Hash> one = {empty};
      EXPECT_FALSE(VerifySubtreeConsistency(k, k, n, crypto::AsView(empty), tree_root, one).ok());
    }
    EXPECT_FALSE(VerifySubtreeConsistency(n + 1, n + 1, n, crypto::AsView(empty), tree_root, {}).ok());
  }
  EXPECT_GT(checked, 1000u);
}

TEST_F(MerkleTreeTest, SubtreeInclusionProofsVerify) {
  constexpr uint64_t kSubtreeMax = 64;
  uint64_t checked = 0;
  for (uint64_t start = 0; start < kSubtreeMax; ++start) {
    for (uint64_t end = start + 1; end <= kSubtreeMax; ++end) {
      if (!IsValidSubtree(start, end)) continue;
      std::vector<Hash> part(leaves_->begin() + start, leaves_->begin() + end);
      MemorySource source(part);
      Hash sub = Mth(*leaves_, start, end);
      for (uint64_t i = start; i < end; ++i) {
        Result<std::vector<Hash>> proof = ProveInclusion(source, i - start, end - start);
        ASSERT_TRUE(proof.ok());
        const Hash& leaf = (*leaves_)[i];
        Status st = VerifySubtreeInclusion(i, start, end, leaf, *proof, crypto::AsView(sub));
        ASSERT_TRUE(st.ok()) << i << " in [" << start << ", " << end << "): " << st.ToString();
        ++checked;
        for (size_t k = 0; k < proof->size(); ++k) {
          std::vector<Hash> bad = *proof;
          bad[k] = FlipBit(bad[k], static_cast<unsigned>(i + k));
          EXPECT_FALSE(VerifySubtreeInclusion(i, start, end, leaf, bad, crypto::AsView(sub)).ok());
        }
      }
      EXPECT_FALSE(VerifySubtreeInclusion(end, start, end, (*leaves_)[0], {}, crypto::AsView(sub)).ok());
      if (start > 0) {
        EXPECT_FALSE(
            VerifySubtreeInclusion(start - 1, start, end, (*leaves_)[0], {}, crypto::AsView(sub)).ok());
      }
    }
  }
  EXPECT_GT(checked, 1000u);
}

// ---------------------------------------------------------------------------------------------
// CompactRange::Append reports the hashes of complete tiles' subtrees.

TEST(CompactRangeCallback, ReportsTileLevelHashes) {
  constexpr uint64_t kLevel2 = uint64_t(1) << 16;  // leaves under one level-2 hash
  constexpr uint64_t kSize = 2 * kLevel2 + 300;
  std::vector<Hash> leaves = MakeLeaves(kSize);
  MemorySource source(leaves);

  std::map<int, std::vector<std::pair<uint64_t, Hash>>> seen;
  CompactRange range;
  for (uint64_t i = 0; i < kSize; ++i) {
    range.Append(leaves[i], [&](int level, uint64_t index, const Hash& h) {
      seen[level].emplace_back(index, h);
      // A subtree is reported as soon as its last leaf is appended.
      uint64_t width = uint64_t(1) << (8 * level);
      EXPECT_EQ(i + 1, (index + 1) * width) << "level " << level << " index " << index;
    });
  }
  EXPECT_EQ(range.Root(), Mth(leaves, 0, kSize));
  EXPECT_EQ(seen.count(0), 0u);

  const auto& level1 = seen[1];
  ASSERT_EQ(level1.size(), kSize / 256);
  for (uint64_t idx = 0; idx < level1.size(); ++idx) {
    EXPECT_EQ(level1[idx].first, idx);
    Result<Hash> want = RangeRoot(source, idx * 256, (idx + 1) * 256);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    EXPECT_EQ(level1[idx].second, *want) << "level-1 hash " << idx;
    if (idx < 3) {
      EXPECT_EQ(level1[idx].second, Mth(leaves, idx * 256, (idx + 1) * 256));
    }
  }

  const auto& level2 = seen[2];
  ASSERT_EQ(level2.size(), 2u);
  for (uint64_t idx = 0; idx < level2.size(); ++idx) {
    EXPECT_EQ(level2[idx].first, idx);
    Result<Hash> want = RangeRoot(source, idx * kLevel2, (idx + 1) * kLevel2);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(level2[idx].second, *want) << "level-2 hash " << idx;
  }
  EXPECT_EQ(seen.size(), 2u);
}

}  // namespace
}  // namespace accord::tlog

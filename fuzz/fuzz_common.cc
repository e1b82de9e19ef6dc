#include "fuzz_common.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crypto/sha256.h"

namespace accord::fuzz {

void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

uint8_t FuzzInput::Byte() {
  if (rest_.empty()) return 0;
  uint8_t b = uint8_t(rest_[0]);
  rest_.remove_prefix(1);
  return b;
}

uint64_t FuzzInput::Uint(int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | Byte();
  return v;
}

uint64_t FuzzInput::Size() {
  uint8_t tag = Byte();
  if (tag % 8 == 7) return Uint(8);
  return Uint(2);
}

Hash FuzzInput::TakeHash() {
  Hash h{};
  ByteView b = Take(h.size());
  std::memcpy(h.data(), b.data(), b.size());
  return h;
}

ByteView FuzzInput::Take(size_t n) {
  ByteView b = rest_.substr(0, n);
  rest_.remove_prefix(b.size());
  return b;
}

ByteView FuzzInput::Rest() {
  return Take(rest_.size());
}

namespace {
// Seeds are SHA-256 of a label rather than bytes typed in, so the private keys written out in
// make_corpus.sh can be re-derived by anyone reading this file.
note::Signer MakeSigner(std::string_view name, note::KeyType type, std::string_view seed_label) {
  note::Signer s;
  s.name = std::string(name);
  s.type = type;
  s.key = crypto::Ed25519FromSeed(crypto::Sha256(seed_label));
  s.key_id = note::KeyId(s.name, s.type, s.key.public_key);
  return s;
}

// Largest power of two strictly less than n (n >= 2): RFC 9162's k.
uint64_t Split(uint64_t n) {
  return std::bit_floor(n - 1);
}

void Subproof(uint64_t m, std::span<const Hash> d, bool b, std::vector<Hash>& out) {
  uint64_t n = d.size();
  if (m == n) {
    if (!b) out.push_back(ReferenceRoot(d));
    return;
  }
  uint64_t k = Split(n);
  if (m <= k) {
    Subproof(m, d.subspan(0, k), b, out);
    out.push_back(ReferenceRoot(d.subspan(k)));
  } else {
    Subproof(m - k, d.subspan(k), false, out);
    out.push_back(ReferenceRoot(d.subspan(0, k)));
  }
}
// SUBTREE_SUBPROOF(start, end, D, known_end), with start and end relative to D.
void SubtreeSubproof(uint64_t start, uint64_t end, std::span<const Hash> d, bool known_end,
                     std::vector<Hash>& out) {
  uint64_t n = d.size();
  if (start == 0 && end == n) {
    if (!known_end) out.push_back(ReferenceRoot(d));
    return;
  }
  uint64_t k = Split(n);
  if (end <= k) {
    SubtreeSubproof(start, end, d.subspan(0, k), known_end, out);
    out.push_back(ReferenceRoot(d.subspan(k)));
  } else if (start >= k) {
    SubtreeSubproof(start - k, end - k, d.subspan(k), known_end, out);
    out.push_back(ReferenceRoot(d.subspan(0, k)));
  } else {
    // Only start == 0 straddles k; below here it is RFC 9162's SUBPROOF.
    SubtreeSubproof(0, end - k, d.subspan(k), false, out);
    out.push_back(ReferenceRoot(d.subspan(0, k)));
  }
}
}  // namespace

const note::Signer& LogSigner() {
  static const note::Signer s = MakeSigner(kLogKeyName, note::KeyType::kEd25519, "accord fuzz log key");
  return s;
}

const note::Signer& WitnessSigner() {
  static const note::Signer s =
      MakeSigner(kWitnessKeyName, note::KeyType::kCosignatureV1, "accord fuzz witness key");
  return s;
}

std::vector<Hash> SyntheticLeaves(uint64_t n, uint8_t salt) {
  std::vector<Hash> leaves(n);
  for (uint64_t i = 0; i < n; ++i) {
    for (int b = 0; b < 8; ++b) leaves[i][b] = uint8_t(i >> (8 * b));
    leaves[i][31] = salt;
  }
  return leaves;
}

Hash ReferenceRoot(std::span<const Hash> leaves) {
  if (leaves.empty()) return tlog::EmptyRoot();
  if (leaves.size() == 1) return leaves[0];
  uint64_t k = Split(leaves.size());
  return tlog::HashChildren(ReferenceRoot(leaves.subspan(0, k)), ReferenceRoot(leaves.subspan(k)));
}

std::vector<Hash> ReferenceInclusion(uint64_t index, std::span<const Hash> leaves) {
  std::vector<Hash> out;
  // PATH(m, D[n]) built top-down, then reversed so that the leaf's sibling comes first.
  while (leaves.size() > 1) {
    uint64_t k = Split(leaves.size());
    if (index < k) {
      out.push_back(ReferenceRoot(leaves.subspan(k)));
      leaves = leaves.subspan(0, k);
    } else {
      out.push_back(ReferenceRoot(leaves.subspan(0, k)));
      leaves = leaves.subspan(k);
      index -= k;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Hash> ReferenceConsistency(uint64_t size1, std::span<const Hash> leaves) {
  std::vector<Hash> out;
  if (size1 == 0 || size1 >= leaves.size()) return out;
  Subproof(size1, leaves, true, out);
  return out;
}

std::vector<Hash> ReferenceSubtreeConsistency(uint64_t start, uint64_t end, std::span<const Hash> leaves) {
  std::vector<Hash> out;
  SubtreeSubproof(start, end, leaves, true, out);
  return out;
}

}  // namespace accord::fuzz

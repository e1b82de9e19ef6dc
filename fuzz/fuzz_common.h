// Helpers shared by accord's fuzz targets: a reader that turns fuzz bytes into values, the fixed
// keys that seed corpora are signed with, and reference Merkle computations to check the library
// against.
//
// Every target defines LLVMFuzzerTestOneInput. A target may only crash (FUZZ_CHECK) when a
// property of the library breaks; errors returned for malformed input are the expected outcome.
// Thread-safety: FuzzInput is owned by one call; the rest are pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "crypto/note.h"
#include "tlog/merkle.h"

// Aborts with the failed condition on stderr. libFuzzer and the standalone driver both save the
// input that got here, so a property violation is reported exactly like a crash.
#define FUZZ_CHECK(cond)                                                 \
  do {                                                                   \
    if (!(cond)) ::accord::fuzz::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace accord::fuzz {

using tlog::Hash;

[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);

inline ByteView AsBytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Consumes fuzz bytes front to back. Once the input runs out every read yields zeroes, so a target
// can ask for what it needs without checking lengths (as libFuzzer's FuzzedDataProvider does; that
// header comes with clang only, and the standalone g++ build needs this too).
class FuzzInput {
 public:
  explicit FuzzInput(ByteView data) : rest_(data) {}
  bool empty() const { return rest_.empty(); }
  size_t remaining() const { return rest_.size(); }

  uint8_t Byte();
  uint64_t Uint(int bytes);  // big-endian, 1..8 bytes
  // A tree size or index: mostly small, so that proofs for them are cheap to build and check, but
  // one tag byte in eight asks for a full 64-bit value to reach the edge cases near 2^63 and 2^64.
  uint64_t Size();
  Hash TakeHash();
  ByteView Take(size_t n);  // up to n bytes
  ByteView Rest();

 private:
  ByteView rest_;
};

// The log and witness keys that fuzz/corpus's signed seeds carry (fuzz/make_corpus.sh holds their
// private halves). Each comes from a fixed seed, so every run verifies against the same keys.
inline constexpr std::string_view kLogKeyName = "fuzz.example/log";
inline constexpr std::string_view kWitnessKeyName = "fuzz.example/witness";
const note::Signer& LogSigner();      // Ed25519 (0x01)
const note::Signer& WitnessSigner();  // cosignature/v1 (0x04)

// n distinct leaf hashes. They need not be hashes of anything: proofs only combine them.
std::vector<Hash> SyntheticLeaves(uint64_t n, uint8_t salt);

// RFC 9162 section 2.1 written directly from its recursive definitions, independent of the
// library's tile-based code, as the oracle that library results are compared with.
Hash ReferenceRoot(std::span<const Hash> leaves);                                      // MTH
std::vector<Hash> ReferenceInclusion(uint64_t index, std::span<const Hash> leaves);    // PATH
std::vector<Hash> ReferenceConsistency(uint64_t size1, std::span<const Hash> leaves);  // PROOF
// draft-ietf-plants-merkle-tree-certs: the proof that subtree [start, end) is in the tree `leaves`.
std::vector<Hash> ReferenceSubtreeConsistency(uint64_t start, uint64_t end, std::span<const Hash> leaves);

}  // namespace accord::fuzz

// Helpers shared by the witness's tests (not part of any library): a log in memory that signs
// checkpoints and proves consistency for real, and scratch directories.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/fs.h"
#include "crypto/note.h"
#include "tlog/checkpoint.h"
#include "tlog/merkle.h"
#include "witness/witness.h"

namespace accord::witness::testing {

// A log of leaves "entry 0", "entry 1", ... held in memory, signed by its own Ed25519 key.
class MemoryLog : public tlog::HashSource {
 public:
  explicit MemoryLog(std::string origin = "log.example/test")
      : key_(note::GenerateSigner(origin, note::KeyType::kEd25519).value()) {}

  const note::Signer& key() const { return key_; }
  const std::string& origin() const { return key_.name; }

  Result<tlog::Hash> Node(int level, uint64_t index) override {
    uint64_t begin = index << level, end = begin + (uint64_t(1) << level);
    if (end > 4096) return NotFound("beyond the test log");
    return Root(begin, end);
  }
  // MTH(D[begin:end]) straight from RFC 9162 2.1.1.
  tlog::Hash Root(uint64_t begin, uint64_t end) {
    if (end == begin) return tlog::EmptyRoot();
    if (end - begin == 1) return tlog::HashLeaf("entry " + std::to_string(begin));
    uint64_t k = 1;
    while (k * 2 < end - begin) k *= 2;
    return tlog::HashChildren(Root(begin, begin + k), Root(begin + k, end));
  }
  // The checkpoint at `size`, signed; `root` replaces the true root (a forked log).
  std::string Checkpoint(uint64_t size, const tlog::Hash* root = nullptr) {
    tlog::Checkpoint cp{origin(), size, root ? *root : Root(0, size), {}};
    return tlog::SignCheckpoint(cp, key_).value();
  }
  std::vector<tlog::Hash> Proof(uint64_t old_size, uint64_t size) {
    if (old_size == 0 || old_size == size) return {};
    return tlog::ProveConsistency(*this, old_size, size).value();
  }
  // An honest add-checkpoint body from `old_size` to `size`.
  std::string Request(uint64_t old_size, uint64_t size) {
    return FormatAddCheckpointRequest({old_size, Proof(old_size, size), Checkpoint(size)});
  }

 private:
  note::Signer key_;
};

// A fresh directory under the test's temporary directory.
inline std::string ScratchDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir =
      std::string(base ? base : "/tmp") + "/accord-witness-" + name + "-" + std::to_string(::getpid());
  EXPECT_TRUE(fs::RemoveTree(dir).ok());
  return dir;
}

inline WitnessOptions Options(const std::string& dir, const note::Signer& key,
                              const std::vector<MemoryLog*>& logs) {
  WitnessOptions o;
  o.dir = dir;
  o.key = key;
  for (MemoryLog* l : logs) o.logs.push_back(l->key().verifier());
  o.clock = [] { return uint64_t(1700000000); };
  return o;
}

inline note::Signer WitnessKey(const std::string& name = "witness.example/w1") {
  return note::GenerateSigner(name, note::KeyType::kCosignatureV1).value();
}

}  // namespace accord::witness::testing

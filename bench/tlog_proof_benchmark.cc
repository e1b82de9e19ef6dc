// Inclusion and consistency proofs on a 10,000,000-entry log, built from the tiles on disk the
// way a remote client builds them (a fresh TileHashSource per proof: no warm in-process cache),
// and their verification.
//
//   tlog_proof_benchmark [--benchmark_...]   with ACCORD_BENCH_LOG=DIR (default
//   /tmp/accord-bench-10m); the log is created on first use (10M entries of ~16 bytes) and kept.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "core/fs.h"
#include "tlog/log.h"

using namespace accord;
using namespace accord::tlog;

namespace {
constexpr uint64_t kSize = 10'000'000;

struct Fixture {
  std::string dir;
  note::Verifier verifier;
  Hash root;

  Fixture() {
    const char* env = std::getenv("ACCORD_BENCH_LOG");
    std::string base = env ? env : "/tmp/accord-bench-10m";
    dir = base + "/log";
    std::string key = base + "/log.key";
    if (!fs::Exists(dir + "/checkpoint")) Build(base, key);
    auto signer = note::ParseSignerKey(*fs::ReadFile(key, 4096));
    verifier = signer->verifier();
    // The verifier key beside it, for the Go side-by-side (gocheck bench-proofs).
    if (!fs::Exists(base + "/log.vkey"))
      (void)fs::WriteFileAtomic(base + "/log.vkey", note::FormatVerifierKey(verifier) + "\n");
    auto cp = ReadCheckpoint(dir, verifier);
    if (!cp.ok() || cp->checkpoint.size != kSize) {
      std::fprintf(stderr, "%s: not a %llu-entry log; remove it\n", dir.c_str(), (unsigned long long)kSize);
      std::exit(1);
    }
    root = cp->checkpoint.root;
  }

  void Build(const std::string& base, const std::string& key) {
    std::fprintf(stderr, "building a %llu-entry log in %s ...\n", (unsigned long long)kSize, dir.c_str());
    (void)fs::RemoveTree(base);
    (void)fs::MakeDirs(base);
    auto signer = note::GenerateSigner("bench.example/10m");
    (void)fs::WriteFileAtomic(key, note::FormatSignerKey(*signer) + "\n", 0600);
    if (auto s = InitLog(dir, "bench.example/10m", key); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::exit(1);
    }
    auto w = LogWriter::Open(dir);
    std::vector<std::future<Result<uint64_t>>> futures;
    for (uint64_t i = 0; i < kSize; i += 65536) {
      EntryBatch b;
      for (uint64_t j = i; j < std::min(kSize, i + 65536); ++j) (void)b.Add("entry " + std::to_string(j));
      futures.push_back((*w)->Submit(std::move(b)));
      if (futures.size() > 8) {
        (void)futures.front().get();
        futures.erase(futures.begin());
      }
    }
    for (auto& f : futures) (void)f.get();
    (void)(*w)->Sync();
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_ProveInclusionFromTiles(benchmark::State& state) {
  Fixture& f = F();
  std::mt19937_64 rng(1);
  DirTileReader reader(f.dir);
  for (auto _ : state) {
    TileHashSource source(reader, kSize);
    auto proof = ProveInclusion(source, rng() % kSize, kSize);
    if (!proof.ok()) state.SkipWithError(proof.status().ToString().c_str());
    benchmark::DoNotOptimize(proof);
  }
}
BENCHMARK(BM_ProveInclusionFromTiles)->Unit(benchmark::kMicrosecond);

void BM_ProveConsistencyFromTiles(benchmark::State& state) {
  Fixture& f = F();
  std::mt19937_64 rng(2);
  DirTileReader reader(f.dir);
  for (auto _ : state) {
    TileHashSource source(reader, kSize);
    auto proof = ProveConsistency(source, 1 + rng() % (kSize - 1), kSize);
    if (!proof.ok()) state.SkipWithError(proof.status().ToString().c_str());
    benchmark::DoNotOptimize(proof);
  }
}
BENCHMARK(BM_ProveConsistencyFromTiles)->Unit(benchmark::kMicrosecond);

void BM_VerifyInclusion(benchmark::State& state) {
  Fixture& f = F();
  DirTileReader reader(f.dir);
  TileHashSource source(reader, kSize);
  uint64_t index = 7'654'321;
  auto proof = ProveInclusion(source, index, kSize);
  Hash leaf = HashLeaf("entry " + std::to_string(index));
  for (auto _ : state) {
    Status s = VerifyInclusion(index, kSize, leaf, *proof, crypto::AsView(f.root));
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
}
BENCHMARK(BM_VerifyInclusion)->Unit(benchmark::kMicrosecond);

void BM_VerifyConsistency(benchmark::State& state) {
  Fixture& f = F();
  DirTileReader reader(f.dir);
  TileHashSource source(reader, kSize);
  uint64_t m = 6'543'210;
  auto proof = ProveConsistency(source, m, kSize);
  auto old_root = RangeRoot(source, 0, m);
  for (auto _ : state) {
    Status s = VerifyConsistency(m, kSize, crypto::AsView(*old_root), crypto::AsView(f.root), *proof);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
}
BENCHMARK(BM_VerifyConsistency)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

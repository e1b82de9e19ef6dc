// What a node's HTTP thread spends on one submitted statement before it is queued for the log,
// by step (figures in docs/benchmarks.md, "Where a single statement's time goes"):
//
//   build/bench/statement_bench [--benchmark_repetitions=N]
//
// BM_Ed25519Verify is libsodium's signature check alone over a statement-sized message; BM_Parse/*
// is statement::Parse (strict JSON, canonical form, body checks, the signature) of the statements
// bench/run-node-benchmarks.sh submits: a hash set of one SHA-256 and a YARA rule (compiled by
// libyara as part of the body checks). BM_Sha256Leaf is the leaf hash the log computes. Freed
// memory is kept as `accord serve` keeps it (src/cli/process.cc): libyara's compiler allocates
// and clears large tables per rule, which cost page faults when glibc returns them to the kernel.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <string>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "statement/statement.h"

namespace accord {
namespace {

crypto::Ed25519KeyPair Key() {
  static const crypto::Ed25519KeyPair key = crypto::Ed25519FromSeed(crypto::Ed25519GenerateSeed());
  return key;
}

Bytes Signed(statement::Kind kind, json::Json body) {
  statement::Statement s;
  s.kind = kind;
  s.author = Key().public_key;
  s.created = "2026-11-28T10:00:00Z";
  s.body = std::move(body);
  auto out = statement::Sign(s, Key());
  if (!out.ok()) std::abort();
  return *out;
}

Bytes HashSet() {
  return Signed(statement::Kind::kHashSet, {{"entries", json::Json::array({{{"hash", "sha256"},
                                                                            {"digest", std::string(64, 'a')},
                                                                            {"name", "Bench.Sample-1"},
                                                                            {"size", 1000}}})}});
}

Bytes YaraRule() {
  std::string src =
      "rule Bench_Rule_1 {\n  meta:\n    description = \"benchmark rule 1\"\n  strings:\n"
      "    $a = \"0123456789abcdef01234567\"\n    $b = { 89 ab ?? cd ef }\n"
      "  condition:\n    uint16(0) == 0x5a4d and filesize < 2MB and ($a or #b > 2)\n}\n";
  return Signed(statement::Kind::kYaraRule,
                {{"source", src}, {"rules", json::Json::array({"Bench_Rule_1"})}});
}

void BM_Ed25519Verify(benchmark::State& state) {
  const std::string message(500, 'm');
  const auto sig = crypto::Ed25519Sign(Key(), message);
  const std::string_view sig_view(reinterpret_cast<const char*>(sig.data()), sig.size());
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Ed25519Verify(Key().public_key, message, sig_view));
}
BENCHMARK(BM_Ed25519Verify)->Unit(benchmark::kMicrosecond);

void BM_Parse(benchmark::State& state, Bytes (*make)()) {
  const Bytes bytes = make();
  state.SetLabel(std::to_string(bytes.size()) + " bytes");
  for (auto _ : state) {
    auto parsed = statement::Parse(bytes);
    if (!parsed.ok()) state.SkipWithError("does not parse");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK_CAPTURE(BM_Parse, HashSet, HashSet)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Parse, YaraRule, YaraRule)->Unit(benchmark::kMicrosecond);

void BM_Sha256Leaf(benchmark::State& state) {
  const Bytes bytes = HashSet();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256(bytes));
}
BENCHMARK(BM_Sha256Leaf)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace accord

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // as accord::cli::KeepFreedMemory
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

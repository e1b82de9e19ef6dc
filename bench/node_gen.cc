// Signed statements for the node benchmark (bench/run-node-benchmarks.sh): an author's key, its
// registration, and N distinct statements of one kind, one per line (NDJSON), ready for wrk.
//
//   node_gen OUT_DIR N hash|yara|hashset:K [AUTHORS]
//     OUT_DIR/authorK.key          the authors' private keys (accord key format)
//     OUT_DIR/registrations.ndjson their registrations
//     OUT_DIR/statements.ndjson    N statements: "hash" = a hash set of one SHA-256 (about 500
//                                  bytes signed), "yara" = one rule with two strings and a
//                                  condition (about 700 bytes), rule names unique per author;
//                                  "hashset:K" = hash sets of K SHA-256 each (K <= 400 fits the
//                                  64 KiB limit), N*K distinct hashes in all
// Statements are spread over AUTHORS authors (default 1) in turn.
#include <malloc.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "core/fs.h"
#include "crypto/note.h"
#include "crypto/sha256.h"
#include "statement/statement.h"

using namespace accord;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: node_gen OUT_DIR N hash|yara [AUTHORS]\n");
    return 2;
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // see KeepFreedMemory in src/cli/node_commands.cc
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  std::string dir = argv[1], kind = argv[3];
  size_t n = std::stoull(argv[2]);
  size_t authors = argc > 4 ? std::stoull(argv[4]) : 1;
  size_t per_set = 0;
  if (kind.rfind("hashset:", 0) == 0) {
    per_set = std::stoull(kind.substr(8));
    kind = "hashset";
  }
  if (kind != "hash" && kind != "yara" && !(kind == "hashset" && per_set > 0)) return 2;
  if (!fs::MakeDirs(dir).ok()) return 2;
  std::vector<note::Signer> keys;
  std::ofstream regs(dir + "/registrations.ndjson");
  for (size_t a = 0; a < authors; ++a) {
    auto signer = note::GenerateSigner("bench-author-" + std::to_string(a));
    if (!signer.ok()) return 2;
    if (!fs::WriteFileAtomic(dir + "/author" + std::to_string(a) + ".key",
                             note::FormatSignerKey(*signer) + "\n", 0600)
             .ok())
      return 2;
    statement::Statement s;
    s.kind = statement::Kind::kRegistration;
    s.author = signer->key.public_key;
    s.created = "2026-11-28T10:00:00Z";
    s.body = {{"name", "Bench author " + std::to_string(a)},
              {"country", "DE"},
              {"contact", "bench@example.org"},
              {"key", Base64Encode(ByteView(reinterpret_cast<const char*>(s.author.data()), 32))}};
    auto out = statement::Sign(s, signer->key);
    if (!out.ok()) return 2;
    regs << *out << "\n";
    keys.push_back(std::move(signer).value());
  }
  std::ofstream out(dir + "/statements.ndjson");
  for (size_t i = 0; i < n; ++i) {
    const note::Signer& k = keys[i % authors];
    auto h = crypto::Sha256("accord bench " + std::to_string(i));
    std::string hex = HexEncode(ByteView(reinterpret_cast<const char*>(h.data()), 32));
    statement::Statement s;
    s.author = k.key.public_key;
    s.created = "2026-11-28T10:00:00Z";
    if (kind == "hashset") {
      s.kind = statement::Kind::kHashSet;
      json::Json entries = json::Json::array();
      for (size_t j = 0; j < per_set; ++j) {
        auto hj = crypto::Sha256("accord bench " + std::to_string(i) + "/" + std::to_string(j));
        entries.push_back({{"hash", "sha256"},
                           {"digest", HexEncode(ByteView(reinterpret_cast<const char*>(hj.data()), 32))},
                           {"name", "Bench.Sample-" + std::to_string(i * per_set + j)},
                           {"size", nullptr}});
      }
      s.body = {{"entries", std::move(entries)}};
    } else if (kind == "hash") {
      s.kind = statement::Kind::kHashSet;
      s.body = {{"entries", json::Json::array({{{"hash", "sha256"},
                                                {"digest", hex},
                                                {"name", "Bench.Sample-" + std::to_string(i)},
                                                {"size", 1000 + i}}})}};
    } else {
      s.kind = statement::Kind::kYaraRule;
      std::string name = "Bench_Rule_" + std::to_string(i);
      std::string src =
          "rule " + name + " {\n  meta:\n    description = \"benchmark rule " + std::to_string(i) +
          "\"\n  strings:\n    $a = \"" + hex.substr(0, 24) + "\"\n    $b = { " + hex.substr(24, 2) + " " +
          hex.substr(26, 2) + " ?? " + hex.substr(28, 2) + " " + hex.substr(30, 2) +
          " }\n  condition:\n    uint16(0) == 0x5a4d and filesize < 2MB and ($a or #b > 2)\n}\n";
      s.body = {{"source", src}, {"rules", json::Json::array({name})}};
    }
    auto signed_bytes = statement::Sign(s, k.key);
    if (!signed_bytes.ok()) {
      std::fprintf(stderr, "%s\n", signed_bytes.status().ToString().c_str());
      return 2;
    }
    out << *signed_bytes << "\n";
  }
  return 0;
}

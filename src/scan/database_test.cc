// The scan database: build, write, map, look up; provenance; duplicates; damaged and hostile files;
// and lookups checked against ClamAV's own clamscan on real files.
#include "scan/database.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "core/fs.h"
#include "crypto/sha256.h"
#include "scan/load.h"
#include "scan/yara_rules.h"

namespace accord::scan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "accord-scan-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { (void)fs::RemoveTree(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Bytes Digest(HashKind kind, uint64_t seed) {
  Bytes d(DigestLength(kind), '\0');
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(kind));
  for (char& c : d) c = static_cast<char>(rng());
  return d;
}

HashSignature Sig(HashKind kind, uint64_t seed, std::optional<uint64_t> size, std::string name) {
  return HashSignature{kind, Digest(kind, seed), size, std::move(name), {}, {}};
}

// An arbitrary TLSH digest with the given length code (the lookup's index key).
TlshDigest TlshOf(uint64_t seed, uint8_t length_code) {
  TlshDigest d;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 0x71);
  for (uint8_t& b : d.bytes) b = static_cast<uint8_t>(rng());
  d.bytes[1] = static_cast<uint8_t>(length_code << 4 | length_code >> 4);
  return d;
}

// `d` with `n` code bytes changed by one level in one bucket each: distance n from d.
TlshDigest Nudge(TlshDigest d, int n) {
  for (int i = 0; i < n; ++i) {
    uint8_t& b = d.bytes[3 + i];
    b = (b & 3) == 3 ? b - 1 : b + 1;
  }
  return d;
}

std::vector<std::string> Names(const Result<std::vector<Match>>& r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> out;
  if (r.ok()) {
    for (const Match& m : *r) out.push_back(m.name);
  }
  return out;
}

std::shared_ptr<const Database> OpenOk(Bytes image) {
  Result<std::shared_ptr<const Database>> db = Database::OpenBytes(std::move(image), "test.accdb");
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? *db : nullptr;
}

// A database with a bit of everything, used by several tests.
Bytes SmallImage() {
  DatabaseBuilder b;
  uint32_t main = *b.AddSource(SignatureFileSource("main.hsb", "main contents"));
  uint32_t daily = *b.AddSource(SignatureFileSource("daily.hdb", "daily contents"));
  EXPECT_TRUE(b.AddHash(main, Sig(HashKind::kSha256, 1, 100, "Win.Trojan.One")).ok());
  EXPECT_TRUE(b.AddHash(main, Sig(HashKind::kSha256, 2, std::nullopt, "Win.Trojan.Any")).ok());
  EXPECT_TRUE(b.AddHash(daily, Sig(HashKind::kMd5, 3, 7, "Doc.Macro.Three")).ok());
  EXPECT_TRUE(b.AddHash(daily, Sig(HashKind::kSha1, 4, 9, "Pdf.Exploit.Four")).ok());
  EXPECT_TRUE(b.AddAllowed(daily, Sig(HashKind::kMd5, 5, std::nullopt, "Clean.Five")).ok());
  EXPECT_TRUE(b.AddAllowed(daily, Sig(HashKind::kSha256, 6, 42, "Clean.Six")).ok());
  b.SetYaraBlob("YARA compiled rules");
  EXPECT_TRUE(b.AddTlsh(main, TlshSignature{TlshOf(1, 0x40), 30, "Win.Variant.One"}).ok());
  EXPECT_TRUE(b.AddTlsh(daily, TlshSignature{TlshOf(2, 0x41), 100, "Doc.Variant.Two"}).ok());
  Result<Bytes> image = b.Build();
  EXPECT_TRUE(image.ok()) << image.status().ToString();
  return image.ok() ? *image : Bytes();
}

TEST(Database, RoundTripThroughAFile) {
  TempDir dir;
  DatabaseBuilder b;
  uint32_t src = *b.AddSource(SignatureFileSource("main.hsb", "abc"));
  ASSERT_TRUE(b.AddHash(src, Sig(HashKind::kSha256, 1, 100, "Win.Trojan.One")).ok());
  ASSERT_TRUE(b.AddHash(src, Sig(HashKind::kMd5, 2, std::nullopt, "Win.Trojan.Two")).ok());
  ASSERT_TRUE(b.Write(dir / "db.accdb").ok());
  ASSERT_THAT(*fs::ListDir(dir.path()), ElementsAre("db.accdb"));  // no temporary left behind

  Result<std::shared_ptr<const Database>> db = Database::Open(dir / "db.accdb");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE((*db)->Verify().ok());
  EXPECT_THAT(Names((*db)->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 1), 100)),
              ElementsAre("Win.Trojan.One"));
  EXPECT_THAT(Names((*db)->LookupHash(HashKind::kMd5, Digest(HashKind::kMd5, 2), 12345)),
              ElementsAre("Win.Trojan.Two"));
  ASSERT_EQ((*db)->sources().size(), 1u);
  const Source& s = (*db)->sources()[0];
  EXPECT_EQ(s.kind, static_cast<uint32_t>(SourceKind::kSignatureFile));
  EXPECT_EQ(s.name, "main.hsb");
  ASSERT_EQ(s.fields.size(), 1u);
  EXPECT_EQ(HexEncode(s.fields[0]), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ((*db)->file_size(), fs::ReadFile(dir / "db.accdb", 1 << 20)->size());

  // Rewriting replaces the file atomically; a reader holding the old mapping keeps its view.
  DatabaseBuilder b2;
  uint32_t src2 = *b2.AddSource(SignatureFileSource("other.hsb", ""));
  ASSERT_TRUE(b2.AddHash(src2, Sig(HashKind::kSha1, 9, 1, "New")).ok());
  ASSERT_TRUE(b2.Write(dir / "db.accdb").ok());
  EXPECT_THAT(Names((*db)->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 1), 100)),
              ElementsAre("Win.Trojan.One"));
  Result<std::shared_ptr<const Database>> db2 = Database::Open(dir / "db.accdb");
  ASSERT_TRUE(db2.ok());
  EXPECT_EQ((*db2)->SignatureCount(HashKind::kSha1), 1u);
  EXPECT_EQ((*db2)->SignatureCount(HashKind::kSha256), 0u);
}

// Resident bytes of this process's mapping that holds `at` (/proc/self/smaps), or -1.
long ResidentBytesOfMappingAt(const void* at) {
  std::ifstream smaps("/proc/self/smaps");
  const auto p = reinterpret_cast<uintptr_t>(at);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find('-') < line.find(' ')) {
      inside = p >= lo && p < hi;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::stol(line.substr(4)) * 1024;
    }
  }
  return -1;
}

// A scanner copies the YARA rules into libyara's memory (YaraRules::Load); the database's pages
// holding them then leave the process's resident memory, and the bytes read back the same.
TEST(Database, ReleasedPagesLeaveResidentMemoryAndReadBackTheSame) {
  TempDir dir;
  DatabaseBuilder b;
  Bytes blob(size_t{4} << 20, '\0');
  std::mt19937_64 rng(7);
  for (char& c : blob) c = char(rng());
  b.SetYaraBlob(blob);
  ASSERT_TRUE(b.Write(dir / "db.accdb").ok());
  Result<std::shared_ptr<const Database>> db = Database::Open(dir / "db.accdb");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ByteView view = (*db)->yara_blob();
  ASSERT_EQ(view, blob);  // every page read, so resident
  long before = ResidentBytesOfMappingAt(view.data());
  ASSERT_GE(before, long(blob.size()));
  (*db)->ReleasePages(view.substr(0, 1));               // less than a page: nothing
  (*db)->ReleasePages(ByteView(blob).substr(0, 4096));  // not the database's bytes: nothing
  EXPECT_EQ(ResidentBytesOfMappingAt(view.data()), before);
  (*db)->ReleasePages(view.substr(0, view.size() / 2));
  (*db)->ReleasePages(view.substr(view.size() / 2));
  long after = ResidentBytesOfMappingAt(view.data());
  EXPECT_LE(after, before - long(blob.size()) + 4 * 4096) << before;  // all but the edge pages
  EXPECT_EQ(view, blob);
  EXPECT_TRUE((*db)->Verify().ok());
  // From bytes, not a file: nothing to release, nothing changes.
  Result<Bytes> image = b.Build();
  ASSERT_TRUE(image.ok());
  Result<std::shared_ptr<const Database>> mem = Database::OpenBytes(*image, "mem");
  ASSERT_TRUE(mem.ok());
  (*mem)->ReleasePages((*mem)->yara_blob());
  EXPECT_EQ((*mem)->yara_blob(), blob);
}

// What a scanner loads: the database's YARA pages are not resident once the rules are loaded.
TEST(Database, LoadedSignaturesHoldTheRulesOnceInMemory) {
  TempDir dir;
  std::string text;
  std::mt19937_64 rng(11);
  for (int r = 0; r < 3000; ++r) {
    text += "rule R" + std::to_string(r) + " { strings:";
    for (int k = 0; k < 4; ++k) text += " $s" + std::to_string(k) + " = \"" + std::to_string(rng()) + "\"";
    text += " condition: 2 of them and filesize < " + std::to_string(r * 100) + " }\n";
  }
  std::ofstream(dir / "r.yar") << text;
  Result<std::shared_ptr<const YaraRules>> rules = YaraRules::Compile({dir / "r.yar"});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  Result<Bytes> saved = (*rules)->Save();
  ASSERT_TRUE(saved.ok());
  ASSERT_GT(saved->size(), size_t{1} << 20);
  DatabaseBuilder b;
  b.SetYaraBlob(*saved);
  ASSERT_TRUE(b.Write(dir / "db.accdb").ok());
  SignatureFiles files;
  files.databases.push_back(dir / "db.accdb");
  Result<LoadedSignatures> loaded = LoadSignatures(files);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->rules.size(), 1u);
  EXPECT_EQ(loaded->rules[0]->rule_count(), 3000u);
  ByteView blob = loaded->databases[0]->yara_blob();
  EXPECT_LT(ResidentBytesOfMappingAt(blob.data()), long(blob.size() / 8));
  EXPECT_EQ(blob, *saved);
}

TEST(Database, LookupsHonourSizeKindAndAllowList) {
  std::shared_ptr<const Database> db = OpenOk(SmallImage());
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Verify().ok()) << db->Verify().ToString();

  Result<std::vector<Match>> hit = db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 1), 100);
  ASSERT_TRUE(hit.ok());
  EXPECT_THAT(*hit, ElementsAre(Match{"Win.Trojan.One", 0, 100}));
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 1), 101)), ElementsAre());
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 1), 100 + (1ull << 32))),
              ElementsAre());
  EXPECT_THAT(*db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 2), 0),
              ElementsAre(Match{"Win.Trojan.Any", 0, std::nullopt}));
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 2), ~0ull)),
              ElementsAre("Win.Trojan.Any"));
  EXPECT_THAT(*db->LookupHash(HashKind::kMd5, Digest(HashKind::kMd5, 3), 7),
              ElementsAre(Match{"Doc.Macro.Three", 1, 7}));
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha1, Digest(HashKind::kSha1, 4), 9)),
              ElementsAre("Pdf.Exploit.Four"));
  // The same digest bytes under another kind, and digests that are absent.
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha1, Digest(HashKind::kSha1, 3), 7)), ElementsAre());
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 77), 100)), ElementsAre());
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Bytes(32, '\0'), 100)), ElementsAre());
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Bytes(32, '\xff'), 100)), ElementsAre());
  // Allow-list entries are not detections, and detections are not allowed.
  EXPECT_THAT(Names(db->LookupHash(HashKind::kMd5, Digest(HashKind::kMd5, 5), 1)), ElementsAre());
  EXPECT_TRUE(db->IsAllowed(HashKind::kMd5, Digest(HashKind::kMd5, 5), 123456));
  EXPECT_TRUE(db->IsAllowed(HashKind::kSha256, Digest(HashKind::kSha256, 6), 42));
  EXPECT_FALSE(db->IsAllowed(HashKind::kSha256, Digest(HashKind::kSha256, 6), 43));
  EXPECT_FALSE(db->IsAllowed(HashKind::kSha256, Digest(HashKind::kSha256, 1), 100));
  EXPECT_FALSE(db->IsAllowed(HashKind::kSha1, Digest(HashKind::kSha1, 4), 9));
  // A digest of the wrong length is the caller's mistake.
  EXPECT_EQ(db->LookupHash(HashKind::kSha256, Digest(HashKind::kMd5, 3), 7).status().code(),
            Code::kInvalidArgument);
  EXPECT_FALSE(db->IsAllowed(HashKind::kMd5, Bytes(15, 'x'), 1));

  EXPECT_EQ(db->SignatureCount(HashKind::kSha256), 2u);
  EXPECT_EQ(db->SignatureCount(HashKind::kMd5), 1u);
  EXPECT_EQ(db->AllowedCount(HashKind::kMd5), 1u);
  EXPECT_EQ(db->AllowedCount(HashKind::kSha1), 0u);
  EXPECT_TRUE(db->HasKind(HashKind::kMd5));
  EXPECT_TRUE(db->HasKind(HashKind::kSha1));
  EXPECT_EQ(db->yara_blob(), "YARA compiled rules");
  EXPECT_EQ(db->TlshCount(), 2u);
  Result<TlshLookup> near = db->LookupTlsh(Nudge(TlshOf(1, 0x40), 5));
  ASSERT_TRUE(near.ok());
  EXPECT_THAT(near->matches, ElementsAre(TlshMatch{"Win.Variant.One", 0, 5, 30}));
  Result<TlshLookup> second = db->LookupTlsh(TlshOf(2, 0x41));
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(second->matches, ElementsAre(TlshMatch{"Doc.Variant.Two", 1, 0, 100}));
  ASSERT_EQ(db->sources().size(), 2u);
  EXPECT_EQ(db->sources()[1].name, "daily.hdb");
}

TEST(Database, EmptyDatabaseOpensAndMatchesNothing) {
  DatabaseBuilder b;
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->Verify().ok());
  for (HashKind k : {HashKind::kMd5, HashKind::kSha1, HashKind::kSha256}) {
    EXPECT_FALSE(db->HasKind(k));
    EXPECT_THAT(Names(db->LookupHash(k, Bytes(DigestLength(k), 'a'), 1)), ElementsAre());
    EXPECT_FALSE(db->IsAllowed(k, Bytes(DigestLength(k), 'a'), 1));
  }
  EXPECT_TRUE(db->sources().empty());
  EXPECT_TRUE(db->yara_blob().empty());
  EXPECT_EQ(db->TlshCount(), 0u);
  EXPECT_TRUE(db->LookupTlsh(TlshOf(1, 1))->matches.empty());
}

// `accord update` adds a statement's signatures at once and drops them if the statement is
// retracted later in the log; the database also carries where it came from (its provenance).
TEST(Database, DroppedSourcesLeaveNoSignaturesAndProvenanceIsKept) {
  DatabaseBuilder b;
  uint32_t kept =
      *b.AddSource(Source{uint32_t(SourceKind::kLogEntry), "log x entry 1", {"x", Bytes(8, '\1')}});
  uint32_t gone =
      *b.AddSource(Source{uint32_t(SourceKind::kLogEntry), "log x entry 2", {"x", Bytes(8, '\2')}});
  ASSERT_TRUE(b.AddHash(kept, Sig(HashKind::kSha256, 1, std::nullopt, "Kept.One")).ok());
  ASSERT_TRUE(b.AddHash(gone, Sig(HashKind::kSha256, 2, std::nullopt, "Gone.Two")).ok());
  ASSERT_TRUE(b.AddHash(gone, Sig(HashKind::kMd5, 3, 10, "Gone.Three")).ok());
  ASSERT_TRUE(b.AddTlsh(gone, TlshSignature{TlshOf(4, 40), 30, "Gone.Tlsh"}).ok());
  ASSERT_TRUE(b.AddHash(gone, Sig(HashKind::kSha256, 1, std::nullopt, "Gone.SameDigest")).ok());
  EXPECT_FALSE(b.DropSource(7).ok());
  ASSERT_TRUE(b.DropSource(gone).ok());
  b.SetProvenance("accord/scan-db-provenance@v1\n...");
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->Verify().ok());
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 1), 5)),
              ElementsAre("Kept.One"));
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 2), 5)), ElementsAre());
  EXPECT_FALSE(db->HasKind(HashKind::kMd5));
  EXPECT_EQ(db->TlshCount(), 0u);
  EXPECT_EQ(db->sources().size(), 2u);
  EXPECT_EQ(db->provenance(), "accord/scan-db-provenance@v1\n...");
}

TEST(Database, OneDigestManyNamesReportsAllLatestFirstAndCollapsesExactDuplicates) {
  DatabaseBuilder b;
  uint32_t a = *b.AddSource(SignatureFileSource("a.hsb", "a"));
  uint32_t c = *b.AddSource(SignatureFileSource("c.hsb", "c"));
  const HashKind k = HashKind::kSha256;
  ASSERT_TRUE(b.AddHash(a, Sig(k, 1, std::nullopt, "Any.First")).ok());
  ASSERT_TRUE(b.AddHash(a, Sig(k, 1, 10, "Sized.Second")).ok());
  ASSERT_TRUE(b.AddHash(a, Sig(k, 1, 10, "Sized.Third")).ok());
  ASSERT_TRUE(b.AddHash(a, Sig(k, 1, 10, "Sized.Second")).ok());  // exact duplicate: collapses
  ASSERT_TRUE(b.AddHash(c, Sig(k, 1, 10, "Sized.Second")).ok());  // same name, other source: kept
  ASSERT_TRUE(b.AddHash(a, Sig(k, 1, 11, "Sized.Other")).ok());
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->SignatureCount(k), 5u);
  Result<std::vector<Match>> m = db->LookupHash(k, Digest(k, 1), 10);
  ASSERT_TRUE(m.ok());
  // Sized before any; for one size, the latest first; the collapsed duplicate ranks as its latest.
  EXPECT_THAT(*m, ElementsAre(Match{"Sized.Second", c, 10}, Match{"Sized.Second", a, 10},
                              Match{"Sized.Third", a, 10}, Match{"Any.First", a, std::nullopt}));
  EXPECT_THAT(Names(db->LookupHash(k, Digest(k, 1), 12)), ElementsAre("Any.First"));
  EXPECT_TRUE(db->Verify().ok());
}

TEST(Database, NamesAreStoredOnce) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("a.hsb", "a"));
  const std::string name(200, 'N');
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.AddHash(s, Sig(HashKind::kSha256, i, 1, name)).ok());
  Bytes image = *b.Build();
  EXPECT_LT(image.size(), 1000u * 40 + 4 * 65 + 2 * name.size() + 1024);
  std::shared_ptr<const Database> db = OpenOk(image);
  EXPECT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, 999), 1)), ElementsAre(name));
}

TEST(Database, ManySignaturesAllFoundThroughTheBucketIndex) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("big.hsb", "big"));
  constexpr int kN = 200000;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(b.Add(HashFileRole::kDetect, s, HashKind::kSha256, Digest(HashKind::kSha256, i), i,
                      "Sig." + std::to_string(i))
                    .ok());
  }
  Bytes image = *b.Build();
  std::shared_ptr<const Database> db = OpenOk(image);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Verify().ok());
  for (int i = 0; i < kN; i += 7) {
    Result<std::vector<Match>> m = db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, i), i);
    ASSERT_TRUE(m.ok() && m->size() == 1 && (*m)[0].name == "Sig." + std::to_string(i)) << i;
  }
  for (int i = kN; i < kN + 5000; ++i) {
    ASSERT_THAT(Names(db->LookupHash(HashKind::kSha256, Digest(HashKind::kSha256, i), i)), ElementsAre());
  }
}

TEST(Database, BuilderRefusesBadSignatures) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("a.hsb", "a"));
  EXPECT_EQ(b.AddHash(s + 1, Sig(HashKind::kMd5, 1, 1, "X")).code(), Code::kInvalidArgument);
  HashSignature wrong = Sig(HashKind::kMd5, 1, 1, "X");
  wrong.kind = HashKind::kSha256;
  EXPECT_EQ(b.AddHash(s, wrong).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddHash(s, Sig(HashKind::kMd5, 1, 1, "")).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddHash(s, Sig(HashKind::kMd5, 1, 1, "a\nb")).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddHash(s, Sig(HashKind::kMd5, 1, 1ull << 32, "X")).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddSource(Source{1, "", {}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddSource(Source{1, "x", std::vector<Bytes>(17)}).status().code(), Code::kResourceExhausted);
}

TEST(Database, TooManyRecordsForOneDigestIsRefusedAtBuild) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("a.hsb", "a"));
  for (size_t i = 0; i <= limits::kMaxRecordsPerDigest; ++i) {
    ASSERT_TRUE(b.AddHash(s, Sig(HashKind::kSha1, 1, 1, "N" + std::to_string(i))).ok());
  }
  Status st = b.Build().status();
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("257 signatures, limit kMaxRecordsPerDigest"));
}

TEST(Database, UnknownSourceKindsAreKeptOpaque) {
  DatabaseBuilder b;
  Source log{
      static_cast<uint32_t>(SourceKind::kLogEntry), "demo.accord.example/log", {"origin", Bytes(8, '\x07')}};
  Source future{99, "from the future", {Bytes("\0\1\2", 3)}};
  ASSERT_TRUE(b.AddSource(log).ok());
  ASSERT_TRUE(b.AddSource(future).ok());
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  ASSERT_NE(db, nullptr);
  EXPECT_THAT(db->sources(), ElementsAre(log, future));
}

TEST(Database, AddHashFileRecordsProvenanceAndNamesTheBadLine) {
  TempDir dir;
  std::string md5 = "44d88612fea8a8f36de82e1278abb02f";
  std::string text = "# test\n" + md5 + ":68:Eicar-Test-Signature\n";
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "local.hdb", text).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "local.fp", md5 + ":*:Eicar-Allowed\n").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "bad.hsb", text + md5 + ":6x:Bad\n").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "rules.txt", text).ok());

  DatabaseBuilder broken;
  Status bad = AddHashFile(broken, dir / "bad.hsb");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr(dir / "bad.hsb:3: bad SIZE '6x'"));
  EXPECT_EQ(AddHashFile(broken, dir / "rules.txt").code(), Code::kInvalidArgument);
  EXPECT_EQ(AddHashFile(broken, dir / "missing.hdb").code(), Code::kNotFound);

  DatabaseBuilder b;
  ASSERT_TRUE(AddHashFile(b, dir / "local.hdb").ok());
  ASSERT_TRUE(AddHashFile(b, dir / "local.fp").ok());
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(db->sources().size(), 2u);
  EXPECT_EQ(db->sources()[0].name, "local.hdb");
  EXPECT_EQ(db->sources()[1].name, "local.fp");
  EXPECT_EQ(db->sources()[0].fields[0], Bytes(crypto::AsView(crypto::Sha256(text))));
  Bytes digest = *HexDecode(md5);
  Result<std::vector<Match>> m = db->LookupHash(HashKind::kMd5, digest, 68);
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(*m, ElementsAre(Match{"Eicar-Test-Signature", 0, 68}));
  EXPECT_TRUE(db->IsAllowed(HashKind::kMd5, digest, 68));
}

// --- TLSH ----------------------------------------------------------------------------------------------

TEST(DatabaseTlsh, RoundTripReportsNameSourceAndDistanceWithinEachThreshold) {
  TempDir dir;
  DatabaseBuilder b;
  uint32_t a = *b.AddSource(SignatureFileSource("a.tlsh", "a"));
  uint32_t c = *b.AddSource(SignatureFileSource("c.tlsh", "c"));
  TlshDigest base = TlshOf(1, 0x80);
  ASSERT_TRUE(b.AddTlsh(a, {base, 10, "Tight"}).ok());
  ASSERT_TRUE(b.AddTlsh(a, {Nudge(base, 3), 40, "Loose"}).ok());
  ASSERT_TRUE(b.AddTlsh(c, {base, 10, "Tight"}).ok());  // same signature, other source: kept
  ASSERT_TRUE(b.AddTlsh(a, {base, 10, "Tight"}).ok());  // exact duplicate: collapses
  ASSERT_TRUE(b.AddTlsh(a, {TlshOf(2, 0x80), 1000, "Anything.Near"}).ok());
  ASSERT_TRUE(b.Write(dir / "t.accdb").ok());
  Result<std::shared_ptr<const Database>> db = Database::Open(dir / "t.accdb");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Verify().ok()) << (*db)->Verify().ToString();
  EXPECT_EQ((*db)->TlshCount(), 4u);

  Result<TlshLookup> m = (*db)->LookupTlsh(Nudge(base, 8));
  ASSERT_TRUE(m.ok());
  // Distance 8 from base: over Tight's 10? no, within; Loose is 5 away (3 of its 8 nudges undone).
  std::vector<TlshMatch> got = m->matches;
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0], (TlshMatch{"Loose", a, 5, 40}));
  EXPECT_EQ(got[1], (TlshMatch{"Tight", a, 8, 10}));
  EXPECT_EQ(got[2], (TlshMatch{"Tight", c, 8, 10}));
  uint32_t far = TlshDistance(Nudge(base, 8), TlshOf(2, 0x80));
  ASSERT_LE(far, 1000u);
  EXPECT_THAT(got, ElementsAre(got[0], got[1], got[2], TlshMatch{"Anything.Near", a, far, 1000}));
  EXPECT_EQ(m->more, 0u);

  // Past Tight's threshold, within Loose's.
  Result<TlshLookup> m2 = (*db)->LookupTlsh(Nudge(base, 11));
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(m2->matches[0], (TlshMatch{"Loose", a, 8, 40}));
  EXPECT_EQ(m2->matches.size(), 2u);  // and the wide one
  // The length code alone: 4 apart is 48 more, out of Tight's and Loose's reach.
  TlshDigest shifted = base;
  shifted.bytes[1] = 0x48;  // length code 0x84
  Result<TlshLookup> m3 = (*db)->LookupTlsh(shifted);
  ASSERT_TRUE(m3.ok());
  for (const TlshMatch& x : m3->matches) EXPECT_EQ(x.name, "Anything.Near");
}

// The window the lookup visits must never lose a match: compare with a brute-force scan over
// digests spread over every length code, including across the wrap from 255 to 0.
TEST(DatabaseTlsh, LookupEqualsBruteForceAtEveryThreshold) {
  for (uint32_t max_threshold : {0u, 1u, 23u, 24u, 60u, 150u, 1000u}) {
    DatabaseBuilder b;
    uint32_t s = *b.AddSource(SignatureFileSource("x.tlsh", "x"));
    std::vector<TlshSignature> sigs;
    std::mt19937_64 rng(max_threshold + 1);
    for (int i = 0; i < 600; ++i) {
      uint8_t l = static_cast<uint8_t>(i < 300 ? rng() : (i % 2 ? 250 + rng() % 6 : rng() % 6));
      TlshDigest d = i % 3 == 0 && !sigs.empty() ? Nudge(sigs.back().digest, int(rng() % 20)) : TlshOf(i, l);
      if (i % 3 == 0 && !sigs.empty()) d.bytes[1] = static_cast<uint8_t>(l << 4 | l >> 4);
      uint32_t t = static_cast<uint32_t>(rng() % (max_threshold + 1));
      if (i == 0) t = max_threshold;
      sigs.push_back({d, t, "S" + std::to_string(i)});
      ASSERT_TRUE(b.AddTlsh(s, sigs.back()).ok());
    }
    std::shared_ptr<const Database> db = OpenOk(*b.Build());
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Verify().ok()) << db->Verify().ToString();
    for (size_t q = 0; q < 200; ++q) {
      TlshDigest probe =
          q % 2 ? Nudge(sigs[q * 3 % sigs.size()].digest, int(q % 9)) : TlshOf(q + 5000, uint8_t(q));
      std::multiset<std::pair<uint32_t, std::string>> want;
      for (const TlshSignature& sig : sigs) {
        uint32_t d = TlshDistance(probe, sig.digest);
        if (d <= sig.threshold) want.insert({d, sig.name});
      }
      Result<TlshLookup> got = db->LookupTlsh(probe);
      ASSERT_TRUE(got.ok());
      std::multiset<std::pair<uint32_t, std::string>> have;
      for (const TlshMatch& m : got->matches) have.insert({m.distance, m.name});
      if (want.size() <= limits::kMaxTlshMatches) {
        ASSERT_EQ(have, want) << "threshold " << max_threshold << " probe " << q;
        ASSERT_EQ(got->more, 0u);
      } else {
        ASSERT_EQ(got->matches.size(), limits::kMaxTlshMatches);
        ASSERT_EQ(got->more, want.size() - limits::kMaxTlshMatches);
        // The nearest kept (which of several at the last kept distance is the table's order).
        auto w = want.begin();
        for (const auto& [distance, name] : have) ASSERT_EQ(distance, (w++)->first);
      }
      for (size_t i = 1; i < got->matches.size(); ++i) {
        ASSERT_LE(got->matches[i - 1].distance, got->matches[i].distance);
      }
    }
  }
}

TEST(DatabaseTlsh, MoreMatchesThanTheCapKeepsTheNearestAndCountsTheRest) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("many.tlsh", "m"));
  TlshDigest base = TlshOf(9, 0x10);
  const size_t n = limits::kMaxTlshMatches + 44;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(b.AddTlsh(s, {Nudge(base, int(i % 30)), 1000, "Family." + std::to_string(i)}).ok());
  }
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  Result<TlshLookup> m = db->LookupTlsh(base);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->matches.size(), limits::kMaxTlshMatches);
  EXPECT_EQ(m->more, 44u);
  EXPECT_EQ(m->matches.front().distance, 0u);
  EXPECT_LE(m->matches.back().distance, 29u);
}

TEST(DatabaseTlsh, BuilderRefusesBadSignatures) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("a.tlsh", "a"));
  EXPECT_EQ(b.AddTlsh(s + 1, {TlshOf(1, 1), 1, "X"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddTlsh(s, {TlshOf(1, 1), limits::kMaxTlshThreshold + 1, "X"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddTlsh(s, {TlshOf(1, 1), 1, ""}).code(), Code::kInvalidArgument);
  EXPECT_EQ(b.AddTlsh(s, {TlshOf(1, 1), 1, "a\nb"}).code(), Code::kInvalidArgument);
  EXPECT_TRUE(b.AddTlsh(s, {TlshOf(1, 1), limits::kMaxTlshThreshold, "Max"}).ok());
}

TEST(DatabaseTlsh, AddTlshFileRecordsProvenanceAndNamesTheBadLine) {
  TempDir dir;
  const std::string a = "65F02B1F0F7A4E71C49E0F362AC7528314B9583095D78D0B4B09F1240D173126934F17";
  std::string text = "# variants\n" + a + ":40:Accord.Test.Variant\n";
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "v.tlsh", text).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "bad.tlsh", text + a + ":4000:Too.Wide\n").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "v.txt", text).ok());
  DatabaseBuilder broken;
  Status bad = AddTlshFile(broken, dir / "bad.tlsh");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr(dir / "bad.tlsh:3: THRESHOLD 4000 above kMaxTlshThreshold"));
  EXPECT_EQ(AddTlshFile(broken, dir / "v.txt").code(), Code::kInvalidArgument);
  EXPECT_EQ(AddTlshFile(broken, dir / "missing.tlsh").code(), Code::kNotFound);

  DatabaseBuilder b;
  ASSERT_TRUE(AddTlshFile(b, dir / "v.tlsh").ok());
  std::shared_ptr<const Database> db = OpenOk(*b.Build());
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(db->sources().size(), 1u);
  EXPECT_EQ(db->sources()[0].name, "v.tlsh");
  EXPECT_EQ(db->sources()[0].fields[0], Bytes(crypto::AsView(crypto::Sha256(text))));
  Result<TlshLookup> m = db->LookupTlsh(*ParseTlsh(a));
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(m->matches, ElementsAre(TlshMatch{"Accord.Test.Variant", 0, 0, 40}));
}

// A TLSH table damaged by someone who also fixes the checksum: Open refuses what would read out of
// bounds; Verify refuses every other inconsistency; lookups stay in bounds and report DataLoss for a
// label that is not one.
TEST(DatabaseTlsh, DamagedTablesAreRefusedByOpenOrVerify) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("a.tlsh", "a"));
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(b.AddTlsh(s, {TlshOf(i, uint8_t(0x20 + i)), 50, "N" + std::to_string(i)}).ok());
  Bytes image = *b.Build();
  auto reseal = [](Bytes x) {
    crypto::Sha256Stream h;
    h.Update(ByteView(x).substr(0, 24));
    h.Update(ByteView(x).substr(56));
    crypto::Hash d = h.Finish();
    x.replace(24, 32, crypto::AsView(d));
    return x;
  };
  auto put = [](Bytes& x, size_t at, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) x[at + i] = static_cast<char>(v >> (8 * i));
  };
  // The TLSH section is the last one: its table entry gives its offset.
  uint32_t sections = uint8_t(image[12]);
  size_t sec = 0;
  for (uint32_t i = 0; i < sections; ++i) {
    if (uint8_t(image[56 + 24 * i]) == 10)
      sec = static_cast<size_t>(uint8_t(image[56 + 24 * i + 8]) | uint8_t(image[56 + 24 * i + 9]) << 8);
  }
  ASSERT_GT(sec, 0u);
  const size_t records = sec + 16 + 257 * 4, rs = kTlshDigestSize + 6;
  ASSERT_EQ(records + 3 * rs, image.size());
  auto open_fails = [&](Bytes x, const std::string& why) {
    Status st = Database::OpenBytes(reseal(std::move(x)), "t.accdb").status();
    EXPECT_EQ(st.code(), Code::kDataLoss) << why;
    EXPECT_THAT(st.message(), HasSubstr("TLSH table")) << why;
  };
  auto verify_fails = [&](Bytes x, const std::string& why, const std::string& message) {
    std::shared_ptr<const Database> db = OpenOk(reseal(std::move(x)));
    ASSERT_NE(db, nullptr) << why;
    Status st = db->Verify();
    EXPECT_EQ(st.code(), Code::kDataLoss) << why;
    EXPECT_THAT(st.message(), HasSubstr(message)) << why;
    for (int i = 0; i < 3; ++i) {
      Result<TlshLookup> m = db->LookupTlsh(TlshOf(i, uint8_t(0x20 + i)));
      if (m.ok()) {
        for (const TlshMatch& x : m->matches) EXPECT_TRUE(IsValidSignatureName(x.name) && x.source == 0);
      } else {
        EXPECT_EQ(m.status().code(), Code::kDataLoss);
      }
    }
  };
  Bytes x = image;
  put(x, sec, 4, 8);  // one more record than the bytes hold
  open_fails(x, "count");
  x = image;
  put(x, sec, ~0ull, 8);
  open_fails(x, "huge count");
  x = image;
  put(x, sec + 8, 1001, 4);
  open_fails(x, "max threshold over the cap");
  x = image;
  put(x, sec + 12, 1, 4);
  open_fails(x, "reserved");

  x = image;
  put(x, sec + 8, 49, 4);
  verify_fails(x, "max threshold below a record's", "above the table's 49");
  x = image;
  put(x, sec + 8, 51, 4);
  verify_fails(x, "max threshold above every record's", "header says thresholds up to 51");
  x = image;
  put(x, sec + 16 + 4 * 0x21, 0, 4);
  verify_fails(x, "index", "index entry 33");
  x = image;
  put(x, sec + 16 + 4 * 0x21, 0xFFFFFFFF, 4);
  verify_fails(x, "index past the end", "index entry 33");
  x = image;
  put(x, records + rs + kTlshDigestSize + 2, 0xFFFFFFF0u, 4);
  verify_fails(x, "label outside", "not the start of a name");
  x = image;
  put(x, records + rs + kTlshDigestSize + 2, 1, 4);
  verify_fails(x, "label inside a label", "not the start of a name");
  x = image;
  std::swap_ranges(x.begin() + records, x.begin() + records + rs, x.begin() + records + rs);
  verify_fails(x, "order", "out of order");
  x = image;
  x.replace(records + rs, rs, x.substr(records, rs));
  verify_fails(x, "duplicate", "out of order or equal");
}

// --- Damaged and hostile files ------------------------------------------------------------------

TEST(Database, OpenRefusesWhatIsNotADatabase) {
  TempDir dir;
  EXPECT_EQ(Database::Open(dir / "missing.accdb").status().code(), Code::kNotFound);
  EXPECT_EQ(Database::Open(dir.path()).status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "empty.accdb", "").ok());
  Status st = Database::Open(dir / "empty.accdb").status();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("empty.accdb: 0 bytes, too short"));
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "text.accdb", std::string(100, 'x')).ok());
  st = Database::Open(dir / "text.accdb").status();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("not an accord database"));
}

TEST(Database, EveryTruncationIsRefusedAtOpen) {
  Bytes image = SmallImage();
  TempDir dir;
  for (size_t n = 0; n < image.size(); ++n) {
    Result<std::shared_ptr<const Database>> db = Database::OpenBytes(image.substr(0, n), "t.accdb");
    ASSERT_FALSE(db.ok()) << "truncated to " << n;
    ASSERT_EQ(db.status().code(), Code::kDataLoss) << db.status().ToString();
  }
  // And through a real file and mmap, at a few offsets.
  for (size_t n : {size_t{0}, size_t{55}, size_t{56}, image.size() / 2, image.size() - 1}) {
    ASSERT_TRUE(fs::WriteFileAtomic(dir / "t.accdb", image.substr(0, n)).ok());
    EXPECT_EQ(Database::Open(dir / "t.accdb").status().code(), Code::kDataLoss) << n;
  }
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "t.accdb", image + "x").ok());
  EXPECT_THAT(Database::Open(dir / "t.accdb").status().message(), HasSubstr("truncated or appended to"));
}

// Flips every bit of every byte, one at a time. Whatever the flip hits, Open refuses the file, or
// Verify does; and lookups on a file that opened never crash (the ASan build checks they stay in
// bounds) and never return a name that is not a valid signature name.
TEST(Database, EveryBitFlipIsCaughtByOpenOrVerify) {
  Bytes image = SmallImage();
  std::vector<std::pair<HashKind, Bytes>> probes;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    for (HashKind k : {HashKind::kMd5, HashKind::kSha1, HashKind::kSha256})
      probes.emplace_back(k, Digest(k, seed));
  }
  size_t refused_at_open = 0, refused_by_verify = 0;
  for (size_t i = 0; i < image.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = image;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      Result<std::shared_ptr<const Database>> db = Database::OpenBytes(bad, "t.accdb");
      if (!db.ok()) {
        ASSERT_EQ(db.status().code(), Code::kDataLoss) << i << ": " << db.status().ToString();
        ++refused_at_open;
        continue;
      }
      Status v = (*db)->Verify();
      ASSERT_EQ(v.code(), Code::kDataLoss) << "byte " << i << " bit " << bit << " passed Verify";
      ++refused_by_verify;
      for (const auto& [k, d] : probes) {
        for (uint64_t size : {0ull, 7ull, 9ull, 42ull, 100ull}) {
          Result<std::vector<Match>> m = (*db)->LookupHash(k, d, size);
          if (m.ok()) {
            for (const Match& x : *m) ASSERT_TRUE(IsValidSignatureName(x.name) && x.source < 2);
          } else {
            ASSERT_EQ(m.status().code(), Code::kDataLoss);
          }
          (void)(*db)->IsAllowed(k, d, size);
        }
      }
      for (const TlshDigest& t : {TlshOf(1, 0x40), TlshOf(2, 0x41), TlshOf(3, 0x40)}) {
        Result<TlshLookup> m = (*db)->LookupTlsh(t);
        if (m.ok()) {
          for (const TlshMatch& x : m->matches) ASSERT_TRUE(IsValidSignatureName(x.name) && x.source < 2);
        } else {
          ASSERT_EQ(m.status().code(), Code::kDataLoss);
        }
      }
    }
  }
  EXPECT_GT(refused_at_open, 0u);
  EXPECT_GT(refused_by_verify, 0u);
}

// Offsets and counts chosen by an attacker who also fixes up the SHA-256: Open's structural checks
// alone must keep every read inside the file.
TEST(Database, HostileHeadersWithAValidChecksumAreRefused) {
  Bytes image = SmallImage();
  auto reseal = [](Bytes b) {
    crypto::Sha256Stream h;
    h.Update(ByteView(b).substr(0, 24));
    h.Update(ByteView(b).substr(56));
    crypto::Hash d = h.Finish();
    b.replace(24, 32, crypto::AsView(d));
    return b;
  };
  auto put64 = [](Bytes& b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
  };
  auto put32 = [](Bytes& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
  };
  uint32_t sections = static_cast<uint32_t>(uint8_t(image[12]));
  ASSERT_GE(sections, 4u);
  for (uint32_t s = 0; s < sections; ++s) {
    size_t e = 56 + 24 * s;
    // Offsets before the section table or past the end; sizes past the end (a smaller size is a
    // well-formed shorter section: lookups then report DataLoss, and Verify, as tested below).
    for (uint64_t v :
         std::initializer_list<uint64_t>{~0ull, 1ull << 63, image.size(), image.size() - 1, 0, 55}) {
      Bytes bad = image;
      put64(bad, e + 8, v);
      EXPECT_FALSE(Database::OpenBytes(reseal(bad), "t.accdb").ok()) << "section " << s << " offset " << v;
    }
    for (uint64_t v : std::initializer_list<uint64_t>{~0ull, 1ull << 63, 1ull << 40, image.size()}) {
      Bytes bad = image;
      put64(bad, e + 16, v);
      EXPECT_FALSE(Database::OpenBytes(reseal(bad), "t.accdb").ok()) << "section " << s << " size " << v;
    }
    for (uint32_t type : {0u, 12u, 0xFFFFFFFFu}) {
      Bytes bad = image;
      put32(bad, e, type);
      EXPECT_FALSE(Database::OpenBytes(reseal(bad), "t.accdb").ok()) << type;
    }
  }
  Bytes many = image;
  put32(many, 12, 0xFFFFFFFF);
  EXPECT_THAT(Database::OpenBytes(reseal(many), "t.accdb").status().message(), HasSubstr("does not fit"));
  Bytes version = image;
  put32(version, 8, 2);
  EXPECT_THAT(Database::OpenBytes(reseal(version), "t.accdb").status().message(),
              HasSubstr("format version 2"));
}

// A record whose label points anywhere, with the checksum fixed up: the lookup reports DataLoss
// instead of reading outside the name section, and Verify names the record.
TEST(Database, RecordPointingOutsideTheNamesIsDataLossAtLookup) {
  DatabaseBuilder b;
  uint32_t s = *b.AddSource(SignatureFileSource("a.hsb", "a"));
  ASSERT_TRUE(b.AddHash(s, Sig(HashKind::kMd5, 1, 5, "Name")).ok());
  Bytes image = *b.Build();
  // The only MD5 record is the file's last 24 bytes: digest, size, label.
  for (uint32_t label : {4u, 0xFFFFFFFFu, 0xFFFFFFFAu, 1u}) {
    Bytes bad = image;
    for (int i = 0; i < 4; ++i) bad[bad.size() - 4 + i] = static_cast<char>(label >> (8 * i));
    std::shared_ptr<const Database> db = OpenOk(bad);
    ASSERT_NE(db, nullptr);
    Result<std::vector<Match>> m = db->LookupHash(HashKind::kMd5, Digest(HashKind::kMd5, 1), 5);
    EXPECT_EQ(m.status().code(), Code::kDataLoss) << label;
    EXPECT_EQ(db->Verify().code(), Code::kDataLoss);
  }
}

// --- Against ClamAV ---------------------------------------------------------------------------------

std::string RunCommand(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  if (status != nullptr) *status = st;
  return out;
}

bool HaveProgram(const std::string& name) {
  int st = 0;
  RunCommand("command -v " + name + " >/dev/null 2>&1", &st);
  return st == 0;
}

// Digests come from md5sum and sha256sum, the signature files are written as a user would, and
// clamscan's verdict for each file must equal ours: first match's NAME + ".UNOFFICIAL", or OK.
TEST(Database, AgreesWithClamscanOnRealFiles) {
  if (!HaveProgram("clamscan") || !HaveProgram("md5sum") || !HaveProgram("sha256sum")) {
    GTEST_SKIP() << "clamscan, md5sum or sha256sum not installed";
  }
  std::vector<std::string> files;
  for (const char* name : {"true", "false", "ls", "cat", "echo", "env", "id", "yes", "head", "tail"}) {
    std::string p = std::string("/usr/bin/") + name;
    if (fs::Exists(p) && !std::filesystem::is_symlink(p)) files.push_back(p);
  }
  if (files.size() < 8) GTEST_SKIP() << "not enough programs in /usr/bin";
  auto digest_of = [](const std::string& tool, const std::string& path) {
    std::string out = RunCommand(tool + " '" + path + "'");
    return out.substr(0, out.find(' '));
  };
  std::vector<std::string> md5, sha256;
  std::vector<uint64_t> size;
  for (const std::string& f : files) {
    md5.push_back(digest_of("md5sum", f));
    sha256.push_back(digest_of("sha256sum", f));
    size.push_back(std::filesystem::file_size(f));
    ASSERT_EQ(md5.back().size(), 32u);
  }
  std::string hdb, hsb, fp;
  hdb += md5[0] + ":" + std::to_string(size[0]) + ":Accord.Test.Zero\n";
  hdb += md5[0] + ":" + std::to_string(size[0]) + ":Accord.Test.ZeroAgain\n";  // ClamAV reports the last
  hdb += md5[1] + ":*:Accord.Test.AnySize:73\n";  // ClamAV wants FLEVEL >= 73 with '*'
  hdb += md5[2] + ":" + std::to_string(size[2] + 1) + ":Accord.Test.WrongSize\n";
  hdb += md5[3] + ":" + std::to_string(size[3]) + ":Accord.Test.Allowed\n";
  hsb += sha256[4] + ":" + std::to_string(size[4]) + ":Accord.Test.Sha256\n";
  hsb += sha256[5] + ":*:Accord.Test.Sha256Any:73\n";
  fp += md5[3] + ":" + std::to_string(size[3]) + ":Accord.Test.Allowed\n";
  // files[6..] are in no list.

  TempDir dir;
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "t.hdb", hdb).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "t.hsb", hsb).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir / "t.fp", fp).ok());
  DatabaseBuilder b;
  for (const char* f : {"t.hdb", "t.hsb", "t.fp"}) ASSERT_TRUE(AddHashFile(b, dir / f).ok());
  ASSERT_TRUE(b.Write(dir / "t.accdb").ok());
  Result<std::shared_ptr<const Database>> db = Database::Open(dir / "t.accdb");
  ASSERT_TRUE(db.ok()) << db.status().ToString();

  std::string cmd =
      "clamscan --no-summary -d " + dir / "t.hdb" + " -d " + dir / "t.hsb" + " -d " + dir / "t.fp";
  for (const std::string& f : files) cmd += " '" + f + "'";
  std::string out = RunCommand(cmd + " 2>/dev/null");
  std::map<std::string, std::string> clam;
  for (size_t pos = 0; pos < out.size();) {
    size_t nl = out.find('\n', pos);
    std::string line = out.substr(pos, nl - pos);
    pos = nl == std::string::npos ? out.size() : nl + 1;
    size_t colon = line.rfind(": ");
    if (colon != std::string::npos) clam[line.substr(0, colon)] = line.substr(colon + 2);
  }
  ASSERT_EQ(clam.size(), files.size()) << out;

  int detected = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    Bytes m5 = *HexDecode(md5[i]), s256 = *HexDecode(sha256[i]);
    std::string ours = "OK";
    if (!(*db)->IsAllowed(HashKind::kMd5, m5, size[i]) &&
        !(*db)->IsAllowed(HashKind::kSha256, s256, size[i])) {
      std::vector<Match> m = *(*db)->LookupHash(HashKind::kMd5, m5, size[i]);
      std::vector<Match> m2 = *(*db)->LookupHash(HashKind::kSha256, s256, size[i]);
      m.insert(m.end(), m2.begin(), m2.end());
      if (!m.empty()) ours = m[0].name + ".UNOFFICIAL FOUND";
    }
    detected += ours != "OK";
    EXPECT_EQ(ours, clam[files[i]]) << files[i];
  }
  EXPECT_EQ(detected, 4);  // ZeroAgain, AnySize, Sha256, Sha256Any
}

}  // namespace
}  // namespace accord::scan

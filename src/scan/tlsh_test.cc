// TLSH digests and .tlsh signature files: the parser on good and on every kind of bad line, the
// distance against libtlsh's own, and digests and distances against the `tlsh` tool (tlsh-tools).
#include "scan/tlsh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <tlsh.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "core/fs.h"
#include "scan/sigfile.h"

namespace accord::scan {
namespace {

using ::testing::HasSubstr;

// Text-like bytes: words from a small vocabulary, the kind of input TLSH is made for.
Bytes Prose(uint64_t seed, size_t size) {
  static const char* kWords[] = {"the",    "scanner", "reads",  "every", "file",   "and",  "member",
                                 "of",     "archive", "signed", "log",   "entry",  "with", "a",
                                 "digest", "variant", "known",  "bad",   "sample", "near", "distance",
                                 "under",  "its",     "own",    "limit", "report", "path", "name"};
  std::mt19937_64 rng(seed);
  Bytes out;
  while (out.size() < size) {
    out += kWords[rng() % std::size(kWords)];
    out += rng() % 9 == 0 ? ".\n" : " ";
  }
  out.resize(size);
  return out;
}

Bytes Random(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  Bytes out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

const std::string kA = "65F02B1F0F7A4E71C49E0F362AC7528314B9583095D78D0B4B09F1240D173126934F17";
const std::string kB = "B5D02B0C769D102D89C14DE3D3150746CFA5A088C2CC514A080C9A3C362B18115FD9B0";

// --- Digests -------------------------------------------------------------------------------------

TEST(Tlsh, ParsesBothSpellingsInEitherCaseAndPrintsOne) {
  std::optional<TlshDigest> a = ParseTlsh(kA);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ToString(), kA);
  std::string lower = kA;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(ParseTlsh(lower), a);
  EXPECT_EQ(ParseTlsh("T1" + kA), a);
  EXPECT_EQ(ParseTlsh("T1" + lower), a);
  EXPECT_FALSE(ParseTlsh("t1" + kA));
  EXPECT_FALSE(ParseTlsh("T2" + kA));
  EXPECT_FALSE(ParseTlsh(kA.substr(1)));
  EXPECT_FALSE(ParseTlsh(kA + "0"));
  EXPECT_FALSE(ParseTlsh(kA.substr(0, 69) + "G"));
  EXPECT_FALSE(ParseTlsh(""));
  EXPECT_FALSE(ParseTlsh("T1"));
  // Header fields as libtlsh stores them: nibbles swapped in the spelling.
  EXPECT_EQ(a->length_code(), 0x0F);  // "F0"
  EXPECT_EQ(a->q1_ratio(), 0x2);      // "2B": Q1 is the high nibble of the spelt byte
  EXPECT_EQ(a->q2_ratio(), 0xB);
}

TEST(Tlsh, NoDigestForShortOrUniformInput) {
  EXPECT_FALSE(ComputeTlsh(""));
  EXPECT_FALSE(ComputeTlsh(Prose(1, 49)));
  EXPECT_FALSE(ComputeTlsh(Random(1, kTlshMinInput - 1)));
  EXPECT_TRUE(ComputeTlsh(Random(1, kTlshMinInput)));
  EXPECT_FALSE(ComputeTlsh(Bytes(100000, 'A')));  // one byte value: every bucket but a few empty
  EXPECT_FALSE(ComputeTlsh(Bytes(100000, '\0')));
  EXPECT_TRUE(ComputeTlsh(Prose(1, 4096)));
}

TEST(Tlsh, HasherIsReusableAndAgreesWithOneShot) {
  TlshHasher h;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Bytes data = Prose(seed, 300 * seed);
    EXPECT_EQ(h.Hash(data), ComputeTlsh(data)) << seed;
    EXPECT_FALSE(h.Hash("short"));
  }
  EXPECT_THAT(TlshLibraryVersion(), HasSubstr("1 byte checksum"));
}

TEST(Tlsh, AVariantIsNearAndAnUnrelatedFileIsFar) {
  Bytes original = Prose(7, 8192);
  Bytes variant = original;
  variant.replace(1000, 12, "INSERTED-BIT");
  variant.replace(5000, 5, "XXXXX");
  variant += "appended trailer";
  std::optional<TlshDigest> a = ComputeTlsh(original), b = ComputeTlsh(variant),
                            c = ComputeTlsh(Random(7, 8192));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(TlshDistance(*a, *a), 0u);
  EXPECT_LE(TlshDistance(*a, *b), 30u);
  EXPECT_GT(TlshDistance(*a, *c), 200u);
}

// Our distance over stored bytes must be libtlsh's totalDiff: on real digests (near and far) and on
// arbitrary 35-byte strings, which reach every wrap-around of the length and ratio rings.
TEST(Tlsh, DistanceIsLibtlshTotalDiff) {
  std::vector<TlshDigest> digests;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    Bytes base = Prose(seed % 3, 500 + 700 * seed);
    base[seed * 13 % base.size()] = '#';
    digests.push_back(*ComputeTlsh(base));
    digests.push_back(*ComputeTlsh(Random(seed, 300 + 211 * seed)));
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    TlshDigest d;
    for (uint8_t& b : d.bytes) b = static_cast<uint8_t>(rng());
    digests.push_back(d);
  }
  auto libtlsh = [](const TlshDigest& x) {
    auto t = std::make_unique<Tlsh>();
    EXPECT_EQ(t->fromTlshStr(x.ToString().c_str()), 0);
    return t;
  };
  std::vector<std::unique_ptr<Tlsh>> theirs;
  for (const TlshDigest& d : digests) theirs.push_back(libtlsh(d));
  for (size_t i = 0; i < digests.size(); ++i) {
    EXPECT_EQ(theirs[i]->getHash(), digests[i].ToString());
    for (size_t j = 0; j < digests.size(); j += 1 + i % 5) {
      uint32_t ours = TlshDistance(digests[i], digests[j]);
      ASSERT_EQ(ours, static_cast<uint32_t>(theirs[i]->totalDiff(theirs[j].get(), true)))
          << digests[i].ToString() << " " << digests[j].ToString();
      ASSERT_EQ(ours, TlshDistance(digests[j], digests[i]));
      ASSERT_LE(TlshHeaderDistance(digests[i], digests[j]), ours);
      ASSERT_LE(ours, kTlshMaxDistance);
    }
  }
  TlshDigest zero, far;
  for (size_t i = 0; i < kTlshDigestSize; ++i) far.bytes[i] = i == 1 ? 0x08 : i == 2 ? 0x88 : 0xff;
  far.bytes[0] = 1;
  EXPECT_EQ(TlshDistance(zero, far), kTlshMaxDistance);  // L 128 apart, both ratios 8, every code pair 3
}

// --- Signature files ------------------------------------------------------------------------------

TEST(TlshSigfile, ParsesCommentsBlankLinesCrlfAndBothSpellings) {
  std::string text = "# variants of the demo sample\n\n" + kA + ":50:Accord.Test.Variant\r\n" + "T1" + kB +
                     ":0:Exact-Only\n#last\n" + kB + ":1000:Wide Name With Spaces";
  Result<std::vector<TlshSignature>> sigs = ParseTlshSignatures(text, "v.tlsh");
  ASSERT_TRUE(sigs.ok()) << sigs.status().ToString();
  ASSERT_EQ(sigs->size(), 3u);
  EXPECT_EQ((*sigs)[0], (TlshSignature{*ParseTlsh(kA), 50, "Accord.Test.Variant"}));
  EXPECT_EQ((*sigs)[1], (TlshSignature{*ParseTlsh(kB), 0, "Exact-Only"}));
  EXPECT_EQ((*sigs)[2], (TlshSignature{*ParseTlsh(kB), 1000, "Wide Name With Spaces"}));
  for (const TlshSignature& s : *sigs) {
    Result<TlshSignature> again = ParseTlshSignatureLine(FormatTlshSignatureLine(s), "again");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, s);
  }
  EXPECT_EQ(FormatTlshSignatureLine((*sigs)[1]), kB + ":0:Exact-Only");
  EXPECT_TRUE(ParseTlshSignatures("", "empty.tlsh")->empty());
  EXPECT_TRUE(ParseTlshSignatures("#only\n\n\r\n", "c.tlsh")->empty());
}

TEST(TlshSigfile, EveryKindOfBadLineNamesFileAndLine) {
  struct Case {
    std::string line, message;
    Code code = Code::kInvalidArgument;
  };
  const std::string many(limits::kMaxSignatureNameLength + 1, 'n');
  std::vector<Case> cases = {
      {kA, "1 field, want TLSH:THRESHOLD:NAME"},
      {kA + ":50", "2 fields, want TLSH:THRESHOLD:NAME"},
      {kA + ":50:Name:73", "more than 3 fields"},
      {":50:Name", "TLSH of 0 characters, want 70 hex digits, or T1 and 70"},
      {kA.substr(2) + ":50:Name", "TLSH of 68 characters"},
      {kA + "00:50:Name", "TLSH of 72 characters"},
      {"t1" + kA + ":50:Name", "TLSH of 72 characters"},
      {kA.substr(0, 69) + "x:50:Name", "TLSH '" + kA.substr(0, 69) + "x' is not hex"},
      {" " + kA.substr(1) + ":50:Name", "is not hex"},
      {kA + "::Name", "bad THRESHOLD '', want a decimal without leading zeroes"},
      {kA + ":050:Name", "bad THRESHOLD '050'"},
      {kA + ":-1:Name", "bad THRESHOLD '-1'"},
      {kA + ":5x:Name", "bad THRESHOLD '5x'"},
      {kA + ": 5:Name", "bad THRESHOLD ' 5'"},
      {kA + ":1001:Name", "THRESHOLD 1001 above kMaxTlshThreshold 1000"},
      {kA + ":99999999999999999999999:Name", "bad THRESHOLD"},
      {kA + ":50:", "empty NAME"},
      {kA + ":50: Name", "NAME ' Name' has a control character, invalid UTF-8 or leading or trailing space"},
      {kA + ":50:Name ", "leading or trailing space"},
      {kA + ":50:Na\tme", "NAME 'Na\\x09me'"},
      {kA + ":50:Na\x7fme", "has a control character"},
      {kA + ":50:Bad\xff", "invalid UTF-8"},
      {kA + ":50:" + many, "NAME of 1025 bytes, limit kMaxSignatureNameLength", Code::kResourceExhausted},
      {kA + ":50:" + std::string(limits::kMaxSignatureLineLength, 'n'), "limit kMaxSignatureLineLength",
       Code::kResourceExhausted},
  };
  for (const Case& c : cases) {
    std::string text = "# header\n\n" + kB + ":10:Good\n" + c.line + "\n" + kB + ":10:AfterTheBadLine\n";
    Result<std::vector<TlshSignature>> r = ParseTlshSignatures(text, "dir/bad.tlsh");
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_EQ(r.status().code(), c.code) << c.line;
    EXPECT_THAT(r.status().message(), HasSubstr("dir/bad.tlsh:4: ")) << c.line;
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.line;
  }
  // A comment over the line cap is refused too; a line of exactly the cap is fine.
  std::string comment = "#" + std::string(limits::kMaxSignatureLineLength, 'c');
  EXPECT_EQ(ParseTlshSignatures(comment, "c.tlsh").status().code(), Code::kResourceExhausted);
  std::string longest = kA + ":50:";
  longest += std::string(limits::kMaxSignatureLineLength - longest.size(), 'n');
  EXPECT_EQ(ParseTlshSignatures(longest, "c.tlsh").status().code(), Code::kResourceExhausted);  // NAME cap
  // The sink's error comes back with the place.
  Status st = ForEachTlshSignature(kA + ":1:A\n" + kA + ":2:B\n", "s.tlsh", [](TlshSignature&& s) {
    return s.name == "B" ? NotFound("no") : Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("s.tlsh:2"));
  EXPECT_TRUE(IsTlshSignatureFile("x/variants.tlsh"));
  EXPECT_FALSE(IsTlshSignatureFile(".tlsh"));
  EXPECT_FALSE(IsTlshSignatureFile("variants.hsb"));
}

// --- Against tlsh-tools ---------------------------------------------------------------------------

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

// Digests of real files must be what `tlsh -f` prints, and distances what `tlsh -c A -f B` prints.
TEST(Tlsh, AgreesWithTheTlshTool) {
  int st = 0;
  RunCommand("command -v tlsh >/dev/null 2>&1", &st);
  if (st != 0) GTEST_SKIP() << "tlsh (Debian tlsh-tools) not installed; scripts/install-deps.sh installs it";
  std::vector<std::string> files;
  const char* shared = std::getenv("ACCORD_SHARED_DATA");
  for (const char* dir : {"/usr/share/clamav-testfiles", shared}) {
    if (dir == nullptr || !std::filesystem::is_directory(dir)) continue;
    std::vector<std::string> here;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_regular_file() && e.file_size() < (4u << 20)) here.push_back(e.path().string());
    }
    std::sort(here.begin(), here.end());
    for (size_t i = 0; i < here.size() && i < 400; i += 1 + here.size() / 40) files.push_back(here[i]);
  }
  for (const char* p : {"/usr/bin/ls", "/usr/bin/cat"}) {
    if (std::filesystem::is_regular_file(p)) files.push_back(p);
  }
  if (files.size() < 5) GTEST_SKIP() << "too few test files";
  // Two variants of one file, made here: a near pair for the distance check.
  std::string tmp = (std::filesystem::temp_directory_path() / "accord-tlsh-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmp.data()), nullptr);
  Bytes prose = Prose(3, 20000), variant = prose;
  variant.replace(7000, 20, "a slightly changed part");
  ASSERT_TRUE(fs::WriteFileAtomic(tmp + "/a.txt", prose).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(tmp + "/b.txt", variant).ok());
  files.push_back(tmp + "/a.txt");
  files.push_back(tmp + "/b.txt");

  std::vector<std::pair<std::string, TlshDigest>> hashed;
  size_t without = 0;
  for (const std::string& f : files) {
    Result<Bytes> data = fs::ReadFile(f, 8u << 20);
    ASSERT_TRUE(data.ok()) << f;
    std::string out = RunCommand("tlsh -f '" + f + "' 2>&1");
    std::optional<TlshDigest> ours = ComputeTlsh(*data);
    if (!ours) {
      // The tool says "file ...: file too small" (or prints no digest) where libtlsh declines.
      EXPECT_EQ(out.find('\t'), std::string::npos) << f << ": tool gave " << out;
      ++without;
      continue;
    }
    ASSERT_GE(out.size(), kTlshHexLength) << f << ": " << out;
    EXPECT_EQ(ours->ToString(), out.substr(0, kTlshHexLength)) << f;
    hashed.emplace_back(f, *ours);
  }
  ASSERT_GE(hashed.size(), 4u);
  for (size_t i = 0; i + 1 < hashed.size(); ++i) {
    const auto& [fa, a] = hashed[i];
    const auto& [fb, b] = hashed[i + 1];
    std::string out = RunCommand("tlsh -c '" + fa + "' -f '" + fb + "'");
    ASSERT_FALSE(out.empty()) << fa << " " << fb;
    EXPECT_EQ(std::to_string(TlshDistance(a, b)),
              out.substr(out.find_first_not_of(' '), out.find('\t') - out.find_first_not_of(' ')))
        << fa << " vs " << fb << ": " << out;
  }
  EXPECT_LT(TlshDistance(hashed[hashed.size() - 2].second, hashed.back().second), 40u);
  std::filesystem::remove_all(tmp);
  std::printf("checked %zu digests against tlsh (%zu files without one)\n", hashed.size(), without);
}

}  // namespace
}  // namespace accord::scan

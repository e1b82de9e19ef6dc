// Text forms of proofs: c2sp.org/tlog-proof@v1 (checked against the spec's example) and accord's
// own three forms, written and read back exactly, and strict about everything else.
#include "tlog/proof_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/limits.h"

namespace accord::tlog {
namespace {

// c2sp.org/tlog-proof, the example at the top of the specification, verbatim (its signatures are
// elided with "[...]" there; a proof carries the checkpoint verbatim, so that does not matter here).
constexpr char kSpecProof[] =
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "— example.com/fancylog hI2DJw[...]1roloI=\n"
    "— witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "— witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "— witness3.example S4X82uH5[...]3oEcROGLFQ==\n";

// c2sp.org/tlog-checkpoint's example, used as the checkpoint of accord's own forms.
constexpr char kCheckpoint[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGz"
    "Gku9nTo+zyWE+xeMcTOAYQ8=\n";

std::string Hex(const Hash& h) {
  return HexEncode(crypto::AsView(h));
}
std::string B64(const Hash& h) {
  return Base64Encode(crypto::AsView(h));
}

std::vector<Hash> Hashes(int n) {
  std::vector<Hash> out;
  for (int i = 0; i < n; ++i) out.push_back(crypto::Sha256("hash " + std::to_string(i)));
  return out;
}

std::string HashLines(const std::vector<Hash>& hashes) {
  std::string out;
  for (const Hash& h : hashes) out += B64(h) + "\n";
  return out;
}

void ExpectSameProof(const ProofText& got, const ProofText& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.extra, want.extra);
  EXPECT_EQ(got.index, want.index);
  EXPECT_EQ(got.old_size, want.old_size);
  EXPECT_EQ(got.hashes, want.hashes);
  EXPECT_EQ(got.checkpoint, want.checkpoint);
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.root, want.root);
}

ProofText InclusionWithCheckpoint(int hashes) {
  ProofText p;
  p.kind = ProofText::Kind::kInclusion;
  p.index = 73894;
  p.hashes = Hashes(hashes);
  p.checkpoint = kCheckpoint;
  return p;
}
ProofText InclusionWithoutCheckpoint(int hashes) {
  ProofText p;
  p.kind = ProofText::Kind::kInclusion;
  p.index = 3;
  p.size = 10;
  p.root = crypto::Sha256("root of 10");
  p.hashes = Hashes(hashes);
  return p;
}
ProofText ConsistencyWithCheckpoint(int hashes) {
  ProofText p;
  p.kind = ProofText::Kind::kConsistency;
  p.old_size = 7;
  p.hashes = Hashes(hashes);
  p.checkpoint = kCheckpoint;
  return p;
}
ProofText ConsistencyWithoutCheckpoint(int hashes) {
  ProofText p;
  p.kind = ProofText::Kind::kConsistency;
  p.old_size = 7;
  p.size = 10;
  p.root = crypto::Sha256("root of 10");
  p.hashes = Hashes(hashes);
  return p;
}

// --- Writing -------------------------------------------------------------------------------------

TEST(FormatProofTest, C2spFormIsExactlyTheSpecLayout) {
  ProofText p = InclusionWithCheckpoint(2);
  p.extra = "age-v1.2.1";
  EXPECT_EQ(FormatProof(p), "c2sp.org/tlog-proof@v1\nextra " + Base64Encode("age-v1.2.1") +
                                "\nindex 73894\n" + HashLines(p.hashes) + "\n" + kCheckpoint);
  p.extra.reset();
  EXPECT_EQ(FormatProof(p),
            "c2sp.org/tlog-proof@v1\nindex 73894\n" + HashLines(p.hashes) + "\n" + kCheckpoint);
}

TEST(FormatProofTest, AccordFormsFollowTheirGrammar) {
  ProofText p = InclusionWithoutCheckpoint(2);
  EXPECT_EQ(FormatProof(p), "accord/tlog-inclusion-proof@v1\nindex 3\nsize 10\nroot " + B64(*p.root) + "\n" +
                                HashLines(p.hashes));
  p = ConsistencyWithCheckpoint(2);
  EXPECT_EQ(FormatProof(p),
            "accord/tlog-consistency-proof@v1\nold-size 7\n" + HashLines(p.hashes) + "\n" + kCheckpoint);
  p = ConsistencyWithoutCheckpoint(2);
  EXPECT_EQ(FormatProof(p), "accord/tlog-consistency-proof@v1\nold-size 7\nsize 10\nroot " + B64(*p.root) +
                                "\n" + HashLines(p.hashes));
}

// --- Round trips ---------------------------------------------------------------------------------

TEST(ProofRoundTripTest, AllFourFormsWithAndWithoutHashes) {
  for (int n : {0, 1, 5, int(limits::kMaxProofHashes)}) {
    for (const ProofText& p : {InclusionWithCheckpoint(n), InclusionWithoutCheckpoint(n),
                               ConsistencyWithCheckpoint(n), ConsistencyWithoutCheckpoint(n)}) {
      std::string text = FormatProof(p);
      auto back = ParseProof(text);
      ASSERT_TRUE(back.ok()) << n << " hashes: " << back.status().ToString() << "\n" << text;
      ExpectSameProof(*back, p);
    }
  }
}

TEST(ProofRoundTripTest, ExtraDataOfAnyBytes) {
  for (const std::string& extra : {std::string("a"), std::string("\x00\xff\n", 3), std::string(1000, 'x')}) {
    ProofText p = InclusionWithCheckpoint(3);
    p.extra = extra;
    auto back = ParseProof(FormatProof(p));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ExpectSameProof(*back, p);
  }
}

TEST(ProofRoundTripTest, EmptyExtraData) {
  // An application may attach empty extra data; whatever accord writes for it, it must read back.
  ProofText p = InclusionWithCheckpoint(3);
  p.extra = "";
  std::string text = FormatProof(p);
  auto back = ParseProof(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  EXPECT_EQ(back->extra.value_or(""), "");
  EXPECT_EQ(back->hashes, p.hashes);
  EXPECT_EQ(back->checkpoint, p.checkpoint);
}

TEST(ProofRoundTripTest, LargeIndexAndSizes) {
  ProofText p = InclusionWithoutCheckpoint(63);
  p.index = (uint64_t(1) << 63) - 2;
  p.size = (uint64_t(1) << 63) - 1;
  auto back = ParseProof(FormatProof(p));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameProof(*back, p);
}

// --- Reading the spec's example ------------------------------------------------------------------

TEST(ParseProofTest, SpecExampleParses) {
  auto p = ParseProof(kSpecProof);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, ProofText::Kind::kInclusion);
  ASSERT_TRUE(p->extra.has_value());
  EXPECT_EQ(HexEncode(*p->extra),
            "6167652d76312e322e312d64617277696e2d61726d36342e7461722e677a9185c9dda5b8b585c9");
  EXPECT_EQ(p->index, 73894u);
  ASSERT_EQ(p->hashes.size(), 5u);
  EXPECT_EQ(Hex(p->hashes[0]), "8122b25e861952067a8ddb9662b9033804629ce30626f7978e032405371d3e54");
  EXPECT_EQ(Hex(p->hashes[4]), "0070a2a17f672e3b2bb1ee988634519a4d565048ab54e2cb468390eaf7cee6f9");
  std::string spec = kSpecProof;
  EXPECT_EQ(p->checkpoint, spec.substr(spec.find("example.com/fancylog\n")));
  EXPECT_FALSE(p->root.has_value());
  EXPECT_EQ(FormatProof(*p), kSpecProof);
}

TEST(ParseProofTest, SpecExampleWithoutExtraParses) {
  std::string text = kSpecProof;
  text.erase(text.find("extra "), text.find("index ") - text.find("extra "));
  auto p = ParseProof(text);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->extra.has_value());
  EXPECT_EQ(p->hashes.size(), 5u);
}

// --- Rejections ----------------------------------------------------------------------------------

// Replaces the first occurrence of `from` in the spec example.
std::string SpecWith(std::string_view from, std::string_view to) {
  std::string text = kSpecProof;
  size_t p = text.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) text.replace(p, from.size(), to);
  return text;
}

TEST(ParseProofTest, RejectsUnknownHeaders) {
  for (const char* header : {"c2sp.org/tlog-proof@v2", "C2SP.org/tlog-proof@v1", "c2sp.org/tlog-proof@v1 ",
                             "c2sp.org/tlog-proof", "accord/tlog-inclusion-proof@v2", ""}) {
    auto p = ParseProof(SpecWith("c2sp.org/tlog-proof@v1", header));
    EXPECT_FALSE(p.ok()) << header;
  }
}

TEST(ParseProofTest, RejectsBadHashes) {
  const std::string first = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
  Hash h = crypto::Sha256("h");
  for (const std::string& bad : std::vector<std::string>{
           std::string("!!!!"), first.substr(0, first.size() - 1),       // padding missing
           first + " ",                                                  // trailing space
           " " + first,                                                  // leading space
           Base64Encode(crypto::AsView(h).substr(0, 31)),                // 31 bytes
           Base64Encode(std::string(crypto::AsView(h)) + "\x01"),        // 33 bytes
           Hex(h),                                                       // hex
           std::string("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlR="),  // non-canonical
       }) {
    auto p = ParseProof(SpecWith(first, bad));
    EXPECT_FALSE(p.ok()) << bad;
  }
}

TEST(ParseProofTest, RejectsBadExtraAndIndexLines) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"extra YWdl", "extra !Wdl"},   // not base64
           {"extra YWdl", "extra  YWdl"},  // two spaces
           {"extra YWdl", "Extra YWdl"},
           {"index 73894", "index 073894"},  // leading zero
           {"index 73894", "index -1"},
           {"index 73894", "index  73894"},
           {"index 73894", "index 73894 "},
           {"index 73894", "Index 73894"},
           {"index 73894", "index"},
           {"index 73894", "index 18446744073709551616"},
           {"index 73894\n", ""},  // no index line
       })
    EXPECT_FALSE(ParseProof(SpecWith(from, to)).ok()) << from << " -> " << to;
  // The extra line comes before the index, not after it.
  std::string moved = kSpecProof;
  std::string extra_line = "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n";
  moved.erase(moved.find(extra_line), extra_line.size());
  moved.insert(moved.find("gSKy"), extra_line);
  EXPECT_FALSE(ParseProof(moved).ok());
  // accord's own forms have no extra line.
  EXPECT_FALSE(ParseProof("accord/tlog-inclusion-proof@v1\nextra YWdl\nindex 3\nsize 10\nroot " +
                          B64(crypto::Sha256("r")) + "\n")
                   .ok());
}

TEST(ParseProofTest, RejectsMissingBlankLineOrCheckpoint) {
  std::string spec = kSpecProof;
  std::string no_blank = spec;
  no_blank.erase(no_blank.find("\n\nexample.com/fancylog"), 1);
  EXPECT_FALSE(ParseProof(no_blank).ok());
  std::string no_checkpoint = spec.substr(0, spec.find("example.com/fancylog"));
  EXPECT_FALSE(ParseProof(no_checkpoint).ok());
  std::string no_blank_no_checkpoint = spec.substr(0, spec.find("\nexample.com/fancylog"));
  EXPECT_FALSE(ParseProof(no_blank_no_checkpoint).ok());
  // And the same for accord's consistency form with a checkpoint.
  std::string consistency = FormatProof(ConsistencyWithCheckpoint(2));
  EXPECT_FALSE(ParseProof(consistency.substr(0, consistency.find("example.com/behind-the-sofa"))).ok());
}

TEST(ParseProofTest, RejectsTooManyHashes) {
  for (auto make : {InclusionWithCheckpoint, InclusionWithoutCheckpoint, ConsistencyWithCheckpoint,
                    ConsistencyWithoutCheckpoint}) {
    ProofText p = make(int(limits::kMaxProofHashes) + 1);
    auto parsed = ParseProof(FormatProof(p));
    EXPECT_FALSE(parsed.ok()) << FormatProof(p).substr(0, 40);
    EXPECT_TRUE(ParseProof(FormatProof(make(int(limits::kMaxProofHashes)))).ok());
  }
}

TEST(ParseProofTest, RejectsMissingFinalNewline) {
  std::string text = FormatProof(InclusionWithoutCheckpoint(3));
  EXPECT_FALSE(ParseProof(text.substr(0, text.size() - 1)).ok());
  text = FormatProof(InclusionWithoutCheckpoint(0));
  EXPECT_FALSE(ParseProof(text.substr(0, text.size() - 1)).ok());
  text = FormatProof(ConsistencyWithoutCheckpoint(2));
  EXPECT_FALSE(ParseProof(text.substr(0, text.size() - 1)).ok());
  EXPECT_FALSE(ParseProof("c2sp.org/tlog-proof@v1").ok());
  EXPECT_FALSE(ParseProof("c2sp.org/tlog-proof@v1\nindex 5").ok());
  EXPECT_FALSE(ParseProof("").ok());
}

TEST(ParseProofTest, RejectsMalformedAccordForms) {
  const std::string root = B64(crypto::Sha256("r"));
  for (const std::string& text : std::vector<std::string>{
           "accord/tlog-inclusion-proof@v1\nindex 3\nsize 10\n",  // no root
           "accord/tlog-inclusion-proof@v1\nindex 3\nsize 10\nroot " + root.substr(4) + "\n",
           "accord/tlog-inclusion-proof@v1\nindex 3\nsize 010\nroot " + root + "\n",
           "accord/tlog-inclusion-proof@v1\nindex 3\nsize 10\nroot " + root + "\n\n",   // stray blank line
           "accord/tlog-inclusion-proof@v1\nold-size 3\nsize 10\nroot " + root + "\n",  // wrong key
           "accord/tlog-consistency-proof@v1\nindex 3\nsize 10\nroot " + root + "\n",
           "accord/tlog-consistency-proof@v1\nold-size 3\nroot " + root + "\nsize 10\n",  // order
           "accord/tlog-consistency-proof@v1\n",
       })
    EXPECT_FALSE(ParseProof(text).ok()) << text;
}

TEST(ParseProofTest, RejectsOversizedInput) {
  std::string text = FormatProof(InclusionWithCheckpoint(1));
  text += std::string(limits::kMaxProofFileSize, 'a') + "\n";
  auto p = ParseProof(text);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kResourceExhausted);
}

}  // namespace
}  // namespace accord::tlog

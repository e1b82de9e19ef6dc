// Checkpoints (c2sp.org/tlog-checkpoint): the spec's example, strict parsing of the note text, and
// opening a signed checkpoint as a client would, with the log's key and a set of witnesses.
#include "tlog/checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/limits.h"

namespace accord::tlog {
namespace {

// c2sp.org/tlog-checkpoint: the example checkpoint's note text.
constexpr char kSofaText[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
constexpr char kSofaRootHex[] = "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62";

// A real cosigned checkpoint of the arche2025h1 staging CT log, from florolf/tlog-scales
// tests/test_signing.py; both signatures used below were checked with pyca/cryptography.
constexpr char kArcheNote[] =
    "arche2025h1.staging.ct.transparency.dev\n"
    "1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
    "\n"
    "— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3u"
    "rbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI7"
    "5MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcq"
    "oXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    "— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5h"
    "NI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    "— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5X"
    "eU/zZ0WBxtqB0DrAWfBw==\n"
    "— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFu"
    "cgKi7lI7cUiOvKFYe/TmN9DAg==\n";
constexpr char kArcheVkey[] =
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
constexpr char kRemoraVkey[] = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

std::string Hex(const Hash& h) {
  return HexEncode(crypto::AsView(h));
}

Hash HashOf(std::string_view s) {
  return crypto::Sha256(s);
}

note::Verifier MustVerifier(std::string_view vkey) {
  auto v = note::ParseVerifierKey(vkey);
  if (!v.ok()) {
    ADD_FAILURE() << vkey << ": " << v.status().ToString();
    return {};
  }
  return *v;
}

// --- Note text -----------------------------------------------------------------------------------

TEST(CheckpointTextTest, SpecExampleParses) {
  auto cp = ParseCheckpoint(kSofaText);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(cp->size, 20852163u);
  EXPECT_EQ(Hex(cp->root), kSofaRootHex);
  EXPECT_TRUE(cp->extensions.empty());
  EXPECT_EQ(FormatCheckpoint(*cp), kSofaText);
}

TEST(CheckpointTextTest, FormatWritesTheSpecLayout) {
  Checkpoint cp{"example.com/log42", 0, HashOf("x"), {}};
  EXPECT_EQ(FormatCheckpoint(cp), "example.com/log42\n0\n" + Base64Encode(crypto::AsView(cp.root)) + "\n");
}

TEST(CheckpointTextTest, RoundTripsWithExtensionLines) {
  Checkpoint cp{"example.com/log42", 1234567, HashOf("root"), {"first extension", "— second, with UTF-8 ü"}};
  std::string text = FormatCheckpoint(cp);
  EXPECT_TRUE(text.ends_with("\nfirst extension\n— second, with UTF-8 ü\n")) << text;
  auto back = ParseCheckpoint(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, cp);
}

TEST(CheckpointTextTest, AcceptsEdgeSizes) {
  const std::string root = "\n" + Base64Encode(crypto::AsView(HashOf("r"))) + "\n";
  auto zero = ParseCheckpoint("o\n0" + root);
  ASSERT_TRUE(zero.ok()) << zero.status().ToString();
  EXPECT_EQ(zero->size, 0u);
  auto big = ParseCheckpoint("o\n4611686018427387904" + root);  // 2^62
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->size, uint64_t(1) << 62);
}

TEST(CheckpointTextTest, RejectsMalformedSizes) {
  const std::string root = "\n" + Base64Encode(crypto::AsView(HashOf("r"))) + "\n";
  for (const char* size : {"020852163", "00", "-1", "+1", "1e3", "0x10", " 1", "1 ", "20,852,163", "1.0",
                           "18446744073709551616", "twelve"})
    EXPECT_FALSE(ParseCheckpoint(std::string("o\n") + size + root).ok()) << size;
}

TEST(CheckpointTextTest, RejectsRootsThatAreNotBase64Of32Bytes) {
  Hash h = HashOf("r");
  const std::string b64 = Base64Encode(crypto::AsView(h));
  for (const std::string& root : {
           Base64Encode(crypto::AsView(h).substr(0, 31)),                // 31 bytes
           Base64Encode(std::string(crypto::AsView(h)) + "x"),           // 33 bytes
           b64.substr(0, b64.size() - 1),                                // padding missing
           b64 + " ",                                                    // trailing space
           Hex(h),                                                       // hex, not base64
           std::string("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="),  // non-canonical last character
       })
    EXPECT_FALSE(ParseCheckpoint("o\n1\n" + root + "\n").ok()) << root;
}

TEST(CheckpointTextTest, RejectsEmptyLinesFewLinesAndMissingNewline) {
  const std::string root = Base64Encode(crypto::AsView(HashOf("r")));
  for (const std::string& text : std::vector<std::string>{
           "\n1\n" + root + "\n",          // empty origin
           "o\n\n" + root + "\n",          // empty size
           "o\n1\n\n",                     // empty root
           "o\n1\n" + root + "\n\n",       // empty extension line
           "o\n1\n" + root + "\next\n\n",  // empty line after an extension
           "o\n1\n",                       // two lines
           "o\n",                          // one line
           std::string(),                  // nothing
           "o\n1\n" + root,                // no final newline
           "o\n1\n" + root + "\next",      // no final newline after an extension
           "o\r\n1\r\n" + root + "\r\n",   // CRLF
       })
    EXPECT_FALSE(ParseCheckpoint(text).ok()) << Printable(text);
  EXPECT_FALSE(ParseCheckpoint(std::string(kSofaText).substr(0, sizeof(kSofaText) - 2)).ok());
}

TEST(CheckpointTextTest, ExtensionLineLimit) {
  std::string text = FormatCheckpoint({"o", 1, HashOf("r"), {}});
  for (size_t i = 0; i < limits::kMaxCheckpointExtensions; ++i) text += "ext " + std::to_string(i) + "\n";
  auto at_limit = ParseCheckpoint(text);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->extensions.size(), limits::kMaxCheckpointExtensions);
  EXPECT_FALSE(ParseCheckpoint(text + "one more\n").ok());
}

// --- Opening signed checkpoints ------------------------------------------------------------------

class OpenCheckpointTest : public ::testing::Test {
 protected:
  static note::Signer Gen(std::string_view name, note::KeyType type = note::KeyType::kEd25519) {
    auto s = note::GenerateSigner(name, type);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : note::Signer{};
  }

  note::Signature Cosig(const note::Signer& w, uint64_t t) {
    auto sig = note::Cosign(w, text_, t);
    EXPECT_TRUE(sig.ok()) << sig.status().ToString();
    return sig.ok() ? *sig : note::Signature{};
  }
  note::Signature Sig(const note::Signer& s) {
    auto sig = note::Sign(s, text_);
    EXPECT_TRUE(sig.ok()) << sig.status().ToString();
    return sig.ok() ? *sig : note::Signature{};
  }
  std::string Note(const std::vector<note::Signature>& sigs) { return note::FormatNote({text_, sigs}); }

  const Checkpoint cp_{"example.com/log", 42, HashOf("tree of 42"), {}};
  const std::string text_ = FormatCheckpoint(cp_);
  const note::Signer log_ = Gen("example.com/log");
  const note::Signer w1_ = Gen("witness1.example", note::KeyType::kCosignatureV1);
  const note::Signer w2_ = Gen("witness2.example", note::KeyType::kCosignatureV1);
  const note::Signer stranger_ = Gen("stranger.example");
  const note::Signer stranger_witness_ = Gen("witness3.example", note::KeyType::kCosignatureV1);
};

TEST_F(OpenCheckpointTest, SignedByTheLogOpens) {
  auto msg = SignCheckpoint(cp_, log_);
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  EXPECT_EQ(msg->substr(0, text_.size() + 1), text_ + "\n");
  auto opened = OpenCheckpoint(*msg, log_.verifier());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->checkpoint, cp_);
  EXPECT_EQ(opened->raw, *msg);
  EXPECT_TRUE(opened->cosignatures.empty());
}

TEST_F(OpenCheckpointTest, RequiresTheLogsSignature) {
  std::vector<note::Verifier> witnesses = {w1_.verifier()};
  // Cosigned by a known witness, but not signed by the log.
  auto witness_only = OpenCheckpoint(Note({Cosig(w1_, 100)}), log_.verifier(), witnesses);
  EXPECT_EQ(witness_only.status().code(), Code::kPermissionDenied) << witness_only.status().ToString();
  // Signed by another Ed25519 key that claims the log's name.
  note::Signer impostor = Gen(log_.name);
  auto forged = OpenCheckpoint(Note({Sig(impostor)}), log_.verifier(), witnesses);
  EXPECT_EQ(forged.status().code(), Code::kPermissionDenied);
  // Signed by someone else entirely.
  EXPECT_EQ(OpenCheckpoint(Note({Sig(stranger_)}), log_.verifier()).status().code(), Code::kPermissionDenied);
}

TEST_F(OpenCheckpointTest, ChecksTheOrigin) {
  std::string msg = Note({Sig(log_)});
  EXPECT_TRUE(OpenCheckpoint(msg, log_.verifier(), {}, "example.com/log").ok());
  auto wrong = OpenCheckpoint(msg, log_.verifier(), {}, "example.com/other-log");
  EXPECT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kPermissionDenied) << wrong.status().ToString();
  EXPECT_FALSE(OpenCheckpoint(msg, log_.verifier(), {}, "example.com/lo").ok());
}

TEST_F(OpenCheckpointTest, ReportsCosignaturesOfTheGivenWitnesses) {
  std::string msg =
      Note({Sig(stranger_), Sig(log_), Cosig(w2_, 2000), Cosig(stranger_witness_, 3000), Cosig(w1_, 1000)});
  std::vector<note::Verifier> both = {w1_.verifier(), w2_.verifier()};
  auto opened = OpenCheckpoint(msg, log_.verifier(), both);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->cosignatures.size(), 2u);
  std::vector<std::pair<std::string, uint64_t>> got;
  for (const auto& c : opened->cosignatures) got.emplace_back(c.name, c.timestamp);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, uint64_t>>{{"witness1.example", 1000},
                                                                {"witness2.example", 2000}}));

  std::vector<note::Verifier> only_w2 = {w2_.verifier()};
  opened = OpenCheckpoint(msg, log_.verifier(), only_w2);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->cosignatures.size(), 1u);
  EXPECT_EQ(opened->cosignatures[0].name, "witness2.example");
  EXPECT_EQ(opened->cosignatures[0].timestamp, 2000u);
}

TEST_F(OpenCheckpointTest, WitnessThatDidNotCosignIsNotReported) {
  std::vector<note::Verifier> both = {w1_.verifier(), w2_.verifier()};
  auto opened = OpenCheckpoint(Note({Sig(log_), Cosig(w1_, 7)}), log_.verifier(), both);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->cosignatures.size(), 1u);
  EXPECT_EQ(opened->cosignatures[0].name, "witness1.example");
  EXPECT_EQ(opened->cosignatures[0].timestamp, 7u);
}

TEST_F(OpenCheckpointTest, BadCosignatureByAKnownWitnessRejects) {
  note::Signature bad = Cosig(w1_, 1000);
  bad.data[3] ^= 1;  // the timestamp
  std::vector<note::Verifier> witnesses = {w1_.verifier()};
  auto opened = OpenCheckpoint(Note({Sig(log_), bad}), log_.verifier(), witnesses);
  EXPECT_EQ(opened.status().code(), Code::kPermissionDenied);
}

TEST_F(OpenCheckpointTest, LogKeyMustBeAnEd25519Key) {
  note::Signature cosig = Cosig(w1_, 1);
  auto opened = OpenCheckpoint(Note({cosig}), w1_.verifier());
  EXPECT_FALSE(opened.ok());
}

TEST_F(OpenCheckpointTest, SignedTextThatIsNotACheckpointFails) {
  for (const std::string& text : {std::string("hello\n"), std::string("o\n01\nAAAA\n")}) {
    auto sig = note::Sign(log_, text);
    ASSERT_TRUE(sig.ok());
    EXPECT_FALSE(OpenCheckpoint(note::FormatNote({text, {*sig}}), log_.verifier()).ok()) << text;
  }
}

TEST_F(OpenCheckpointTest, TamperedCheckpointFails) {
  std::string msg = Note({Sig(log_), Cosig(w1_, 5)});
  msg[msg.find("\n42\n") + 2] = '3';
  std::vector<note::Verifier> witnesses = {w1_.verifier()};
  EXPECT_EQ(OpenCheckpoint(msg, log_.verifier(), witnesses).status().code(), Code::kPermissionDenied);
}

TEST(RealCheckpointTest, OpensWithTheLogKeyAndReportsTheWitness) {
  note::Verifier log = MustVerifier(kArcheVkey);
  std::vector<note::Verifier> witnesses = {MustVerifier(kRemoraVkey)};
  auto opened = OpenCheckpoint(kArcheNote, log, witnesses, "arche2025h1.staging.ct.transparency.dev");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->checkpoint.origin, "arche2025h1.staging.ct.transparency.dev");
  EXPECT_EQ(opened->checkpoint.size, 1432088532u);
  EXPECT_EQ(Hex(opened->checkpoint.root), "53b58cefd8ebcf2846679fc65014e933b373c1dc9f171eb5b77468be0702e11a");
  ASSERT_EQ(opened->cosignatures.size(), 1u);
  EXPECT_EQ(opened->cosignatures[0].name, "remora.n621.de");
  EXPECT_EQ(opened->cosignatures[0].timestamp, 1779573024u);
  EXPECT_EQ(opened->raw, kArcheNote);
}

TEST(RealCheckpointTest, WitnessKeyAloneIsNotTheLog) {
  note::Verifier remora = MustVerifier(kRemoraVkey);
  EXPECT_FALSE(OpenCheckpoint(kArcheNote, remora).ok());
  note::Verifier unrelated =
      MustVerifier("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  EXPECT_EQ(OpenCheckpoint(kArcheNote, unrelated).status().code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace accord::tlog

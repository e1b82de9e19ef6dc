// Signed notes (c2sp.org/signed-note) and cosignatures (c2sp.org/tlog-cosignature), checked
// against published vectors from the specifications, from golang.org/x/mod/sumdb/note (whose key
// encodings accord follows) and a real cosigned checkpoint, and against the spec's rules for
// which signatures to ignore and which to reject.
#include "crypto/note.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/limits.h"
#include "crypto/sha256.h"

namespace accord::note {
namespace {

// --- Vectors -------------------------------------------------------------------------------------

// c2sp.org/signed-note, section "Verifier keys", example (as also used by the test suites of
// florolf/tlog-scales tests/test_signing.py and other implementations). The signature was checked
// independently with pyca/cryptography's Ed25519.
constexpr char kSpecVkey[] = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
constexpr char kSpecPublicKeyHex[] = "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4";
constexpr char kSpecNote[] =
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Y"
    "u72IneyaQM=\n";

// golang.org/x/mod sumdb/note/note_test.go: TestNewVerifier, TestNewSigner, TestSign, TestOpen.
constexpr char kPeterSkey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kPeterVkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kEnochVkey[] = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kPeterSig[] =
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
    "BwJnAM=\n";
constexpr char kEnochSig[] =
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1Rv"
    "Mc+QQ=\n";

// c2sp.org/signed-note, the introductory example (a text containing a blank line).
constexpr char kQuasimodoNote[] =
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMc"
    "Xxj99ihAQwaqP3ZekRwNtIc=\n";

// c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature: the example checkpoint body, the
// cosigned example note and the example of the message a cosignature/v1 signs.
constexpr char kSofaText[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
constexpr char kSofaCosignedNote[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGz"
    "Gku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nP"
    "Zqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
constexpr char kSofaCosignedMessage[] =
    "cosignature/v1\n"
    "time 1679315147\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

// A real checkpoint of the arche2025h1 staging CT log with witness cosignatures, from
// florolf/tlog-scales tests/test_signing.py (TestCheckpointVerification). The log's Ed25519
// (0x01) signature and the remora.n621.de cosignature/v1 (0x04) were checked independently with
// pyca/cryptography. The first line is an RFC 6962 (0x05) signature by the same key name.
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
// Also in transparency-dev/formats note/note_cosigv1_test.go (TestCoSigV1NewVerifier).
constexpr char kRemoraVkey[] = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
constexpr uint64_t kRemoraTimestamp = 1779573024;

// A fixed cosignature/v1 key (seed SHA-256("accord test witness")) and the signature line that
// pyca/cryptography's Ed25519 computes over kSofaCosignedMessage: an independent implementation
// of the c2sp.org/tlog-cosignature message format, byte for byte.
constexpr char kWitnessSkey[] =
    "PRIVATE+KEY+witness.example/accord-test+af8c4022+BB6/7ZLlABmhk8+f2IyAdMyUmGHLHcLt1VSVFYGGpoHx";
constexpr char kWitnessVkey[] =
    "witness.example/accord-test+af8c4022+BJWwuZdvT4TnkNhJUJBxsoIJ0V9Tl4ktBsW79f+KuZ6V";
constexpr char kWitnessSofaLine[] =
    "— witness.example/accord-test r4xAIgAAAABkGFDLajk4TE9P5gE8ORW565P38UARvsIMotGdYs6ED5GDPro6zicDwrAg5U"
    "l7ytW0tOxneSFZGLtK4AG5hgyG2iZCDw==\n";

// --- Helpers -------------------------------------------------------------------------------------

Verifier MustVerifier(std::string_view vkey) {
  auto v = ParseVerifierKey(vkey);
  if (!v.ok()) {
    ADD_FAILURE() << "ParseVerifierKey(" << vkey << "): " << v.status().ToString();
    return Verifier{};
  }
  return *v;
}

Signer MustSigner(std::string_view name, KeyType type = KeyType::kEd25519) {
  auto s = GenerateSigner(name, type);
  if (!s.ok()) {
    ADD_FAILURE() << "GenerateSigner(" << name << "): " << s.status().ToString();
    return Signer{};
  }
  return *s;
}

// The spec's key ID, computed here without the library: SHA-256(name || 0x0A || type || key)[:4].
uint32_t ReferenceKeyId(std::string_view name, uint8_t type, const crypto::Ed25519PublicKey& key) {
  std::string m(name);
  m += '\n';
  m += static_cast<char>(type);
  m.append(reinterpret_cast<const char*>(key.data()), key.size());
  crypto::Hash h = crypto::Sha256(m);
  return uint32_t(h[0]) << 24 | uint32_t(h[1]) << 16 | uint32_t(h[2]) << 8 | h[3];
}

std::string Signed(std::string_view text, const std::vector<Signature>& sigs) {
  return FormatNote(Note{std::string(text), sigs});
}

Signature MustSign(const Signer& s, std::string_view text) {
  auto sig = Sign(s, text);
  if (!sig.ok()) {
    ADD_FAILURE() << sig.status().ToString();
    return Signature{};
  }
  return *sig;
}

// A signature computed directly over arbitrary bytes, bypassing Sign's checks on the text.
Signature RawSignature(const Signer& s, std::string_view text) {
  crypto::Ed25519Signature raw = crypto::Ed25519Sign(s.key, text);
  return Signature{s.name, s.key_id, Bytes(reinterpret_cast<const char*>(raw.data()), raw.size())};
}

std::string PublicKeyHex(const crypto::Ed25519PublicKey& k) {
  return HexEncode(ByteView(reinterpret_cast<const char*>(k.data()), k.size()));
}

// --- Keys ----------------------------------------------------------------------------------------

TEST(VerifierKeyTest, SpecExampleParses) {
  Verifier v = MustVerifier(kSpecVkey);
  EXPECT_EQ(v.name, "example.com/foo");
  EXPECT_EQ(v.type, KeyType::kEd25519);
  EXPECT_EQ(v.key_id, 0x530d903au);
  EXPECT_EQ(PublicKeyHex(v.public_key), kSpecPublicKeyHex);
  EXPECT_EQ(FormatVerifierKey(v), kSpecVkey);
}

TEST(VerifierKeyTest, KeyIdIsRecomputedFromNameTypeAndKey) {
  struct Case {
    const char* vkey;
    uint32_t id;
    uint8_t type;
  };
  for (const Case& c : {Case{kSpecVkey, 0x530d903a, 0x01}, Case{kPeterVkey, 0xc74f20a3, 0x01},
                        Case{kEnochVkey, 0xaf0cfe78, 0x01}, Case{kArcheVkey, 0xba2f06c0, 0x01},
                        Case{kRemoraVkey, 0xda77ade7, 0x04}, Case{kWitnessVkey, 0xaf8c4022, 0x04}}) {
    Verifier v = MustVerifier(c.vkey);
    EXPECT_EQ(v.key_id, c.id) << c.vkey;
    EXPECT_EQ(uint8_t(v.type), c.type) << c.vkey;
    EXPECT_EQ(ReferenceKeyId(v.name, c.type, v.public_key), c.id) << c.vkey;
    EXPECT_EQ(KeyId(v.name, v.type, v.public_key), c.id) << c.vkey;
    EXPECT_EQ(FormatVerifierKey(v), c.vkey);
  }
}

TEST(VerifierKeyTest, SameKeyUnderTheOtherTypeHasAnotherId) {
  Verifier v = MustVerifier(kSpecVkey);
  EXPECT_NE(KeyId(v.name, KeyType::kCosignatureV1, v.public_key), v.key_id);
  EXPECT_EQ(KeyId(v.name, KeyType::kCosignatureV1, v.public_key), ReferenceKeyId(v.name, 0x04, v.public_key));
}

TEST(VerifierKeyTest, Base64WithPlusSignParses) {
  // transparency-dev/formats note/note_cosigv1_test.go: a key whose base64 contains '+'.
  Verifier v = MustVerifier("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
  EXPECT_EQ(v.name, "TEST");
  EXPECT_EQ(v.key_id, 0x7997405cu);
}

TEST(VerifierKeyTest, RejectsEveryManglingOfGosKey) {
  // golang.org/x/mod sumdb/note TestNewVerifier: every proper substring, and every one-byte
  // increment, of a valid key must be refused.
  const std::string key = kPeterVkey;
  ASSERT_TRUE(ParseVerifierKey(key).ok());
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i == 0 && j == key.size()) continue;
      EXPECT_FALSE(ParseVerifierKey(key.substr(i, j - i)).ok()) << key.substr(i, j - i);
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string b = key;
    ++b[i];
    EXPECT_FALSE(ParseVerifierKey(b).ok()) << b;
  }
  // Wrong key length and unknown algorithm, each with a key ID adjusted to match.
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==").ok());
  EXPECT_FALSE(ParseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
}

TEST(VerifierKeyTest, RejectsMalformedKeys) {
  // transparency-dev/formats note/note_cosigv1_test.go TestCoSigV1NewVerifier error cases.
  for (const char* k :
       {"bananas.sigstore.dev+12344556", "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB", "", "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
        "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"})
    EXPECT_FALSE(ParseVerifierKey(k).ok()) << k;
}

TEST(SignerKeyTest, GosSignerKeyParsesAndMatchesItsVerifierKey) {
  auto s = ParseSignerKey(kPeterSkey);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->name, "PeterNeumann");
  EXPECT_EQ(s->type, KeyType::kEd25519);
  EXPECT_EQ(s->key_id, 0xc74f20a3u);
  EXPECT_EQ(FormatVerifierKey(s->verifier()), kPeterVkey);
  EXPECT_EQ(FormatSignerKey(*s), kPeterSkey);
}

TEST(SignerKeyTest, RejectsEveryManglingOfGosKey) {
  // golang.org/x/mod sumdb/note TestNewSigner.
  const std::string key = kPeterSkey;
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i == 0 && j == key.size()) continue;
      EXPECT_FALSE(ParseSignerKey(key.substr(i, j - i)).ok()) << key.substr(i, j - i);
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string b = key;
    ++b[i];
    EXPECT_FALSE(ParseSignerKey(b).ok()) << b;
  }
}

TEST(SignerKeyTest, VerifierKeyIsNotASignerKeyAndViceVersa) {
  EXPECT_FALSE(ParseSignerKey(kPeterVkey).ok());
  EXPECT_FALSE(ParseVerifierKey(kPeterSkey).ok());
}

TEST(SignerKeyTest, GeneratedKeysRoundTrip) {
  for (KeyType type : {KeyType::kEd25519, KeyType::kCosignatureV1}) {
    Signer s = MustSigner("example.com/log42", type);
    EXPECT_EQ(s.key_id, ReferenceKeyId(s.name, uint8_t(type), s.key.public_key));
    auto back = ParseSignerKey(FormatSignerKey(s));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->key_id, s.key_id);
    EXPECT_EQ(back->type, type);
    EXPECT_EQ(back->key.public_key, s.key.public_key);
    auto v = ParseVerifierKey(FormatVerifierKey(s.verifier()));
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->public_key, s.key.public_key);
  }
}

TEST(KeyNameTest, FollowsTheSpecRules) {
  for (const char* ok : {"example.com/foo", "PeterNeumann", "transparency.dev/DEV:witness-little-garden",
                         "oid/1.3.6.1.4.1.44363.47.1", "\xe6\x97\xa5\xe6\x9c\xac"})
    EXPECT_TRUE(IsValidKeyName(ok)) << ok;
  for (const char* bad : {"", "a b", "a+b", "+", "a\tb", "a\nb",
                          "a\xc2\xa0"
                          "b",
                          "a\xe3\x80\x80"
                          "b",
                          "a\xe2\x80\xa8"
                          "b",
                          "\xff", "a\xc0\x80"})
    EXPECT_FALSE(IsValidKeyName(bad)) << Printable(bad);
  EXPECT_FALSE(GenerateSigner("bad name").ok());
  EXPECT_FALSE(GenerateSigner("bad+name").ok());
  EXPECT_FALSE(GenerateSigner("").ok());
}

// --- Signing and opening: published vectors ------------------------------------------------------

TEST(NoteVectorTest, SpecExampleNoteVerifies) {
  Verifier v = MustVerifier(kSpecVkey);
  auto opened = Open(kSpecNote, {&v, 1});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->note.text, "This is an example message.\n");
  ASSERT_EQ(opened->verified.size(), 1u);
  EXPECT_EQ(opened->verified[0].verifier, 0u);
}

TEST(NoteVectorTest, SignReproducesGosSignatureByteForByte) {
  // golang.org/x/mod sumdb/note TestSign: Ed25519 is deterministic, so the whole note must match.
  auto s = ParseSignerKey(kPeterSkey);
  ASSERT_TRUE(s.ok());
  auto sig = Sign(*s, kGoText);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(FormatSignatureLine(*sig), kPeterSig);
  EXPECT_EQ(Signed(kGoText, {*sig}), std::string(kGoText) + "\n" + kPeterSig);
}

TEST(NoteVectorTest, SignReproducesTheSpecExampleSignature) {
  // Checks the other direction too: accord's verification of its own output uses the same key.
  Verifier v = MustVerifier(kSpecVkey);
  auto parsed = ParseNote(kSpecNote);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->signatures.size(), 1u);
  EXPECT_EQ(parsed->signatures[0].key_id, v.key_id);
  EXPECT_EQ(parsed->signatures[0].data.size(), 64u);
  EXPECT_TRUE(crypto::Ed25519Verify(v.public_key, parsed->text, parsed->signatures[0].data));
  EXPECT_EQ(FormatNote(*parsed), kSpecNote);
}

TEST(NoteVectorTest, OpenAcceptsGosNotes) {
  // golang.org/x/mod sumdb/note TestOpen.
  Verifier peter = MustVerifier(kPeterVkey);
  Verifier enoch = MustVerifier(kEnochVkey);
  const std::string both = std::string(kGoText) + "\n" + kPeterSig + kEnochSig;

  // One signature verified, one by an unknown key ignored.
  std::vector<Verifier> only_peter = {peter};
  auto n = Open(both, only_peter);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->note.text, kGoText);
  ASSERT_EQ(n->verified.size(), 1u);
  EXPECT_EQ(n->verified[0].verifier, 0u);
  EXPECT_EQ(n->note.signatures.size(), 2u);

  // Both verified.
  std::vector<Verifier> peter_enoch = {peter, enoch};
  n = Open(both, peter_enoch);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(n->verified.size(), 2u);
  EXPECT_EQ(n->verified[0].verifier, 0u);
  EXPECT_EQ(n->verified[1].verifier, 1u);

  // Neither known.
  n = Open(both, {});
  EXPECT_EQ(n.status().code(), Code::kPermissionDenied);
}

TEST(NoteVectorTest, OpenRejectsGosBadNotes) {
  // golang.org/x/mod sumdb/note TestOpen: too many signatures, an invalid signature, bad syntax.
  Verifier peter = MustVerifier(kPeterVkey);
  std::vector<Verifier> known = {peter};
  const std::string text = kGoText;
  const std::string peter_sig = kPeterSig;
  const std::string enoch_sig = kEnochSig;

  std::string many = text + "\n";
  for (int i = 0; i < 101; ++i) many += peter_sig;
  EXPECT_FALSE(Open(many, known).ok());
  EXPECT_FALSE(Open(many, {}).ok());

  auto bad_sig = Open(text + "\n" + peter_sig.substr(0, 60) + "ABCD" + peter_sig.substr(60), known);
  EXPECT_EQ(bad_sig.status().code(), Code::kPermissionDenied) << bad_sig.status().ToString();

  const std::vector<std::string> bad_msgs = {
      text,
      text + "\n",
      text + "\n" + peter_sig.substr(0, peter_sig.size() - 1),
      "\x01" + text + "\n" + peter_sig,
      "\xff" + text + "\n" + peter_sig,
      text + "\n" +
          "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6R"
          "yyBwJnAM=",
      text + "\n" + peter_sig + "Unexpected line.\n",
  };
  for (const std::string& msg : bad_msgs) EXPECT_FALSE(Open(msg, known).ok()) << Printable(msg, 400);

  // A signature under another name, or with another key ID, is not Peter's: ignored, so the note
  // has no known signature.
  std::string misnamed = peter_sig;
  misnamed.replace(misnamed.find("PeterNeumann"), 12, "CarmenSandiego");
  EXPECT_EQ(Open(text + "\n" + misnamed, known).status().code(), Code::kPermissionDenied);
  std::string wrong_id = peter_sig;
  wrong_id.replace(wrong_id.find("x08g"), 4, "xxxx");
  EXPECT_EQ(Open(text + "\n" + wrong_id, known).status().code(), Code::kPermissionDenied);
}

TEST(NoteVectorTest, DuplicatedSignaturesCountOnce) {
  // golang.org/x/mod sumdb/note TestOpen, "Duplicated verified and unverified signatures".
  Verifier peter = MustVerifier(kPeterVkey);
  std::vector<Verifier> known = {peter};
  const std::string enoch_sig = kEnochSig;
  std::string msg = std::string(kGoText) + "\n" + kPeterSig + kPeterSig + enoch_sig + enoch_sig +
                    enoch_sig.substr(0, 60) + "ABCD" + enoch_sig.substr(60);
  auto n = Open(msg, known);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified.size(), 1u);
}

TEST(NoteVectorTest, QuasimodoExampleParses) {
  auto n = ParseNote(kQuasimodoNote);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  // The text ends at the last blank line, so it keeps its own blank line.
  EXPECT_EQ(
      n->text,
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \xc3\xa8 subito sera.\n");
  ASSERT_EQ(n->signatures.size(), 1u);
  EXPECT_EQ(n->signatures[0].name, "quasimodo.example/salvatore");
  EXPECT_EQ(n->signatures[0].key_id, 0x367ba04bu);
  EXPECT_EQ(n->signatures[0].data.size(), 64u);
  EXPECT_EQ(FormatNote(*n), kQuasimodoNote);
}

TEST(NoteVectorTest, TextWithBlankLinesRoundTrips) {
  Signer s = MustSigner("example.com/poet");
  Verifier v = s.verifier();
  const std::string text = "a\n\nb\n\n\nc\n";
  auto n = Open(Signed(text, {MustSign(s, text)}), {&v, 1});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->note.text, text);
}

// --- Open: the spec's rules ----------------------------------------------------------------------

class OpenRulesTest : public ::testing::Test {
 protected:
  const std::string text_ = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  Signer a_ = MustSigner("example.com/a");
  Signer b_ = MustSigner("example.com/b");
};

TEST_F(OpenRulesTest, UnknownKeysAreIgnored) {
  std::vector<Verifier> known = {a_.verifier()};
  auto n = Open(Signed(text_, {MustSign(b_, text_), MustSign(a_, text_)}), known);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(n->verified.size(), 1u);
  EXPECT_EQ(n->verified[0].verifier, 0u);
}

TEST_F(OpenRulesTest, SameNameWithAnotherKeyIdIsIgnored) {
  Signer impostor = MustSigner(a_.name);  // same name, another key, so another key ID
  ASSERT_NE(impostor.key_id, a_.key_id);
  std::vector<Verifier> known = {a_.verifier()};
  auto n = Open(Signed(text_, {MustSign(impostor, text_), MustSign(a_, text_)}), known);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified.size(), 1u);
  // Even with a signature that could never verify.
  Signature garbage{a_.name, a_.key_id ^ 1, Bytes(64, 'x')};
  EXPECT_TRUE(Open(Signed(text_, {garbage, MustSign(a_, text_)}), known).ok());
  // And alone it leaves the note without a known signature.
  EXPECT_EQ(Open(Signed(text_, {MustSign(impostor, text_)}), known).status().code(), Code::kPermissionDenied);
}

TEST_F(OpenRulesTest, SameKeyIdUnderAnotherNameIsIgnored) {
  std::vector<Verifier> known = {a_.verifier()};
  Signature other_name = MustSign(a_, text_);
  other_name.name = "example.com/not-a";
  EXPECT_EQ(Open(Signed(text_, {other_name}), known).status().code(), Code::kPermissionDenied);
  Signature garbage{"example.com/not-a", a_.key_id, Bytes(64, 'x')};
  EXPECT_TRUE(Open(Signed(text_, {garbage, MustSign(a_, text_)}), known).ok());
}

TEST_F(OpenRulesTest, KnownKeyWithBadSignatureRejectsTheNote) {
  std::vector<Verifier> known = {a_.verifier(), b_.verifier()};
  Signature bad = MustSign(b_, text_);
  bad.data[10] ^= 1;
  auto n = Open(Signed(text_, {MustSign(a_, text_), bad}), known);
  EXPECT_EQ(n.status().code(), Code::kPermissionDenied) << n.status().ToString();
  // A signature of the wrong length by a known key, too.
  Signature short_sig{b_.name, b_.key_id, Bytes(63, 'x')};
  EXPECT_EQ(Open(Signed(text_, {MustSign(a_, text_), short_sig}), known).status().code(),
            Code::kPermissionDenied);
  // And a valid signature over another text.
  Signature other_text = MustSign(b_, "another text\n");
  EXPECT_EQ(Open(Signed(text_, {MustSign(a_, text_), other_text}), known).status().code(),
            Code::kPermissionDenied);
}

TEST_F(OpenRulesTest, NoKnownSignatureRejects) {
  std::vector<Verifier> known = {a_.verifier()};
  EXPECT_EQ(Open(Signed(text_, {MustSign(b_, text_)}), known).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(Open(Signed(text_, {MustSign(a_, text_)}), {}).status().code(), Code::kPermissionDenied);
}

TEST_F(OpenRulesTest, ChangedTextFailsVerification) {
  std::vector<Verifier> known = {a_.verifier()};
  std::string msg = Signed(text_, {MustSign(a_, text_)});
  msg[msg.find('5')] = '6';
  EXPECT_EQ(Open(msg, known).status().code(), Code::kPermissionDenied);
}

TEST_F(OpenRulesTest, AcceptsSixteenSignaturesByKnownKeys) {
  std::vector<Signer> signers;
  std::vector<Verifier> known;
  std::vector<Signature> sigs;
  for (int i = 0; i < 16; ++i) {
    signers.push_back(MustSigner("witness" + std::to_string(i) + ".example"));
    known.push_back(signers.back().verifier());
    sigs.push_back(MustSign(signers.back(), text_));
  }
  auto n = Open(Signed(text_, sigs), known);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified.size(), 16u);
}

TEST_F(OpenRulesTest, SignatureCountLimit) {
  std::vector<Verifier> known = {a_.verifier()};
  std::vector<Signature> sigs = {MustSign(a_, text_)};
  Signature unknown = MustSign(b_, text_);
  while (sigs.size() < limits::kMaxNoteSignatures) sigs.push_back(unknown);
  auto at_limit = Open(Signed(text_, sigs), known);
  EXPECT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  sigs.push_back(unknown);
  auto over = Open(Signed(text_, sigs), known);
  EXPECT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), Code::kResourceExhausted) << over.status().ToString();
}

TEST_F(OpenRulesTest, RejectsControlCharactersEvenWhenSigned) {
  std::vector<Verifier> known = {a_.verifier()};
  for (const char* t : {"tab\there\n", "cr\r\n", "nul\0x\n", "esc\x1b[0m\n", "bell\x07\n"}) {
    std::string text = t;
    if (text.rfind("nul", 0) == 0) text = std::string("nul\0x\n", 6);
    auto n = Open(Signed(text, {RawSignature(a_, text)}), known);
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << Printable(text);
    EXPECT_FALSE(Sign(a_, text).ok()) << Printable(text);
  }
  // CRLF line endings in the signature block.
  std::string crlf = text_ + "\n" + FormatSignatureLine(MustSign(a_, text_));
  crlf.insert(crlf.size() - 1, "\r");
  EXPECT_FALSE(Open(crlf, known).ok());
}

TEST_F(OpenRulesTest, RejectsInvalidUtf8EvenWhenSigned) {
  std::vector<Verifier> known = {a_.verifier()};
  for (const char* t : {"\xff\n", "overlong \xc0\xaf\n", "surrogate \xed\xa0\x80\n", "cut \xe2\x82\n"}) {
    std::string text = t;
    EXPECT_EQ(Open(Signed(text, {RawSignature(a_, text)}), known).status().code(), Code::kInvalidArgument)
        << Printable(text);
    EXPECT_FALSE(Sign(a_, text).ok()) << Printable(text);
  }
  // Invalid UTF-8 in a signature line's key name.
  std::string msg = Signed(text_, {MustSign(a_, text_)}) + "\xe2\x80\x94 bad\xff AAAAAAAA\n";
  EXPECT_FALSE(Open(msg, known).ok());
}

TEST_F(OpenRulesTest, RejectsANoteWithoutTheBlankLine) {
  std::vector<Verifier> known = {a_.verifier()};
  std::string line = FormatSignatureLine(MustSign(a_, text_));
  EXPECT_FALSE(Open(text_ + line, known).ok());
  EXPECT_FALSE(Open(line, known).ok());
  EXPECT_TRUE(Open(text_ + "\n" + line, known).ok());
}

TEST_F(OpenRulesTest, RejectsMalformedSignatureLines) {
  std::vector<Verifier> known = {a_.verifier()};
  std::string good = Signed(text_, {MustSign(a_, text_)});
  for (const char* extra : {"- example.com/a AAAAAAAA\n",  // hyphen, not em dash
                            "\xe2\x80\x94"
                            "example.com/a AAAAAAAA\n",           // no space after the dash
                            "\xe2\x80\x94  AAAAAAAA\n",           // empty key name
                            "\xe2\x80\x94 example.com/a\n",       // no signature
                            "\xe2\x80\x94 example.com/a AAAA\n",  // 3 bytes: shorter than a key ID
                            "\xe2\x80\x94 example.com/a AAAAAAAA \n",
                            "\xe2\x80\x94 example.com/a AAAAAAA\n",  // bad base64
                            "\xe2\x80\x94 a+b AAAAAAAA\n",           // '+' in the name
                            "\n",                                    // a second blank line
                            "\xe2\x80\x94 example.com/a AAAAAAAA"})  // no final newline
    EXPECT_FALSE(Open(good + extra, known).ok()) << Printable(extra);
}

TEST_F(OpenRulesTest, RejectsOversizedNotes) {
  std::vector<Verifier> known = {a_.verifier()};
  std::string text = std::string(limits::kMaxNoteSize, 'a') + "\n";
  auto n = Open(Signed(text, {RawSignature(a_, text)}), known);
  EXPECT_EQ(n.status().code(), Code::kResourceExhausted);
}

TEST_F(OpenRulesTest, SignRequiresValidText) {
  EXPECT_FALSE(Sign(a_, "no final newline").ok());
  EXPECT_FALSE(Sign(a_, "").ok());
  Signer w = MustSigner("witness.example", KeyType::kCosignatureV1);
  EXPECT_FALSE(Sign(w, text_).ok());  // a cosignature key signs only with Cosign
  EXPECT_FALSE(Cosign(a_, text_, 1).ok());
}

// --- Cosignatures --------------------------------------------------------------------------------

TEST(CosignatureTest, MessageIsExactlyTheSpecFormat) {
  EXPECT_EQ(CosignedMessage(kSofaText, 1679315147), kSofaCosignedMessage);
  EXPECT_EQ(CosignedMessage("o\n1\nr\n", 0), "cosignature/v1\ntime 0\no\n1\nr\n");
  EXPECT_EQ(CosignedMessage("o\n", 9223372036854775807u), "cosignature/v1\ntime 9223372036854775807\no\n");
}

TEST(CosignatureTest, CosignReproducesAnIndependentImplementation) {
  auto w = ParseSignerKey(kWitnessSkey);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->type, KeyType::kCosignatureV1);
  EXPECT_EQ(FormatVerifierKey(w->verifier()), kWitnessVkey);
  auto sig = Cosign(*w, kSofaText, 1679315147);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(FormatSignatureLine(*sig), kWitnessSofaLine);
  // The timestamp travels big-endian before the signature.
  EXPECT_EQ(HexEncode(sig->data.substr(0, 8)), "00000000641850cb");
}

TEST(CosignatureTest, SpecExampleCarriesTheExampleTimestamp) {
  auto n = ParseNote(kSofaCosignedNote);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->text, kSofaText);
  ASSERT_EQ(n->signatures.size(), 2u);
  const Signature& w = n->signatures[1];
  EXPECT_EQ(w.name, "witness.example.com/w1");
  EXPECT_EQ(w.key_id, 0x8d66cf3fu);
  ASSERT_EQ(w.data.size(), 72u);
  EXPECT_EQ(GetU64(w.data), 1679315147u);  // the time in the spec's example message
}

TEST(CosignatureTest, RealWitnessCosignatureVerifies) {
  std::vector<Verifier> known = {MustVerifier(kArcheVkey), MustVerifier(kRemoraVkey)};
  auto n = Open(kArcheNote, known);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(n->verified.size(), 2u);
  EXPECT_EQ(n->verified[0].verifier, 0u);
  EXPECT_EQ(n->verified[0].timestamp, 0u);
  EXPECT_EQ(n->verified[1].verifier, 1u);
  EXPECT_EQ(n->verified[1].timestamp, kRemoraTimestamp);
  EXPECT_EQ(n->note.signatures.size(), 6u);

  std::vector<Verifier> only_witness = {MustVerifier(kRemoraVkey)};
  n = Open(kArcheNote, only_witness);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(n->verified.size(), 1u);
  EXPECT_EQ(n->verified[0].timestamp, kRemoraTimestamp);
}

TEST(CosignatureTest, RealCheckpointWithChangedSizeFails) {
  std::string msg = kArcheNote;
  msg.replace(msg.find("1432088532"), 10, "42");
  for (const char* vkey : {kArcheVkey, kRemoraVkey}) {
    Verifier v = MustVerifier(vkey);
    EXPECT_EQ(Open(msg, {&v, 1}).status().code(), Code::kPermissionDenied) << vkey;
  }
}

TEST(CosignatureTest, CosignThenOpenYieldsTheTimestamp) {
  Signer w = MustSigner("witness.example/w1", KeyType::kCosignatureV1);
  Verifier v = w.verifier();
  for (uint64_t t : {uint64_t(0), uint64_t(1679315147), uint64_t(INT64_MAX)}) {
    auto sig = Cosign(w, kSofaText, t);
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    EXPECT_EQ(sig->data.size(), 72u);
    // The signature is Ed25519 over exactly the spec's message.
    EXPECT_TRUE(crypto::Ed25519Verify(w.key.public_key,
                                      "cosignature/v1\ntime " + std::to_string(t) + "\n" + kSofaText,
                                      ByteView(sig->data).substr(8)));
    auto n = Open(Signed(kSofaText, {*sig}), {&v, 1});
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_EQ(n->verified.size(), 1u);
    EXPECT_EQ(n->verified[0].timestamp, t);
  }
}

TEST(CosignatureTest, TamperedTimestampFails) {
  Signer w = MustSigner("witness.example/w1", KeyType::kCosignatureV1);
  Verifier v = w.verifier();
  auto sig = Cosign(w, kSofaText, 1679315147);
  ASSERT_TRUE(sig.ok());
  for (size_t i = 0; i < 8; ++i) {
    Signature bad = *sig;
    bad.data[i] ^= 1;
    EXPECT_EQ(Open(Signed(kSofaText, {bad}), {&v, 1}).status().code(), Code::kPermissionDenied) << i;
  }
  Signature truncated = *sig;
  truncated.data.resize(64);  // a plain Ed25519 signature under a cosignature key
  EXPECT_EQ(Open(Signed(kSofaText, {truncated}), {&v, 1}).status().code(), Code::kPermissionDenied);
}

TEST(CosignatureTest, TimestampOver2To63IsRefused) {
  Signer w = MustSigner("witness.example/w1", KeyType::kCosignatureV1);
  EXPECT_FALSE(Cosign(w, kSofaText, uint64_t(INT64_MAX) + 1).ok());
  EXPECT_FALSE(Cosign(w, kSofaText, UINT64_MAX).ok());
  // A correctly signed message with such a timestamp is rejected too.
  uint64_t t = uint64_t(INT64_MAX) + 1;
  crypto::Ed25519Signature raw = crypto::Ed25519Sign(w.key, CosignedMessage(kSofaText, t));
  Signature sig{w.name, w.key_id, ""};
  PutU64(sig.data, t);
  sig.data.append(reinterpret_cast<const char*>(raw.data()), raw.size());
  Verifier v = w.verifier();
  EXPECT_FALSE(Open(Signed(kSofaText, {sig}), {&v, 1}).ok());
}

TEST(CosignatureTest, CosignatureKeyIsNotAPlainSignatureKey) {
  // The same Ed25519 key as a 0x01 verifier has another key ID, so a cosignature is not its.
  Signer w = MustSigner("witness.example/w1", KeyType::kCosignatureV1);
  Verifier plain{w.name, KeyType::kEd25519, KeyId(w.name, KeyType::kEd25519, w.key.public_key),
                 w.key.public_key};
  auto sig = Cosign(w, kSofaText, 5);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Open(Signed(kSofaText, {*sig}), {&plain, 1}).status().code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace accord::note

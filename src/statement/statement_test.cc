#include "statement/statement.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/limits.h"

namespace accord::statement {
namespace {

using json::Json;

crypto::Ed25519KeyPair Key(uint8_t b) {
  crypto::Ed25519Seed seed;
  seed.fill(b);
  return crypto::Ed25519FromSeed(seed);
}

std::string KeyB64(const crypto::Ed25519KeyPair& k) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(k.public_key.data()), 32));
}

Json ExampleBody(Kind kind, const crypto::Ed25519KeyPair& key) {
  switch (kind) {
    case Kind::kRegistration:
      return {
          {"name", "Example CERT"}, {"country", "DE"}, {"contact", "cert@example.org"}, {"key", KeyB64(key)}};
    case Kind::kYaraRule:
      return {{"source", "rule Example_Dropper { strings: $a = \"evil\" condition: $a }\n"},
              {"rules", {"Example_Dropper"}},
              {"meta", {{"description", "an example"}}}};
    case Kind::kHashSet:
      return {{"entries",
               {{{"hash", "sha256"},
                 {"digest", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
                 {"size", 68},
                 {"name", "Eicar-Test-Signature"}},
                {{"hash", "md5"},
                 {"digest", "44d88612fea8a8f36de82e1278abb02f"},
                 {"size", nullptr},
                 {"name", "Eicar.Md5"}}}}};
    case Kind::kTlshSet:
      return {
          {"entries",
           {{{"tlsh",
              "T1" + std::string("A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3")},
             {"threshold", 40},
             {"name", "Example.Tlsh"}}}}};
    case Kind::kIndicator:
      return {{"pattern", "[file:hashes.'SHA-256' = 'aaaa']"}, {"description", "example"}};
    case Kind::kRetraction:
      return {{"index", 1}, {"reason", "false positive"}};
    case Kind::kAuditFinding:
      return {{"about", 1}, {"verdict", "confirmed"}, {"text", "reproduced on a sample"}};
    case Kind::kRelease:
      return {{"name", "accord"},
              {"version", "0.1.0"},
              {"files", {{{"path", "accord"}, {"sha256", std::string(64, 'a')}}}}};
  }
  return Json::object();
}

Statement Make(Kind kind, const crypto::Ed25519KeyPair& key) {
  Statement s;
  s.kind = kind;
  s.author = key.public_key;
  s.created = "2026-11-28T10:00:00Z";
  s.body = ExampleBody(kind, key);
  return s;
}

TEST(Statement, EveryKindSignsParsesAndRoundTrips) {
  auto key = Key(1);
  for (Kind kind : kAllKinds) {
    Result<Bytes> signed_bytes = Sign(Make(kind, key), key);
    ASSERT_TRUE(signed_bytes.ok()) << KindName(kind) << ": " << signed_bytes.status().ToString();
    Result<SignedStatement> p = Parse(*signed_bytes);
    ASSERT_TRUE(p.ok()) << KindName(kind) << ": " << p.status().ToString();
    EXPECT_EQ(p->statement.kind, kind);
    EXPECT_EQ(p->statement.author, key.public_key);
    EXPECT_EQ(p->canonical, *signed_bytes);
    EXPECT_EQ(KindFromName(KindName(kind)), kind);
  }
}

TEST(Statement, TamperedNonCanonicalOversizedRefused) {
  auto key = Key(1);
  Bytes b = *Sign(Make(Kind::kIndicator, key), key);
  Bytes tampered = b;
  tampered.replace(tampered.find("example"), 7, "exbmple");
  Result<SignedStatement> r = Parse(tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);

  Json j = Json::parse(b);
  r = Parse(j.dump(2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("canonical"), std::string::npos) << r.status().ToString();

  r = Parse(std::string(::accord::limits::kMaxEntrySize + 1, ' '));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);

  // A source under the entry limit whose signed statement is over it: refused at signing, with
  // the way out named.
  Statement huge = Make(Kind::kYaraRule, key);
  huge.body["source"] = "// " + std::string(65300, 'x') + "\nrule Example_Dropper { condition: true }\n";
  Result<Bytes> s = Sign(huge, key);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kResourceExhausted);
  EXPECT_NE(s.status().message().find("store large content beside the log"), std::string::npos);
  huge.body["source"] = std::string(::accord::limits::kMaxEntrySize + 1, ' ');
  s = Sign(huge, key);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kResourceExhausted);
}

TEST(Statement, RefusesOtherTlpAndUnknownKind) {
  auto key = Key(1);
  Json j = Json::parse(*Sign(Make(Kind::kIndicator, key), key));
  j["statement"]["tlp"] = "amber";
  Result<SignedStatement> r = Parse(*json::Serialize(j));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("TLP:CLEAR only"), std::string::npos);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << "well-formed, refused: 422";
  j["statement"]["tlp"] = "clear";
  j["statement"]["kind"] = "poem";
  r = Parse(*json::Serialize(j));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown kind"), std::string::npos);
}

TEST(Statement, BodyChecks) {
  auto key = Key(1), other = Key(2);
  auto bad = [&](Kind kind, Json body, std::string_view want) {
    Status s = ValidateBody(kind, body, key.public_key);
    EXPECT_FALSE(s.ok()) << body.dump();
    EXPECT_NE(s.message().find(want), std::string::npos) << s.ToString();
  };
  Json reg = ExampleBody(Kind::kRegistration, key);
  reg["key"] = KeyB64(other);
  bad(Kind::kRegistration, reg, "signed by the key it registers");
  reg = ExampleBody(Kind::kRegistration, key);
  reg["country"] = "de";
  bad(Kind::kRegistration, reg, "ISO 3166-1");
  Json y = ExampleBody(Kind::kYaraRule, key);
  y["rules"] = {"Other"};
  bad(Kind::kYaraRule, y, "exactly the rules");
  y["source"] = "rule { broken";
  bad(Kind::kYaraRule, y, "does not compile");
  y["source"] = "include \"/etc/passwd\"\n";
  bad(Kind::kYaraRule, y, "include");
  // libyara reads a source up to its first NUL; what follows would be logged unread, and refused
  // by every scanner that compiles the log's rules.
  y = ExampleBody(Kind::kYaraRule, key);
  y["source"] = y["source"].get<std::string>() + std::string(1, '\0') + "rule Hidden { condition: true }\n";
  bad(Kind::kYaraRule, y, "NUL byte");
  Json ref = {{"source_ref", {{"sha256", std::string(64, 'b')}, {"size", 100000}}}, {"rules", {"A", "B"}}};
  EXPECT_TRUE(ValidateBody(Kind::kYaraRule, ref, key.public_key).ok());
  Json h = ExampleBody(Kind::kHashSet, key);
  h["entries"][0]["digest"] = std::string(63, 'a');
  bad(Kind::kHashSet, h, "64 lower-case hex");
  h = ExampleBody(Kind::kHashSet, key);
  h["entries"][0]["hash"] = "sha512";
  bad(Kind::kHashSet, h, "\"md5\"");
  h = ExampleBody(Kind::kHashSet, key);
  h["entries"][0]["extra"] = 1;
  bad(Kind::kHashSet, h, "unknown member");
  Json t = ExampleBody(Kind::kTlshSet, key);
  t["entries"][0]["tlsh"] = "T1ABC";
  bad(Kind::kTlshSet, t, "TLSH");
  bad(Kind::kIndicator, Json{{"pattern", ""}}, "empty");
  bad(Kind::kAuditFinding, Json{{"about", 1}, {"verdict", "meh"}, {"text", "x"}}, "verdict");
  bad(Kind::kRetraction, Json{{"index", -1}}, "non-negative");
  bad(Kind::kRetraction, Json{{"index", 1}, {"log", ""}}, "empty");
  bad(Kind::kRetraction, Json{{"index", 1}, {"log", "example.org/log\nforged"}}, "origin line");
  bad(Kind::kAuditFinding, Json{{"about", 1}, {"verdict", "confirmed"}, {"text", "x"}, {"log", 7}}, "string");
}

// A retraction or audit finding names an index, which means a statement in one log only: one
// that names its log is refused by a registry of another (a copy submitted elsewhere, where the
// index is another statement of the same author, would retract that one). One that names no log
// is checked as before (statements logged before "log" existed have none).
TEST(Statement, StatementsThatNameAnIndexHoldInTheLogTheyName) {
  auto alice = Key(1);
  MemoryRegistry here, there, unnamed;
  here.SetLogOrigin("here.example/log");
  there.SetLogOrigin("there.example/log");
  for (MemoryRegistry* reg : {&here, &there, &unnamed}) {
    for (uint64_t i = 0; i < 2; ++i) {
      Result<SignedStatement> p =
          Parse(*Sign(Make(i == 0 ? Kind::kRegistration : Kind::kYaraRule, alice), alice));
      ASSERT_TRUE(p.ok() && Validate(*p, *reg).ok());
      reg->Apply(i, *p);
    }
  }
  auto parsed = [&](Kind kind, Json body) {
    Statement st = Make(kind, alice);
    if (!body.is_null()) st.body = std::move(body);
    Result<Bytes> b = Sign(st, alice);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    Result<SignedStatement> p = b.ok() ? Parse(*b) : Result<SignedStatement>(b.status());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : SignedStatement{};
  };
  const SignedStatement retraction = parsed(Kind::kRetraction, {{"index", 1}, {"log", "here.example/log"}});
  EXPECT_TRUE(Validate(retraction, here).ok());
  Status elsewhere = Validate(retraction, there);
  EXPECT_EQ(elsewhere.code(), Code::kFailedPrecondition) << elsewhere.ToString();
  EXPECT_NE(elsewhere.message().find("names the log \"here.example/log\"; this is \"there.example/log\""),
            std::string::npos)
      << elsewhere.ToString();
  EXPECT_TRUE(Validate(retraction, unnamed).ok()) << "a registry that knows no origin does not check it";
  const SignedStatement finding =
      parsed(Kind::kAuditFinding,
             {{"about", 1}, {"verdict", "harmful"}, {"text", "x"}, {"log", "here.example/log"}});
  EXPECT_TRUE(Validate(finding, here).ok());
  EXPECT_EQ(Validate(finding, there).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Validate(parsed(Kind::kRetraction, {{"index", 1}}), there).ok()) << "no log named: as before";
  // Origins are UTF-8 lines, as logs take them.
  MemoryRegistry utf8;
  utf8.SetLogOrigin("journal.example/\u00e9t\u00e9");
  for (uint64_t i = 0; i < 2; ++i)
    utf8.Apply(i, parsed(i == 0 ? Kind::kRegistration : Kind::kYaraRule, nullptr));
  EXPECT_TRUE(
      Validate(parsed(Kind::kRetraction, {{"index", 1}, {"log", "journal.example/\u00e9t\u00e9"}}), utf8)
          .ok());
}

TEST(Statement, RegistryChecks) {
  auto alice = Key(1), bob = Key(2);
  MemoryRegistry reg;
  uint64_t next = 0;
  auto submit = [&](Kind kind, const crypto::Ed25519KeyPair& k, Json body) -> Status {
    Statement s = Make(kind, k);
    if (!body.is_null()) s.body = body;
    Result<Bytes> b = Sign(s, k);
    if (!b.ok()) return b.status();
    Result<SignedStatement> p = Parse(*b);
    if (!p.ok()) return p.status();
    RETURN_IF_ERROR(Validate(*p, reg));
    reg.Apply(next++, *p);
    return Status::Ok();
  };
  EXPECT_EQ(submit(Kind::kHashSet, alice, nullptr).code(), Code::kPermissionDenied);  // not registered
  ASSERT_TRUE(submit(Kind::kRegistration, alice, nullptr).ok());                      // index 0
  EXPECT_EQ(submit(Kind::kRegistration, alice, nullptr).code(), Code::kAlreadyExists);
  ASSERT_TRUE(submit(Kind::kYaraRule, alice, nullptr).ok());                        // index 1
  EXPECT_EQ(submit(Kind::kYaraRule, alice, nullptr).code(), Code::kAlreadyExists);  // rule name reused
  ASSERT_TRUE(submit(Kind::kRegistration, bob, nullptr).ok());                      // index 2
  EXPECT_TRUE(submit(Kind::kYaraRule, bob, nullptr).ok());  // index 3: names are per author
  EXPECT_EQ(submit(Kind::kRetraction, bob, Json{{"index", 1}}).code(),
            Code::kFailedPrecondition);  // not bob's
  EXPECT_EQ(submit(Kind::kRetraction, bob, Json{{"index", 99}}).code(), Code::kNotFound);
  EXPECT_TRUE(submit(Kind::kAuditFinding, bob, nullptr).ok());  // about 1: anyone may audit
  EXPECT_TRUE(submit(Kind::kRetraction, alice, Json{{"index", 1}}).ok());
  // Once: a second retraction of 1 (other bytes) would revoke the same objects again.
  Status twice = submit(Kind::kRetraction, alice, Json{{"index", 1}, {"reason", "again"}});
  EXPECT_EQ(twice.code(), Code::kAlreadyExists) << twice.ToString();
  EXPECT_NE(twice.message().find("statement 1 is already retracted"), std::string::npos) << twice.ToString();
  EXPECT_TRUE(submit(Kind::kYaraRule, alice, nullptr).ok());  // the retracted rule's name is free again
  EXPECT_TRUE(submit(Kind::kRetraction, alice, Json{{"index", 0}}).ok());  // retracts alice's key
  EXPECT_EQ(submit(Kind::kIndicator, alice, nullptr).code(), Code::kPermissionDenied);
}

// Node-attested statements (TAXII POST): signed by the node on an author's behalf, plainly
// marked, accepted only by a registry that names the node's key.
TEST(Statement, NodeAttested) {
  auto author = Key(1), node = Key(7), other_node = Key(8);
  Statement st = Make(Kind::kYaraRule, author);
  Result<Bytes> b = Attest(st, node);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->rfind(R"({"attestation":{"alg":"ed25519","key":")", 0), 0u) << *b;
  Result<SignedStatement> p = Parse(*b);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->attested_by.has_value());
  EXPECT_EQ(*p->attested_by, node.public_key);
  EXPECT_EQ(p->statement.author, author.public_key);
  Result<SignedStatement> own = Parse(*Sign(st, author));
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(own->attested_by.has_value());

  // The attestation covers the statement, under its own context: altered bytes, a signature
  // moved from "signature" to "attestation" (or back), another key named: refused.
  Bytes tampered = *b;
  tampered.replace(tampered.find("Example_Dropper"), 7, "Exbmple");
  EXPECT_EQ(Parse(tampered).status().code(), Code::kPermissionDenied);
  Json j = Json::parse(*Sign(st, author));
  Json moved = {
      {"statement", j["statement"]},
      {"attestation", {{"alg", "ed25519"}, {"key", KeyB64(author)}, {"sig", j["signature"]["sig"]}}}};
  EXPECT_EQ(Parse(*json::Serialize(moved)).status().code(), Code::kPermissionDenied);
  Json a = Json::parse(*b);
  Json back = {{"statement", a["statement"]},
               {"signature", {{"alg", "ed25519"}, {"sig", a["attestation"]["sig"]}}}};
  EXPECT_EQ(Parse(*json::Serialize(back)).status().code(), Code::kPermissionDenied);
  a["attestation"]["key"] = KeyB64(other_node);
  EXPECT_EQ(Parse(*json::Serialize(a)).status().code(), Code::kPermissionDenied);
  Json both = Json::parse(*b);
  both["signature"] = j["signature"];
  Result<SignedStatement> r = Parse(*json::Serialize(both));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown member \"signature\""), std::string::npos)
      << r.status().ToString();

  // Registrations, retractions, findings and releases are the author's alone.
  for (Kind k : {Kind::kRegistration, Kind::kRetraction, Kind::kAuditFinding, Kind::kRelease}) {
    Result<Bytes> no = Attest(Make(k, author), node);
    ASSERT_FALSE(no.ok()) << KindName(k);
    EXPECT_NE(no.status().message().find("must be signed by its author"), std::string::npos);
    // Nor does Parse take one made by hand.
    Json forged = Json::parse(*Sign(Make(k, author), author));
    std::string canonical = *json::Serialize(forged["statement"]);
    auto sig = crypto::Ed25519Sign(node, std::string(kAttestationContext) + canonical);
    Json f = {{"statement", forged["statement"]},
              {"attestation",
               {{"alg", "ed25519"},
                {"key", KeyB64(node)},
                {"sig", Base64Encode(ByteView(reinterpret_cast<const char*>(sig.data()), sig.size()))}}}};
    Result<SignedStatement> fp = Parse(*json::Serialize(f));
    ASSERT_FALSE(fp.ok()) << KindName(k);
    EXPECT_NE(fp.status().message().find("must be signed by its author"), std::string::npos);
  }

  // Validate: only the registry's attester counts; the author must still be registered.
  MemoryRegistry reg;
  reg.Apply(0, *Parse(*Sign(Make(Kind::kRegistration, author), author)));
  Status v = Validate(*p, reg);
  EXPECT_EQ(v.code(), Code::kPermissionDenied);
  EXPECT_NE(v.message().find("not this log's node key"), std::string::npos) << v.ToString();
  reg.SetAttester(other_node.public_key);
  EXPECT_EQ(Validate(*p, reg).code(), Code::kPermissionDenied);
  reg.SetAttester(node.public_key);
  EXPECT_TRUE(Validate(*p, reg).ok());
  reg.Apply(1, *p);  // its rule names are the author's now
  EXPECT_EQ(Validate(*own, reg).code(), Code::kAlreadyExists);
  Statement unregistered = Make(Kind::kIndicator, Key(3));
  EXPECT_EQ(Validate(*Parse(*Attest(unregistered, node)), reg).code(), Code::kPermissionDenied);
}

// docs/statement-format.md: every example there verifies, and there is one of each kind.
TEST(Statement, DocsExamplesVerify) {
  std::ifstream in(std::string(ACCORD_SOURCE_DIR) + "/docs/statement-format.md");
  ASSERT_TRUE(in.good());
  std::string line;
  std::set<Kind> seen;
  while (std::getline(in, line)) {
    if (line.rfind("{\"signature\":", 0) != 0) continue;
    Result<SignedStatement> p = Parse(line);
    ASSERT_TRUE(p.ok()) << p.status().ToString() << "\n" << line;
    seen.insert(p->statement.kind);
  }
  EXPECT_EQ(seen.size(), std::size(kAllKinds));
}

}  // namespace
}  // namespace accord::statement

#include "node/stix.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "core/bytes.h"
#include "crypto/sha256.h"
#include "node/node.h"
#include "node/test_util.h"

namespace accord::node::stix {
namespace {

using json::Json;
using statement::Kind;

using testing::Key;
using testing::KeyB64;

const char kSha256[] = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const char kMd5[] = "44d88612fea8a8f36de82e1278abb02f";
const char kSha1[] = "3395856ce81f2b7382dee72602f798b642f14140";
const char kTlsh[] = "T1A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3";

// A log in memory: statements signed for real, indexed as the node indexes them.
struct Log {
  std::vector<Record> records;

  const Record& Add(Kind kind, const crypto::Ed25519KeyPair& key, Json body,
                    std::string created = "2026-11-28T10:00:00Z") {
    std::string leaf = testing::Signed(kind, key, body, created);
    EXPECT_TRUE(!leaf.empty());
    Result<Record> rec = RecordFromLeaf(records.size(), leaf, 1795000000000 + int64_t(records.size()) * 1000);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    Record r = std::move(rec).value();
    if (kind == Kind::kRetraction) records[body["index"].get<uint64_t>()].retracted = true;
    records.push_back(r);
    return records.back();
  }
  RecordLookup Lookup() const {
    return [this](uint64_t i) -> Result<std::optional<Record>> {
      if (i < records.size()) return std::optional<Record>(records[i]);
      return std::optional<Record>();
    };
  }
  std::vector<Json> Objects(uint64_t i, const Context& ctx = {}) const {
    Result<std::vector<Json>> r = StixObjects(records[i], Lookup(), ctx);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<Json>{};
  }
};

Json Registration(const crypto::Ed25519KeyPair& k) {
  return {{"name", "Example CERT"},
          {"country", "DE"},
          {"contact", "cert@example.org"},
          {"key", KeyB64(k.public_key)}};
}

// One statement of every kind, by alice (key 1); the indices the tests below use.
enum : uint64_t {
  kReg,
  kYara,
  kHashes,
  kTlshs,
  kIndicator,
  kRelease,
  kAudit,
  kYaraRef,
  kRetract,
  kRetractRetract
};

Log ExampleLog() {
  Log log;
  auto alice = Key(1);
  log.Add(Kind::kRegistration, alice, Registration(alice));
  log.Add(Kind::kYaraRule, alice,
          {{"source", "rule Example_Dropper { strings: $a = \"evil\" condition: $a }\n"},
           {"rules", {"Example_Dropper"}},
           {"meta", {{"description", "drops evil"}}}});
  log.Add(Kind::kHashSet, alice,
          {{"entries",
            {{{"hash", "sha256"}, {"digest", kSha256}, {"size", 68}, {"name", "Eicar-Test-Signature"}},
             {{"hash", "md5"}, {"digest", kMd5}, {"size", nullptr}, {"name", "Eicar.Md5"}},
             {{"hash", "sha1"}, {"digest", kSha1}, {"size", 68}, {"name", "Eicar.Sha1"}}}}});
  log.Add(Kind::kTlshSet, alice,
          {{"entries", {{{"tlsh", kTlsh}, {"threshold", 40}, {"name", "Example.Tlsh"}}}}});
  log.Add(Kind::kIndicator, alice,
          {{"pattern", std::string("[file:hashes.'SHA-256' = '") + kSha256 + "']"},
           {"description", "the EICAR file"}});
  log.Add(Kind::kRelease, alice,
          {{"name", "accord"},
           {"version", "0.1.0"},
           {"files", {{{"path", "accord-0.1.0-linux-amd64"}, {"sha256", std::string(64, 'a')}}}}});
  log.Add(Kind::kAuditFinding, alice,
          {{"about", kYara}, {"verdict", "false-positive"}, {"text", "matches notepad"}});
  log.Add(
      Kind::kYaraRule, alice,
      {{"source_ref", {{"sha256", std::string(64, 'b')}, {"size", 100000}}}, {"rules", {"Big_A", "Big_B"}}});
  log.Add(Kind::kRetraction, alice, {{"index", kHashes}, {"reason", "superseded"}}, "2026-11-28T11:00:00Z");
  log.Add(Kind::kRetraction, alice, {{"index", kRetract}}, "2026-11-28T12:00:00Z");
  return log;
}

TEST(Stix, Uuid5MatchesRfc9562AndTheFixedIds) {
  // RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
  EXPECT_EQ(Uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  EXPECT_EQ("identity--" + Uuid5(kNamespace, "accord"), kAccordIdentityId);
  EXPECT_EQ("extension-definition--" + Uuid5(kNamespace, "extension:statement/v1"), kExtensionId);
}

TEST(Stix, Timestamps) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(1795860000123), "2026-11-28T10:00:00.123Z");
  EXPECT_EQ(ParseTimestamp("2026-11-28T10:00:00Z"), 1795860000000);
  EXPECT_EQ(ParseTimestamp("2026-11-28T10:00:00.123456Z"), 1795860000123);
  EXPECT_EQ(ParseTimestamp("2026-11-28T10:00:00.1Z"), 1795860000100);
  EXPECT_EQ(ParseTimestamp("2024-02-29T00:00:00Z"), 1709164800000);
  for (const char* bad : {"2026-11-28T10:00:00", "2026-11-28T10:00:00+01:00", "2026-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-11-28 10:00:00Z", "2026-11-28T10:00:00.Z",
                          "1969-12-31T23:59:59Z", "2026-11-28T24:00:00Z", ""}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
  for (int64_t ms : {int64_t{0}, int64_t{951782400000}, int64_t{4102444799999}}) {
    EXPECT_EQ(ParseTimestamp(FormatTimestamp(ms)), ms);
  }
}

// Bounds (TAXII's added_after) take any RFC 3339 year, 0000 to 9999; dates before 1970 are
// negative.
TEST(Stix, TimestampsOfAnyYearForBounds) {
  EXPECT_EQ(ParseTimestampAnyYear("1969-12-31T23:59:59.5Z"), -500);
  EXPECT_EQ(ParseTimestampAnyYear("1900-01-01T00:00:00Z"), -2208988800000);
  EXPECT_EQ(ParseTimestampAnyYear("0001-01-01T00:00:00Z"), -62135596800000);
  EXPECT_EQ(ParseTimestampAnyYear("0000-02-29T00:00:00Z"), -62162121600000);  // year 0 is a leap year
  EXPECT_EQ(ParseTimestampAnyYear("2026-11-28T10:00:00Z"), 1795860000000);
  EXPECT_EQ(ParseTimestampAnyYear("9999-12-31T23:59:59.999Z"), 253402300799999);
  for (int64_t ms : {int64_t{-1}, int64_t{-2208988800000}, int64_t{-62162121600000}})
    EXPECT_EQ(ParseTimestampAnyYear(FormatTimestamp(ms)), ms) << FormatTimestamp(ms);
  for (const char* bad :
       {"-001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "1900-02-29T00:00:00Z", "0001-01-01"})
    EXPECT_FALSE(ParseTimestampAnyYear(bad).has_value()) << bad;
  EXPECT_FALSE(ParseTimestamp("1900-01-01T00:00:00Z").has_value());  // objects' own times: 1970 on
}

// TAXII's date added: microseconds, both ways; a fraction finer than the unit is cut, which
// before 1970 is rounding down (towards the earlier time), as it is after.
TEST(Stix, TimestampsInMicroseconds) {
  EXPECT_EQ(FormatTimestampUs(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTimestampUs(1795860000123456), "2026-11-28T10:00:00.123456Z");
  EXPECT_EQ(FormatTimestampUs(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(ParseTimestampAnyYearUs("2026-11-28T10:00:00.1234567Z"), 1795860000123456);
  EXPECT_EQ(ParseTimestampAnyYearUs("2026-11-28T10:00:00.12Z"), 1795860000120000);
  EXPECT_EQ(ParseTimestampAnyYearUs("2026-11-28T10:00:00Z"), 1795860000000000);
  EXPECT_EQ(ParseTimestampAnyYearUs("1969-12-31T23:59:59.9995Z"), -500);
  EXPECT_EQ(ParseTimestampAnyYear("1969-12-31T23:59:59.9995Z"), -1);
  EXPECT_EQ(ParseTimestampAnyYearUs("0000-01-01T00:00:00Z"), -62167219200000000);
  EXPECT_EQ(ParseTimestampAnyYearUs("9999-12-31T23:59:59.999999Z"), 253402300799999999);
  for (int64_t us : {int64_t{-1}, int64_t{1}, int64_t{1795860000000001}, int64_t{-62167219200000000},
                     int64_t{253402300799999999}})
    EXPECT_EQ(ParseTimestampAnyYearUs(FormatTimestampUs(us)), us) << FormatTimestampUs(us);
  EXPECT_FALSE(ParseTimestampAnyYearUs("2026-11-28T10:00:00.Z").has_value());
}

TEST(Stix, RegistrationIsAnIdentityLocatedInItsCountry) {
  Log log = ExampleLog();
  std::vector<Json> o = log.Objects(kReg);
  ASSERT_EQ(o.size(), 3u);
  const Record& r = log.records[kReg];
  EXPECT_EQ(o[0]["type"], "identity");
  EXPECT_EQ(o[0]["id"], "identity--" + Uuid5(kNamespace, "participant:" + KeyB64(r.author)));
  EXPECT_EQ(o[0]["id"], IdentityId(r.author));
  EXPECT_EQ(o[0]["name"], "Example CERT");
  EXPECT_EQ(o[0]["identity_class"], "organization");
  EXPECT_EQ(o[0]["contact_information"], "cert@example.org");
  EXPECT_EQ(o[0]["created"], "2026-11-28T10:00:00.000Z");
  EXPECT_EQ(o[0]["modified"], "2026-11-28T10:00:00.000Z");
  EXPECT_EQ(o[1]["type"], "location");
  EXPECT_EQ(o[1]["country"], "DE");
  EXPECT_EQ(o[2]["type"], "relationship");
  EXPECT_EQ(o[2]["relationship_type"], "located-at");
  EXPECT_EQ(o[2]["source_ref"], o[0]["id"]);
  EXPECT_EQ(o[2]["target_ref"], o[1]["id"]);
  EXPECT_EQ(o[1]["created_by_ref"], o[0]["id"]);
}

TEST(Stix, EveryObjectIsMarkedAttributedAndExtended) {
  Log log = ExampleLog();
  Context ctx =
      MakeContext("log.example/accord", "log.example/accord\n5\nAAAA\n\n— log.example/accord xyz\n");
  EXPECT_EQ(ctx.checkpoint_size, 5u);
  for (const Record& r : log.records) {
    for (const Json& o : log.Objects(r.index, ctx)) {
      SCOPED_TRACE(o.dump());
      EXPECT_EQ(o["spec_version"], "2.1");
      EXPECT_EQ(o["object_marking_refs"], Json::array({kTlpClearId}));
      if (o["type"] != "identity") {
        EXPECT_EQ(o["created_by_ref"], IdentityId(r.author));
      }
      const Json& ext = o["extensions"][std::string(kExtensionId)];
      EXPECT_EQ(ext["extension_type"], "property-extension");
      EXPECT_EQ(ext["log_index"], r.index);
      EXPECT_EQ(ext["statement_id"], r.id);
      EXPECT_EQ(ext["statement_kind"], statement::KindName(r.kind));
      EXPECT_EQ(ext["author_key"], KeyB64(r.author));
      EXPECT_EQ(ext["log_origin"], "log.example/accord");
      EXPECT_EQ(ext["attested"], false);
      EXPECT_EQ(ext.contains("checkpoint"), r.index < 5) << r.index;
    }
  }
  // A malformed checkpoint covers nothing.
  EXPECT_EQ(MakeContext("o", "o\nfive\nAAAA\n").checkpoint_size, 0u);
  EXPECT_EQ(MakeContext("o", "").checkpoint, "");
}

TEST(Stix, YaraRuleIsAYaraIndicator) {
  Log log = ExampleLog();
  std::vector<Json> o = log.Objects(kYara);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["type"], "indicator");
  EXPECT_EQ(o[0]["id"], "indicator--" + Uuid5(kNamespace, "statement:" + log.records[kYara].id));
  EXPECT_EQ(o[0]["pattern_type"], "yara");
  EXPECT_EQ(o[0]["pattern"], "rule Example_Dropper { strings: $a = \"evil\" condition: $a }\n");
  EXPECT_EQ(o[0]["name"], "Example_Dropper");
  EXPECT_EQ(o[0]["description"], "drops evil");
  EXPECT_EQ(o[0]["valid_from"], "2026-11-28T10:00:00.000Z");
  EXPECT_EQ(o[0]["indicator_types"], Json::array({"malicious-activity"}));
}

TEST(Stix, YaraSourceRefIsANoteNotAnIndicator) {
  Log log = ExampleLog();
  std::vector<Json> o = log.Objects(kYaraRef);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["type"], "note");
  EXPECT_EQ(o[0]["object_refs"], Json::array({IdentityId(log.records[kYaraRef].author)}));
  EXPECT_NE(o[0]["content"].get<std::string>().find(std::string(64, 'b')), std::string::npos);
  EXPECT_EQ(MainObjectId(log.records[kYaraRef], log.Lookup()).value(), o[0]["id"]);
}

TEST(Stix, HashPatternsExactly) {
  Log log = ExampleLog();
  std::vector<Json> o = log.Objects(kHashes);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["pattern_type"], "stix");
  EXPECT_EQ(o[0]["pattern"], std::string("[file:hashes.'SHA-256' = '") + kSha256 +
                                 "' AND file:size = 68] OR " + "[file:hashes.MD5 = '" + kMd5 +
                                 "'] OR [file:hashes.'SHA-1' = '" + kSha1 + "' AND file:size = 68]");
  EXPECT_EQ(o[0]["name"], "Eicar-Test-Signature and 2 more");

  o = log.Objects(kTlshs);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["pattern"], std::string("[file:hashes.TLSH = '") + kTlsh + "']");
  EXPECT_NE(o[0]["description"].get<std::string>().find("Example.Tlsh (distance <= 40)"), std::string::npos);

  o = log.Objects(kIndicator);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["pattern"], std::string("[file:hashes.'SHA-256' = '") + kSha256 + "']");
  EXPECT_EQ(o[0]["description"], "the EICAR file");

  o = log.Objects(kRelease);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["pattern"], "[file:hashes.'SHA-256' = '" + std::string(64, 'a') + "']");
  EXPECT_EQ(o[0]["indicator_types"], Json::array({"benign"}));
  EXPECT_EQ(o[0]["name"], "accord 0.1.0");
}

TEST(Stix, AuditFindingIsAnOpinionOnTheObjectItIsAbout) {
  Log log = ExampleLog();
  std::vector<Json> o = log.Objects(kAudit);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["type"], "opinion");
  EXPECT_EQ(o[0]["opinion"], "strongly-disagree");
  EXPECT_EQ(o[0]["explanation"], "matches notepad");
  EXPECT_EQ(o[0]["object_refs"], Json::array({log.Objects(kYara)[0]["id"]}));
  EXPECT_EQ(o[0]["extensions"][std::string(kExtensionId)]["audit_verdict"], "false-positive");
}

TEST(Stix, RetractionRevokesTheRetractedObjectUnderItsId) {
  Log log = ExampleLog();
  Json original = log.Objects(kHashes)[0];
  std::vector<Json> o = log.Objects(kRetract);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0]["id"], original["id"]);
  EXPECT_EQ(o[0]["revoked"], true);
  EXPECT_EQ(o[0]["created"], original["created"]);
  EXPECT_EQ(o[0]["modified"], "2026-11-28T11:00:00.000Z");
  EXPECT_EQ(o[0]["pattern"], original["pattern"]);
  const Json& ext = o[0]["extensions"][std::string(kExtensionId)];
  EXPECT_EQ(ext["log_index"], kRetract);
  EXPECT_EQ(ext["statement_kind"], "retraction");
  EXPECT_EQ(ext["retracted_index"], kHashes);
  EXPECT_EQ(ext["retraction_reason"], "superseded");
  EXPECT_FALSE(original.contains("revoked"));
  // Revocation is final: retracting the retraction gives nothing.
  EXPECT_TRUE(log.Objects(kRetractRetract).empty());
  EXPECT_EQ(MainObjectId(log.records[kRetract], log.Lookup()).value(), original["id"]);
}

TEST(Stix, RevokedVersionIsLaterEvenWhenTheAuthorsClockIsNot) {
  Log log;
  auto alice = Key(1);
  log.Add(Kind::kRegistration, alice, Registration(alice), "2026-11-28T10:00:00Z");
  log.Add(Kind::kRetraction, alice, {{"index", 0}}, "2026-11-28T09:00:00Z");
  std::vector<Json> o = log.Objects(1);
  ASSERT_EQ(o.size(), 3u);  // identity, location, relationship
  for (const Json& x : o) {
    EXPECT_EQ(x["revoked"], true);
    EXPECT_EQ(x["modified"], "2026-11-28T10:00:00.001Z");
  }
}

TEST(Stix, SameStatementSameObjects) {
  Log a = ExampleLog(), b = ExampleLog();
  for (uint64_t i = 0; i < a.records.size(); ++i) EXPECT_EQ(a.Objects(i), b.Objects(i)) << i;
  std::set<std::string> ids;
  for (uint64_t i = 0; i < kRetract; ++i) {
    for (const Json& o : a.Objects(i)) EXPECT_TRUE(ids.insert(o["id"]).second) << o["id"];
  }
}

TEST(Stix, DisagreeingIndexIsDataLoss) {
  Log log = ExampleLog();
  Record r = log.records[kYara];
  r.kind = Kind::kHashSet;
  Result<std::vector<Json>> o = StixObjects(r, log.Lookup(), {});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), Code::kDataLoss);
  r = log.records[kYara];
  r.leaf = "{";
  EXPECT_EQ(StixObjects(r, log.Lookup(), {}).status().code(), Code::kDataLoss);
  r = log.records[kAudit];
  Log empty;
  EXPECT_EQ(StixObjects(r, empty.Lookup(), {}).status().code(), Code::kDataLoss);
}

// Writes a bundle of every object above to $ACCORD_STIX_BUNDLE, for tests/stix_schema_test.sh to
// check against the OASIS STIX 2.1 JSON schemas.
// TAXII POST: what a posted object becomes, and what is refused with which reason.
TEST(Stix, PostedObjectsToStatementBodies) {
  Json base = {{"type", "indicator"},
               {"spec_version", "2.1"},
               {"id", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
               {"created", "2026-11-28T10:00:00.000Z"},
               {"modified", "2026-11-28T10:00:00.000Z"},
               {"valid_from", "2026-11-28T10:00:00Z"},
               {"name", "dropper"},
               {"description", "drops evil"},
               {"object_marking_refs", {kTlpClearId}},
               {"pattern_type", "yara"},
               {"pattern", "rule A { strings: $a = \"evil\" condition: $a }\nrule B { condition: false }"}};
  Result<PostedBody> y = BodyFromObject(base);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->kind, Kind::kYaraRule);
  EXPECT_EQ(y->body["rules"], Json::array({"A", "B"}));
  EXPECT_EQ(y->body["meta"]["stix_id"], base["id"]);
  EXPECT_EQ(y->body["meta"]["name"], "dropper");
  EXPECT_TRUE(y->note.empty());

  Json stix = base;
  stix["pattern_type"] = "stix";
  stix["pattern"] = "[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']";
  stix["object_marking_refs"] = {std::string(kTlpWhiteId)};
  stix["description"] = std::string(20000, 'd');
  Result<PostedBody> i = BodyFromObject(stix);
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->kind, Kind::kIndicator);
  EXPECT_EQ(i->body["pattern"], stix["pattern"]);
  EXPECT_EQ(i->body["description"].get<std::string>().size(), statement::limits::kMaxLongText);
  EXPECT_NE(i->note.find("cut"), std::string::npos);

  auto refused = [&](Json o, std::string_view why) {
    Result<PostedBody> r = BodyFromObject(o);
    ASSERT_FALSE(r.ok()) << o.dump();
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().ToString();
  };
  Json o = base;
  o["object_marking_refs"] = {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"};  // TLP:AMBER
  refused(o, "TLP:CLEAR only");
  o["object_marking_refs"] = {std::string(kTlpClearId),
                              "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"};
  refused(o, "TLP:CLEAR only");
  o = base;
  o.erase("object_marking_refs");
  refused(o, "not marked TLP:CLEAR");
  o = base;
  o["granular_markings"] = Json::array();
  refused(o, "granular_markings");
  o = base;
  o["pattern"] = "rule A { condition: nope }";
  refused(o, "does not compile");
  o = base;
  o["pattern_type"] = "snort";
  refused(o, "pattern_type snort");
  o = base;
  o.erase("valid_from");
  refused(o, "valid_from");
  o = base;
  o["spec_version"] = "2.0";
  refused(o, "STIX 2.1");
  o = base;
  o["id"] = "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
  refused(o, "id");
  o = base;
  o["type"] = "malware";
  refused(o, "malware object is not logged");
  refused(Json::array(), "not a STIX object");
  o = base;
  o["pattern"] = "";
  refused(o, "pattern");
  // What a statement cannot carry: refused, never logged as a live indicator without it.
  o = base;
  o["revoked"] = true;
  refused(o, "accord submit --retract");
  o["revoked"] = "yes";
  refused(o, "revoked");
  o = base;
  o["valid_until"] = "2027-01-01T00:00:00Z";
  refused(o, "valid_until");
  o = base;
  o["revoked"] = false;  // what STIX assumes without it
  EXPECT_TRUE(BodyFromObject(o).ok());
}

TEST(Stix, SchemaBundle) {
  Log log = ExampleLog();
  Context ctx =
      MakeContext("log.example/accord", "log.example/accord\n100\nAAAA\n\n— log.example/accord xyz\n");
  Json objects = Json::array();
  for (const Json& o : FixedObjects()) objects.push_back(o);
  for (const Record& r : log.records) {
    for (const Json& o : log.Objects(r.index, ctx)) objects.push_back(o);
  }
  EXPECT_EQ(objects.size(), 3u + 3u + 7u + 1u);
  const char* out = std::getenv("ACCORD_STIX_BUNDLE");
  if (!out) GTEST_SKIP() << "ACCORD_STIX_BUNDLE not set";
  Json bundle = {
      {"type", "bundle"}, {"id", "bundle--" + Uuid5(kNamespace, "test bundle")}, {"objects", objects}};
  std::ofstream f(out);
  f << bundle.dump(1) << "\n";
  ASSERT_TRUE(f.good()) << out;
}

}  // namespace
}  // namespace accord::node::stix

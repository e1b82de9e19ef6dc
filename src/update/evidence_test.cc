// The evidence bundle's format (update/evidence.h, docs/evidence.md): what parses, what is refused.
// Verification end to end, against a real log, witnesses' cosignatures and Go's tlog code, is in
// tests/evidence_cli_test.sh.
#include "update/evidence.h"

#include <gtest/gtest.h>

#include "core/canonical_json.h"
#include "core/limits.h"

namespace accord::update {
namespace {

Evidence Sample() {
  Evidence e;
  e.generator = "accord 0.1.0";
  e.created = "2026-11-28T10:00:00Z";
  e.file_path = "samples/x.zip";
  e.file_size = 1234;
  e.file_sha256 = std::string(64, 'a');
  EvidenceDetection d;
  d.path = "samples/x.zip!a/b.exe";
  d.signature = "Eicar-Test-Signature";
  d.kind = "sha256";
  d.item_sha256 = std::string(64, 'b');
  d.digest = std::string(64, 'b');
  d.entry = 7;
  d.citation = "log example.org/log entry 7 by Alice (FR), checkpoint 9";
  e.detections.push_back(d);
  EvidenceDetection t = d;
  t.kind = "tlsh";
  t.signature = "Variant";
  t.digest = std::string(70, 'A');
  t.distance = 31;
  e.detections.push_back(t);
  e.entries.push_back({2, "{\"registration\":1}", "c2sp.org/tlog-proof@v1\nindex 2\n\ncheckpoint\n"});
  e.entries.push_back({7, "{\"statement\":1}", "c2sp.org/tlog-proof@v1\nindex 7\n\ncheckpoint\n"});
  return e;
}

json::Json AsJson(const Evidence& e) {
  return *json::Parse(*FormatEvidence(e));
}

Status ParseJson(const json::Json& j) {
  return ParseEvidence(*json::Serialize(j)).status();
}

TEST(Evidence, FormatIsCanonicalJsonAndParsesBack) {
  Evidence e = Sample();
  Result<std::string> text = FormatEvidence(e);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  ASSERT_EQ(text->back(), '\n');
  EXPECT_TRUE(json::ParseCanonical(text->substr(0, text->size() - 1)).ok());
  Result<Evidence> back = ParseEvidence(*text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, e);
}

TEST(Evidence, RefusesWhatIsNotABundle) {
  json::Json j = AsJson(Sample());
  j["accord"] = "accord/evidence@v2";
  EXPECT_NE(ParseJson(j).message().find("not an accord/evidence@v1 bundle"), std::string::npos);
  EXPECT_FALSE(ParseEvidence("[]").ok());
  EXPECT_FALSE(ParseEvidence("{\"accord\":\"accord/evidence@v1\"").ok());
  EXPECT_FALSE(ParseEvidence("").ok());
}

TEST(Evidence, EveryMemberIsChecked) {
  struct Case {
    const char* what;
    void (*edit)(json::Json&);
    const char* message;
  };
  const Case cases[] = {
      {"unknown top member", [](json::Json& j) { j["x"] = 1; }, "unknown member \"x\""},
      {"unknown detection member", [](json::Json& j) { j["detections"][0]["x"] = 1; }, "unknown member"},
      {"missing file", [](json::Json& j) { j.erase("file"); }, "lacks \"file\""},
      {"bad file hash", [](json::Json& j) { j["file"]["sha256"] = std::string(64, 'A'); },
       "64 lower-case hex"},
      {"negative size", [](json::Json& j) { j["file"]["size"] = -1; }, "not a non-negative integer"},
      {"no detection", [](json::Json& j) { j["detections"] = json::Json::array(); }, "has no detection"},
      {"unknown kind", [](json::Json& j) { j["detections"][0]["kind"] = "crc32"; }, "unknown kind"},
      {"short digest", [](json::Json& j) { j["detections"][0]["digest"] = "abcd"; }, "does not fit its kind"},
      {"md5 digest for sha256", [](json::Json& j) { j["detections"][0]["digest"] = std::string(32, 'b'); },
       "does not fit its kind"},
      {"yara with a digest", [](json::Json& j) { j["detections"][0]["kind"] = "yara"; },
       "does not fit its kind"},
      {"distance on a hash", [](json::Json& j) { j["detections"][0]["distance"] = 3; },
       "not a TLSH detection"},
      {"tlsh without distance", [](json::Json& j) { j["detections"][1].erase("distance"); }, "\"distance\""},
      {"tlsh distance too large", [](json::Json& j) { j["detections"][1]["distance"] = 100000; },
       "\"distance\""},
      {"tlsh bad digest", [](json::Json& j) { j["detections"][1]["digest"] = "T1zz"; }, "not a TLSH digest"},
      {"cites a missing entry", [](json::Json& j) { j["detections"][0]["entry"] = 3; }, "does not hold"},
      {"entries out of order", [](json::Json& j) { std::swap(j["entries"][0], j["entries"][1]); },
       "increasing index order"},
      {"duplicate entry", [](json::Json& j) { j["entries"][1]["index"] = 2; }, "increasing index order"},
      {"empty leaf", [](json::Json& j) { j["entries"][0]["leaf"] = ""; }, "\"leaf\" is empty"},
      {"oversized leaf", [](json::Json& j) { j["entries"][0]["leaf"] = std::string(70000, 'x'); },
       "over 65,535"},
      {"index as string", [](json::Json& j) { j["entries"][0]["index"] = "2"; },
       "not a non-negative integer"},
      {"hash detection without the item's SHA-256",
       [](json::Json& j) { j["detections"][0]["item_sha256"] = ""; }, "lacks the item's SHA-256"},
      {"a detection outside the file",
       [](json::Json& j) { j["detections"][0]["path"] = "samples/y.zip!a/b.exe"; },
       "neither the file nor inside it"},
      {"a sibling's name as prefix", [](json::Json& j) { j["detections"][0]["path"] = "samples/x.zip2"; },
       "neither the file nor inside it"},
      {"the file itself with another SHA-256",
       [](json::Json& j) { j["detections"][0]["path"] = j["file"]["path"]; },
       "another SHA-256 than the file's"},
      {"a control character in a path",
       [](json::Json& j) { j["detections"][0]["path"] = "samples/x.zip!a\n  sample     the file given"; },
       "control character"},
      {"a terminal escape in the file's path", [](json::Json& j) { j["file"]["path"] = "x\x1b[1A"; },
       "control character"},
  };
  for (const Case& c : cases) {
    json::Json j = AsJson(Sample());
    c.edit(j);
    Status s = ParseJson(j);
    EXPECT_FALSE(s.ok()) << c.what;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << c.what << ": " << s.ToString();
  }
}

TEST(Evidence, LimitsAreEnforced) {
  json::Json j = AsJson(Sample());
  json::Json d = j["detections"][0];
  j["detections"] = json::Json::array();
  for (size_t i = 0; i <= limits::kMaxEvidenceDetections; ++i) j["detections"].push_back(d);
  EXPECT_EQ(ParseJson(j).code(), Code::kResourceExhausted);
  EXPECT_EQ(ParseEvidence(std::string(limits::kMaxEvidenceSize + 1, ' ')).status().code(),
            Code::kResourceExhausted);
}

TEST(Evidence, VerifyRefusesProofsThatAreNotProofs) {
  // Sample()'s proofs carry no signed checkpoint: refused before any statement is looked at.
  tlog::Policy none;
  Result<EvidenceReport> r = VerifyEvidence(Sample(), none);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the checkpoint, against your policy"), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace accord::update

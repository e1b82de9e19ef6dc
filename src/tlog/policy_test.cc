#include "tlog/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/limits.h"

namespace accord::tlog {
namespace {

using ::testing::HasSubstr;

note::Signer Key(const std::string& name, note::KeyType type) {
  return note::GenerateSigner(name, type).value();
}

std::string Vkey(const note::Signer& s) {
  return note::FormatVerifierKey(s.verifier());
}

// A log and six witnesses in two groups of three: the example of c2sp.org/tlog-policy.
struct Fixture {
  note::Signer log = Key("example.com/log", note::KeyType::kEd25519);
  std::vector<note::Signer> w;
  Fixture() {
    for (const char* n : {"x1.example", "x2.example", "x3.example", "y1.example", "y2.example", "y3.example"})
      w.push_back(Key(n, note::KeyType::kCosignatureV1));
  }
  std::string Text() const {
    return "# the spec's example\n"
           "log " +
           Vkey(log) +
           " https://log.example/\n\n"
           "witness X1 " +
           Vkey(w[0]) +
           "\n"
           "witness X2 " +
           Vkey(w[1]) +
           " https://x2.example/witness\n"
           "  witness\tX3 " +
           Vkey(w[2]) +
           "  \t\n"
           "group X-witnesses 2 X1 X2 X3\n"
           "   # an indented comment\n"
           "witness Y1 " +
           Vkey(w[3]) +
           "\n"
           "witness Y2 " +
           Vkey(w[4]) +
           "\n"
           "witness Y3 " +
           Vkey(w[5]) +
           "\n"
           "group Y-witnesses any Y1 Y2 Y3\n"
           "group X-and-Y all X-witnesses Y-witnesses\n"
           "quorum X-and-Y\n";
  }
  Policy Parsed() const { return ParsePolicy(Text()).value(); }
  // A checkpoint signed by the log and cosigned by the witnesses at `who`.
  std::string Checkpoint(const std::vector<size_t>& who, uint64_t size = 5) const {
    tlog::Checkpoint cp{"example.com/log", size, crypto::Sha256("root"), {}};
    note::Note n;
    n.text = FormatCheckpoint(cp);
    n.signatures.push_back(note::Sign(log, n.text).value());
    for (size_t i : who) n.signatures.push_back(note::Cosign(w[i], n.text, 1700000000 + i).value());
    return note::FormatNote(n);
  }
};

TEST(PolicyTest, ParsesTheSpecExample) {
  Fixture f;
  Result<Policy> p = ParsePolicy(f.Text());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->logs.size(), 1u);
  EXPECT_EQ(p->logs[0].key.name, "example.com/log");
  EXPECT_EQ(p->logs[0].url, "https://log.example/");
  ASSERT_EQ(p->witnesses.size(), 6u);
  EXPECT_EQ(p->witnesses[1].name, "X2");
  EXPECT_EQ(p->witnesses[1].url, "https://x2.example/witness");
  EXPECT_EQ(p->witnesses[2].name, "X3");
  EXPECT_EQ(p->witnesses[2].key.public_key, f.w[2].key.public_key);
  ASSERT_EQ(p->groups.size(), 3u);
  EXPECT_EQ(p->groups[0].threshold, 2u);
  EXPECT_EQ(p->groups[1].threshold, 1u);
  EXPECT_EQ(p->groups[2].threshold, 2u);
  EXPECT_EQ(p->groups[2].members[1], (PolicyRef{PolicyRef::Kind::kGroup, 1}));
  EXPECT_EQ(p->quorum, (PolicyRef{PolicyRef::Kind::kGroup, 2}));
}

TEST(PolicyTest, FormatParsesBackEqual) {
  Fixture f;
  Policy p = f.Parsed();
  std::string text = FormatPolicy(p);
  Result<Policy> again = ParsePolicy(text);
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << text;
  EXPECT_EQ(*again, p);
  EXPECT_EQ(FormatPolicy(*again), text);
  EXPECT_THAT(text, HasSubstr("group Y-witnesses any Y1 Y2 Y3\n"));
  EXPECT_THAT(text, HasSubstr("quorum X-and-Y\n"));
}

TEST(PolicyTest, QuorumNoneAndNoLogs) {
  Result<Policy> p = ParsePolicy("quorum none\n");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->quorum.has_value());
  EXPECT_TRUE(CheckQuorum(*p, {}).ok());
  EXPECT_EQ(FormatPolicy(*p), "quorum none\n");
}

// Each malformed policy is refused with the line that is wrong.
TEST(PolicyTest, RefusesMalformedPoliciesNamingTheLine) {
  Fixture f;
  std::string w1 = "witness A " + Vkey(f.w[0]) + "\n", w2 = "witness B " + Vkey(f.w[1]) + "\n";
  struct Case {
    std::string text, want;
  } cases[] = {
      {"", "no quorum line"},
      {w1, "no quorum line"},
      {w1 + "quorum A\nquorum A\n", "line 3: a second quorum line"},
      {"quorum A\n" + w1, "line 1: \"A\" is not a witness or group defined on an earlier line"},
      {w1 + "group G 1 A B\n" + w2 + "quorum G\n", "line 2: \"B\" is not a witness"},
      {w1 + "group G any A none\nquorum G\n", "line 2: \"none\" cannot be a group member"},
      {"witness none " + Vkey(f.w[0]) + "\nquorum none\n", "line 1: \"none\" is reserved"},
      {w1 + "group A any A\nquorum A\n", "line 2: \"A\" is defined twice"},
      {w1 + "witness A " + Vkey(f.w[1]) + "\nquorum A\n", "line 2: \"A\" is defined twice"},
      {w1 + "witness B " + Vkey(f.w[0]) + "\nquorum A\n",
       "line 2: witness B has the public key of witness A"},
      {w1 + w2 + "group G 0 A B\nquorum G\n", "line 3: threshold 0 of 2 members"},
      {w1 + w2 + "group G 3 A B\nquorum G\n", "line 3: threshold 3 of 2 members"},
      {w1 + w2 + "group G 01 A B\nquorum G\n", "line 3: threshold \"01\""},
      {w1 + w2 + "group G two A B\nquorum G\n", "line 3: threshold \"two\""},
      {w1 + "group G any\nquorum G\n", "line 2: want \"group <name> all|any|<k> <name>...\""},
      {w1 + w2 + "group G all A B A\nquorum G\n", "line 3: \"A\" is a member of group G twice"},
      {"witness A " + Vkey(f.log) + "\nquorum A\n", "line 1: witness key example.com/log has type 1"},
      {"log " + Vkey(f.w[0]) + "\nquorum none\n", "line 1: log key x1.example has type 4"},
      {"log " + Vkey(f.log) + "\nlog " + Vkey(f.log) + "\nquorum none\n",
       "line 2: log example.com/log has the public key"},
      {"log " + Vkey(f.log) + " url extra\nquorum none\n", "line 1: want \"log <vkey> [<url>]\""},
      {"log example.com/log+00000000+AAAA\nquorum none\n", "line 1: verifier key"},
      {w1 + "quorum A B\n", "line 2: want \"quorum <name>\""},
      {"witnesses A\nquorum none\n", "line 1: unknown keyword \"witnesses\""},
      {"Log " + Vkey(f.log) + "\nquorum none\n", "line 1: unknown keyword \"Log\""},
      {"quorum none\r\n", "line 1: control character \\x0d"},
      {"# \x7f\nquorum none\n", "line 1: control character"},
      {"quorum none", "line 1: does not end in a newline"},
      {"quorum none\n# no newline at the end", "line 2: does not end in a newline"},
  };
  for (const Case& c : cases) {
    Result<Policy> p = ParsePolicy(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << c.text;
    EXPECT_THAT(p.status().message(), HasSubstr(c.want)) << c.text;
  }
}

TEST(PolicyTest, NamesAreOpaqueOctets) {
  Fixture f;
  // "K" and a Kelvin sign are different names; high-bit octets are allowed in names and comments.
  std::string text = "# caf\xc3\xa9\nwitness K " + Vkey(f.w[0]) + "\nwitness \xe2\x84\xaa " + Vkey(f.w[1]) +
                     "\ngroup G all K \xe2\x84\xaa\nquorum G\n";
  Result<Policy> p = ParsePolicy(text);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->groups[0].members.size(), 2u);
}

TEST(PolicyTest, LimitsAreReported) {
  std::string text;
  for (size_t i = 0; i <= limits::kMaxPolicyWitnesses; ++i)
    text += "witness w" + std::to_string(i) + " " +
            Vkey(Key("w" + std::to_string(i), note::KeyType::kCosignatureV1)) + "\n";
  Result<Policy> p = ParsePolicy(text + "quorum none\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kResourceExhausted);
  EXPECT_THAT(p.status().message(), HasSubstr("more than 256 witnesses"));
  p = ParsePolicy(std::string(limits::kMaxPolicySize + 1, '#'));
  EXPECT_EQ(p.status().code(), Code::kResourceExhausted);
}

TEST(PolicyTest, VerifiesACheckpointThatMeetsTheQuorum) {
  Fixture f;
  Policy p = f.Parsed();
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(p, f.Checkpoint({0, 2, 4}));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->log, 0u);
  EXPECT_EQ(v->checkpoint.checkpoint.size, 5u);
  ASSERT_EQ(v->cosignatures.size(), 3u);
  EXPECT_EQ(v->cosignatures[1].witness, 2u);
  EXPECT_EQ(v->cosignatures[1].timestamp, 1700000002u);
  EXPECT_EQ(v->checkpoint.cosignatures[2].name, "y2.example");
  EXPECT_EQ(v->checkpoint.raw, f.Checkpoint({0, 2, 4}));  // Ed25519 signing is deterministic
}

TEST(PolicyTest, QuorumNotMetSaysWhatIsMissing) {
  Fixture f;
  Policy p = f.Parsed();
  // Three X witnesses but no Y witness.
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(p, f.Checkpoint({0, 1, 2}));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(v.status().message(),
              HasSubstr("quorum not met: group X-and-Y: 1 of the 2 of its 2 members it needs (not met: "
                        "Y-witnesses (0 of 1))"));
  // One X witness and one Y witness: X-witnesses needs 2.
  v = VerifyCheckpointWithPolicy(p, f.Checkpoint({0, 3}));
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("X-witnesses (1 of 2)"));
}

TEST(PolicyTest, FreshnessCountsOnlyRecentCosignatures) {
  Fixture f;
  Policy p = f.Parsed();
  // Cosigned by X1 at 1700000000, X3 at ...002, Y2 at ...004 (Fixture::Checkpoint).
  PolicyCheckpoint v = VerifyCheckpointWithPolicy(p, f.Checkpoint({0, 2, 4})).value();
  EXPECT_TRUE(CheckFreshQuorum(p, v, 1700000010, 10).ok());  // all three within 10 s
  // Within 7 s only X3 and Y2: X-witnesses needs two of X1..X3.
  Status s = CheckFreshQuorum(p, v, 1700000008, 7);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("is not fresh: its newest cosignature is 4 s old"));
  EXPECT_THAT(s.message(), HasSubstr("X-witnesses (1 of 2)"));
  // A day later nothing counts.
  EXPECT_THAT(CheckFreshQuorum(p, v, 1700086400, 3600).message(), HasSubstr("86396 s old"));
  // Clocks that disagree: a cosignature up to kMaxClockSkew in the future counts, further does not.
  EXPECT_TRUE(CheckFreshQuorum(p, v, 1700000000 - limits::kMaxClockSkew + 4, 60).ok());
  EXPECT_FALSE(CheckFreshQuorum(p, v, 1700000000 - limits::kMaxClockSkew - 1, 60).ok());
  // `quorum none` needs no cosignature, fresh or not.
  Policy none = ParsePolicy("log " + Vkey(f.log) + "\nquorum none\n").value();
  PolicyCheckpoint bare = VerifyCheckpointWithPolicy(none, f.Checkpoint({})).value();
  EXPECT_TRUE(CheckFreshQuorum(none, bare, 1800000000, 1).ok());
}

TEST(PolicyTest, CosignatureByAKeyNotInThePolicyDoesNotCount) {
  Fixture f;
  Policy p = f.Parsed();
  // y1.example's key is replaced by a stranger's that has the same name: its cosignature must not
  // count, and it is not an error either (an unknown key).
  Fixture g;
  g.log = f.log;
  g.w[0] = f.w[0];
  g.w[1] = f.w[1];
  std::string cp = g.Checkpoint({0, 1, 3});
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(p, cp);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("quorum not met"));
  // With the real Y1 it passes.
  EXPECT_TRUE(VerifyCheckpointWithPolicy(p, f.Checkpoint({0, 1, 3})).ok());
}

TEST(PolicyTest, InvalidCosignatureByAPolicyKeyIsAnError) {
  Fixture f;
  Policy p = f.Parsed();
  note::Note n = note::ParseNote(f.Checkpoint({0, 1, 3})).value();
  n.signatures[3].data[20] ^= 1;  // y1.example's signature
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(p, note::FormatNote(n));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(v.status().message(), HasSubstr("signature by y1.example"));
}

TEST(PolicyTest, LogSignatureIsRequired) {
  Fixture f;
  Policy p = f.Parsed();
  note::Note n = note::ParseNote(f.Checkpoint({0, 1, 3})).value();
  n.signatures.erase(n.signatures.begin());
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(p, note::FormatNote(n));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(v.status().message(), HasSubstr("not signed by the policy's key for example.com/log"));

  Fixture other;  // another log under the same origin name: its key is not the policy's
  n = note::ParseNote(other.Checkpoint({})).value();
  v = VerifyCheckpointWithPolicy(p, note::FormatNote(n));
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
}

TEST(PolicyTest, UnknownOriginIsNotFound) {
  Fixture f;
  Policy p = f.Parsed();
  note::Signer other = Key("other.example/log", note::KeyType::kEd25519);
  tlog::Checkpoint cp{"other.example/log", 1, crypto::Sha256("x"), {}};
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(p, SignCheckpoint(cp, other).value());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kNotFound);
  EXPECT_THAT(v.status().message(), HasSubstr("\"other.example/log\" is not a log of the policy"));
  EXPECT_EQ(VerifyCheckpointWithPolicy(p, "garbage").status().code(), Code::kInvalidArgument);
}

TEST(PolicyTest, SingleWitnessQuorumAndQuorumNone) {
  Fixture f;
  std::string head = "log " + Vkey(f.log) + "\nwitness A " + Vkey(f.w[0]) + "\n";
  Policy one = ParsePolicy(head + "quorum A\n").value();
  EXPECT_TRUE(VerifyCheckpointWithPolicy(one, f.Checkpoint({0})).ok());
  Result<PolicyCheckpoint> v = VerifyCheckpointWithPolicy(one, f.Checkpoint({1}));
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("quorum not met: witness A did not cosign"));
  Policy none = ParsePolicy(head + "quorum none\n").value();
  v = VerifyCheckpointWithPolicy(none, f.Checkpoint({}));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->cosignatures.empty());
}

}  // namespace
}  // namespace accord::tlog

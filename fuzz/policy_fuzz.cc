// tlog::ParsePolicy on arbitrary text (c2sp.org/tlog-policy), and CheckQuorum on what parses.
//
// Properties: a parsed policy formats to canonical text that parses back to an equal policy and
// formats to the same text again; every witness key is cosignature/v1 and every log key Ed25519;
// groups only refer to earlier groups, thresholds are within 1..n; with every witness cosigning
// the quorum is met, with none it is met only by `quorum none`, and adding a cosignature never
// turns a met quorum into an unmet one.
#include "core/limits.h"
#include "fuzz_common.h"
#include "tlog/policy.h"

namespace {
using namespace accord;

void CheckPolicy(const tlog::Policy& p) {
  FUZZ_CHECK(p.logs.size() <= limits::kMaxPolicyLogs);
  FUZZ_CHECK(p.witnesses.size() <= limits::kMaxPolicyWitnesses);
  FUZZ_CHECK(p.groups.size() <= limits::kMaxPolicyGroups);
  for (const auto& l : p.logs) FUZZ_CHECK(l.key.type == note::KeyType::kEd25519);
  for (const auto& w : p.witnesses) {
    FUZZ_CHECK(w.key.type == note::KeyType::kCosignatureV1);
    FUZZ_CHECK(tlog::IsValidPolicyName(w.name));
  }
  for (size_t i = 0; i < p.groups.size(); ++i) {
    const tlog::PolicyGroup& g = p.groups[i];
    FUZZ_CHECK(tlog::IsValidPolicyName(g.name));
    FUZZ_CHECK(g.threshold >= 1 && g.threshold <= g.members.size());
    for (const tlog::PolicyRef& m : g.members)
      FUZZ_CHECK(m.kind == tlog::PolicyRef::Kind::kWitness ? m.index < p.witnesses.size() : m.index < i);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = fuzz::AsBytes(data, size);
  Result<tlog::Policy> p = tlog::ParsePolicy(in);
  if (!p.ok()) {
    FUZZ_CHECK(!p.status().message().empty());
    return 0;
  }
  CheckPolicy(*p);
  std::string text = tlog::FormatPolicy(*p);
  Result<tlog::Policy> again = tlog::ParsePolicy(text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *p);
  FUZZ_CHECK(tlog::FormatPolicy(*again) == text);

  size_t n = p->witnesses.size();
  FUZZ_CHECK(tlog::CheckQuorum(*p, std::vector<bool>(n, true)).ok());
  FUZZ_CHECK(tlog::CheckQuorum(*p, std::vector<bool>(n, false)).ok() == !p->quorum.has_value());
  // Witnesses cosign one by one, in the order the input's bytes pick: once met, always met.
  std::vector<bool> cosigned(n, false);
  bool met = tlog::CheckQuorum(*p, cosigned).ok();
  for (size_t i = 0; i < n && i < size; ++i) {
    cosigned[data[i] % n] = true;
    bool now = tlog::CheckQuorum(*p, cosigned).ok();
    FUZZ_CHECK(!met || now);
    met = now;
  }
  return 0;
}

// update::ParseEvidence and update::VerifyEvidence (update/evidence.h): evidence bundles come from
// anyone, and `accord evidence verify` is run on them by people who do not trust their maker.
//
// Properties: nothing crashes; what parses formats to RFC 8785 JSON that parses back to the same
// bundle; verification of anything that parses (against a policy trusting the fuzz log, quorum
// none) either fails with a message or reports one verified detection per detection.
#include <string>

#include "fuzz_common.h"
#include "tlog/policy.h"
#include "update/evidence.h"

using namespace accord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(reinterpret_cast<const char*>(data), size);
  Result<update::Evidence> e = update::ParseEvidence(in);
  if (!e.ok()) {
    FUZZ_CHECK(!e.status().message().empty());
    return 0;
  }
  Result<std::string> text = update::FormatEvidence(*e);
  if (text.ok()) {
    Result<update::Evidence> back = update::ParseEvidence(*text);
    FUZZ_CHECK(back.ok() && *back == *e);
  } else {
    FUZZ_CHECK(text.status().code() == Code::kResourceExhausted);  // escaping can grow it
  }
  static const tlog::Policy policy = [] {
    std::string p = "log " + note::FormatVerifierKey(fuzz::LogSigner().verifier()) + "\nquorum none\n";
    return *tlog::ParsePolicy(p);
  }();
  Result<update::EvidenceReport> r = update::VerifyEvidence(*e, policy);
  if (r.ok())
    FUZZ_CHECK(r->detections.size() == e->detections.size() && !r->sample_checked);
  else
    FUZZ_CHECK(!r.status().message().empty());
  return 0;
}

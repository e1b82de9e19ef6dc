// The provenance section of a scan database built by `accord update`: the trust policy and the
// cosigned checkpoint that its statements were verified against. SPEC (docs/scan-database.md):
//
//   provenance = "accord/scan-db-provenance@v1" LF
//                "policy " length LF policy-bytes
//                "checkpoint " length LF checkpoint-bytes
//                [ "trust attested" LF ]   ; node-attested statements were loaded too
//   length     = 1*DIGIT   ; decimal, no leading zeros, at most limits::kMaxPolicySize
//
// Thread-safety: values and pure functions.
#pragma once

#include <string>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::update {

inline constexpr std::string_view kProvenanceHeader = "accord/scan-db-provenance@v1";

struct Provenance {
  std::string policy;           // the C2SP tlog-policy text
  std::string checkpoint;       // the signed note with its cosignatures, as fetched
  bool trust_attested = false;  // node-attested statements were loaded (accord update --trust-attested)
};

Bytes FormatProvenance(const Provenance& p);
// Strict: DataLoss naming what is wrong.
Result<Provenance> ParseProvenance(ByteView data);

}  // namespace accord::update

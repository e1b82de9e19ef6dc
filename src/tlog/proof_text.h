// Text forms of proofs, for files and the command line.
//
// Inclusion against a checkpoint: c2sp.org/tlog-proof@v1, exactly as specified:
//   c2sp.org/tlog-proof@v1 LF [extra <base64> LF] index <i> LF *(<base64 hash> LF) LF <checkpoint>
// accord's own forms, for what that spec does not cover (docs/log-format.md has the grammar):
//   accord/tlog-consistency-proof@v1 LF old-size <m> LF *(<base64 hash> LF) LF <checkpoint>
//   accord/tlog-inclusion-proof@v1 LF index <i> LF size <n> LF root <b64> LF *(<hash> LF)
//   accord/tlog-consistency-proof@v1 LF old-size <m> LF size <n> LF root <b64> LF *(<hash> LF)
// The last two describe a tree size without its checkpoint (a past size): their root is only as
// trustworthy as the checkpoint the reader compares it with.
// Thread-safety: values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "tlog/merkle.h"

namespace accord::tlog {

inline constexpr std::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";
inline constexpr std::string_view kInclusionHeader = "accord/tlog-inclusion-proof@v1";
inline constexpr std::string_view kConsistencyHeader = "accord/tlog-consistency-proof@v1";

struct ProofText {
  enum class Kind { kInclusion, kConsistency };
  Kind kind = Kind::kInclusion;
  std::optional<Bytes> extra;  // c2sp.org/tlog-proof only; unauthenticated
  uint64_t index = 0;          // inclusion: the entry
  uint64_t old_size = 0;       // consistency: the older tree
  std::vector<Hash> hashes;
  // Either a signed checkpoint (verbatim) ...
  std::string checkpoint;
  // ... or, without one, the tree it refers to.
  uint64_t size = 0;
  std::optional<Hash> root;
};

std::string FormatProof(const ProofText& proof);
// Strict: unknown header, malformed or extra lines, bad base64, over limits::kMaxProofHashes
// hashes or over limits::kMaxProofFileSize bytes are errors that name the line.
Result<ProofText> ParseProof(ByteView text);

}  // namespace accord::tlog

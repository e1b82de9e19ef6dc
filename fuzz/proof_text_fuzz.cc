// tlog::ParseProof on arbitrary text: c2sp.org/tlog-proof@v1 and accord's inclusion and
// consistency proof forms, as `accord log verify-proof` reads them from a file.
//
// Property: FormatProof of a parsed proof parses again to an equal value, and formatting that gives
// the same text. (The text itself need not come back byte for byte: an accord inclusion header
// followed by a checkpoint is written back as c2sp.org/tlog-proof@v1, which means the same.)
// The checkpoint a proof carries is then parsed as the signed note it should be.
#include "core/limits.h"
#include "crypto/note.h"
#include "fuzz_common.h"
#include "tlog/checkpoint.h"
#include "tlog/proof_text.h"

namespace {
using namespace accord;

bool Equal(const tlog::ProofText& a, const tlog::ProofText& b) {
  return a.kind == b.kind && a.extra == b.extra && a.index == b.index && a.old_size == b.old_size &&
         a.hashes == b.hashes && a.checkpoint == b.checkpoint && a.size == b.size && a.root == b.root;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<tlog::ProofText> p = tlog::ParseProof(fuzz::AsBytes(data, size));
  if (!p.ok()) return 0;
  FUZZ_CHECK(p->hashes.size() <= limits::kMaxProofHashes);
  // A proof either carries its checkpoint or names its tree by size and root, never both.
  FUZZ_CHECK(p->checkpoint.empty() == p->root.has_value());
  std::string text = tlog::FormatProof(*p);
  Result<tlog::ProofText> again = tlog::ParseProof(text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Equal(*p, *again));
  FUZZ_CHECK(tlog::FormatProof(*again) == text);
  if (!p->checkpoint.empty()) {
    if (Result<note::Note> n = note::ParseNote(p->checkpoint); n.ok()) (void)tlog::ParseCheckpoint(n->text);
  }
  return 0;
}

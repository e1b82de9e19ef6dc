// tlog::ParseCheckpoint on arbitrary text (c2sp.org/tlog-checkpoint). The input is taken both as a
// checkpoint body and, when it parses as a signed note, as that note's text, so whole signed
// checkpoints work as seeds too.
//
// Properties: a parsed checkpoint formats back to exactly its text (the text is what gets signed,
// so a second spelling of the same checkpoint would be a second valid signed statement), and the
// formatted text parses back to an equal checkpoint.
#include "crypto/note.h"
#include "fuzz_common.h"
#include "tlog/checkpoint.h"

namespace {
using namespace accord;

void CheckBody(std::string_view text) {
  Result<tlog::Checkpoint> cp = tlog::ParseCheckpoint(text);
  if (!cp.ok()) return;
  FUZZ_CHECK(!cp->origin.empty());
  FUZZ_CHECK(cp->size <= (uint64_t(1) << 63));
  std::string formatted = tlog::FormatCheckpoint(*cp);
  FUZZ_CHECK(formatted == text);
  Result<tlog::Checkpoint> again = tlog::ParseCheckpoint(formatted);
  FUZZ_CHECK(again.ok() && *again == *cp);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = fuzz::AsBytes(data, size);
  CheckBody(in);
  if (Result<note::Note> n = note::ParseNote(in); n.ok()) CheckBody(n->text);
  return 0;
}

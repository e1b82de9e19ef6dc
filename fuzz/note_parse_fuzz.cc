// note::ParseNote on arbitrary bytes (c2sp.org/signed-note).
//
// Property: a parsed note formats back to exactly the bytes it came from. Base64 decoding is strict
// and the parser keeps the text verbatim, so each note has one spelling; if two spellings parsed to
// the same note, a signature over one could be presented as covering the other.
#include "crypto/note.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  Result<note::Note> n = note::ParseNote(in);
  if (!n.ok()) return 0;
  FUZZ_CHECK(!n->text.empty() && n->text.back() == '\n');
  FUZZ_CHECK(!n->signatures.empty());
  FUZZ_CHECK(note::FormatNote(*n) == in);
  for (const note::Signature& sig : n->signatures) FUZZ_CHECK(note::IsValidKeyName(sig.name));
  return 0;
}

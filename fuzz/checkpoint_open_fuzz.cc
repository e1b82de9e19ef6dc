// tlog::OpenCheckpoint on arbitrary bytes, with the fuzz log key and the fuzz witness key.
//
// Properties: an opened checkpoint is what ParseCheckpoint makes of the note's text; `raw` is the
// input verbatim; reported cosignatures are by the witness; the origin check accepts the
// checkpoint's own origin and rejects any other.
#include "crypto/note.h"
#include "fuzz_common.h"
#include "tlog/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  static const note::Verifier log_key = fuzz::LogSigner().verifier();
  static const note::Verifier witness = fuzz::WitnessSigner().verifier();
  ByteView in = fuzz::AsBytes(data, size);
  Result<tlog::VerifiedCheckpoint> cp = tlog::OpenCheckpoint(in, log_key, std::span(&witness, 1));
  if (!cp.ok()) return 0;
  FUZZ_CHECK(cp->raw == in);
  Result<note::Note> n = note::ParseNote(in);
  FUZZ_CHECK(n.ok());
  Result<tlog::Checkpoint> parsed = tlog::ParseCheckpoint(n->text);
  FUZZ_CHECK(parsed.ok() && *parsed == cp->checkpoint);
  FUZZ_CHECK(cp->cosignatures.size() <= 1);
  for (const tlog::Cosignature& c : cp->cosignatures) FUZZ_CHECK(c.name == witness.name);

  Result<tlog::VerifiedCheckpoint> same_origin = tlog::OpenCheckpoint(in, log_key, {}, cp->checkpoint.origin);
  FUZZ_CHECK(same_origin.ok() && same_origin->checkpoint == cp->checkpoint &&
             same_origin->cosignatures.empty());
  Result<tlog::VerifiedCheckpoint> other_origin =
      tlog::OpenCheckpoint(in, log_key, {}, cp->checkpoint.origin + "x");
  FUZZ_CHECK(!other_origin.ok());
  return 0;
}

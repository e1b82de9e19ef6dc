// note::Open on arbitrary bytes, against fixed known keys: the fuzz log key (Ed25519), the fuzz
// witness key (cosignature/v1), and an impostor that shares the log key's name but not its key, so
// that a signature matching by name alone must not verify.
//
// Properties: an opened note is the note ParseNote sees; every verified signature really verifies
// under its verifier's key, checked here with crypto::Ed25519Verify directly; each known key is
// reported at most once.
#include <set>

#include "crypto/note.h"
#include "crypto/sha256.h"
#include "fuzz_common.h"

namespace {
using namespace accord;

std::vector<note::Verifier> KnownKeys() {
  note::Verifier impostor = fuzz::LogSigner().verifier();
  impostor.public_key = crypto::Ed25519FromSeed(crypto::Sha256("accord fuzz impostor key")).public_key;
  impostor.key_id = note::KeyId(impostor.name, impostor.type, impostor.public_key);
  return {fuzz::LogSigner().verifier(), fuzz::WitnessSigner().verifier(), impostor};
}

bool SignedBy(const note::Note& n, const note::Verifier& v, uint64_t timestamp) {
  for (const note::Signature& sig : n.signatures) {
    if (sig.name != v.name || sig.key_id != v.key_id) continue;
    if (v.type == note::KeyType::kEd25519 && crypto::Ed25519Verify(v.public_key, n.text, sig.data))
      return true;
    if (v.type == note::KeyType::kCosignatureV1 && sig.data.size() == 72 && GetU64(sig.data) == timestamp &&
        crypto::Ed25519Verify(v.public_key, note::CosignedMessage(n.text, timestamp), sig.data.substr(8)))
      return true;
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<note::Verifier> known = KnownKeys();
  ByteView in = fuzz::AsBytes(data, size);
  Result<note::OpenedNote> opened = note::Open(in, known);
  if (!opened.ok()) return 0;
  Result<note::Note> parsed = note::ParseNote(in);
  FUZZ_CHECK(parsed.ok());
  FUZZ_CHECK(parsed->text == opened->note.text && note::FormatNote(opened->note) == in);
  FUZZ_CHECK(!opened->verified.empty());
  std::set<size_t> seen;
  for (const note::VerifiedSignature& v : opened->verified) {
    FUZZ_CHECK(v.verifier < known.size());
    FUZZ_CHECK(seen.insert(v.verifier).second);
    FUZZ_CHECK(SignedBy(opened->note, known[v.verifier], v.timestamp));
  }
  return 0;
}

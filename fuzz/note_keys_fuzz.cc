// note::ParseVerifierKey and note::ParseSignerKey on arbitrary text (golang.org/x/mod/sumdb/note
// key encodings).
//
// Properties: a parsed key's ID matches its name, type and public key; formatting a parsed key and
// parsing it again gives the same key; a parsed signer key signs notes that its own verifier key
// accepts, so a key file that parses is a key that works.
#include "crypto/note.h"
#include "fuzz_common.h"

namespace {
using namespace accord;

bool SameVerifier(const note::Verifier& a, const note::Verifier& b) {
  return a.name == b.name && a.type == b.type && a.key_id == b.key_id && a.public_key == b.public_key;
}

void CheckVerifier(const note::Verifier& v) {
  FUZZ_CHECK(note::IsValidKeyName(v.name));
  FUZZ_CHECK(note::KeyId(v.name, v.type, v.public_key) == v.key_id);
  std::string text = note::FormatVerifierKey(v);
  Result<note::Verifier> again = note::ParseVerifierKey(text);
  FUZZ_CHECK(again.ok() && SameVerifier(*again, v));
  FUZZ_CHECK(note::FormatVerifierKey(*again) == text);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = fuzz::AsBytes(data, size);
  if (Result<note::Verifier> v = note::ParseVerifierKey(in); v.ok()) CheckVerifier(*v);

  Result<note::Signer> s = note::ParseSignerKey(in);
  if (!s.ok()) return 0;
  CheckVerifier(s->verifier());
  std::string text = note::FormatSignerKey(*s);
  Result<note::Signer> again = note::ParseSignerKey(text);
  FUZZ_CHECK(again.ok() && again->key.seed == s->key.seed && SameVerifier(again->verifier(), s->verifier()));
  FUZZ_CHECK(note::FormatSignerKey(*again) == text);

  const std::string body = "fuzz.example/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  Result<note::Signature> sig =
      s->type == note::KeyType::kEd25519 ? note::Sign(*s, body) : note::Cosign(*s, body, 1);
  FUZZ_CHECK(sig.ok());
  note::Note n{body, {*sig}};
  note::Verifier verifier = s->verifier();
  Result<note::OpenedNote> opened = note::Open(note::FormatNote(n), std::span(&verifier, 1));
  FUZZ_CHECK(opened.ok() && opened->verified.size() == 1);
  return 0;
}

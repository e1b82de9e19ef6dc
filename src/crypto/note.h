// Signed notes (c2sp.org/signed-note), their keys, and cosignatures (c2sp.org/tlog-cosignature).
//
// A note is UTF-8 text ending in a newline, a blank line, and one or more signature lines
// "— <key name> base64(key ID || signature)". Key IDs are the first four bytes of
// SHA-256(name || "\n" || type || public key). Two signature types are supported:
//   0x01 Ed25519 over the note text (logs' checkpoints);
//   0x04 cosignature/v1: Ed25519 over "cosignature/v1\ntime <t>\n" || text, with the 8-byte
//        big-endian timestamp before the signature (witnesses).
// Key encodings follow golang.org/x/mod/sumdb/note, so Go's tools read accord's keys:
//   verifier key  <name>+<8 hex key ID>+base64(type || 32-byte public key)
//   signer key    PRIVATE+KEY+<name>+<8 hex key ID>+base64(type || 32-byte seed)
// Thread-safety: all types are values; functions are pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/ed25519.h"

namespace accord::note {

enum class KeyType : uint8_t { kEd25519 = 0x01, kCosignatureV1 = 0x04 };

uint32_t KeyId(std::string_view name, KeyType type, const crypto::Ed25519PublicKey& key);
// Key names: non-empty, valid UTF-8, no Unicode spaces, no '+'.
bool IsValidKeyName(std::string_view name);

struct Verifier {
  std::string name;
  KeyType type = KeyType::kEd25519;
  uint32_t key_id = 0;
  crypto::Ed25519PublicKey public_key{};
};

struct Signer {
  std::string name;
  KeyType type = KeyType::kEd25519;
  uint32_t key_id = 0;
  crypto::Ed25519KeyPair key;

  Verifier verifier() const;
};

Result<Verifier> ParseVerifierKey(std::string_view vkey);
std::string FormatVerifierKey(const Verifier& v);
Result<Signer> ParseSignerKey(std::string_view skey);
std::string FormatSignerKey(const Signer& s);
Result<Signer> GenerateSigner(std::string_view name, KeyType type = KeyType::kEd25519);

struct Signature {
  std::string name;
  uint32_t key_id = 0;
  Bytes data;  // what follows the key ID: the signature (0x01) or timestamp || signature (0x04)
};

struct Note {
  std::string text;  // includes the final newline, not the blank line
  std::vector<Signature> signatures;
};

// Parses the structure of a signed note without verifying anything. Rejects: invalid UTF-8,
// control characters other than newline, a text not ending in newline, no blank line, malformed
// signature lines, more than limits::kMaxNoteSignatures signatures, notes over kMaxNoteSize.
Result<Note> ParseNote(ByteView message);
std::string FormatSignatureLine(const Signature& sig);
std::string FormatNote(const Note& note);

// Signs `text` with an Ed25519 (0x01) signer. `text` must be valid note text.
Result<Signature> Sign(const Signer& signer, std::string_view text);
// Cosigns `text` (a checkpoint body) at `timestamp` with a cosignature/v1 (0x04) signer.
Result<Signature> Cosign(const Signer& signer, std::string_view text, uint64_t timestamp);
// The message that a cosignature/v1 signs.
std::string CosignedMessage(std::string_view text, uint64_t timestamp);

struct VerifiedSignature {
  size_t verifier;         // index into the `known` span passed to Open
  uint64_t timestamp = 0;  // cosignatures only
};

struct OpenedNote {
  Note note;
  std::vector<VerifiedSignature> verified;  // one per distinct known key that signed
};

// Parses and verifies a note against known verifiers. Signatures whose (name, key ID) match no
// known verifier are ignored. A signature by a known key that fails to verify rejects the note
// (PermissionDenied). A note with no valid signature by a known key is rejected (PermissionDenied).
Result<OpenedNote> Open(ByteView message, std::span<const Verifier> known);

}  // namespace accord::note

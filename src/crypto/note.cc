#include "crypto/note.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/limits.h"
#include "crypto/sha256.h"

namespace accord::note {

namespace {
constexpr std::string_view kEmDashSpace = "\xe2\x80\x94 ";
constexpr std::string_view kPrivatePrefix = "PRIVATE+KEY+";

std::string Hex8(uint32_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) s[i] = d[v & 15];
  return s;
}

bool ParseHex8(std::string_view s, uint32_t* out) {
  if (s.size() != 8) return false;
  auto b = HexDecode(s);
  if (!b) return false;
  *out = GetU32(*b);
  return true;
}

bool KnownType(uint8_t t) {
  return t == uint8_t(KeyType::kEd25519) || t == uint8_t(KeyType::kCosignatureV1);
}

// Splits "a+b+c" into exactly three parts.
bool Split3(std::string_view s, std::string_view* a, std::string_view* b, std::string_view* c) {
  size_t p1 = s.find('+');
  if (p1 == std::string_view::npos) return false;
  size_t p2 = s.find('+', p1 + 1);
  if (p2 == std::string_view::npos) return false;
  *a = s.substr(0, p1);
  *b = s.substr(p1 + 1, p2 - p1 - 1);
  *c = s.substr(p2 + 1);
  return true;  // base64 may contain "+": only the first two split
}

std::string_view TrimKeyText(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}
}  // namespace

uint32_t KeyId(std::string_view name, KeyType type, const crypto::Ed25519PublicKey& key) {
  std::string m(name);
  m.push_back('\n');
  m.push_back(static_cast<char>(type));
  m.append(reinterpret_cast<const char*>(key.data()), key.size());
  crypto::Hash h = crypto::Sha256(m);
  return GetU32(crypto::AsView(h));
}

bool IsValidKeyName(std::string_view name) {
  // As golang.org/x/mod/sumdb/note: any length (the note's size bounds it), DEL allowed.
  return !name.empty() && IsValidUtf8(name) && !ContainsUnicodeSpace(name) &&
         name.find('+') == std::string_view::npos &&
         std::none_of(name.begin(), name.end(), [](char c) { return uint8_t(c) < 0x20; });
}

Verifier Signer::verifier() const {
  return Verifier{name, type, key_id, key.public_key};
}

Result<Verifier> ParseVerifierKey(std::string_view vkey) {
  vkey = TrimKeyText(vkey);
  std::string_view name, id, key;
  if (!Split3(vkey, &name, &id, &key)) return InvalidArgument("verifier key: want <name>+<key id>+<key>");
  if (!IsValidKeyName(name)) return InvalidArgument("verifier key: invalid key name");
  Verifier v;
  v.name = std::string(name);
  if (!ParseHex8(id, &v.key_id)) return InvalidArgument("verifier key: key id is not 8 hex digits");
  auto raw = Base64Decode(key);
  if (!raw || raw->size() != 33) return InvalidArgument("verifier key: key is not base64 of 33 bytes");
  uint8_t type = uint8_t((*raw)[0]);
  if (!KnownType(type)) return InvalidArgument("verifier key: unsupported key type " + std::to_string(type));
  v.type = KeyType(type);
  std::memcpy(v.public_key.data(), raw->data() + 1, 32);
  if (KeyId(v.name, v.type, v.public_key) != v.key_id)
    return InvalidArgument("verifier key: key id " + std::string(id) + " does not match the key");
  return v;
}

std::string FormatVerifierKey(const Verifier& v) {
  std::string raw(1, static_cast<char>(v.type));
  raw.append(reinterpret_cast<const char*>(v.public_key.data()), 32);
  return v.name + "+" + Hex8(v.key_id) + "+" + Base64Encode(raw);
}

Result<Signer> ParseSignerKey(std::string_view skey) {
  skey = TrimKeyText(skey);
  if (skey.substr(0, kPrivatePrefix.size()) != kPrivatePrefix)
    return InvalidArgument("signer key: want PRIVATE+KEY+<name>+<key id>+<key>");
  std::string_view name, id, key;
  if (!Split3(skey.substr(kPrivatePrefix.size()), &name, &id, &key))
    return InvalidArgument("signer key: want PRIVATE+KEY+<name>+<key id>+<key>");
  if (!IsValidKeyName(name)) return InvalidArgument("signer key: invalid key name");
  uint32_t key_id;
  if (!ParseHex8(id, &key_id)) return InvalidArgument("signer key: key id is not 8 hex digits");
  auto raw = Base64Decode(key);
  if (!raw || raw->size() != 33) return InvalidArgument("signer key: key is not base64 of 33 bytes");
  uint8_t type = uint8_t((*raw)[0]);
  if (!KnownType(type)) return InvalidArgument("signer key: unsupported key type " + std::to_string(type));
  crypto::Ed25519Seed seed;
  std::memcpy(seed.data(), raw->data() + 1, 32);
  Signer s;
  s.name = std::string(name);
  s.type = KeyType(type);
  s.key = crypto::Ed25519FromSeed(seed);
  s.key_id = KeyId(s.name, s.type, s.key.public_key);
  if (s.key_id != key_id) return InvalidArgument("signer key: key id does not match the key");
  return s;
}

std::string FormatSignerKey(const Signer& s) {
  std::string raw(1, static_cast<char>(s.type));
  raw.append(reinterpret_cast<const char*>(s.key.seed.data()), 32);
  return std::string(kPrivatePrefix) + s.name + "+" + Hex8(s.key_id) + "+" + Base64Encode(raw);
}

Result<Signer> GenerateSigner(std::string_view name, KeyType type) {
  if (!IsValidKeyName(name))
    return InvalidArgument("key name \"" + Printable(name) + "\": must be non-empty, without spaces or '+'");
  Signer s;
  s.name = std::string(name);
  s.type = type;
  s.key = crypto::Ed25519FromSeed(crypto::Ed25519GenerateSeed());
  s.key_id = KeyId(s.name, s.type, s.key.public_key);
  return s;
}

Result<Note> ParseNote(ByteView msg) {
  if (msg.size() > limits::kMaxNoteSize)
    return ResourceExhausted("note: " + std::to_string(msg.size()) + " bytes, limit " +
                             std::to_string(limits::kMaxNoteSize));
  if (!IsValidUtf8(msg)) return InvalidArgument("note: not valid UTF-8");
  for (char c : msg) {
    if (uint8_t(c) < 0x20 && c != '\n')  // the spec forbids C0 controls; DEL is allowed, as in Go
      return InvalidArgument("note: control character " + Printable(std::string(1, c)));
  }
  size_t split = msg.rfind("\n\n");
  if (split == std::string_view::npos) return InvalidArgument("note: no blank line before signatures");
  Note note;
  note.text = std::string(msg.substr(0, split + 1));
  std::string_view sigs = msg.substr(split + 2);
  if (sigs.empty()) return InvalidArgument("note: no signatures");
  if (sigs.back() != '\n') return InvalidArgument("note: signature block does not end in newline");
  size_t line_no = 0;
  while (!sigs.empty()) {
    ++line_no;
    size_t nl = sigs.find('\n');
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    std::string where = "note: signature line " + std::to_string(line_no);
    if (note.signatures.size() >= limits::kMaxNoteSignatures)
      return ResourceExhausted("note: more than " + std::to_string(limits::kMaxNoteSignatures) +
                               " signatures");
    if (line.substr(0, kEmDashSpace.size()) != kEmDashSpace)
      return InvalidArgument(where + ": does not start with em dash and space");
    line.remove_prefix(kEmDashSpace.size());
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return InvalidArgument(where + ": no space between name and signature");
    std::string_view name = line.substr(0, sp), b64 = line.substr(sp + 1);
    if (!IsValidKeyName(name)) return InvalidArgument(where + ": invalid key name");
    auto raw = Base64Decode(b64);
    if (!raw) return InvalidArgument(where + ": signature is not base64");
    if (raw->size() < 5) return InvalidArgument(where + ": signature too short");
    Signature sig;
    sig.name = std::string(name);
    sig.key_id = GetU32(*raw);
    sig.data = raw->substr(4);
    note.signatures.push_back(std::move(sig));
  }
  return note;
}

std::string FormatSignatureLine(const Signature& sig) {
  std::string raw;
  PutU32(raw, sig.key_id);
  raw += sig.data;
  return std::string(kEmDashSpace) + sig.name + " " + Base64Encode(raw) + "\n";
}

std::string FormatNote(const Note& note) {
  std::string out = note.text;
  out.push_back('\n');
  for (const auto& s : note.signatures) out += FormatSignatureLine(s);
  return out;
}

namespace {
Status CheckText(std::string_view text) {
  if (text.empty() || text.back() != '\n') return InvalidArgument("note text must end in a newline");
  if (text.size() > limits::kMaxNoteSize) return ResourceExhausted("note text too large");
  if (!IsValidUtf8(text)) return InvalidArgument("note text is not valid UTF-8");
  for (char c : text)
    if (uint8_t(c) < 0x20 && c != '\n') return InvalidArgument("note text has a control character");
  return Status::Ok();
}

Signature MakeSignature(const Signer& signer, std::string_view message, std::string prefix) {
  crypto::Ed25519Signature raw = crypto::Ed25519Sign(signer.key, message);
  Signature sig;
  sig.name = signer.name;
  sig.key_id = signer.key_id;
  sig.data = std::move(prefix);
  sig.data.append(reinterpret_cast<const char*>(raw.data()), raw.size());
  return sig;
}
}  // namespace

std::string CosignedMessage(std::string_view text, uint64_t timestamp) {
  std::string m = "cosignature/v1\ntime " + std::to_string(timestamp) + "\n";
  m += text;
  return m;
}

Result<Signature> Sign(const Signer& signer, std::string_view text) {
  if (signer.type != KeyType::kEd25519)
    return InvalidArgument("key " + signer.name + " is not an Ed25519 note key");
  RETURN_IF_ERROR(CheckText(text));
  return MakeSignature(signer, text, "");
}

Result<Signature> Cosign(const Signer& signer, std::string_view text, uint64_t timestamp) {
  if (signer.type != KeyType::kCosignatureV1)
    return InvalidArgument("key " + signer.name + " is not a cosignature/v1 key");
  if (timestamp > uint64_t(INT64_MAX)) return InvalidArgument("cosignature timestamp over 2^63-1");
  RETURN_IF_ERROR(CheckText(text));
  std::string prefix;
  PutU64(prefix, timestamp);
  return MakeSignature(signer, CosignedMessage(text, timestamp), std::move(prefix));
}

Result<OpenedNote> Open(ByteView message, std::span<const Verifier> known) {
  ASSIGN_OR_RETURN(Note note, ParseNote(message));
  OpenedNote out;
  std::set<size_t> seen;
  for (const Signature& sig : note.signatures) {
    for (size_t i = 0; i < known.size(); ++i) {
      const Verifier& v = known[i];
      if (v.name != sig.name || v.key_id != sig.key_id) continue;
      bool good = false;
      uint64_t ts = 0;
      if (v.type == KeyType::kEd25519) {
        good = crypto::Ed25519Verify(v.public_key, note.text, sig.data);
      } else if (v.type == KeyType::kCosignatureV1) {
        if (sig.data.size() == 8 + 64) {
          ts = GetU64(sig.data);
          good =
              ts <= uint64_t(INT64_MAX) && crypto::Ed25519Verify(v.public_key, CosignedMessage(note.text, ts),
                                                                 ByteView(sig.data).substr(8));
        }
      }
      if (!good)
        return PermissionDenied("note: signature by " + v.name + " (" + Hex8(v.key_id) + ") does not verify");
      if (seen.insert(i).second) out.verified.push_back({i, ts});
    }
  }
  if (out.verified.empty()) return PermissionDenied("note: no signature by a known key");
  out.note = std::move(note);
  return out;
}

}  // namespace accord::note

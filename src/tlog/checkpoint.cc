#include "tlog/checkpoint.h"

#include <cstring>

#include "core/limits.h"

namespace accord::tlog {

std::string FormatCheckpoint(const Checkpoint& cp) {
  std::string out = cp.origin;
  out += "\n" + std::to_string(cp.size) + "\n";
  out += Base64Encode(crypto::AsView(cp.root));
  out += "\n";
  for (const auto& e : cp.extensions) out += e + "\n";
  return out;
}

Result<Checkpoint> ParseCheckpoint(std::string_view text) {
  if (text.empty() || text.back() != '\n') return InvalidArgument("checkpoint: text does not end in newline");
  std::vector<std::string_view> lines;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
    if (lines.size() > 3 + limits::kMaxCheckpointExtensions)
      return InvalidArgument("checkpoint: more than " + std::to_string(limits::kMaxCheckpointExtensions) +
                             " extension lines");
  }
  if (lines.size() < 3) return InvalidArgument("checkpoint: fewer than three lines");
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].empty()) return InvalidArgument("checkpoint: line " + std::to_string(i + 1) + " is empty");
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  auto size = ParseDecimal(lines[1]);
  if (!size)
    return InvalidArgument("checkpoint: tree size \"" + Printable(lines[1]) + "\" is not a decimal number");
  if (*size > (uint64_t(1) << 63)) return InvalidArgument("checkpoint: tree size over 2^63");
  cp.size = *size;
  auto root = Base64Decode(lines[2]);
  if (!root || root->size() != 32) return InvalidArgument("checkpoint: root hash is not base64 of 32 bytes");
  std::memcpy(cp.root.data(), root->data(), 32);
  for (size_t i = 3; i < lines.size(); ++i) cp.extensions.emplace_back(lines[i]);
  return cp;
}

Result<VerifiedCheckpoint> OpenCheckpoint(ByteView message, const note::Verifier& log_key,
                                          std::span<const note::Verifier> witnesses,
                                          std::string_view origin) {
  if (log_key.type != note::KeyType::kEd25519)
    return InvalidArgument("log key " + log_key.name + " is not an Ed25519 key");
  std::vector<note::Verifier> known;
  known.reserve(1 + witnesses.size());
  known.push_back(log_key);
  known.insert(known.end(), witnesses.begin(), witnesses.end());
  Result<note::OpenedNote> opened = note::Open(message, known);
  if (!opened.ok()) return opened.status().WithContext("checkpoint");
  VerifiedCheckpoint out;
  bool log_signed = false;
  for (const auto& v : opened->verified) {
    if (v.verifier == 0) {
      log_signed = true;
    } else if (known[v.verifier].type == note::KeyType::kCosignatureV1) {
      out.cosignatures.push_back({known[v.verifier].name, v.timestamp});
    }
  }
  if (!log_signed) return PermissionDenied("checkpoint: not signed by the log key " + log_key.name);
  ASSIGN_OR_RETURN(out.checkpoint, ParseCheckpoint(opened->note.text));
  if (!origin.empty() && out.checkpoint.origin != origin)
    return PermissionDenied("checkpoint: origin \"" + Printable(out.checkpoint.origin) + "\", want \"" +
                            std::string(origin) + "\"");
  out.raw = std::string(message);
  return out;
}

Result<std::string> SignCheckpoint(const Checkpoint& cp, const note::Signer& log_key) {
  note::Note n;
  n.text = FormatCheckpoint(cp);
  ASSIGN_OR_RETURN(note::Signature sig, note::Sign(log_key, n.text));
  n.signatures.push_back(std::move(sig));
  return note::FormatNote(n);
}

}  // namespace accord::tlog

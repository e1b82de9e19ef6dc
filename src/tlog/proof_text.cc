#include "tlog/proof_text.h"

#include <cstring>

#include "core/limits.h"

namespace accord::tlog {

std::string FormatProof(const ProofText& p) {
  bool checkpointed = !p.checkpoint.empty();
  std::string out;
  if (p.kind == ProofText::Kind::kInclusion) {
    out += std::string(checkpointed ? kTlogProofHeader : kInclusionHeader) + "\n";
    if (checkpointed && p.extra) out += "extra " + Base64Encode(*p.extra) + "\n";
    out += "index " + std::to_string(p.index) + "\n";
  } else {
    out += std::string(kConsistencyHeader) + "\n";
    out += "old-size " + std::to_string(p.old_size) + "\n";
  }
  if (!checkpointed) {
    out += "size " + std::to_string(p.size) + "\n";
    out += "root " + Base64Encode(crypto::AsView(p.root.value_or(Hash{}))) + "\n";
  }
  for (const Hash& h : p.hashes) out += Base64Encode(crypto::AsView(h)) + "\n";
  if (checkpointed) out += "\n" + p.checkpoint;
  return out;
}

namespace {
class Lines {
 public:
  explicit Lines(ByteView text) : rest_(text) {}
  bool Next(std::string_view* line) {
    if (rest_.empty()) return false;
    size_t nl = rest_.find('\n');
    if (nl == std::string_view::npos) {
      missing_newline_ = true;
      return false;
    }
    *line = rest_.substr(0, nl);
    rest_.remove_prefix(nl + 1);
    ++number_;
    return true;
  }
  std::string_view rest() const { return rest_; }
  bool missing_newline() const { return missing_newline_; }
  Status Error(std::string what) const {
    return InvalidArgument("proof line " + std::to_string(number_) + ": " + what);
  }

 private:
  std::string_view rest_;
  size_t number_ = 0;
  bool missing_newline_ = false;
};

bool KeyValue(std::string_view line, std::string_view key, std::string_view* value) {
  if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key || line[key.size()] != ' ')
    return false;
  *value = line.substr(key.size() + 1);
  return true;
}

std::optional<Hash> DecodeHash(std::string_view b64) {
  auto raw = Base64Decode(b64);
  if (!raw || raw->size() != 32) return std::nullopt;
  Hash h;
  std::memcpy(h.data(), raw->data(), 32);
  return h;
}
}  // namespace

Result<ProofText> ParseProof(ByteView text) {
  if (text.size() > limits::kMaxProofFileSize)
    return ResourceExhausted("proof: " + std::to_string(text.size()) + " bytes, limit " +
                             std::to_string(limits::kMaxProofFileSize));
  Lines lines(text);
  std::string_view line, value;
  ProofText p;
  if (!lines.Next(&line)) return InvalidArgument("proof: empty or no newline after the header");
  bool c2sp = line == kTlogProofHeader;
  if (c2sp || line == kInclusionHeader) {
    p.kind = ProofText::Kind::kInclusion;
  } else if (line == kConsistencyHeader) {
    p.kind = ProofText::Kind::kConsistency;
  } else {
    return lines.Error("unknown proof header \"" + Printable(line) + "\"");
  }
  if (!lines.Next(&line)) return lines.Error("truncated");
  if (c2sp && line.substr(0, 6) == "extra ") {  // the value may be empty: base64 of nothing
    value = line.substr(6);
    auto extra = Base64Decode(value);
    if (!extra) return lines.Error("extra is not base64");
    p.extra = std::move(*extra);
    if (!lines.Next(&line)) return lines.Error("truncated");
  }
  std::string_view count_key = p.kind == ProofText::Kind::kInclusion ? "index" : "old-size";
  if (!KeyValue(line, count_key, &value)) return lines.Error("want \"" + std::string(count_key) + " <n>\"");
  auto n = ParseDecimal(value);
  if (!n) return lines.Error(std::string(count_key) + " is not a decimal number");
  (p.kind == ProofText::Kind::kInclusion ? p.index : p.old_size) = *n;
  bool checkpointed = c2sp;
  if (!c2sp) {
    if (!lines.Next(&line)) return lines.Error("truncated");
    if (KeyValue(line, "size", &value)) {
      auto size = ParseDecimal(value);
      if (!size) return lines.Error("size is not a decimal number");
      p.size = *size;
      if (!lines.Next(&line) || !KeyValue(line, "root", &value)) return lines.Error("want \"root <base64>\"");
      auto root = DecodeHash(value);
      if (!root) return lines.Error("root is not base64 of 32 bytes");
      p.root = *root;
    } else {
      checkpointed = true;
      if (line.empty()) goto checkpoint;  // a proof with no hashes
      auto h = DecodeHash(line);
      if (!h) return lines.Error("not a base64 SHA-256 hash");
      p.hashes.push_back(*h);
    }
  }
  while (lines.Next(&line)) {
    if (line.empty()) {
      if (!checkpointed) return lines.Error("blank line in a proof without a checkpoint");
      goto checkpoint;
    }
    if (p.hashes.size() >= limits::kMaxProofHashes)
      return lines.Error("more than " + std::to_string(limits::kMaxProofHashes) + " hashes");
    auto h = DecodeHash(line);
    if (!h) return lines.Error("not a base64 SHA-256 hash");
    p.hashes.push_back(*h);
  }
  if (lines.missing_newline()) return lines.Error("last line has no newline");
  if (checkpointed) return lines.Error("missing blank line and checkpoint");
  return p;
checkpoint:
  if (lines.rest().empty()) return lines.Error("missing checkpoint after the blank line");
  p.checkpoint = std::string(lines.rest());
  return p;
}

}  // namespace accord::tlog

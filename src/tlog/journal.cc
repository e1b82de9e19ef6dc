#include "tlog/journal.h"

#include <string>

#include "crypto/sha256.h"
#include "tlog/tile.h"

namespace accord::tlog {

namespace {
constexpr std::string_view kMagic = "ACJ1";
constexpr size_t kHeader = 4 + 8 + 4 + 4;
constexpr size_t kDigest = 32;

void PutBE(Bytes& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(char(uint8_t(v >> (8 * i))));
}
uint64_t GetBE(ByteView in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(in[at + i]);
  return v;
}
ByteView DigestView(const crypto::Hash& h) {
  return ByteView(reinterpret_cast<const char*>(h.data()), h.size());
}
}  // namespace

Bytes EncodeJournalRecord(uint64_t first, const std::vector<ByteView>& entries) {
  size_t payload = 0;
  for (ByteView e : entries) payload += 2 + e.size();
  Bytes out;
  out.reserve(kHeader + payload + kDigest);
  out.append(kMagic);
  PutBE(out, first, 8);
  PutBE(out, entries.size(), 4);
  PutBE(out, payload, 4);
  for (ByteView e : entries) AppendBundleEntry(out, e);
  out.append(DigestView(crypto::Sha256(out)));
  return out;
}

Result<ParsedJournal> ParseJournal(ByteView data) {
  ParsedJournal out;
  size_t pos = 0;
  auto damaged = [&](const std::string& what) {
    return DataLoss("journal record at byte " + std::to_string(pos) + " " + what +
                    ": not a write torn by a crash, and acknowledged entries may follow it (if they "
                    "do not, truncating the journal to " +
                    std::to_string(pos) + " bytes drops only this)");
  };
  while (pos < data.size()) {
    if (data.size() - pos < kHeader + kDigest) break;  // torn in its header
    if (data.substr(pos, 4) != kMagic) {
      // Torn before its first block reached the disk: what is there reads as zeros.
      if (data.find_first_not_of('\0', pos) == std::string_view::npos) break;
      return damaged("does not start with ACJ1 and is not all zeros");
    }
    uint64_t count = GetBE(data, pos + 12, 4), length = GetBE(data, pos + 16, 4);
    if (length > data.size() - pos - kHeader - kDigest) break;  // torn in its payload
    size_t end = pos + kHeader + size_t(length);
    if (data.substr(end, kDigest) != DigestView(crypto::Sha256(data.substr(pos, end - pos)))) {
      if (end + kDigest == data.size()) break;  // torn: a block of it not written as it was
      return damaged("does not match its digest, and bytes follow it");
    }
    if (count == 0) return damaged("matches its digest but holds no entries");
    JournalRecord r;
    r.first = GetBE(data, pos + 4, 8);
    ByteView payload = data.substr(pos + kHeader, size_t(length));
    size_t p = 0;
    while (p + 2 <= payload.size() && r.entries.size() < count) {
      size_t n = GetBE(payload, p, 2);
      if (n > payload.size() - p - 2) break;
      r.entries.push_back(payload.substr(p + 2, n));
      p += 2 + n;
    }
    if (r.entries.size() != count || p != payload.size())
      return damaged("matches its digest but its " + std::to_string(count) + " entries do not fill its " +
                     std::to_string(length) + " bytes");
    out.records.push_back(std::move(r));
    pos = end + kDigest;
  }
  out.valid_bytes = pos;
  return out;
}

}  // namespace accord::tlog

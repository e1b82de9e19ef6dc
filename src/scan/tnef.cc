#include "scan/tnef.h"

#include <algorithm>
#include <string>

namespace accord::scan {
namespace {

constexpr uint32_t kSignature = 0x223e9f78;
// [MS-OXTNEF] 2.1.3.3: attribute ids (type in the high 16 bits).
constexpr uint32_t kAttAttachRendData = 0x00069002;
constexpr uint32_t kAttAttachTitle = 0x00018010;
constexpr uint32_t kAttAttachData = 0x0006800f;
constexpr uint8_t kLevelMessage = 1, kLevelAttachment = 2;

struct Attachment {
  std::string title;
  ByteView data;
  bool has_data = false;
};

}  // namespace

bool LooksLikeTnef(ByteView d) {
  return d.size() >= 6 && Le32(d, 0) == kSignature;
}

Status ReadTnef(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  if (!LooksLikeTnef(d)) return DataLoss("TNEF signature missing");
  Status status;
  auto damage = [&](std::string m) {
    if (status.ok()) status = DataLoss(std::move(m));
  };
  uint64_t n = 0;
  Attachment current;
  auto flush = [&]() -> bool {
    bool go_on = true;
    if (current.has_data) {
      ++n;
      ReaderMember m;
      m.name = CleanReaderName(current.title, "attachment" + std::to_string(n));
      m.data = Bytes(current.data.substr(
          0, static_cast<size_t>(std::min<uint64_t>(current.data.size(), options.max_member_bytes))));
      go_on = sink(std::move(m));
    }
    current = Attachment{};
    return go_on;
  };
  size_t pos = 6;
  while (pos < d.size()) {
    if (d.size() - pos < 9) {
      // A line break or padding after the last attribute (ClamAV's test file ends in "\n").
      if (d.find_first_not_of(ByteView("\r\n \0", 4), pos) == ByteView::npos) break;
      damage("TNEF attribute header truncated at " + std::to_string(pos));
      break;
    }
    uint8_t level = static_cast<uint8_t>(d[pos]);
    uint32_t id = Le32(d, pos + 1);
    uint32_t length = Le32(d, pos + 5);
    size_t body = pos + 9;
    if (level != kLevelMessage && level != kLevelAttachment) {
      damage("TNEF attribute at " + std::to_string(pos) + " has level " + std::to_string(level));
      break;
    }
    bool cut = length > d.size() - body;
    ByteView data = d.substr(body, cut ? d.size() - body : length);
    if (id == kAttAttachRendData) {
      if (!flush()) return Status::Ok();
    } else if (id == kAttAttachTitle) {
      current.title = std::string(data.substr(0, std::min(data.find('\0'), data.size())));
    } else if (id == kAttAttachData) {
      current.data = data;
      current.has_data = true;
    }
    if (cut) {
      damage("TNEF attribute 0x" +
             HexEncode(std::string{static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                                   static_cast<char>(id >> 8), static_cast<char>(id)}) +
             " at " + std::to_string(pos) + " declares " + std::to_string(length) + " bytes; " +
             std::to_string(d.size() - body) + " remain");
      break;
    }
    if (d.size() - body - length < 2) {
      damage("TNEF attribute checksum truncated at " + std::to_string(body + length));
      break;
    }
    // The checksum is not verified: writers disagree on it (ClamAV's own test file fails it for its
    // text attributes), and a wrong one hides nothing from a scan.
    pos = body + length + 2;
  }
  flush();
  return status;
}

}  // namespace accord::scan

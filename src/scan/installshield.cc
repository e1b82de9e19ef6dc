#include "scan/installshield.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scan/inflate.h"
#include "scan/pe.h"

namespace accord::scan {
namespace {

constexpr std::string_view kMsiMagic = std::string_view("InstallShield\0", 14);
constexpr size_t kMsiHeader = 0x20, kMsiBlock = 0x138, kMsiName = 0x104;
constexpr size_t kMsiSearch = 64 * 1024;        // how far into the overlay the MSI header is looked for
constexpr uint32_t kCabinetMagic = 0x28635349;  // "ISc("
constexpr size_t kFileItem = 87;
constexpr size_t kMaxField = 2048;    // a setup record's strings
constexpr size_t kMaxRecords = 4096;  // real setups carry tens; more is not InstallShield's

// The overlay: from where the PE's last section ends to the file's end, or to its Authenticode
// certificate table when that lies there. nullopt when `d` is not a PE or has no overlay.
struct Overlay {
  size_t begin = 0, end = 0;
};
std::optional<Overlay> FindOverlay(ByteView d) {
  std::optional<PeImage> pe = ParsePe(d);
  if (!pe || pe->raw_end >= d.size()) return std::nullopt;
  Overlay o{static_cast<size_t>(pe->raw_end), d.size()};
  if (pe->certificate_size > 0 && pe->certificate_offset >= o.begin && pe->certificate_offset < d.size() &&
      d.size() - pe->certificate_offset >= pe->certificate_size) {
    o.end = static_cast<size_t>(pe->certificate_offset);
  }
  if (o.end <= o.begin) return std::nullopt;
  return o;
}

bool Printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20; });
}

struct Record {
  std::string_view name, path;
  uint64_t size = 0;  // what the file holds of it (less than announced when `cut`)
  size_t data = 0;
  bool cut = false;
};

// A setup record at `at`: four NUL-terminated strings (name and size not empty, size decimal)
// and the data, all inside `d`.
std::optional<Record> ParseRecord(ByteView d, size_t at) {
  std::string_view field[4];
  for (std::string_view& f : field) {
    if (at >= d.size()) return std::nullopt;
    size_t end = d.substr(at, kMaxField + 1).find('\0');  // looked for in a bounded window only
    if (end == ByteView::npos) return std::nullopt;
    end += at;
    f = d.substr(at, end - at);
    at = end + 1;
  }
  if (field[0].empty() || !Printable(field[0]) || !Printable(field[1]) || !Printable(field[2]))
    return std::nullopt;
  if (field[3].empty() || field[3].size() > 12 ||
      !std::all_of(field[3].begin(), field[3].end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  Record r{field[0], field[1], std::stoull(std::string(field[3])), at};
  if (r.size > d.size() - at) {  // a cut file: the record's data runs past its end
    r.size = d.size() - at;
    r.cut = true;
  }
  return r;
}

// Every setup record from `o.begin` to `o.end` (the last one possibly cut by the file's end), or
// nullopt if one does not parse: the whole overlay is records, so nothing can sit unread after
// them (a zip appended to a program with one record is not taken for InstallShield).
std::optional<std::vector<Record>> ParseRecords(ByteView d, const Overlay& o) {
  ByteView area = d.substr(0, o.end);
  std::vector<Record> records;
  for (size_t at = o.begin; at < o.end;) {
    std::optional<Record> r = records.size() < kMaxRecords ? ParseRecord(area, at) : std::nullopt;
    if (!r) return std::nullopt;
    records.push_back(*r);
    if (r->cut) break;
    at = r->data + static_cast<size_t>(r->size);
  }
  return records;
}

// The MSI layout's header offset (after the magic), if one parses within the overlay's start and
// its blocks all fit before the overlay's end.
std::optional<size_t> FindMsiHeader(ByteView d, const Overlay& o) {
  ByteView window = d.substr(o.begin, std::min(o.end - o.begin, kMsiSearch + kMsiMagic.size()));
  for (size_t rel = window.find(kMsiMagic); rel != ByteView::npos; rel = window.find(kMsiMagic, rel + 1)) {
    size_t h = o.begin + rel + kMsiMagic.size();
    if (o.end - h < kMsiHeader + kMsiBlock) break;
    uint32_t count = Le32(d, h);
    if (count == 0 || count > 65535) continue;
    ByteView zeros = d.substr(h + 8, kMsiHeader - 8);
    if (zeros.find_first_not_of('\0') != ByteView::npos) continue;
    // The blocks fill the overlay (the file may be cut inside the last one), and nothing before
    // the header looks like an archive a self-extractor would carry.
    bool fits = true;
    uint64_t at = h + kMsiHeader;
    for (uint32_t i = 0; i < count && fits && at < o.end; ++i) {
      if (o.end - at < kMsiBlock) break;  // cut in a block header
      ByteView name = d.substr(static_cast<size_t>(at), kMsiName - 1);
      name = name.substr(0, name.find('\0'));
      uint64_t csize = Le64(d, static_cast<size_t>(at) + 0x10c);
      at += kMsiBlock;
      fits = !name.empty() && Printable(name);
      at += std::min<uint64_t>(csize, o.end - at);
    }
    fits = fits && at == o.end;
    ByteView gap = d.substr(o.begin, h - kMsiMagic.size() - o.begin);
    for (std::string_view sig : {std::string_view("PK\x03\x04"), std::string_view("MSCF\0\0\0\0", 8),
                                 std::string_view("Rar!\x1a\x07"), std::string_view("7z\xBC\xAF\x27\x1C")}) {
      if (gap.find(sig) != ByteView::npos) fits = false;
    }
    // Only the first header that parses is walked: the walk is bounded by the overlay once.
    return fits ? std::optional<size_t>(h) : std::nullopt;
  }
  return std::nullopt;
}

class Reading {
 public:
  Reading(ByteView d, const ReaderOptions& options, const MemberSink& sink)
      : d_(d), options_(options), sink_(sink) {}

  // False once the sink refused.
  bool Emit(std::string name, Bytes data) {
    if (stopped_) return false;
    if (!sink_(ReaderMember{std::move(name), std::move(data)})) stopped_ = true;
    return !stopped_;
  }
  void Note(Status s) {
    if (problem_.ok()) problem_ = std::move(s);
  }
  Status Result() const { return stopped_ ? Status::Ok() : problem_; }

  void Msi(size_t header) {
    uint32_t count = Le32(d_, header);
    size_t at = header + kMsiHeader;
    static constexpr unsigned char kKey[4] = {0xec, 0xca, 0x79, 0xf8};
    for (uint32_t i = 0; i < count && !stopped_; ++i) {
      if (d_.size() - at < kMsiBlock)
        return Note(DataLoss("InstallShield: file block " + std::to_string(i) + " cut"));
      ByteView raw_name = d_.substr(at, kMsiName - 1);
      raw_name = raw_name.substr(0, raw_name.find('\0'));
      if (raw_name.empty())
        return Note(DataLoss("InstallShield: file block " + std::to_string(i) + " has no name"));
      uint64_t csize = Le64(d_, at + 0x10c);
      at += kMsiBlock;
      size_t avail = static_cast<size_t>(std::min<uint64_t>(csize, d_.size() - at));
      Bytes key(raw_name);
      for (size_t k = 0; k < key.size(); ++k) key[k] = static_cast<char>(key[k] ^ kKey[k & 3]);
      Bytes plain(avail, '\0');
      for (size_t j = 0; j < avail; ++j) {
        unsigned char c = static_cast<unsigned char>(d_[at + j]);
        c = static_cast<unsigned char>((c >> 4) | (c << 4));
        plain[j] = static_cast<char>(c ^ static_cast<unsigned char>(key[(j & 0x3ff) % key.size()]));
      }
      std::string name = CleanReaderName(raw_name, "file" + std::to_string(i + 1));
      Bytes out;
      Status s = InflateCapped(plain, options_.max_member_bytes, out);
      if (!s.ok()) Note(DataLoss("InstallShield: " + name + ": " + s.message()));
      if (!Emit(name, std::move(out))) return;
      if (avail < csize) return Note(DataLoss("InstallShield: " + name + " cut"));
      at += avail;
    }
  }

  void Setup(ByteView d, const std::vector<Record>& records) {
    std::optional<ByteView> header;
    std::map<uint32_t, ByteView> cabinets;
    for (const Record& r : records) {
      if (stopped_) return;
      ByteView data = d.substr(r.data, static_cast<size_t>(r.size));
      std::string lower(r.name);
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (lower == "data1.hdr") header = data;
      if (lower.starts_with("data") && lower.ends_with(".cab") && lower.size() > 8 && lower.size() <= 13 &&
          std::all_of(lower.begin() + 4, lower.end() - 4, [](char c) { return c >= '0' && c <= '9'; })) {
        cabinets.emplace(static_cast<uint32_t>(std::stoul(lower.substr(4, lower.size() - 8))), data);
      }
      std::string name = CleanReaderName(r.path.empty() ? r.name : r.path, r.name);
      if (r.cut) Note(DataLoss("InstallShield: " + name + " is cut by the end of the file"));
      Emit(name, Bytes(data.substr(
                     0, static_cast<size_t>(std::min<uint64_t>(data.size(), options_.max_member_bytes)))));
    }
    if (header && !stopped_) CabinetFiles(*header, cabinets);
  }

 private:
  void CabinetFiles(ByteView h, const std::map<uint32_t, ByteView>& cabinets) {
    if (h.size() < 20 || Le32(h, 0) != kCabinetMagic)
      return Note(DataLoss("InstallShield: data1.hdr is not a cabinet header"));
    uint64_t d = Le32(h, 12);
    if (d > h.size() || h.size() - d < 48) return Note(DataLoss("InstallShield: data1.hdr's tables cut"));
    uint64_t base = d + Le32(h, d + 12), files = Le32(h, d + 40), items = base + Le32(h, d + 44);
    uint64_t budget = 0;
    for (const auto& [number, cab] : cabinets) budget += cab.size();
    RawInflater inflater;
    for (uint64_t i = 0; i < files && !stopped_; ++i) {
      uint64_t off = items + kFileItem * i;
      if (off > h.size() || h.size() - off < kFileItem)
        return Note(DataLoss("InstallShield: data1.hdr's file table cut"));
      size_t o = static_cast<size_t>(off);
      uint16_t flags = Le16(h, o);
      uint64_t size = Le64(h, o + 2), csize = Le64(h, o + 10), stream = Le64(h, o + 18);
      uint64_t name_at = base + Le32(h, o + 58);
      bool duplicate = (static_cast<unsigned char>(h[o + 84]) & 1) != 0;
      uint16_t cabinet = Le16(h, o + 85);
      // Flag 4: in a cabinet (else the file is one of the setup's records, or outside it); 2: obfuscated.
      if ((flags & 4) == 0 || size == 0 || duplicate) continue;
      std::string_view raw_name;
      if (name_at < h.size()) {
        raw_name = h.substr(static_cast<size_t>(name_at), kMaxField);
        raw_name = raw_name.substr(0, raw_name.find('\0'));
      }
      std::string name = CleanReaderName(raw_name, "file" + std::to_string(i + 1));
      auto cab = cabinets.find(cabinet);
      if (cab == cabinets.end()) {
        Note(DataLoss("InstallShield: " + name + " is in data" + std::to_string(cabinet) +
                      ".cab, which is not here"));
        continue;
      }
      ByteView c = cab->second;
      if (stream > c.size() || csize > c.size() - stream) {
        Note(DataLoss("InstallShield: " + name + " lies outside its cabinet"));
        continue;
      }
      if ((flags & 2) != 0) {
        Note(Unimplemented("InstallShield: " + name + " is obfuscated (not decoded)"));
        continue;
      }
      // A table whose items all point at the same data would have it inflated again and again:
      // all items together may read no more than the cabinets hold.
      if (csize > budget) {
        return Note(DataLoss("InstallShield: data1.hdr's items read more than the cabinets hold"));
      }
      budget -= csize;
      Bytes out;
      const uint64_t cap = options_.max_member_bytes;
      for (size_t p = static_cast<size_t>(stream), end = p + static_cast<size_t>(csize);
           end - p >= 2 && out.size() < cap;) {
        size_t n = Le16(c, p);
        p += 2;
        if (n > end - p) {
          Note(DataLoss("InstallShield: " + name + ": a chunk runs past the file's data"));
          break;
        }
        if (Status s = inflater.Append(c.substr(p, n), cap, out); !s.ok()) {
          Note(DataLoss("InstallShield: " + name + ": " + s.message()));
          break;
        }
        p += n;
      }
      if (out.size() < cap && out.size() != size) {
        Note(DataLoss("InstallShield: " + name + " inflated to " + std::to_string(out.size()) +
                      " bytes, the table says " + std::to_string(size)));
      }
      Emit(name, std::move(out));
    }
  }

  ByteView d_;
  const ReaderOptions& options_;
  const MemberSink& sink_;
  Status problem_;
  bool stopped_ = false;
};

}  // namespace

bool LooksLikeInstallShield(ByteView d) {
  std::optional<Overlay> o = FindOverlay(d);
  return o && (ParseRecords(d, *o) || FindMsiHeader(d, *o));
}

Status ReadInstallShield(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Overlay> o = FindOverlay(d);
  if (!o) return DataLoss("InstallShield: not a program with appended data");
  Reading reading(d, options, sink);
  if (std::optional<std::vector<Record>> records = ParseRecords(d, *o)) {
    reading.Setup(d, *records);
  } else if (std::optional<size_t> msi = FindMsiHeader(d, *o)) {
    reading.Msi(*msi);
  } else {
    return DataLoss("InstallShield: no setup records or MSI header after the program");
  }
  return reading.Result();
}

}  // namespace accord::scan

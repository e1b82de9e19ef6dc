#include "scan/container.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/status.h"
#include "scan/arj.h"
#include "scan/aspack.h"
#include "scan/autoit.h"
#include "scan/installshield.h"
#include "scan/mew.h"
#include "scan/mime.h"
#include "scan/mspack_reader.h"
#include "scan/nsis.h"
#include "scan/ole1.h"
#include "scan/ole2.h"
#include "scan/pdf.h"
#include "scan/pe.h"
#include "scan/pespin.h"
#include "scan/petite.h"
#include "scan/reader.h"
#include "scan/rtf.h"
#include "scan/sis.h"
#include "scan/tnef.h"
#include "scan/upack.h"
#include "scan/upx.h"
#include "scan/wwpack.h"
#include "scan/yc.h"
#include "scan/zip_legacy.h"

namespace accord::scan {
namespace {

using Clock = std::chrono::steady_clock;

// libarchive is read in pieces of this size: the granularity of the byte and time checks.
constexpr size_t kChunk = 64 * 1024;
// A PE file is searched for an appended archive (self-extractors) by these signatures.
constexpr size_t kMaxSfxCandidates = 4;

struct Detection {
  std::string_view format;  // "" if none
  size_t offset = 0;        // where the container starts (non-zero for an archive appended to a PE)
  // A short or heuristic magic number: if libarchive cannot read even the first header, the file
  // was simply not this kind of container and nothing is reported.
  bool speculative = false;
  // "program": the readers that recognise it (ProgramReadersFor) and the archives appended to it
  // (SfxCandidates), each found once.
  std::vector<std::string_view> readers{};
  std::vector<Detection> sfx{};
  // A text format that is a PDF too, "%PDF-" after junk lines a viewer skips: the PDF is opened as
  // well, so that lines that look like a mail's headers, uuencode or a data: URI cannot hide it.
  bool also_pdf = false;
};

bool At(ByteView d, size_t off, std::string_view magic) {
  return d.size() >= off + magic.size() && d.compare(off, magic.size(), magic) == 0;
}

// A tar header: "ustar" at 257, or (pre-POSIX v7 tar) a header whose checksum field matches.
bool LooksLikeTar(ByteView d) {
  if (d.size() < 512) return false;
  if (At(d, 257, "ustar")) return true;
  if (d[0] == '\0') return false;
  uint64_t want = 0;
  int digits = 0;
  for (size_t i = 148; i < 156; ++i) {
    char c = d[i];
    if (c >= '0' && c <= '7') {
      want = want * 8 + static_cast<uint64_t>(c - '0');
      ++digits;
    } else if (c != ' ' && c != '\0') {
      return false;
    }
  }
  if (digits == 0) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(d[i]);
  return sum == want;
}

Detection DetectArchiveAtStart(ByteView d) {
  if (At(d, 0, "PK\x03\x04") || At(d, 0, std::string_view("PK\x05\x06", 4)) || At(d, 0, "PK\x07\x08PK")) {
    return {"zip"};
  }
  if (At(d, 0, "7z\xBC\xAF\x27\x1C")) return {"7zip"};
  if (At(d, 0, "Rar!\x1a\x07")) return {"rar"};
  if (At(d, 0, std::string_view("MSCF\0\0\0\0", 8))) return {"cab"};
  if (At(d, 0, "!<arch>\n")) return {"ar"};
  if (At(d, 0, "xar!")) return {"xar"};
  if (At(d, 0, "070707") || At(d, 0, "070701") || At(d, 0, "070702")) return {"cpio"};
  if (At(d, 0, "\xc7\x71") || At(d, 0, "\x71\xc7")) return {"cpio", 0, true};
  if (At(d, 32769, "CD001")) return {"iso9660"};
  if (d.size() > 21 && d[2] == '-' && d[3] == 'l' && (d[4] == 'h' || d[4] == 'z') && d[6] == '-') {
    return {"lha", 0, true};
  }
  if (At(d, 0, "\x1f\x8b")) return {"gzip"};
  if (At(d, 0, "BZh") && d.size() > 3 && d[3] >= '1' && d[3] <= '9') return {"bzip2"};
  if (At(d, 0,
         std::string_view("\xfd"
                          "7zXZ\0",
                          6)))
    return {"xz"};
  if (At(d, 0, "LZIP")) return {"lzip"};
  if (At(d, 0, "\x28\xb5\x2f\xfd")) return {"zstd"};
  if (At(d, 0, "\x04\x22\x4d\x18")) return {"lz4"};
  if (At(d, 0, "\x1f\x9d")) return {"compress", 0, true};
  if (At(d, 0, "\xed\xab\xee\xdb")) return {"rpm"};
  if (LooksLikeTar(d)) return {"tar", 0, !At(d, 257, "ustar")};
  return {};
}

// Self-extracting archives: a PE stub followed by a zip, cab, rar or 7z. The signatures can occur
// by chance inside a PE, so these are speculative. Returns up to kMaxSfxCandidates.
std::vector<Detection> SfxCandidates(ByteView d) {
  std::vector<Detection> out;
  if (!At(d, 0, "MZ")) return out;
  static constexpr std::pair<std::string_view, std::string_view> kSigs[] = {
      {"zip", "PK\x03\x04"},
      {"cab", std::string_view("MSCF\0\0\0\0", 8)},
      {"rar", "Rar!\x1a\x07"},
      {"7zip", "7z\xBC\xAF\x27\x1C"},
  };
  for (const auto& [format, magic] : kSigs) {
    size_t at = d.find(magic, 2);
    if (at != ByteView::npos && out.size() < kMaxSfxCandidates) out.push_back({format, at, true});
  }
  std::sort(out.begin(), out.end(),
            [](const Detection& a, const Detection& b) { return a.offset < b.offset; });
  return out;
}

// accord's own readers (scan/reader.h), each registered here once: its format key (what Detect
// returns and the walker dispatches on), the name in its events ("Heuristics.Broken.<name>"), the
// probe that recognises it and the reader. Files are probed in this order by magic number or
// structure (DetectOwnReader), programs by every kProgram probe (ProgramReadersFor).
struct OwnReader {
  enum Kind { kFile, kProgram };
  std::string_view format;
  std::string_view event_name;
  Kind kind;
  bool (*probe)(ByteView);
  Status (*read)(ByteView, const ReaderOptions&, const MemberSink&);
};

bool StartsAsPdf(ByteView d) {
  return d.starts_with("%PDF-");
}

// A program may be several at once (AutoIt's UPX-packed interpreter with its script appended),
// and each kProgram reader that recognises it reads it. Never the only look: the self-extractor
// search runs on every program as well, so a structure one of them accepts cannot hide an
// appended archive.
constexpr OwnReader kOwnReaders[] = {
    {"szdd", "SZDD", OwnReader::kFile, LooksLikeSzdd, ReadSzdd},
    {"kwaj", "KWAJ", OwnReader::kFile, LooksLikeKwaj, ReadKwaj},
    {"chm", "CHM", OwnReader::kFile, LooksLikeChm, ReadChm},
    {"ole2", "OLE2", OwnReader::kFile, LooksLikeOle2, ReadOle2},
    {"tnef", "TNEF", OwnReader::kFile, LooksLikeTnef, ReadTnef},
    {"sis", "SIS", OwnReader::kFile, LooksLikeSis, ReadSis},
    {"arj", "ARJ", OwnReader::kFile, LooksLikeArj, ReadArj},
    {"rtf", "RTF", OwnReader::kFile, LooksLikeRtf, ReadRtf},
    {"pdf", "PDF", OwnReader::kFile, StartsAsPdf, ReadPdf},
    {"ole1-package", "OLE10Native", OwnReader::kFile, LooksLikeOle10Native, ReadOle10Native},
    {"upx", "UPX", OwnReader::kProgram, LooksLikeUpx, ReadUpx},
    {"yc", "yC", OwnReader::kProgram, LooksLikeYc, ReadYc},
    {"wwpack", "WWPack32", OwnReader::kProgram, LooksLikeWwpack, ReadWwpack},
    {"petite", "Petite", OwnReader::kProgram, LooksLikePetite, ReadPetite},
    {"mew", "MEW", OwnReader::kProgram, LooksLikeMew, ReadMew},
    {"aspack", "ASPack", OwnReader::kProgram, LooksLikeAspack, ReadAspack},
    {"upack", "Upack", OwnReader::kProgram, LooksLikeUpack, ReadUpack},
    {"pespin", "PESpin", OwnReader::kProgram, LooksLikePespin, ReadPespin},
    {"nsis", "NSIS", OwnReader::kProgram, LooksLikeNsis, ReadNsis},
    {"autoit", "AutoIt", OwnReader::kProgram, LooksLikeAutoIt, ReadAutoIt},
    {"installshield", "InstallShield", OwnReader::kProgram, LooksLikeInstallShield, ReadInstallShield},
    {"pe-embedded", "PE", OwnReader::kProgram, HasEmbeddedPe, ReadEmbeddedPes},
};

const OwnReader* FindOwnReader(std::string_view format) {
  for (const OwnReader& r : kOwnReaders) {
    if (r.format == format) return &r;
  }
  return nullptr;
}

std::string_view DetectOwnReader(ByteView d) {
  for (const OwnReader& r : kOwnReaders) {
    if (r.kind == OwnReader::kFile && r.probe(d)) return r.format;
  }
  return "";
}

Status RunReader(std::string_view format, ByteView data, const ReaderOptions& options,
                 const MemberSink& sink) {
  const OwnReader* r = FindOwnReader(format);
  if (r == nullptr) return Internal("no reader for " + std::string(format));
  return r->read(data, options, sink);
}

std::vector<std::string_view> ProgramReadersFor(ByteView d) {
  std::vector<std::string_view> out;
  if (!At(d, 0, "MZ")) return out;
  for (const OwnReader& r : kOwnReaders) {
    if (r.kind == OwnReader::kProgram && r.probe(d)) out.push_back(r.format);
  }
  return out;
}

bool IsOwnReaderFormat(std::string_view f) {
  return FindOwnReader(f) != nullptr;
}

bool IsTextFormat(std::string_view f) {
  return f == "mail" || f == "uuencode" || f == "binhex" || f == "data-uri";
}
bool IsCompressionFilter(std::string_view f) {
  return f == "gzip" || f == "bzip2" || f == "xz" || f == "lzip" || f == "zstd" || f == "lz4" ||
         f == "compress";
}

// `kinds`: a text format of a kind turned off is not what the data is taken for, so that the
// next one (a data: URI after a uuencoded block) is still found.
Detection Detect(ByteView d, const ContainerKinds& kinds = {}) {
  // A program (a PE) is never taken for a format whose magic its DOS header or body could be
  // made to hold (LHA's at byte 2, ISO's at 32769, an OLE1 package's fields): Windows ignores
  // those bytes, and such a match would keep the program's own readers from running.
  const bool mz = At(d, 0, "MZ");
  const bool pe = mz && ParsePe(d).has_value();
  if (!pe) {
    Detection det = DetectArchiveAtStart(d);
    if (!det.format.empty()) return det;
    if (std::string_view own = DetectOwnReader(d); !own.empty()) return {own};
  }
  if (mz) {
    Detection program{"program", 0, true};
    if (pe) program.readers = ProgramReadersFor(d);
    program.sfx = SfxCandidates(d);
    if (!program.readers.empty() || !program.sfx.empty()) return program;
  }
  // Viewers accept junk before a PDF's header: a text that a decoder reads (a mail, whose headers
  // may make its body anything but the PDF) and that is a PDF too is both.
  Detection text;
  if (kinds.Opens("mail") && mime::LooksLikeMail(d))
    text.format = "mail";
  else if (kinds.Opens("binhex") && mime::HasBinhex(d))
    text.format = "binhex";
  else if (kinds.Opens("uuencode") && mime::HasUuencode(d))
    text.format = "uuencode";
  else if (kinds.Opens("data-uri") && mime::HasDataUri(d))
    text.format = "data-uri";
  const bool pdf = LooksLikePdf(d);
  if (text.format.empty()) return pdf ? Detection{"pdf"} : Detection{};
  text.also_pdf = pdf && kinds.Opens("pdf");
  return text;
}

// The name used in event names: "Heuristics.Broken.Zip".
std::string_view EventFormatName(std::string_view f) {
  if (const OwnReader* r = FindOwnReader(f)) return r->event_name;
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"zip", "Zip"},
      {"7zip", "7Zip"},
      {"rar", "RAR"},
      {"cab", "CAB"},
      {"ar", "Ar"},
      {"xar", "Xar"},
      {"cpio", "Cpio"},
      {"iso9660", "ISO9660"},
      {"lha", "LHA"},
      {"gzip", "GZip"},
      {"bzip2", "BZip2"},
      {"xz", "XZ"},
      {"lzip", "LZip"},
      {"zstd", "Zstd"},
      {"lz4", "LZ4"},
      {"compress", "Compress"},
      {"rpm", "RPM"},
      {"tar", "Tar"},
      {"program", "SFX"},
      {"mail", "Mail"},
      {"uuencode", "UUEncode"},
      {"binhex", "BinHex"},
      {"data-uri", "DataURI"},
  };
  for (const auto& [key, name] : kNames) {
    if (key == f) return name;
  }
  return "Container";
}

// libarchive's own format name for what it actually opened, in our vocabulary.
std::string_view FormatOf(struct archive* a, std::string_view detected) {
  switch (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP:
      return "zip";
    case ARCHIVE_FORMAT_7ZIP:
      return "7zip";
    case ARCHIVE_FORMAT_RAR:
      return "rar";
    case ARCHIVE_FORMAT_RAR_V5:
      return "rar";
    case ARCHIVE_FORMAT_CAB:
      return "cab";
    case ARCHIVE_FORMAT_TAR:
      return "tar";
    case ARCHIVE_FORMAT_CPIO:
      return "cpio";
    case ARCHIVE_FORMAT_AR:
      return "ar";
    case ARCHIVE_FORMAT_ISO9660:
      return "iso9660";
    case ARCHIVE_FORMAT_LHA:
      return "lha";
    case ARCHIVE_FORMAT_XAR:
      return "xar";
    default:
      return detected;
  }
}

// "x.exe.gz" -> "x.exe", "a.tgz" -> "a.tar": the name of what a compressed stream holds.
std::string DecompressedName(std::string_view path) {
  std::string_view base = path;
  if (size_t bang = base.rfind('!'); bang != std::string_view::npos) base.remove_prefix(bang + 1);
  if (size_t slash = base.rfind('/'); slash != std::string_view::npos) base.remove_prefix(slash + 1);
  static constexpr std::pair<std::string_view, std::string_view> kSuffixes[] = {
      {".tgz", ".tar"}, {".taz", ".tar"},  {".tbz2", ".tar"}, {".tbz", ".tar"},
      {".txz", ".tar"}, {".tzst", ".tar"}, {".gz", ""},       {".gzip", ""},
      {".bz2", ""},     {".bz", ""},       {".xz", ""},       {".lz", ""},
      {".zst", ""},     {".lz4", ""},      {".Z", ""},        {".z", ""},
  };
  for (const auto& [suffix, replacement] : kSuffixes) {
    if (base.size() > suffix.size() && base.ends_with(suffix)) {
      return std::string(base.substr(0, base.size() - suffix.size())) + std::string(replacement);
    }
  }
  return base.empty() ? "data" : std::string(base);
}

std::string CleanMemberName(const char* name, uint64_t index) {
  if (name == nullptr || *name == '\0') return "member" + std::to_string(index);
  std::string out(name);
  while (out.starts_with("./")) out.erase(0, 2);
  if (out.size() > 1024) out.resize(1024);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out.empty() ? "member" + std::to_string(index) : out;
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

// A reader offering only real archive formats, and only in-process decompressors (no lrzip, lzop
// or grzip, which libarchive would run as external programs). `raw` adds the single-stream
// format, for a compressed file that turns out not to hold an archive.
ArchivePtr NewReader(bool raw) {
  ArchivePtr a(archive_read_new());
  if (!a) return a;
  struct archive* p = a.get();
  archive_read_support_format_7zip(p);
  archive_read_support_format_ar(p);
  archive_read_support_format_cab(p);
  archive_read_support_format_cpio(p);
  archive_read_support_format_iso9660(p);
  archive_read_support_format_lha(p);
  archive_read_support_format_rar(p);
  archive_read_support_format_rar5(p);
  archive_read_support_format_tar(p);
  archive_read_support_format_xar(p);
  archive_read_support_format_zip(p);
  if (raw) archive_read_support_format_raw(p);
  archive_read_support_filter_bzip2(p);
  archive_read_support_filter_compress(p);
  archive_read_support_filter_gzip(p);
  archive_read_support_filter_lz4(p);
  archive_read_support_filter_lzip(p);
  archive_read_support_filter_lzma(p);
  archive_read_support_filter_xz(p);
  archive_read_support_filter_zstd(p);
  archive_read_support_filter_rpm(p);
  return a;
}

std::string ErrorText(struct archive* a) {
  const char* e = archive_error_string(a);
  return e != nullptr ? std::string(e) : "unknown libarchive error";
}

// The zip entries libarchive cannot decode (scan/zip_legacy.h), listed at the first need, each
// decoded once: for a member libarchive reports with method 6 or 9 ("Unsupported ZIP compression
// method (9: deflation-64-bit)"), the unused entry of that method with its name, else (names
// libarchive converted) the next unused one of that method in local-header order.
struct LegacyZip {
  bool listed = false;
  std::vector<LegacyZipEntry> entries;
  std::vector<bool> used;
  std::multimap<std::string, size_t> by_name;
  size_t next[2] = {0, 0};  // per method (6, 9): the first entry not yet passed in order
};

Status DecodeLegacyZip(ByteView zip, const char* raw_name, const std::string& message, uint64_t cap,
                       LegacyZip& legacy, Bytes& out) {
  uint16_t method = message.find("(6: ") != std::string::npos   ? 6
                    : message.find("(9: ") != std::string::npos ? 9
                                                                : 0;
  if (method == 0) return NotFound("not implode or deflate64");
  if (!legacy.listed) {
    legacy.listed = true;
    Result<std::vector<LegacyZipEntry>> listed = ListLegacyZipEntries(zip);
    if (!listed.ok()) return NotFound(listed.status().message());
    legacy.entries = std::move(*listed);
    legacy.used.assign(legacy.entries.size(), false);
    for (size_t i = 0; i < legacy.entries.size(); ++i) legacy.by_name.emplace(legacy.entries[i].raw_name, i);
  }
  size_t pick = legacy.entries.size();
  if (raw_name != nullptr) {
    auto [lo, hi] = legacy.by_name.equal_range(raw_name);
    for (auto it = lo; it != hi && pick == legacy.entries.size(); ++it) {
      if (!legacy.used[it->second] && legacy.entries[it->second].method == method) pick = it->second;
    }
  }
  size_t& next = legacy.next[method == 6 ? 0 : 1];
  while (pick == legacy.entries.size() && next < legacy.entries.size()) {
    if (!legacy.used[next] && legacy.entries[next].method == method) pick = next;
    ++next;
  }
  if (pick == legacy.entries.size()) return NotFound("no implode or deflate64 entry left");
  legacy.used[pick] = true;
  return DecodeLegacyZipEntry(zip, legacy.entries[pick], cap, out);
}

bool IsUnsupportedError(const std::string& message) {
  return message.find("nsupported") != std::string::npos ||
         message.find("not supported") != std::string::npos;
}

class WalkState {
 public:
  WalkState(const ContainerLimits& limits, const Visitor& visit, const EventSink& on_event)
      : limits_(limits), visit_(visit), on_event_(on_event), deadline_(Clock::now() + limits.max_scan_time) {}

  void VisitItem(ByteView data, const std::string& path, int depth, std::string_view container,
                 bool truncated);
  const WalkStats& stats() const { return stats_; }

 private:
  // A cap on one member's bytes and the limit it comes from.
  struct Cap {
    uint64_t bytes;
    std::string_view name;
  };
  // What one container has produced and may produce (MaxFiles, MaxCompressionRatio).
  struct ContainerBudget {
    uint64_t members = 0;
    uint64_t produced = 0;
    uint64_t allowance = 0;
  };

  void Report(EventKind kind, const std::string& path, std::string name, std::string message);
  bool TimeUp(const std::string& path);
  ContainerBudget BudgetFor(ByteView container) const;
  Cap MemberCap(const ContainerBudget& budget) const;
  // Counts a member against MaxFiles; false (reported) if there is no room for it.
  bool AdmitMember(ContainerBudget& budget, const std::string& container_path);
  // Reports a cap that cut a member and applies its consequence; false if the container must stop.
  bool CapHit(const Cap& cap, const std::string& member_path, uint64_t kept);

  void OpenArchive(ByteView data, const std::string& path, int depth, Detection det);
  void OpenText(ByteView data, const std::string& path, int depth, std::string_view format);
  void OpenReader(ByteView data, const std::string& path, int depth, std::string_view format);

  const ContainerLimits& limits_;
  const Visitor& visit_;
  const EventSink& on_event_;
  const Clock::time_point deadline_;
  WalkStats stats_;
  bool stopped_ = false;  // MaxScanSize or MaxScanTime: nothing more is extracted or opened
  // libarchive's output lands here first. One per walk: a member is read whole before the walk
  // descends into it.
  std::vector<char> chunk_ = std::vector<char>(kChunk);
};

void WalkState::Report(EventKind kind, const std::string& path, std::string name, std::string message) {
  ++stats_.events;
  if (on_event_) on_event_(Event{kind, path, std::move(name), std::move(message)});
}

bool WalkState::TimeUp(const std::string& path) {
  if (stopped_) return true;
  if (Clock::now() < deadline_) return false;
  Report(EventKind::kLimitExceeded, path, std::string(kMaxScanTime),
         "scan time over " + std::to_string(limits_.max_scan_time.count()) + " ms; the walk stops here");
  stopped_ = true;
  return true;
}

WalkState::ContainerBudget WalkState::BudgetFor(ByteView container) const {
  ContainerBudget b;
  uint64_t size = container.size();
  uint64_t ratio = limits_.max_compression_ratio;
  b.allowance = (ratio != 0 && size > UINT64_MAX / ratio) ? UINT64_MAX : size * ratio;
  b.allowance = std::max(b.allowance, limits_.compression_ratio_floor);
  return b;
}

WalkState::Cap WalkState::MemberCap(const ContainerBudget& budget) const {
  Cap cap{limits_.max_file_size, kMaxFileSize};
  uint64_t scan_left = limits_.max_scan_size - std::min(stats_.bytes_extracted, limits_.max_scan_size);
  if (scan_left < cap.bytes) cap = {scan_left, kMaxScanSize};
  uint64_t ratio_left = budget.allowance - std::min(budget.produced, budget.allowance);
  if (ratio_left < cap.bytes) cap = {ratio_left, kMaxCompressionRatio};
  // Every cap unlimited (--max-filesize 0 --max-scansize 0 and a ratio that saturates): no member
  // can be that large, and one byte past the cap, which the readers ask for, must not wrap to 0.
  cap.bytes = std::min<uint64_t>(cap.bytes, UINT64_MAX - 1);
  return cap;
}

bool WalkState::AdmitMember(ContainerBudget& budget, const std::string& container_path) {
  if (budget.members >= limits_.max_files) {
    Report(EventKind::kLimitExceeded, container_path, std::string(kMaxFiles),
           "more than " + std::to_string(limits_.max_files) + " members; the rest are not extracted");
    return false;
  }
  ++budget.members;
  return true;
}

bool WalkState::CapHit(const Cap& cap, const std::string& member_path, uint64_t kept) {
  std::string what = "cut at " + std::to_string(kept) + " bytes: ";
  if (cap.name == kMaxFileSize) {
    Report(EventKind::kLimitExceeded, member_path, std::string(cap.name),
           what + "member larger than max_file_size " + std::to_string(limits_.max_file_size));
    return true;
  }
  if (cap.name == kMaxScanSize) {
    Report(EventKind::kLimitExceeded, member_path, std::string(cap.name),
           what + "more than max_scan_size " + std::to_string(limits_.max_scan_size) +
               " bytes extracted from this file; the walk stops here");
    stopped_ = true;
    return false;
  }
  Report(EventKind::kLimitExceeded, member_path, std::string(cap.name),
         what + "container expands more than " + std::to_string(limits_.max_compression_ratio) +
             " times its size; the rest of it is not extracted");
  return false;
}

void WalkState::VisitItem(ByteView data, const std::string& path, int depth, std::string_view container,
                          bool truncated) {
  ++stats_.items;
  stats_.max_depth = std::max(stats_.max_depth, depth);
  visit_(Item{path, data, depth, container, truncated});
  if (TimeUp(path)) return;
  Detection det = Detect(data, limits_.kinds);
  if (det.format.empty()) return;
  // clamscan's --scan-<kind>=no: a kind turned off is not opened (nor is it a level too deep).
  if (det.format == "program") {
    std::erase_if(det.readers, [&](std::string_view r) { return !limits_.kinds.Opens(r); });
    if (det.readers.empty() && (!limits_.kinds.archive || det.sfx.empty())) return;
  } else if (!limits_.kinds.Opens(det.format)) {
    return;
  }
  if (depth + 1 >= limits_.max_recursion) {  // the top-level file is level 1
    Report(EventKind::kLimitExceeded, path, std::string(kMaxRecursion),
           std::string(det.format) + " container at level " + std::to_string(depth + 1) +
               " not opened: max_recursion is " + std::to_string(limits_.max_recursion));
    return;
  }
  if (IsTextFormat(det.format)) {
    OpenText(data, path, depth, det.format);
    if (det.also_pdf && !stopped_) OpenReader(data, path, depth, "pdf");
  } else if (IsOwnReaderFormat(det.format)) {
    OpenReader(data, path, depth, det.format);
  } else if (det.format == "program") {
    for (std::string_view reader : det.readers) {
      if (stopped_) break;
      OpenReader(data, path, depth, reader);
    }
    for (const Detection& candidate : det.sfx) {
      if (stopped_ || !limits_.kinds.archive) break;
      OpenArchive(data, path, depth, candidate);
    }
  } else {
    OpenArchive(data, path, depth, det);
  }
}

void WalkState::OpenArchive(ByteView whole, const std::string& path, int depth, Detection det) {
  ByteView data = whole.substr(det.offset);
  ArchivePtr reader = NewReader(IsCompressionFilter(det.format));
  struct archive* a = reader.get();
  std::string format(det.format);
  auto broken = [&](const std::string& where, const std::string& message) {
    bool unsupported = IsUnsupportedError(message);
    Report(unsupported ? EventKind::kUnsupported : EventKind::kCorrupt, where,
           std::string(unsupported ? "Heuristics.Unsupported." : "Heuristics.Broken.") +
               std::string(EventFormatName(format)),
           message);
  };
  if (a == nullptr) {
    Report(EventKind::kCorrupt, path, "Heuristics.Broken." + std::string(EventFormatName(format)),
           "libarchive: out of memory");
    return;
  }
  if (archive_read_open_memory(a, data.data(), data.size()) != ARCHIVE_OK) {
    if (!det.speculative) broken(path, format + " container could not be opened: " + ErrorText(a));
    return;
  }
  ContainerBudget budget = BudgetFor(data);
  bool raw_name_needed = false;
  LegacyZip legacy_zip;
  for (uint64_t index = 0;; ++index) {
    if (TimeUp(path)) return;
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) return;
    if (index == 0) {
      format = std::string(FormatOf(a, det.format));
      raw_name_needed = archive_format(a) == ARCHIVE_FORMAT_RAW;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      if (det.speculative && index == 0) return;  // not such a container after all
      if (archive_read_has_encrypted_entries(a) > 0) {
        Report(EventKind::kEncrypted, path, "Heuristics.Encrypted." + std::string(EventFormatName(format)),
               "encrypted " + format + " container: " + ErrorText(a));
      } else {
        broken(path,
               format + " container damaged after " + std::to_string(index) + " members: " + ErrorText(a));
      }
      return;
    }
    // Directories, links, devices, fifos and sockets hold no bytes of their own, nor does a hard
    // link of no size (its bytes are its target's, an earlier member); a hard link with bytes
    // (pax gives it a size) is data, which extractors write. Another entry of no type is data
    // too: ar headers carry bare permissions ("644", as binutils writes static libraries in
    // deterministic mode), which libarchive passes on as the mode, type bits and all.
    const auto type = archive_entry_filetype(entry);
    if (archive_entry_hardlink(entry) != nullptr && archive_entry_size_is_set(entry) &&
        archive_entry_size(entry) == 0)
      continue;
    if (type != AE_IFREG && type != 0) continue;
    if (raw_name_needed && depth == 0) stats_.named_after_top = true;
    std::string name = raw_name_needed ? DecompressedName(path)
                                       : CleanMemberName(archive_entry_pathname_utf8(entry) != nullptr
                                                             ? archive_entry_pathname_utf8(entry)
                                                             : archive_entry_pathname(entry),
                                                         index + 1);
    std::string member_path = path + "!" + name;
    if (!AdmitMember(budget, path)) return;
    if (archive_entry_is_data_encrypted(entry) || archive_entry_is_metadata_encrypted(entry)) {
      Report(EventKind::kEncrypted, member_path,
             "Heuristics.Encrypted." + std::string(EventFormatName(format)),
             "encrypted member not extracted");
      continue;
    }

    Cap cap = MemberCap(budget);
    // An ar member (a static library's object file, a .deb's parts) is stored as it is, and from
    // memory libarchive hands out the bytes where they lie: scanned there, not copied (a 31 MB
    // object held twice was what a scan's memory peaked at). Any other first block (never expected
    // from memory) is copied and the member read on block by block.
    Bytes member;
    std::optional<ByteView> in_place;  // else `member`
    bool over_cap = false, fatal = false, damaged = false;
    std::string damage;
    const bool by_block = format == "ar" && archive_filter_count(a) == 1 && archive_entry_size_is_set(entry);
    if (by_block) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      const int rb = archive_read_data_block(a, &block, &size, &offset);
      const char* at = static_cast<const char*>(block);
      const auto declared = static_cast<uint64_t>(std::max<la_int64_t>(archive_entry_size(entry), 0));
      if (rb == ARCHIVE_OK && offset == 0 && size == declared && at >= data.data() &&
          size <= size_t(data.data() + data.size() - at)) {
        in_place = ByteView(at, size);
        over_cap = size > cap.bytes;
        if (over_cap) in_place = in_place->substr(0, static_cast<size_t>(cap.bytes));
      } else if (rb == ARCHIVE_OK || rb == ARCHIVE_WARN) {
        // Where libarchive put the block: zeros before it (a hole), the block, then the rest
        // block by block, as archive_read_data would have.
        for (int r = rb;; r = archive_read_data_block(a, &block, &size, &offset)) {
          if (r == ARCHIVE_EOF) break;
          if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            damaged = true;
            fatal = r <= ARCHIVE_FATAL;
            damage = ErrorText(a);
            break;
          }
          const uint64_t end = uint64_t(std::max<la_int64_t>(offset, 0)) + size;
          if (uint64_t(std::max<la_int64_t>(offset, 0)) < member.size()) {
            damaged = true;
            damage = "blocks out of order";
            break;
          }
          const uint64_t keep = std::min<uint64_t>(end, cap.bytes + 1);
          if (keep > member.size()) {
            const uint64_t hole = std::min<uint64_t>(uint64_t(offset), keep) - member.size();
            member.append(static_cast<size_t>(hole), '\0');
            member.append(static_cast<const char*>(block), static_cast<size_t>(keep - member.size()));
          }
          if (member.size() > cap.bytes) {
            member.resize(cap.bytes);
            over_cap = true;
            break;
          }
        }
      } else if (rb != ARCHIVE_EOF) {
        damaged = true;
        fatal = rb <= ARCHIVE_FATAL;
        damage = ErrorText(a);
      }
    } else if (archive_entry_size_is_set(entry)) {
      // The declared size may lie; the cap bounds what a lie can reserve.
      uint64_t declared = static_cast<uint64_t>(std::max<la_int64_t>(archive_entry_size(entry), 0));
      member.reserve(static_cast<size_t>(std::min(declared, cap.bytes)));
    }
    for (; !by_block;) {
      if (TimeUp(member_path)) break;
      // One byte past the cap tells a member that fits exactly from one that does not.
      size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_.size(), cap.bytes - member.size() + 1));
      la_ssize_t n = archive_read_data(a, chunk_.data(), want);
      if (n == 0) break;
      if (n < 0) {
        damaged = true;
        fatal = n <= ARCHIVE_FATAL;
        damage = ErrorText(a);
        break;
      }
      member.append(chunk_.data(), static_cast<size_t>(n));
      if (member.size() > cap.bytes) {
        member.resize(cap.bytes);
        over_cap = true;
        break;
      }
    }
    if (damaged && format == "zip" && IsUnsupportedError(damage)) {
      // Zip methods libarchive does not decode (implode, deflate64): accord's own decoders.
      // `whole`: a self-extractor's zip may count its offsets from the file's start.
      Status legacy =
          DecodeLegacyZip(whole, archive_entry_pathname(entry), damage,
                          cap.bytes == UINT64_MAX ? UINT64_MAX : cap.bytes + 1, legacy_zip, member);
      if (legacy.code() != Code::kNotFound) {
        damaged = !legacy.ok();
        damage = legacy.message();
        fatal = false;
        if (member.size() > cap.bytes) {
          member.resize(cap.bytes);
          over_cap = true;
        }
        if (legacy.code() == Code::kPermissionDenied) {
          Report(EventKind::kEncrypted, member_path, "Heuristics.Encrypted.Zip",
                 "encrypted member not extracted");
          damaged = false;
          continue;
        }
      }
    }
    const ByteView item = in_place.value_or(ByteView(member));
    stats_.bytes_extracted += item.size();
    budget.produced += item.size();
    bool go_on = true;
    if (over_cap) go_on = CapHit(cap, member_path, item.size());
    if (damaged) {
      broken(member_path, IsUnsupportedError(damage)
                              ? "member not extracted: " + damage
                              : "member damaged after " + std::to_string(item.size()) + " bytes: " + damage);
    }
    if (!item.empty() || !damaged) {
      VisitItem(item, member_path, depth + 1, format, over_cap || damaged || stopped_);
    }
    if (!go_on || fatal || stopped_) return;
  }
}

void WalkState::OpenText(ByteView data, const std::string& path, int depth, std::string_view format) {
  ContainerBudget budget = BudgetFor(data);
  bool go_on = true;
  const std::string format_name(format);
  mime::DecodeOptions options;
  // Multiparts and attached mails nested in the text count as levels too, as clamscan counts them:
  // the text is at level depth + 1, so its parts may nest as deep as the levels left under it.
  options.max_nesting = std::max(1, limits_.max_recursion - (depth + 1));
  const Cap text_cap = MemberCap(budget);
  options.max_output = static_cast<size_t>(std::min<uint64_t>(text_cap.bytes, SIZE_MAX - 1) + 1);
  mime::PartSink sink = [&](mime::Part&& part) -> bool {
    if (stopped_ || TimeUp(path)) return false;
    std::string member_path = path + "!" + part.name;
    if (!AdmitMember(budget, path)) return go_on = false;
    Cap cap = MemberCap(budget);
    bool over_cap = part.data.size() > cap.bytes;
    if (over_cap) part.data.resize(cap.bytes);
    stats_.bytes_extracted += part.data.size();
    budget.produced += part.data.size();
    if (over_cap) go_on = CapHit(cap, member_path, part.data.size());
    // A part inside nested multiparts is as many levels down (at least one: the text's member).
    VisitItem(part.data, member_path, depth + std::max(1, part.nesting), format_name, over_cap);
    return go_on && !stopped_;
  };
  auto report = [&](const Status& s, std::string_view decoder) {
    if (s.ok()) return;
    bool limit = s.code() == Code::kResourceExhausted;
    std::string_view limit_name =
        s.message().find("nested") != std::string::npos ? kMaxRecursion : text_cap.name;
    Report(limit ? EventKind::kLimitExceeded : EventKind::kCorrupt, path,
           limit ? std::string(limit_name) : "Heuristics.Broken." + std::string(EventFormatName(decoder)),
           s.message());
  };
  if (format == "mail") {
    report(mime::DecodeMail(data, options, sink), "mail");
    return;
  }
  // A text that is not a mail may hold several encodings at once (an HTML page with a data: URI
  // and a uuencoded block): each decoder runs over all of it.
  const ContainerKinds& kinds = limits_.kinds;
  if (go_on && !stopped_ && kinds.Opens("binhex") && mime::HasBinhex(data))
    report(mime::DecodeBinhex(data, options, sink), "binhex");
  if (go_on && !stopped_ && kinds.Opens("uuencode") && mime::HasUuencode(data)) {
    report(mime::DecodeUuencode(data, options, sink), "uuencode");
  }
  if (go_on && !stopped_ && kinds.Opens("data-uri") && mime::HasDataUri(data))
    report(mime::DecodeDataUris(data, options, sink), "data-uri");
}

void WalkState::OpenReader(ByteView data, const std::string& path, int depth, std::string_view format) {
  ContainerBudget budget = BudgetFor(data);
  bool go_on = true;
  const std::string format_name(format);
  const Cap first_cap = MemberCap(budget);
  ReaderOptions options;
  // One byte past the cap tells a member that fits exactly from one that does not.
  options.max_member_bytes = first_cap.bytes == UINT64_MAX ? UINT64_MAX : first_cap.bytes + 1;
  // What this container may still produce in all: a reader decoding more would only throw it away.
  const uint64_t scan_left = limits_.max_scan_size - std::min(stats_.bytes_extracted, limits_.max_scan_size);
  const uint64_t ratio_left = budget.allowance - std::min(budget.produced, budget.allowance);
  const Cap total_cap =
      scan_left <= ratio_left ? Cap{scan_left, kMaxScanSize} : Cap{ratio_left, kMaxCompressionRatio};
  options.max_total_bytes = std::max(total_cap.bytes, options.max_member_bytes);
  std::string_view base = path;
  if (size_t bang = base.rfind('!'); bang != std::string_view::npos) base.remove_prefix(bang + 1);
  if (size_t slash = base.rfind('/'); slash != std::string_view::npos) base.remove_prefix(slash + 1);
  options.container_name = base;
  // The readers that name a member after its container (reader.h, container_name).
  if (depth == 0 && (format == "szdd" || format == "kwaj")) stats_.named_after_top = true;
  MemberSink sink = [&](ReaderMember&& member) -> bool {
    if (stopped_ || TimeUp(path)) return false;
    std::string member_path = path + "!" + member.name;
    if (!AdmitMember(budget, path)) return go_on = false;
    Cap cap = MemberCap(budget);
    bool over_cap = member.data.size() > cap.bytes;
    if (over_cap) member.data.resize(cap.bytes);
    stats_.bytes_extracted += member.data.size();
    budget.produced += member.data.size();
    if (over_cap) go_on = CapHit(cap, member_path, member.data.size());
    VisitItem(member.data, member_path, depth + 1, format_name, over_cap);
    return go_on && !stopped_;
  };
  Status s = RunReader(format, data, options, sink);
  if (s.ok()) return;
  if (s.code() == Code::kResourceExhausted) {
    // The reader's total (what the container may produce), or a cap of its own: named after the
    // walker's limit that set it; MaxScanSize ends the walk, as a cut member does.
    const Cap& hit = s.message().find("container may") != std::string::npos ? total_cap : first_cap;
    Report(EventKind::kLimitExceeded, path, std::string(hit.name), s.message());
    if (hit.name == kMaxScanSize) stopped_ = true;
  } else if (s.code() == Code::kPermissionDenied) {
    Report(EventKind::kEncrypted, path, "Heuristics.Encrypted." + std::string(EventFormatName(format)),
           s.message());
  } else if (s.code() == Code::kUnimplemented) {
    Report(EventKind::kUnsupported, path, "Heuristics.Unsupported." + std::string(EventFormatName(format)),
           s.message());
  } else {
    Report(EventKind::kCorrupt, path, "Heuristics.Broken." + std::string(EventFormatName(format)),
           s.message());
  }
}

}  // namespace

WalkStats Walker::Walk(ByteView data, std::string_view path, const Visitor& visit,
                       const EventSink& on_event) const {
  WalkState state(limits_, visit, on_event);
  state.VisitItem(data, std::string(path), 0, "", false);
  return state.stats();
}

std::string_view DetectContainer(ByteView data) {
  return Detect(data).format;
}

bool ContainerKinds::Opens(std::string_view f) const {
  if (f == "mail" || f == "tnef" || f == "uuencode") return mail;
  if (f == "ole2") return ole2;
  if (f == "pdf") return pdf;
  if (f == "data-uri") return html;
  if (f == "installshield") return archive || pe;
  if (f == "ole1-package") return archive || ole2;
  const OwnReader* r = FindOwnReader(f);
  if (r != nullptr && r->kind == OwnReader::kProgram && f != "nsis" && f != "autoit") return pe;
  return archive;
}

}  // namespace accord::scan

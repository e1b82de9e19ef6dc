// The container walker: opens archives, compressed streams and encoded mail recursively, under
// limits, and shows the scanner every file it finds.
//
// Walk(data, path, ...) calls `visit` for `data` itself, then, if its content (not its name) says
// it is a container, for each member in order, recursively, depth first. Members are named by
// their path through the containers, '!' between levels:
//
//   mail.eml!invoice.zip!a/b.tar.gz!b/x.exe
//
// What is opened (docs/containers.md lists formats and the ClamAV test files reached):
//   - libarchive formats with a magic number: zip (and zip appended to a PE), 7z, rar, rar5, cab,
//     tar, cpio, ar (.deb), iso9660, lha, xar; and the compressed streams gzip, bzip2, xz, lzip,
//     zstd, lz4, compress(.Z) and rpm, around a tar or any single file ("x.exe.gz" yields
//     "x.exe.gz!x.exe"). libarchive's catch-all formats (raw, empty, mtree) are never offered a
//     file that lacks a real magic number, and no filter that runs an external program is enabled.
//   - RFC 822/MIME mail and mbox, uuencoded blocks anywhere in a text, BinHex 4.0 and base64
//     data: URIs (scan/mime.h).
//   - accord's own readers (scan/reader.h): SZDD, KWAJ and CHM through libmspack
//     (scan/mspack_reader.h), OLE2 compound files (scan/ole2.h), OLE1 packages (scan/ole1.h), RTF
//     embedded objects (scan/rtf.h), TNEF (scan/tnef.h), Symbian SIS (scan/sis.h) and PDF streams
//     (scan/pdf.h).
//
// Nothing is skipped in silence. Every limit hit, encrypted member, damaged or unsupported
// container or member is reported to `on_event` with the path it concerns and a ClamAV-style
// name (below). What was extracted before a limit or damage is still visited: a member cut at a
// byte cap is visited with the bytes extracted so far.
//
// Memory: at most max_scan_size extracted bytes per top-level file, plus one libarchive reader
// (and its decompressor state) or one of accord's readers (tables no larger than the container)
// per open nesting level. Time: MaxScanTime is checked before each member and, for libarchive,
// after every 64 KiB extracted (accord's readers bound one member's work by max_file_size).
//
// Thread-safety: a Walker is immutable after construction and Walk() is const and reentrant: all
// walk state (libarchive handles included) lives on the calling thread's stack, and there is no
// global state. Callbacks run on the calling thread, one at a time. Bytes given to `visit` are
// valid only during that call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace accord::scan {

// Every cap of the walker, with ClamAV's defaults where ClamAV has the same cap (clamd.conf).
// Each hit is reported as an Event named after it.
// The kinds of container a walk opens, as clamscan's --scan-archive, --scan-mail, --scan-ole2,
// --scan-pdf, --scan-pe and --scan-html choose them: a kind turned off is not opened, and its files
// are scanned as they are, without a word (as clamscan does). Which formats each holds:
//   archive  libarchive's formats and compressed streams, archives appended to programs (SFX),
//            SZDD, KWAJ, CHM, SIS, ARJ, RTF, BinHex, NSIS, AutoIt
//   mail     RFC 822/MIME mail and mbox, TNEF, uuencoded text
//   ole2     OLE2 compound files (Office documents, MSI)
//   pdf      PDF
//   pe       packed programs' unpackers (UPX, ASPack, ...), programs embedded in programs
//   html     data: URIs in text
// InstallShield setups are opened unless both archive and pe are off (clamscan reads the cabinets
// in them with its PE parser and their MSI with its archive parser), and OLE1 packages unless both
// archive and ole2 are (clamscan reads those in RTF with its archive parser, those in Office
// documents with its OLE2 parser). So with any one kind off, accord finds in ClamAV's test files
// what clamscan finds with it off, and more only there (and in data: URIs, which clamscan decodes
// with its mail parser too, so that --scan-mail=no turns them off as well).
struct ContainerKinds {
  bool archive = true, mail = true, ole2 = true, pdf = true, pe = true, html = true;
  // Whether a format DetectContainer names (or a program's reader: "upx", "nsis"...) is opened.
  bool Opens(std::string_view format) const;
};

struct ContainerLimits {
  // Levels, counted as ClamAV counts them (MaxRecursion 17): the top-level file is level 1 (Item
  // depth 0) and its members level 2; a container at level max_recursion is visited but not opened,
  // so 1 opens no container and 17 opens 16 nested ones. (0 is taken as 1.)
  int max_recursion = 17;
  // Largest single member extracted; a longer one is cut there and visited cut (MaxFileSize 100M).
  uint64_t max_file_size = uint64_t{100} << 20;
  // Bytes extracted in total for one top-level file; the walk stops there (MaxScanSize 400M).
  uint64_t max_scan_size = uint64_t{400} << 20;
  // Members extracted from one container; the rest are not (MaxFiles 10000).
  uint64_t max_files = 10000;
  // Wall time for one top-level file, visitor time included; the walk stops there (MaxScanTime).
  std::chrono::milliseconds max_scan_time{120000};
  // Bytes extracted from one container at most max_compression_ratio times its own size, once more
  // than compression_ratio_floor bytes came out of it (small files compress well legitimately).
  // Ordinary data seldom passes 100:1; deflate's ceiling is about 1032:1, a zip bomb's aim.
  uint64_t max_compression_ratio = 250;
  uint64_t compression_ratio_floor = uint64_t{16} << 20;
  // Not a cap: which kinds of container are opened at all (all by default).
  ContainerKinds kinds;
};

// A file found by the walk: the top-level buffer (depth 0) or a member of a container.
struct Item {
  std::string_view path;       // display path, "a.zip!dir/x.exe"
  ByteView data;               // valid only during the visitor call
  int depth = 0;               // 0 for the top-level buffer
  std::string_view container;  // format it came out of ("zip", "gzip", "mail", ...); "" at depth 0
  bool truncated = false;      // cut at a limit or by damage; an Event says which
};

enum class EventKind {
  kLimitExceeded,  // a ContainerLimits cap was hit
  kEncrypted,      // a member (or a whole container) needs a password
  kCorrupt,        // truncated or malformed container or member
  kUnsupported,    // a recognised container using a method libarchive or accord's readers cannot decode
};

struct Event {
  EventKind kind;
  std::string path;     // the container or member concerned
  std::string name;     // ClamAV-style: kMaxFiles, "Heuristics.Encrypted.Zip", "Heuristics.Broken.Zip"
  std::string message;  // what happened, for people: "more than 10000 members; the rest skipped"
};

// Limit names, as ClamAV reports them with --alert-exceeds-max.
inline constexpr std::string_view kMaxRecursion = "Heuristics.Limits.Exceeded.MaxRecursion";
inline constexpr std::string_view kMaxFileSize = "Heuristics.Limits.Exceeded.MaxFileSize";
inline constexpr std::string_view kMaxScanSize = "Heuristics.Limits.Exceeded.MaxScanSize";
inline constexpr std::string_view kMaxFiles = "Heuristics.Limits.Exceeded.MaxFiles";
inline constexpr std::string_view kMaxScanTime = "Heuristics.Limits.Exceeded.MaxScanTime";
inline constexpr std::string_view kMaxCompressionRatio = "Heuristics.Limits.Exceeded.MaxCompressionRatio";
// The other names are built from the container's format name (ContainerFormatName):
//   "Heuristics.Encrypted.<Format>", "Heuristics.Broken.<Format>", "Heuristics.Unsupported.<Format>".

using Visitor = std::function<void(const Item& item)>;
using EventSink = std::function<void(const Event& event)>;

struct WalkStats {
  uint64_t items = 0;            // visitor calls
  uint64_t bytes_extracted = 0;  // member bytes produced (the top-level buffer not counted)
  int max_depth = 0;             // deepest item visited
  uint64_t events = 0;           // on_event calls
  // A member was named after the walked data's own name (`path`): a raw compressed stream
  // ("a.txt.gz" holds "a.txt") or an SZDD or KWAJ file. Its path and its YARA externals then
  // depend on that name, not only on the bytes (scan/memo.h).
  bool named_after_top = false;
};

class Walker {
 public:
  explicit Walker(ContainerLimits limits = {}) : limits_(limits) {}
  const ContainerLimits& limits() const { return limits_; }

  // Walks `data`, shown as `path`. Never throws for hostile input and never fails as a whole: all
  // trouble arrives as events. `on_event` may be empty (events are then only counted).
  WalkStats Walk(ByteView data, std::string_view path, const Visitor& visit, const EventSink& on_event) const;

 private:
  ContainerLimits limits_;
};

// The container format `data` starts with, by magic number: "zip", "7zip", "rar", "cab", "tar",
// "cpio", "ar", "iso9660", "lha", "xar", "gzip", "bzip2", "xz", "lzip", "zstd", "lz4", "compress",
// "rpm", "szdd", "kwaj", "chm", "ole2", "ole1-package", "tnef", "sis", "arj", "rtf", "pdf", "mail",
// "uuencode", "binhex", "data-uri", or "program" (a PE that carries an archive, a packed image, an
// installer or a script: every reader that recognises it reads it); "" if none.
std::string_view DetectContainer(ByteView data);

}  // namespace accord::scan

// The little of the PE/COFF format (Microsoft's "PE Format" specification) that the readers of
// programs with data appended or packed inside need: the entry point, the image base, the section
// table, and where the file's sections end (the start of an overlay). Bounds-checked on hostile
// input: a table that does not fit, or more than 96 sections (the specification's limit), is no PE.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

struct PeSection {
  uint32_t virtual_size = 0, rva = 0, raw_size = 0, raw_offset = 0;
  std::string name;  // the header's 8 name bytes as they are (NUL-padded)
  // Where Windows' loader reads the section from: PointerToRawData rounded down to 512 when the
  // file alignment is at least 512 (as pefile and ClamAV take it; packers such as Upack, whose
  // first section starts inside the headers, rely on it), and as many more bytes as that moved it
  // down (none for a section without raw data).
  uint32_t mapped_offset = 0;
  uint64_t mapped_size = 0;
};

struct PeImage {
  uint32_t entry_rva = 0;
  uint64_t image_base = 0;
  uint32_t section_alignment = 0, file_alignment = 0;
  std::vector<PeSection> sections;
  uint64_t raw_end = 0;  // the largest raw_offset + raw_size (may pass the file's end)
  // The certificate table (data directory 4: Authenticode signatures), a file offset, 0 if none.
  uint64_t certificate_offset = 0, certificate_size = 0;
};

// `d` from its first byte: "MZ", e_lfanew, "PE\0\0", the COFF header, the optional header (PE32 or
// PE32+), the section table.
std::optional<PeImage> ParsePe(ByteView d);

// The file offset of `rva` (inside a section's raw data as the loader maps it: mapped_offset), if any.
std::optional<size_t> PeOffsetOf(const PeImage& pe, uint64_t rva, size_t file_size);

// The bytes of the headers as Windows maps them at RVA 0: what precedes the first section's data
// in the file (its mapped_offset) and its RVA, at most 4 KiB.
size_t PeHeaderSize(ByteView d, const PeImage& pe);
// The `n` bytes at `rva` as the file holds them (in the headers, or in one section's mapped data), if
// they are all there. Any `rva` is safe (no arithmetic on it can wrap). Where sections overlap it
// reads the first that holds the range, while PeMemoryImage lays later sections over earlier
// ones: the readers use it to find stubs, which sit in one section.
std::optional<ByteView> PeBytesAt(ByteView d, const PeImage& pe, uint64_t rva, size_t n);

// The program about as Windows maps it, for the readers of packers whose stubs work in memory:
// the headers (PeHeaderSize) at 0, each section's raw data from its mapped_offset (mapped_size
// bytes, as far as the file has them; Windows would stop at the virtual size where that is
// smaller) at its RVA, zeros elsewhere, up to the largest section end.
// `who` names the reader in errors. ResourceExhausted: more than options.max_total_bytes; DataLoss:
// sections over kMaxPeImageBytes.
inline constexpr uint64_t kMaxPeImageBytes = uint64_t{256} << 20;
Result<Bytes> PeMemoryImage(ByteView d, const PeImage& pe, const ReaderOptions& options,
                            std::string_view who);

// The executables embedded in `d` at an offset other than 0 (an "MZ" whose header parses, cut to
// its sections' raw end, each at least 64 bytes), as ClamAV carves them from unpacked images.
// They do not overlap: the search goes on after each one's end, so the carvings of `d` hold at
// most its size in all (a program inside a carved one is found when the walker reads that one in
// turn). NextEmbeddedPe: the first that starts at or after `from` (and after 0);
// FindEmbeddedPes: the first `max` of them, in order.
struct EmbeddedPe {
  size_t offset = 0;
  size_t size = 0;
};
std::optional<EmbeddedPe> NextEmbeddedPe(ByteView d, size_t from);
std::vector<EmbeddedPe> FindEmbeddedPes(ByteView d, size_t max);
// Hands each carving of `d` to `sink` in order, as "<prefix>@<offset>", cut at
// `max_member_bytes`; false once the sink declines one (nothing more is carved).
bool SinkEmbeddedPes(ByteView d, std::string_view prefix, uint64_t max_member_bytes, const MemberSink& sink);

// The programs embedded in a program, as ClamAV scans a PE's embedded PEs: a reader of
// scan/reader.h (its contract applies) whose members are the carvings of `d`, in order, named
// "PE@<offset>". No cap of its own: the walker's MaxFiles stops a program that holds too many, and
// says so. HasEmbeddedPe: `d` is a PE with at least one.
bool HasEmbeddedPe(ByteView d);
Status ReadEmbeddedPes(ByteView d, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan

#include "scan/petite.h"

#include <algorithm>
#include <optional>
#include <string>

#include "scan/pe.h"
#include "scan/stub_bits.h"
#include "scan/stub_code.h"

namespace accord::scan {
namespace {

// The stub's setup, from the entry point to the record walk; 0x100 marks an immediate's bytes.
constexpr int kI = kAnyByte;
constexpr int kSetup[] = {
    0xb8, kI, kI, kI, kI,                      // mov eax, SECTION
    0x68, kI, kI, kI, kI,                      // push HANDLER (the second stage)
    0x64, 0xff, 0x35, 0x00, 0x00, 0x00, 0x00,  // push fs:[0]
    0x64, 0x89, 0x25, 0x00, 0x00, 0x00, 0x00,  // mov fs:[0], esp
    0x66, 0x9c, 0x60, 0x50,                    // pushfw; pusha; push eax
    0x68, kI, kI, kI, kI,                      // push IMAGEBASE
    0x8b, 0x3c, 0x24, 0x8b, 0x30, 0x66, 0x81, 0xc7, 0x80, 0x07, 0x8d, 0x74, 0x06, 0x08, 0x89, 0x38, 0x8b,
    0x5e, 0x10, 0x50, 0x56, 0x6a, 0x02, 0x68, 0x80, 0x08, 0x00, 0x00, 0x57, 0x6a, 0x06, 0x6a, 0x06, 0x56,
    0x6a, 0x04, 0x68, 0x80, 0x08, 0x00, 0x00, 0x57, 0xff, 0xd3, 0x83, 0xee, 0x08, 0x59, 0xf3, 0xa5, 0x59,
    0x66, 0x83, 0xc7, 0x68, 0x81, 0xc6, 0x64, 0x00, 0x00, 0x00, 0xf3, 0xa5, 0xff, 0xd3,
    0x58,                        // (the stub's own imports copied,
                                 // VirtualProtect)
    0x8d, 0x90, kI, kI, kI, kI,  // lea edx, [eax + R]
};
constexpr size_t kSetupSize = std::size(kSetup);
constexpr size_t kSectionAt = 1, kImageBaseAt = 29, kRecordsAt = 101;
// The record walk and the decoder after the setup must be Petite's of clam-petite.exe.
constexpr size_t kDecoderSize = 0x10a;
constexpr std::string_view kDecoderSha256 =
    "304421929fb812785a510f2cb1a0eba7d5daa9dc42cd44fd047216ba668819cf";

struct Stub {
  PeImage pe;
  uint64_t records = 0;  // RVA of the records
  bool decoder_known = false;
};

// `s` starts with the setup (its immediates aside).
bool IsSetup(ByteView s) {
  return MatchesCode(s, kSetup);
}

std::optional<Stub> FindStub(ByteView d) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe) return std::nullopt;
  std::optional<ByteView> code = PeBytesAt(d, *pe, pe->entry_rva, kSetupSize + kDecoderSize);
  if (!code || !IsSetup(*code)) return std::nullopt;
  ByteView s = *code;
  // Addresses are the image base's (the value pushed) plus RVAs: the stub's base must be the PE's.
  const uint32_t section = Le32(s, kSectionAt);
  if (Le32(s, kImageBaseAt) != pe->image_base || section < pe->image_base) return std::nullopt;
  Stub stub;
  stub.records = uint64_t{section} - pe->image_base + Le32(s, kRecordsAt);
  stub.decoder_known = HasSha256(s.substr(kSetupSize, kDecoderSize), kDecoderSha256);
  stub.pe = std::move(*pe);
  return stub;
}

// Unpacks `size` bytes from image[from] to image[to], as the stub does. The block may read and
// write `budget` bytes each; what it read and wrote is added to `*work`.
Status Unpack(Bytes& image, size_t from, size_t to, uint32_t size, uint64_t budget, uint64_t* work) {
  StubBits s{image, from, static_cast<size_t>(std::min<uint64_t>(image.size(), from + budget))};
  size_t o = to;
  Status status = [&]() -> Status {
    uint32_t w = 8, d1 = 0xfffffb00, d2 = 0xffff8300;  // the two distances as the stub keeps them
    if (size < 0x10000) {
      w = 5, d1 = 0xfffffc60, d2 = 0xffffc060;
    } else if (size < 0x40000) {
      w = 7, d1 = 0xfffff980, d2 = 0xffff8180;
    }
    const uint64_t room = std::min<uint64_t>(image.size() - to, budget);
    auto full = [&]() -> Status {
      return o - to >= budget ? ResourceExhausted("it unpacks more than the container may still produce")
                              : DataLoss("it unpacks past the image");
    };
    auto put = [&](uint8_t b) -> Status {
      if (o - to >= room) return full();
      image[o++] = static_cast<char>(b);
      return Status::Ok();
    };
    int64_t left = static_cast<int32_t>(size - 1);  // signed, as the stub compares it
    uint8_t first = s.Byte();
    if (s.bad) return Status::Ok();  // reported below
    RETURN_IF_ERROR(put(first));
    uint32_t last = 0;  // the last offset (negative, as a 32-bit value)
    while (left > 0) {
      if (s.Bit() == 0) {
        uint8_t b = s.Byte();
        if (s.bad) break;
        RETURN_IF_ERROR(put(static_cast<uint8_t>(b ^ static_cast<uint8_t>(left))));
        --left;
        continue;
      }
      uint32_t extra = 0, count = s.Gamma();
      if (count < 3) {
        count -= 2;  // 0 for the gamma 2; what the stub's registers hold otherwise (a wrapped gamma)
      } else {
        uint32_t a = count - 3;
        for (uint32_t i = 0; i < w; ++i) a = a * 2 + s.Bit();
        last = ~a;
        extra = 1 + (last < d1 ? 1 : 0) + (last < d2 ? 1 : 0);
        count = 0;
      }
      count = count * 2 + s.Bit();
      count = count * 2 + s.Bit();
      if (count == 0) count = s.Gamma() + 2;
      count += extra;
      if (s.bad) break;
      left -= count;
      // The source is the output position plus the (negative) offset, within the image. (The
      // last offset is 0 until a match sets one: those bytes are copied onto themselves.)
      const uint64_t src = (uint64_t{o} + last) & 0xffffffff;
      if (src > o) return DataLoss("a match reaches outside the image");
      const uint64_t fits = std::min<uint64_t>(count, room - (o - to));
      for (uint64_t i = 0; i < fits; ++i, ++o) image[o] = image[src + i];  // may overlap, as in memory
      if (fits < count) return full();
    }
    if (s.bad) return Status::Ok();
    if (left != 0) return DataLoss("it unpacks to more than its size (by " + std::to_string(-left) + ")");
    return Status::Ok();
  }();
  *work += (s.pos - from) + (o - to);
  if (status.ok() && s.bad) {
    return s.end < image.size() ? ResourceExhausted("it reads more than the container may still produce")
                                : DataLoss("its packed data runs past the image");
  }
  return status;
}

}  // namespace

bool LooksLikePetite(ByteView d) {
  return FindStub(d).has_value();
}

Status ReadPetite(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Stub> stub = FindStub(d);
  if (!stub) return DataLoss("Petite: no Petite stub at the entry point");
  if (!stub->decoder_known) return Unimplemented("Petite: a stub other than the one accord knows (2.x)");
  const PeImage& pe = stub->pe;
  ASSIGN_OR_RETURN(Bytes image, PeMemoryImage(d, pe, options, "Petite"));
  // Page 0 (the headers, and sections below 4 KiB) is read-only (the stub makes sure with
  // VirtualProtect): the record that writes there faults, Petite's second stage takes over, and the
  // walk ends. (ClamAV's petite.c ends it at a record whose first word is 0, which this one's is.)
  constexpr uint64_t kReadOnly = 0x1000;
  // The image and the blocks, read and written (records may name one range again and again), add
  // up against what the container may still produce.
  uint64_t work = image.size(), at = stub->records;
  auto record = [](size_t k, std::string_view what) {
    return "Petite: record " + std::to_string(k) + " (" + std::string(what) + "): ";
  };
  Status status = DataLoss("Petite: no end record within " + std::to_string(kMaxPetiteRecords) + " records");
  for (size_t k = 0; k < kMaxPetiteRecords; ++k) {
    const bool move = at + 4 <= image.size() && (Le32(image, at) & 0x80000000u) != 0;
    if (at + (move ? 12 : 16) > image.size()) {
      status = DataLoss("Petite: record " + std::to_string(k) + " at " + HexNumber(at) +
                        " lies outside the image");
      break;
    }
    const uint32_t first = Le32(image, at), second = Le32(image, at + 4), to = Le32(image, at + 8);
    if (move) {  // N dwords, downwards: FROM to TO, FROM - 4 to TO - 4, ...
      at += 12;
      const uint64_t n = first & 0x7fffffffu;
      const std::string where =
          record(k, "move of " + std::to_string(n) + " dwords " + HexNumber(second) + " to " + HexNumber(to));
      if (n == 0) continue;  // rep movsd with ECX 0 writes nothing
      // Down to the read-only page at most: the write there faults, ending the walk (the words
      // after it are never read).
      const uint64_t writable = to < kReadOnly ? 0 : std::min<uint64_t>(n, (to - kReadOnly) / 4 + 1);
      if (uint64_t{second} + 4 > image.size() || uint64_t{to} + 4 > image.size() ||
          (writable > 0 && 4 * (writable - 1) > second)) {
        status = DataLoss(where + "outside the image");
        break;
      }
      work += 8 * writable;
      if (work > options.max_total_bytes) {
        status = ResourceExhausted(where + "more than the container may still produce (" +
                                   std::to_string(options.max_total_bytes) + " bytes)");
        break;
      }
      for (uint64_t i = 0; i < writable; ++i) {
        char word[4];
        image.copy(word, 4, static_cast<size_t>(second - 4 * i));
        image.replace(static_cast<size_t>(to - 4 * i), 4, word, 4);
      }
      if (writable < n) {
        status = Status::Ok();
        break;
      }
      continue;
    }
    at += 16;
    const std::string where = record(
        k, "unpack " + HexNumber(first) + " to " + HexNumber(to) + ", " + std::to_string(second) + " bytes");
    if (second == 0) continue;
    if (to < kReadOnly) {  // the first write faults
      status = Status::Ok();
      break;
    }
    if (first >= image.size() || to >= image.size()) {
      status = DataLoss(where + "outside the image");
      break;
    }
    Status block = Unpack(image, first, to, second,
                          options.max_total_bytes - std::min(work, options.max_total_bytes), &work);
    if (block.ok() && work > options.max_total_bytes) {
      block = ResourceExhausted(
          "with the image and the records before, more than the container may still produce (" +
          std::to_string(options.max_total_bytes) + " bytes)");
    }
    if (!block.ok()) {
      status = block.WithContext(where.substr(0, where.size() - 2));
      break;
    }
  }
  // The stub has run: its setup is cleared in the image (where the image still holds one at the
  // entry point, whatever section put it there), which so is never taken for a packed program
  // again (an image has the file's layout when the two alignments are equal).
  if (uint64_t{pe.entry_rva} < image.size() && IsSetup(ByteView(image).substr(pe.entry_rva)))
    std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(pe.entry_rva), kSetupSize, '\0');
  if (image.size() > options.max_member_bytes) image.resize(static_cast<size_t>(options.max_member_bytes));
  sink(ReaderMember{"Petite", std::move(image)});
  return status;
}

}  // namespace accord::scan

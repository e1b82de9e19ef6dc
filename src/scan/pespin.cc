#include "scan/pespin.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "scan/aplib.h"
#include "scan/pe.h"

namespace accord::scan {
namespace {

constexpr std::string_view kHead("\xe8\x00\x00\x00\x00\x8b\x1c\x24\x83\xc3", 10);  // at E + 4
constexpr uint64_t kStubEnd = 0x321b;  // the last offset from E the layers read
constexpr uint32_t kLayer1 = 0x11fe, kLayer2 = 0x5a0, kLayer4 = 0x180, kLayer5 = 0x1a1;
constexpr size_t kProgram = 0x24;

struct Section {
  uint64_t rva = 0, vsz = 0, raw = 0, rsz = 0;
};

uint64_t Down(uint64_t v, uint64_t a) {
  return a == 0 ? v : v / a * a;
}
uint64_t Up(uint64_t v, uint64_t a) {
  return a == 0 ? v : (v + a - 1) / a * a;
}

// The sections as ClamAV takes them for spin.c (a file alignment other than 512 is taken as 512
// when a section's data starts on 512 bytes but not on it).
std::vector<Section> Sections(const PeImage& pe, uint64_t file_size) {
  uint64_t falign = pe.file_alignment;
  for (const PeSection& s : pe.sections) {
    if (falign != 0x200 && falign != 0 && s.raw_size != 0 && s.raw_offset % falign != 0 &&
        s.raw_offset % 0x200 == 0)
      falign = 0x200;
  }
  std::vector<Section> out;
  for (const PeSection& s : pe.sections) {
    Section x{Down(s.rva, pe.section_alignment), Up(s.virtual_size, pe.section_alignment),
              Down(s.raw_offset, falign), Up(s.raw_size, falign)};
    if (x.vsz == 0 && x.rsz != 0) x.vsz = Up(s.raw_size, pe.section_alignment);
    if (x.rsz != 0 && x.raw < file_size && x.raw + x.rsz > file_size) x.rsz = file_size - x.raw;
    out.push_back(x);
  }
  return out;
}

struct Stub {
  PeImage pe;
  std::vector<Section> sections;
  uint64_t e = 0;  // the entry point's file offset
};

std::optional<Stub> FindStub(ByteView d) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe || pe->sections.size() < 2) return std::nullopt;
  std::vector<Section> sections = Sections(*pe, d.size());
  const Section& last = sections.back();
  const uint64_t ep = pe->entry_rva;
  if (ep < last.rva || last.rsz < kStubEnd || ep - last.rva >= last.rsz - kStubEnd) return std::nullopt;
  const uint64_t e = last.raw + (ep - last.rva);
  if (e + kStubEnd > d.size() || d.substr(e + 4, kHead.size()) != kHead) return std::nullopt;
  return Stub{std::move(*pe), std::move(sections), e};
}

uint32_t Ror(uint32_t v, unsigned n) {
  n &= 31;
  return n == 0 ? v : (v >> n) | (v << (32 - n));
}

// The checksum PESpin keys the sections with.
uint32_t Checksum(ByteView b) {
  uint32_t a = 0xffffffff, c = 0xffffffff;
  for (char ch : b) {
    a ^= (static_cast<uint32_t>(static_cast<uint8_t>(ch)) << 8) & 0xff00;
    a = (a >> 3) & 0x1fffffff;
    for (int i = 0; i < 4; ++i) {
      a ^= (c >> 8) & 0xff;
      a += 0x7801a108;
      a ^= c;
      a = Ror(a, c & 0xff);
      std::swap(a, c);
    }
  }
  return c;
}

// The shift registers of layers 2, 3 and 4: `odd` says whether the XOR comes on an odd register.
void ShiftXor(Bytes& f, uint64_t at, uint64_t n, uint32_t key, uint32_t poly, bool odd) {
  for (uint64_t i = 0; i < n; ++i) {
    key = ((key & 1) != 0) == odd ? (key >> 1) ^ poly : key >> 1;
    f[at + i] = static_cast<char>(f[at + i] ^ static_cast<char>(key & 0xff));
  }
}

// A byte program, in the forms accord reads.
struct Op {
  enum Kind { kAddCl, kSubCl, kXorCl, kAdd, kSub, kXor, kInc, kDec, kRol, kRor } kind;
  uint8_t imm = 0;
};

std::optional<std::vector<Op>> ParseProgram(ByteView code) {
  std::vector<Op> ops;
  size_t i = 0;
  auto at = [&](size_t k) { return k < code.size() ? static_cast<uint8_t>(code[k]) : uint8_t{0}; };
  while (i < kProgram) {
    const uint8_t op = at(i), m = at(i + 1);
    switch (op) {
      case 0x90:
      case 0xf8:
      case 0xf9:
        i += 1;
        continue;
      case 0xeb:  // jmp +1 over a byte
        if (m != 1) return std::nullopt;
        i += 3;
        continue;
      case 0x0a:  // or r8, r8 with itself
        if ((m & 0xc0) != 0xc0 || ((m >> 3) & 7) != (m & 7)) return std::nullopt;
        i += 2;
        continue;
      case 0x02:
      case 0x2a:
      case 0x32:
        if (m != 0xc1) return std::nullopt;
        ops.push_back({op == 0x02 ? Op::kAddCl : op == 0x2a ? Op::kSubCl : Op::kXorCl});
        i += 2;
        continue;
      case 0x04:
      case 0x2c:
      case 0x34:
        ops.push_back({op == 0x04 ? Op::kAdd : op == 0x2c ? Op::kSub : Op::kXor, m});
        i += 2;
        continue;
      case 0xfe:
        if (m != 0xc0 && m != 0xc8) return std::nullopt;
        ops.push_back({m == 0xc0 ? Op::kInc : Op::kDec});
        i += 2;
        continue;
      case 0xc0:
        if (m != 0xc0 && m != 0xc8) return std::nullopt;
        ops.push_back({m == 0xc0 ? Op::kRol : Op::kRor, static_cast<uint8_t>(at(i + 2) & 7)});
        i += 3;
        continue;
      default:
        return std::nullopt;
    }
  }
  if (i != kProgram || at(kProgram) != 0xaa) return std::nullopt;
  return ops;
}

uint8_t Run(const std::vector<Op>& ops, uint8_t al, uint8_t cl) {
  for (const Op& o : ops) {
    switch (o.kind) {
      case Op::kAddCl:
        al = static_cast<uint8_t>(al + cl);
        break;
      case Op::kSubCl:
        al = static_cast<uint8_t>(al - cl);
        break;
      case Op::kXorCl:
        al ^= cl;
        break;
      case Op::kAdd:
        al = static_cast<uint8_t>(al + o.imm);
        break;
      case Op::kSub:
        al = static_cast<uint8_t>(al - o.imm);
        break;
      case Op::kXor:
        al ^= o.imm;
        break;
      case Op::kInc:
        ++al;
        break;
      case Op::kDec:
        --al;
        break;
      case Op::kRol:
        al = static_cast<uint8_t>(o.imm == 0 ? al : (al << o.imm) | (al >> (8 - o.imm)));
        break;
      case Op::kRor:
        al = static_cast<uint8_t>(o.imm == 0 ? al : (al >> o.imm) | (al << (8 - o.imm)));
        break;
    }
  }
  return al;
}

// `n` bytes at `at` through the program, CL the bytes left (from n down to 1), low byte.
void RunOver(Bytes& f, uint64_t at, uint64_t n, const std::vector<Op>& ops) {
  for (uint64_t i = 0; i < n; ++i)
    f[at + i] =
        static_cast<char>(Run(ops, static_cast<uint8_t>(f[at + i]), static_cast<uint8_t>((n - i) & 0xff)));
}

}  // namespace

std::optional<Bytes> RunPespinProgram(ByteView program, ByteView data) {
  std::optional<std::vector<Op>> ops = ParseProgram(program);
  if (!ops) return std::nullopt;
  Bytes out(data);
  RunOver(out, 0, out.size(), *ops);
  return out;
}

bool LooksLikePespin(ByteView d) {
  return FindStub(d).has_value();
}

Status ReadPespin(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Stub> stub = FindStub(d);
  if (!stub) return DataLoss("PESpin: no PESpin stub at the entry point");
  const uint64_t e = stub->e;
  const std::vector<Section>& sections = stub->sections;
  const size_t n = sections.size() - 1;
  auto other = [](const std::string& what) {
    return Unimplemented("PESpin: a version other than 1.1 (" + what + ")");
  };
  if (static_cast<uint8_t>(d[e + 0xdb]) != 0xbb || static_cast<uint8_t>(d[e + 0xe0]) != 0xb9 ||
      Le32(d, e + 0xe1) != kLayer1)
    return other("its first decryption loop");
  if ((Le32(d, e + 0x1e1) & 0x200000) != 0) return Unimplemented("PESpin: a password-protected program");
  // The copy of the file, the checksum and the stub's layers, about the file's size each; each
  // section's pass through a layer, the image and the unpacked sections come on top.
  uint64_t work = 3 * uint64_t{d.size()};
  auto too_much = [&](const std::string& what) {
    return ResourceExhausted("PESpin: " + what + ", more than the container may still produce (" +
                             std::to_string(options.max_total_bytes) + " bytes)");
  };
  if (work > options.max_total_bytes) return too_much("the file, its checksum and its layers");
  for (size_t j = 0; j < n; ++j) {
    if (sections[j].raw + sections[j].rsz > d.size() && sections[j].rsz != 0)
      return DataLoss("PESpin: section " + std::to_string(j) + " lies outside the file");
  }
  Bytes f(d);
  // 1, 2: the stub.
  uint8_t key8 = static_cast<uint8_t>(d[e + 0xdc]);
  for (uint64_t p = e + 0x1fe5 + kLayer1; p-- > e + 0x1fe5; --key8) f[p] = static_cast<char>(f[p] ^ key8);
  if (Le32(f, e + 0x26f0) != kLayer2) return other("the length of its second layer");
  ShiftXor(f, e + 0x2d5, kLayer2, Le32(f, e + 0x26eb), 0x8c328834, true);
  // The key: a checksum of the original file.
  const uint64_t length = (uint64_t{d.size()} - Le32(f, e + 0x429)) & 0xffffffff;
  if (length >= d.size()) return DataLoss("PESpin: its checksum's length passes the file's end");
  const uint32_t key = Le32(f, e + 0x3217) - Checksum(d.substr(0, length));
  // 3: the sections (the register starting from the key for each).
  const uint32_t xored = Le32(f, e + 0x3207);
  for (size_t j = 0; j < n && j < 32; ++j) {
    if (((xored >> j) & 1) == 0) continue;
    work += sections[j].rsz;
    if (work > options.max_total_bytes) return too_much("section " + std::to_string(j) + "'s layers");
    ShiftXor(f, sections[j].raw, sections[j].rsz, key, 0xed43af31, false);
  }
  // 4, 5: the stub again.
  if (Le32(f, e + 0x644) != kLayer4) return other("the length of its fourth layer");
  ShiftXor(f, e + 0x28d3, kLayer4, Le32(f, e + 0x650), 0xed43af32, true);
  if (Le32(f, e + 0x28dd) != kLayer5) return other("the length of its fifth layer");
  std::optional<std::vector<Op>> first = ParseProgram(ByteView(f).substr(e + 0x28ec, kProgram + 1));
  if (!first) return Unimplemented("PESpin: a byte program accord does not read (at E + 0x28ec)");
  RunOver(f, e + 0x6d4, kLayer5, *first);
  // 6: the sections, through the program the fifth layer decrypted.
  std::optional<std::vector<Op>> second = ParseProgram(ByteView(f).substr(e + 0x755, kProgram + 1));
  if (!second) return Unimplemented("PESpin: a byte program accord does not read (at E + 0x755)");
  const uint32_t programmed = Le32(f, e + 0x6f1);
  for (size_t j = 0; j < n && j < 32; ++j) {
    if (((programmed >> j) & 1) == 0) continue;
    work += 4 * sections[j].rsz;  // a program of up to 18 operations a byte
    if (work > options.max_total_bytes) return too_much("section " + std::to_string(j) + "'s layers");
    RunOver(f, sections[j].raw, sections[j].rsz, *second);
  }
  // The image of the decrypted file; 7: the compressed sections unpacked into it.
  const uint32_t packed = Le32(f, e + 0x3061);
  ASSIGN_OR_RETURN(Bytes image, PeMemoryImage(f, stub->pe, options, "PESpin"));
  work += image.size();
  if (work > options.max_total_bytes) return too_much("with its image");
  // Each compressed section on its own; the first failure is reported, the others still unpacked.
  Status status = Status::Ok();
  auto fail = [&](Status s) {
    if (status.ok()) status = std::move(s);
  };
  for (size_t j = 0; j < n && j < 32; ++j) {
    if (((packed >> j) & 1) == 0) continue;
    const Section& s = sections[j];
    const std::string where = "PESpin: section " + std::to_string(j);
    if (s.rva + s.vsz > kMaxPeImageBytes) {
      fail(DataLoss(where + ": over 256 MiB"));
      continue;
    }
    if (s.rsz == 0) {  // (data past the file was refused above)
      fail(DataLoss(where + ": compressed, but it has no data in the file"));
      continue;
    }
    const uint64_t grown = std::max<uint64_t>(image.size(), s.rva + s.vsz) - image.size();
    if (work + s.vsz + grown > options.max_total_bytes) {
      fail(too_much(where + " unpacked"));
      break;
    }
    Bytes in = f.substr(static_cast<size_t>(s.raw), static_cast<size_t>(s.rsz));
    Bytes out(static_cast<size_t>(s.vsz), '\0');
    size_t pos = 0;
    uint32_t last = 0;
    uint64_t used = 0;
    fail(AplibUnpack(in, &pos, out, 0, &last, s.vsz + in.size(), &used).WithContext(where));
    work += out.size() + grown;
    if (image.size() < s.rva + s.vsz) image.resize(static_cast<size_t>(s.rva + s.vsz), '\0');
    image.replace(static_cast<size_t>(s.rva), out.size(), out);
  }
  // The stub's first bytes cleared, at the entry point and where a file of the image would have
  // them, so the image is not taken for a protected program again.
  if (uint64_t{stub->pe.entry_rva} + 4 + kHead.size() <= image.size())
    std::fill_n(image.begin() + stub->pe.entry_rva + 4, kHead.size(), '\0');
  for (int pass = 0; pass < 4; ++pass) {
    std::optional<Stub> again = FindStub(image);
    if (!again) break;
    std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(again->e + 4), kHead.size(), '\0');
  }
  if (image.size() > options.max_member_bytes) image.resize(static_cast<size_t>(options.max_member_bytes));
  sink(ReaderMember{"PESpin", std::move(image)});  // declined or not: the problem met before it
  return status;
}

}  // namespace accord::scan

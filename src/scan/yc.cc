#include "scan/yc.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "scan/pe.h"

namespace accord::scan {
namespace {

// The stub's first 0x2c bytes; 0x100 marks the bytes of an imm32 (any value).
constexpr int kAny = 0x100;
constexpr int kPrologue[] = {
    0x55, 0x8b, 0xec, 0x53, 0x56, 0x57, 0x60, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d,  // ... call $+5; pop ebp
    0x81, 0xed, kAny, kAny, kAny, kAny,                                            // sub ebp, base
    0xb9, kAny, kAny, kAny, kAny,                                                  // mov ecx, end
    0x81, 0xe9, kAny, kAny, kAny, kAny,                                            // sub ecx, start
    0x8b, 0xd5, 0x81, 0xc2, kAny, kAny, kAny, kAny,  // mov edx, ebp; add edx, start
    0x8d, 0x3a, 0x8b, 0xf7, 0x33, 0xc0,              // lea edi, [edx]; mov esi, edi; xor eax, eax
};
constexpr size_t kPrologueSize = std::size(kPrologue);
constexpr size_t kMaxStub = 64 * 1024;  // the stub is about 3 KiB
constexpr size_t kMaxLoopCode = 1024;   // bytes a decryption loop's code may span
constexpr size_t kMaxSteps = 256;
// `mov esi, [esi+0Ch]; add esi, eax; call rel32`: the call of the sections' decryption loop.
constexpr std::string_view kSectionCall("\x3e\x8b\x76\x0c\x03\xf0\xe8", 7);

enum class StepKind { kAdd, kSub, kXor, kRol, kRor, kInc, kDec, kNot, kNeg };
struct Step {
  StepKind kind;
  bool by_cl = false;  // the operand is CL, not `imm`
  uint8_t imm = 0;
};

uint8_t Rol(uint8_t x, unsigned n) {
  n &= 7;  // x86: the count masked to 5 bits, then modulo 8 for a byte
  return n == 0 ? x : static_cast<uint8_t>((x << n) | (x >> (8 - n)));
}

uint8_t Apply(const std::vector<Step>& steps, uint8_t al, uint8_t cl) {
  for (const Step& s : steps) {
    uint8_t v = s.by_cl ? cl : s.imm;
    switch (s.kind) {
      case StepKind::kAdd:
        al = static_cast<uint8_t>(al + v);
        break;
      case StepKind::kSub:
        al = static_cast<uint8_t>(al - v);
        break;
      case StepKind::kXor:
        al = static_cast<uint8_t>(al ^ v);
        break;
      case StepKind::kRol:
        al = Rol(al, v);
        break;
      case StepKind::kRor:
        al = Rol(al, 8 - (v & 7));
        break;
      case StepKind::kInc:
        al = static_cast<uint8_t>(al + 1);
        break;
      case StepKind::kDec:
        al = static_cast<uint8_t>(al - 1);
        break;
      case StepKind::kNot:
        al = static_cast<uint8_t>(~al);
        break;
      case StepKind::kNeg:
        al = static_cast<uint8_t>(-al);
        break;
    }
  }
  return al;
}

// A cipher, applied step by step to fewer than 65,536 bytes, and through a table of what it makes
// of each byte for each value of cl (built once) to more: the cost stays linear in the bytes.
class Cipher {
 public:
  explicit Cipher(std::vector<Step> steps) : steps_(std::move(steps)) {}
  // Decrypts n bytes at `p` (the first `available` of them) as the loop does: ecx counts down
  // from n, so byte k sees cl = n - k.
  void Decrypt(char* p, size_t available, uint32_t n) {
    const size_t count = std::min<size_t>(available, n);
    done_ += count;
    if (table_.empty() && done_ < 256 * 256) {  // fewer bytes so far than the table has entries
      for (size_t k = 0; k < count; ++k)
        p[k] = static_cast<char>(Apply(steps_, static_cast<uint8_t>(p[k]), static_cast<uint8_t>(n - k)));
      return;
    }
    if (table_.empty()) {
      table_.resize(256 * 256);
      for (unsigned cl = 0; cl < 256; ++cl)
        for (unsigned al = 0; al < 256; ++al)
          table_[cl * 256 + al] = Apply(steps_, static_cast<uint8_t>(al), static_cast<uint8_t>(cl));
    }
    for (size_t k = 0; k < count; ++k)
      p[k] = static_cast<char>(table_[((n - k) & 0xff) * 256 + static_cast<unsigned char>(p[k])]);
  }

 private:
  std::vector<Step> steps_;
  std::vector<uint8_t> table_;
  uint64_t done_ = 0;  // bytes decrypted with this cipher, all calls
};

// The cipher of the decryption loop whose code starts at d[at]: an optional `mov edi, esi`, then
// `lodsb`, the steps, `stosb` and `loop` back to the `lodsb`, short forward jumps followed and
// filler skipped. Unimplemented for anything else.
Result<std::vector<Step>> ReadLoop(ByteView d, size_t at) {
  auto unknown = [&](size_t i) {
    return Unimplemented(
        "yC: a decryption loop with an instruction accord does not emulate (at file offset " +
        std::to_string(i) + ")");
  };
  const size_t start = at;
  size_t lodsb = SIZE_MAX;
  std::vector<Step> steps;
  auto byte = [&d](size_t i) -> int { return i < d.size() ? static_cast<unsigned char>(d[i]) : -1; };
  size_t i = at;
  if (byte(i) == 0x8b && byte(i + 1) == 0xfe) i += 2;  // mov edi, esi
  while (true) {
    if (i >= d.size()) return DataLoss("yC: a decryption loop cut by the end of the file");
    if (i - start > kMaxLoopCode || steps.size() >= kMaxSteps) return unknown(i);
    const int b = byte(i), m = byte(i + 1);
    if (b == 0xeb) {  // jmp short, forward only (over junk bytes)
      if (m < 0 || m >= 0x80) return unknown(i);
      i += 2 + size_t(m);
      continue;
    }
    if (b == 0x90 || b == 0xf8 || b == 0xf9 || b == 0xfc) {  // nop, clc, stc, cld
      ++i;
      continue;
    }
    if (lodsb == SIZE_MAX) {
      if (b != 0xac) return unknown(i);
      lodsb = i++;
      continue;
    }
    if (b == 0xaa) {  // stosb, then loop back to the lodsb
      size_t j = i + 1;
      while (byte(j) == 0x90) ++j;
      if (byte(j) != 0xe2 || byte(j + 1) < 0) return unknown(j);
      int8_t rel = static_cast<int8_t>(byte(j + 1));
      if (static_cast<int64_t>(j + 2) + rel != static_cast<int64_t>(lodsb)) return unknown(j);
      return steps;
    }
    auto imm = [&](StepKind k, size_t len) -> bool {
      if (byte(i + len - 1) < 0) return false;
      steps.push_back({k, false, static_cast<uint8_t>(byte(i + len - 1))});
      i += len;
      return true;
    };
    auto reg = [&](StepKind k, bool by_cl) {
      steps.push_back({k, by_cl, 0});
      i += 2;
      return true;
    };
    bool ok = (b == 0x04 && imm(StepKind::kAdd, 2)) || (b == 0x2c && imm(StepKind::kSub, 2)) ||
              (b == 0x34 && imm(StepKind::kXor, 2)) || (b == 0xc0 && m == 0xc0 && imm(StepKind::kRol, 3)) ||
              (b == 0xc0 && m == 0xc8 && imm(StepKind::kRor, 3)) ||
              (b == 0xd2 && m == 0xc0 && reg(StepKind::kRol, true)) ||
              (b == 0xd2 && m == 0xc8 && reg(StepKind::kRor, true)) ||
              (b == 0x02 && m == 0xc1 && reg(StepKind::kAdd, true)) ||
              (b == 0x2a && m == 0xc1 && reg(StepKind::kSub, true)) ||
              (b == 0x32 && m == 0xc1 && reg(StepKind::kXor, true)) ||
              (b == 0xfe && m == 0xc0 && reg(StepKind::kInc, false)) ||
              (b == 0xfe && m == 0xc8 && reg(StepKind::kDec, false)) ||
              (b == 0xf6 && m == 0xd0 && reg(StepKind::kNot, false)) ||
              (b == 0xf6 && m == 0xd8 && reg(StepKind::kNeg, false));
    if (!ok) return unknown(i);
  }
}

// The file offset of `count` bytes at virtual address `va`, if they lie in one section's raw data
// within the file.
std::optional<size_t> RawRange(const PeImage& pe, uint64_t va, uint64_t count, size_t file_size) {
  if (va < pe.image_base || count == 0) return std::nullopt;
  uint64_t rva = va - pe.image_base;
  std::optional<size_t> first = PeOffsetOf(pe, rva, file_size),
                        last = PeOffsetOf(pe, rva + count - 1, file_size);
  if (!first || !last || *last < *first || *last - *first != count - 1) return std::nullopt;
  return first;
}

struct Stub {
  PeImage pe;
  size_t entry = 0;        // file offset of the entry point
  uint32_t region_va = 0;  // the stub's own (encrypted) region: its address, length, file offset
  uint32_t length = 0;
  std::optional<size_t> region;  // unset when the length is implausible or it is not in the file
};

std::optional<Stub> FindStub(ByteView d) {
  std::optional<PeImage> pe = d.starts_with("MZ") ? ParsePe(d) : std::nullopt;
  if (!pe) return std::nullopt;
  std::optional<size_t> ep = PeOffsetOf(*pe, pe->entry_rva, d.size());
  if (!ep || d.size() - *ep < kPrologueSize) return std::nullopt;
  for (size_t i = 0; i < kPrologueSize; ++i)
    if (kPrologue[i] != kAny && static_cast<unsigned char>(d[*ep + i]) != kPrologue[i]) return std::nullopt;
  if (Le32(d, *ep + 0x1a) != Le32(d, *ep + 0x22)) return std::nullopt;  // both name the start
  Stub stub;
  stub.pe = std::move(*pe);
  stub.entry = *ep;
  // ebp = the address of `pop ebp` minus the imm32 of `sub ebp`; the region is [ebp + start,
  // ebp + end) with start and end the immediates of `sub ecx` and `mov ecx`.
  const uint32_t ebp =
      static_cast<uint32_t>(stub.pe.image_base + stub.pe.entry_rva + 0xc) - Le32(d, *ep + 0xf);
  const uint32_t start = Le32(d, *ep + 0x22);
  stub.region_va = ebp + start;
  stub.length = Le32(d, *ep + 0x14) - start;
  if (stub.length != 0 && stub.length <= kMaxStub)
    stub.region = RawRange(stub.pe, stub.region_va, stub.length, d.size());
  return stub;
}

bool Skipped(const PeSection& s) {
  static constexpr std::string_view kKept[] = {
      "rsrc", ".rsr", "relo", ".rel", ".eda", ".tls", std::string_view("yC\0\0", 4)};
  std::string_view four = std::string_view(s.name).substr(0, 4);
  for (std::string_view k : kKept)
    if (four == k) return true;
  return s.raw_size == 0 || s.raw_offset == 0;
}

}  // namespace

bool LooksLikeYc(ByteView d) {
  // Not a program this reader already decrypted: its stub region is plain text, with the call.
  std::optional<Stub> stub = FindStub(d);
  return stub && stub->region && d.substr(*stub->region, stub->length).find(kSectionCall) == ByteView::npos;
}

Status ReadYc(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Stub> stub = FindStub(d);
  if (!stub) return DataLoss("yC: no yoda's Crypter stub at the entry point");
  const PeImage& pe = stub->pe;
  const size_t ep = stub->entry;
  const uint32_t region_va = stub->region_va, length = stub->length;
  if (length == 0 || length > kMaxStub) return DataLoss("yC: the stub's region has an implausible length");
  // (LooksLikeYc admits only stubs whose region is in the file; ReadYc called directly checks.)
  const std::optional<size_t> region = stub->region;
  if (!region) return DataLoss("yC: the stub's region is not in the file");
  ASSIGN_OR_RETURN(std::vector<Step> stub_steps, ReadLoop(d, ep + kPrologueSize));

  Bytes out(d);
  Cipher(std::move(stub_steps)).Decrypt(out.data() + *region, length, length);
  const Bytes plain_stub = out.substr(*region, length);
  ByteView stub_text = plain_stub;
  size_t call = stub_text.find(kSectionCall);
  if (call == ByteView::npos || length - call < kSectionCall.size() + 4)
    return Unimplemented("yC: the decrypted stub has no section decryption call accord knows");
  const uint32_t after = region_va + static_cast<uint32_t>(call + kSectionCall.size() + 4);
  const uint32_t target = after + Le32(stub_text, call + kSectionCall.size());
  std::optional<size_t> loop = RawRange(pe, target, 1, d.size());
  if (!loop) return DataLoss("yC: the section decryption loop is not in the file");
  ASSIGN_OR_RETURN(std::vector<Step> steps, ReadLoop(out, *loop));
  Cipher cipher(std::move(steps));

  // Sections that overlap would have bytes decrypted more than once (and cost more than the
  // file): refused, as no crypter writes them.
  uint64_t total = 0;
  for (const PeSection& s : pe.sections)
    if (!Skipped(s) && s.raw_offset < out.size())
      total += std::min<uint64_t>(s.raw_size, out.size() - s.raw_offset);
  if (total > out.size())
    return DataLoss("yC: sections that overlap (more bytes to decrypt than the file has)");
  Status status;
  for (const PeSection& s : pe.sections) {
    if (Skipped(s)) continue;
    if (s.raw_offset >= out.size()) {
      status = DataLoss("yC: a section's data lies past the end of the file");
      continue;
    }
    size_t available = out.size() - s.raw_offset;
    if (available < s.raw_size) status = DataLoss("yC: a section cut by the end of the file");
    cipher.Decrypt(out.data() + s.raw_offset, available, s.raw_size);
  }
  // The stub as it decrypted itself, even where a section the loop decrypted overlaps it (never
  // in yC's own files): so the member is never taken for a yC program again.
  out.replace(*region, length, plain_stub);
  if (out.size() > options.max_member_bytes) out.resize(static_cast<size_t>(options.max_member_bytes));
  sink(ReaderMember{"yC", std::move(out)});
  return status;
}

}  // namespace accord::scan

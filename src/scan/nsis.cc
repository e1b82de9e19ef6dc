#include "scan/nsis.h"

#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>

#include "scan/nsis_bzip2.h"
#include "scan/pe.h"

namespace accord::scan {
namespace {

constexpr std::string_view kSignature = "\xEF\xBE\xAD\xDENullsoftInst";
constexpr size_t kFirstHeader = 28;
constexpr uint32_t kNoCrc = 4;
constexpr uint64_t kMaxSolid = uint64_t{1} << 30;

std::optional<size_t> FindFirstHeader(ByteView d) {
  for (size_t at = 512; at < d.size() && d.size() - at >= kFirstHeader; at += 512) {
    if (d.compare(at + 4, kSignature.size(), kSignature) == 0) return at;
  }
  return std::nullopt;
}

enum class Method { kLzma, kLzmaFlagged, kLzmaBcj, kDeflate, kBzip2 };

// LZMA properties at `at`: lc/lp/pb in range and a dictionary NSIS would write (2^n or 3 * 2^n,
// at most 1 GiB), which a deflate block's length read as properties is not.
bool LzmaPropertiesAt(ByteView b, size_t at) {
  // NSIS writes lc=3, lp=0, pb=2 (0x5d), as 7-Zip's NSIS handler expects.
  if (b.size() < at + 5 || static_cast<unsigned char>(b[at]) != 0x5d) return false;
  uint32_t dict = Le32(b, at + 1);
  for (int n = 12; n <= 30; ++n) {
    if (dict == (1u << n) || dict == (3u << (n - 1))) return true;
  }
  return false;
}

// What compresses the stream that starts at `at`: LZMA (its properties, or a BCJ flag byte and
// then them), NSIS's bzip2 ('1' and a block size below 14, as 7-Zip tells it), else deflate.
Method MethodOf(ByteView b, size_t at = 0) {
  if (LzmaPropertiesAt(b, at)) return Method::kLzma;
  // A filter flag byte first (7-Zip's reading): 1 an x86 BCJ filter, 0 none.
  if (b.size() > at + 1 && b[at] == 1 && LzmaPropertiesAt(b, at + 1)) return Method::kLzmaBcj;
  if (b.size() > at + 1 && b[at] == 0 && LzmaPropertiesAt(b, at + 1)) return Method::kLzmaFlagged;
  if (b.size() > at + 1 && b[at] == '1' && static_cast<unsigned char>(b[at + 1]) < 14) return Method::kBzip2;
  return Method::kDeflate;
}

// One compressed stream, read in pieces.
class Decoder {
 public:
  ~Decoder() {
    if (lzma_) lzma_end(&ls_);
    if (zlib_) inflateEnd(&zs_);
  }
  // `dict_cap` bounds an LZMA dictionary: no decoded match reaches further back than what is kept.
  Status Init(ByteView in, uint64_t dict_cap) {
    Method m = MethodOf(in);
    if (m == Method::kBzip2) {
      bzip2_ = std::make_unique<NsisBzip2Decoder>(in);
      return Status::Ok();
    }
    if (m == Method::kDeflate) {
      if (inflateInit2(&zs_, -15) != Z_OK) return Internal("zlib: inflateInit2 failed");
      zlib_ = true;
      in_ = in;
      return Status::Ok();
    }
    // MethodOf checked 5 bytes of properties there.
    size_t props_at = m == Method::kLzmaBcj || m == Method::kLzmaFlagged ? 1 : 0;
    lzma_filter lzma1{LZMA_FILTER_LZMA1, nullptr};
    if (lzma_properties_decode(&lzma1, nullptr, reinterpret_cast<const uint8_t*>(in.data() + props_at), 5) !=
        LZMA_OK) {
      return DataLoss("NSIS: invalid LZMA properties");
    }
    options_.reset(static_cast<lzma_options_lzma*>(lzma1.options));
    options_->dict_size = static_cast<uint32_t>(std::clamp<uint64_t>(
        std::min<uint64_t>(options_->dict_size, dict_cap), LZMA_DICT_SIZE_MIN, uint64_t{1} << 30));
    std::array<lzma_filter, 3> chain{};
    size_t n = 0;
    if (m == Method::kLzmaBcj) chain[n++] = {LZMA_FILTER_X86, nullptr};
    chain[n++] = {LZMA_FILTER_LZMA1, options_.get()};
    chain[n] = {LZMA_VLI_UNKNOWN, nullptr};
    if (lzma_raw_decoder(&ls_, chain.data()) != LZMA_OK)
      return DataLoss("NSIS: LZMA decoder refused its options");
    lzma_ = true;
    in_ = in.substr(props_at + 5);
    return Status::Ok();
  }

  // Up to `n` bytes into `buf`; `end` once the stream ended. DataLoss when damaged or cut.
  Status Read(char* buf, size_t n, size_t& got, bool& end) {
    got = 0;
    end = false;
    if (bzip2_) return bzip2_->Read(buf, n, got, end);
    if (lzma_) {
      ls_.next_in = reinterpret_cast<const uint8_t*>(in_.data() + fed_);
      ls_.avail_in = in_.size() - fed_;
      ls_.next_out = reinterpret_cast<uint8_t*>(buf);
      ls_.avail_out = n;
      lzma_ret r = lzma_code(&ls_, LZMA_FINISH);
      fed_ = in_.size() - ls_.avail_in;
      got = n - ls_.avail_out;
      if (r == LZMA_STREAM_END) end = true;
      if (r == LZMA_OK || r == LZMA_STREAM_END) return Status::Ok();
      if (r == LZMA_BUF_ERROR && got == 0) return DataLoss("LZMA stream cut");
      if (r == LZMA_BUF_ERROR) return Status::Ok();
      return DataLoss("LZMA stream damaged (liblzma error " + std::to_string(r) + ")");
    }
    size_t chunk = std::min<size_t>(in_.size() - fed_, 1u << 30);
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in_.data() + fed_));
    zs_.avail_in = static_cast<uInt>(chunk);
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    int r = inflate(&zs_, Z_NO_FLUSH);
    fed_ += chunk - zs_.avail_in;
    got = std::min<size_t>(n, 1u << 30) - zs_.avail_out;
    if (r == Z_STREAM_END) end = true;
    if (r == Z_OK || r == Z_STREAM_END) return Status::Ok();
    if (r == Z_BUF_ERROR && got == 0) return DataLoss("deflate stream cut");
    if (r == Z_BUF_ERROR) return Status::Ok();
    return DataLoss(std::string("deflate stream damaged: ") + (zs_.msg != nullptr ? zs_.msg : "zlib error"));
  }

 private:
  struct FreeOptions {
    void operator()(lzma_options_lzma* o) const { free(o); }
  };
  ByteView in_;
  size_t fed_ = 0;
  bool lzma_ = false, zlib_ = false;
  lzma_stream ls_ = LZMA_STREAM_INIT;
  z_stream zs_{};
  std::unique_ptr<lzma_options_lzma, FreeOptions> options_;
  std::unique_ptr<NsisBzip2Decoder> bzip2_;
};

// A whole compressed block, at most `cap` bytes of it.
Status DecodeBlock(ByteView in, uint64_t cap, Bytes& out) {
  Decoder dec;
  if (Status s = dec.Init(in, std::max<uint64_t>(cap, 1)); !s.ok()) return s;
  char buf[64 * 1024];
  for (;;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof(buf), cap - out.size()));
    if (want == 0) return Status::Ok();
    size_t got = 0;
    bool end = false;
    Status s = dec.Read(buf, want, got, end);
    out.append(buf, got);  // what came before damage in the same call counts too
    if (!s.ok()) return s;
    if (end) return Status::Ok();
    if (got == 0) return DataLoss("stream ends early");
  }
}

// Whether `area` is a chain of u32 lengths and blocks that ends exactly where it does (what a
// non-solid installer's data is). A solid stream whose first bytes read as a length that fits
// (NSIS's bzip2 starts with '1', 0x31) does not also chain to its end.
bool BlocksFill(ByteView area) {
  size_t at = 0;
  while (area.size() - at >= 4) {
    size_t size = Le32(area, at) & 0x7fffffffu;
    at += 4;
    if (size > area.size() - at) return false;
    at += size;
  }
  return at == area.size();
}

std::string MemberName(uint64_t index) {
  return index == 0 ? "header" : "file" + std::to_string(index);
}

}  // namespace

bool LooksLikeNsis(ByteView d) {
  return d.starts_with("MZ") && FindFirstHeader(d) && ParsePe(d);
}

Status ReadNsis(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<size_t> first = FindFirstHeader(d);
  if (!first || !d.starts_with("MZ") || !ParsePe(d))
    return DataLoss("NSIS: not a program with a first header");
  uint32_t flags = Le32(d, *first), all = Le32(d, *first + 24);
  Status problem;
  uint64_t end = uint64_t{*first} + all;
  if (all < kFirstHeader || end > d.size()) {
    problem = DataLoss("NSIS: the installer's data is cut (" + std::to_string(all) + " bytes announced)");
    end = d.size();
  } else if ((flags & kNoCrc) == 0 && end - *first >= kFirstHeader + 4) {
    end -= 4;  // the CRC-32
  }
  ByteView area = d.substr(*first + kFirstHeader, static_cast<size_t>(end - *first - kFirstHeader));
  const uint64_t cap = options.max_member_bytes;
  // Non-solid: blocks of their own, the first with bit 31 (compressed) and a compression header
  // after its length, or the installer's header stored (its own length). Solid: a compression
  // header at once. Lengths that chain exactly to the end decide it; else a deflate block's length
  // is told from a solid deflate stream by bit 31 alone.
  const uint32_t header_length = Le32(d, *first + 20);
  const uint32_t v0 = area.size() >= 4 ? Le32(area, 0) : 0;
  const bool fits = area.size() >= 4 && (v0 & 0x7fffffffu) <= area.size() - 4;
  bool non_solid;
  if (fits && ((v0 & 0x80000000u) != 0 || v0 == header_length) && BlocksFill(area)) {
    non_solid = true;  // a chain of lengths that ends exactly with the data: no stream does that
  } else if (fits && (v0 & 0x80000000u) != 0 && MethodOf(area, 4) != Method::kDeflate) {
    non_solid = true;
  } else if (MethodOf(area) != Method::kDeflate) {
    non_solid = false;
  } else {
    non_solid = fits && ((v0 & 0x80000000u) != 0 || v0 == header_length);
  }
  if (non_solid) {
    size_t at = 0;
    for (uint64_t index = 0; area.size() - at >= 4; ++index) {
      uint32_t v = Le32(area, at);
      size_t size = v & 0x7fffffffu;
      at += 4;
      if (size > area.size() - at) {
        return DataLoss("NSIS: block " + std::to_string(index) + " runs past the data");
      }
      ByteView block = area.substr(at, size);
      at += size;
      Bytes out;
      Status s;
      if ((v & 0x80000000u) != 0) {
        s = DecodeBlock(block, std::min(cap, options.max_total_bytes), out);
      } else {
        out = Bytes(block.substr(0, static_cast<size_t>(std::min<uint64_t>(block.size(), cap))));
      }
      if (!s.ok() && problem.ok()) problem = s.WithContext("NSIS " + MemberName(index));
      if (!sink(ReaderMember{MemberName(index), std::move(out)})) return Status::Ok();
    }
    return problem;
  }
  // Solid: one stream of u32 length + data, decoded as it is read.
  Decoder dec;
  const uint64_t total_limit = std::min(kMaxSolid, options.max_total_bytes);
  if (Status s = dec.Init(area, total_limit); !s.ok()) return s.WithContext("NSIS solid data");
  Bytes pending, member;
  uint64_t index = 0, remaining = 0, total = 0;
  bool in_member = false;
  char buf[64 * 1024];
  for (;;) {
    size_t got = 0;
    bool stream_end = false;
    Status s = dec.Read(buf, sizeof(buf), got, stream_end);
    total += got;
    pending.append(buf, got);
    size_t used = 0;
    while (used < pending.size()) {
      if (!in_member) {
        if (pending.size() - used < 4) break;
        remaining = Le32(pending, used) & 0x7fffffffu;
        used += 4;
        in_member = true;
        member.clear();
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, pending.size() - used));
      if (member.size() < cap)
        member.append(pending, used, static_cast<size_t>(std::min<uint64_t>(take, cap - member.size())));
      used += take;
      remaining -= take;
      if (remaining == 0) {
        in_member = false;
        if (!sink(ReaderMember{MemberName(index++), std::move(member)})) return Status::Ok();
        member.clear();
      }
    }
    pending.erase(0, used);
    if (!s.ok() || stream_end || got == 0 || total > total_limit) {
      const bool over = total > total_limit;
      if (s.ok() && !stream_end && !over) s = DataLoss("stream ends early");
      if (in_member) {
        if (!sink(ReaderMember{MemberName(index), std::move(member)})) return Status::Ok();
        if (s.ok()) s = DataLoss("stream ends inside a block");
      }
      if (over) {
        return ResourceExhausted("NSIS: solid data past " + std::to_string(total_limit) +
                                 " bytes (what the container may still produce; not decoded further)");
      }
      if (!s.ok()) return s.WithContext("NSIS solid data");
      return problem;
    }
  }
}

}  // namespace accord::scan

#include "scan/autoit.h"

#include <algorithm>
#include <array>
#include <bit>
#include <optional>
#include <random>
#include <string>

#include "scan/pe.h"

namespace accord::scan {
namespace {

constexpr std::string_view kMarker = "\xA3\x48\x4B\xBE\x98\x6C\x4A\xA9\x99\x4C\x53\x0A\x86\xD6\x48\x7D";

struct Version {
  bool ea06 = false;
  uint32_t file_magic, tag_key, name_key, size_key;
  uint32_t tag_seed, name_seed;
  std::string_view compressed_magic;
};
constexpr Version kEa05{false, 0xceb06dff, 0x29bc, 0x29ac, 0x45aa, 0xa25e, 0xf25e, "EA05"};
constexpr Version kEa06{true, 0x52ca436b, 0xadbc, 0xf820, 0x87bc, 0xb33f, 0xf479, "EA06"};

// EA05's key stream: the Mersenne Twister, one byte per output.
void XorMt(Bytes& b, uint32_t seed) {
  std::mt19937 mt(seed);
  for (char& c : b) c = static_cast<char>(static_cast<unsigned char>(c) ^ ((mt() >> 1) & 0xff));
}

// EA06's: 17 words, each step one word replaced by the sum of two rotated ones; a byte is the top
// byte of every second step's word (what AutoIt computes through a double in [0, 1) times 256).
void XorLame(Bytes& b, uint32_t seed) {
  std::array<uint32_t, 17> g{};
  for (uint32_t& w : g) {
    seed *= 0x53A9B4FB;
    seed = 1 - seed;
    w = seed;
  }
  size_t c0 = 0, c1 = 10;
  auto step = [&] {
    uint32_t rolled = std::rotl(g[c0], 9) + std::rotl(g[c1], 13);
    g[c0] = rolled;
    c0 = c0 == 0 ? 16 : c0 - 1;
    c1 = c1 == 0 ? 16 : c1 - 1;
    return rolled;
  };
  for (int i = 0; i < 9; ++i) step();
  for (char& c : b) {
    step();
    c = static_cast<char>(static_cast<unsigned char>(c) ^ (step() >> 24));
  }
}

void Decrypt(const Version& v, Bytes& b, uint32_t seed) {
  if (v.ea06) {
    XorLame(b, seed);
  } else {
    XorMt(b, seed);
  }
}

// AutoIt's LZSS. OK when `size` bytes (or the cap) came out; DataLoss otherwise, with what did.
Status Unpack(const Version& v, ByteView in, uint64_t cap, Bytes& out) {
  if (in.size() < 8 || in.substr(0, 4) != v.compressed_magic)
    return DataLoss("no " + std::string(v.compressed_magic) + " header");
  uint64_t size = (uint64_t{static_cast<unsigned char>(in[4])} << 24) |
                  (static_cast<unsigned char>(in[5]) << 16) | (static_cast<unsigned char>(in[6]) << 8) |
                  static_cast<unsigned char>(in[7]);
  const uint64_t limit = std::min(size, cap);
  size_t pos = 8;
  uint32_t word = 0;
  int bits = 0;
  bool short_input = false;
  auto get = [&](int n) {
    uint32_t value = 0;
    for (int i = 0; i < n; ++i) {
      if (bits == 0) {
        if (in.size() - pos < 2) {
          short_input = true;
          return uint32_t{0};
        }
        word = (static_cast<uint32_t>(static_cast<unsigned char>(in[pos])) << 8) |
               static_cast<unsigned char>(in[pos + 1]);
        pos += 2;
        bits = 16;
      }
      --bits;
      value = (value << 1) | ((word >> bits) & 1);
    }
    return value;
  };
  while (out.size() < limit) {
    bool match = get(1) == (v.ea06 ? 0u : 1u);
    if (short_input) break;
    if (!match) {
      char c = static_cast<char>(get(8));
      if (short_input) break;
      out.push_back(c);
      continue;
    }
    uint64_t distance = get(15), length = get(2), add = 0;
    if (length == 3) {
      add = 3, length = get(3);
      if (length == 7) {
        add = 10, length = get(5);
        if (length == 31) {
          add = 41, length = get(8);
          if (length == 255) {
            add = 296;
            while ((length = get(8)) == 255 && !short_input) add += 255;
          }
        }
      }
    }
    if (short_input) break;
    length += 3 + add;
    if (distance == 0 || distance > out.size()) {
      return DataLoss("a match " + std::to_string(distance) + " bytes back at " + std::to_string(out.size()));
    }
    for (uint64_t k = 0; k < length && out.size() < limit; ++k) out.push_back(out[out.size() - distance]);
  }
  if (out.size() < limit)
    return DataLoss("compressed data ends after " + std::to_string(out.size()) + " bytes");
  return Status::Ok();
}

struct Start {
  Version version;
  size_t at;  // after the marker and version
};

// The first marker followed by a version and, after the 16 bytes, an entry's magic: a decoy
// marker elsewhere in the program does not hide the real script.
std::optional<Start> FindStart(ByteView d) {
  for (size_t at = d.find(kMarker); at != ByteView::npos; at = d.find(kMarker, at + 1)) {
    ByteView v = d.substr(at + kMarker.size(), 8);
    const Version* version = v == "AU3!EA05" ? &kEa05 : v == "AU3!EA06" ? &kEa06 : nullptr;
    size_t entries = at + kMarker.size() + 8 + 16;
    if (version != nullptr && d.size() >= entries + 4 && Le32(d, entries) == version->file_magic) {
      return Start{*version, at + kMarker.size() + 8};
    }
  }
  return std::nullopt;
}

// An entry's string, decrypted: EA06's are UTF-16LE (kept as their low bytes when the high ones are
// zero, as AutoIt's paths are).
std::string Text(const Version& v, Bytes b) {
  if (!v.ea06) return b;
  std::string out;
  for (size_t i = 0; i + 1 < b.size(); i += 2) out.push_back(b[i + 1] == 0 ? b[i] : '?');
  return out;
}

}  // namespace

bool LooksLikeAutoIt(ByteView d) {
  return d.starts_with("MZ") && ParsePe(d) && FindStart(d);
}

Status ReadAutoIt(ByteView d, const ReaderOptions& options, const MemberSink& sink) {
  std::optional<Start> start = FindStart(d);
  if (!start || !d.starts_with("MZ") || !ParsePe(d)) return DataLoss("AutoIt: not a compiled script");
  const Version& v = start->version;
  size_t at = start->at;
  if (d.size() - at < 16) return DataLoss("AutoIt: header cut");
  uint32_t sum = 0;
  for (size_t i = 0; i < 16; ++i) sum += static_cast<unsigned char>(d[at + i]);
  at += 16;
  Status problem;
  uint64_t produced = 0;
  auto cut = [&](const std::string& what) {
    return DataLoss("AutoIt: " + what + " cut at offset " + std::to_string(at));
  };
  for (uint64_t index = 1; d.size() - at >= 8 && Le32(d, at) == v.file_magic; ++index) {
    // The tag (">>>AUTOIT SCRIPT<<<" or the installed file's path) and the original name.
    std::string strings[2];
    for (int k = 0; k < 2; ++k) {
      size_t off = k == 0 ? at + 4 : at;
      if (d.size() - off < 4) return cut("entry");
      uint64_t n = Le32(d, off) ^ (k == 0 ? v.tag_key : v.name_key);
      uint64_t bytes = v.ea06 ? n * 2 : n;
      if (bytes > d.size() - off - 4) return cut("entry name");
      Bytes b(d.substr(off + 4, static_cast<size_t>(bytes)));
      Decrypt(v, b, static_cast<uint32_t>(n + (k == 0 ? v.tag_seed : v.name_seed)));
      strings[k] = Text(v, std::move(b));
      at = off + 4 + static_cast<size_t>(bytes);
    }
    if (d.size() - at < 13 + 16) return cut("entry header");
    bool compressed = d[at] == 1;
    uint64_t stored = Le32(d, at + 1) ^ v.size_key;
    at += 13 + 16;
    if (stored > d.size() - at) return cut("entry data");
    Bytes data(d.substr(at, static_cast<size_t>(stored)));
    at += static_cast<size_t>(stored);
    Decrypt(v, data, v.ea06 ? 0x2477 : 0x22af + sum);
    bool script =
        strings[0].find("AUTOIT") != std::string::npos && strings[0].find("SCRIPT<") != std::string::npos;
    std::string_view base = strings[1];
    if (size_t slash = base.find_last_of("\\/"); slash != std::string_view::npos)
      base.remove_prefix(slash + 1);
    std::string name = script ? "script" : CleanReaderName(base, "file" + std::to_string(index));
    if (produced >= options.max_total_bytes) {
      return ResourceExhausted("AutoIt: entries past " + std::to_string(options.max_total_bytes) +
                               " bytes (what the container may produce)");
    }
    Bytes out;
    if (compressed) {
      Status s = Unpack(v, data, std::min(options.max_member_bytes, options.max_total_bytes - produced), out);
      if (!s.ok() && problem.ok()) problem = s.WithContext("AutoIt " + name);
    } else {
      out = std::move(data);
      if (out.size() > options.max_member_bytes) out.resize(static_cast<size_t>(options.max_member_bytes));
    }
    produced += out.size();
    if (!sink(ReaderMember{name, std::move(out)})) return Status::Ok();
  }
  return problem;
}

}  // namespace accord::scan

// Helpers for the tests of the container readers (scan/reader.h): collect a reader's members, walk
// a buffer and keep what came out, read a ClamAV test file.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/status.h"
#include "scan/container.h"
#include "scan/reader.h"

namespace accord::scan {

inline constexpr const char* kClamavTestFiles = "/usr/share/clamav-testfiles";

struct Collected {
  std::vector<ReaderMember> members;
  MemberSink Sink() {
    return [this](ReaderMember&& m) {
      members.push_back(std::move(m));
      return true;
    };
  }
};

// A sink that declines every member (the walker's, once a cap or the time is hit): reader.h says the
// reader then returns OK or the problem it met before that member.
inline MemberSink Declining() {
  return [](ReaderMember&&) { return false; };
}

struct WalkResult {
  std::map<std::string, Bytes> items;  // path -> bytes
  std::vector<Event> events;

  Bytes Data(const std::string& path) const {
    auto it = items.find(path);
    return it == items.end() ? Bytes("<absent>") : it->second;
  }
  bool HasEvent(std::string_view name) const {
    for (const Event& e : events) {
      if (e.name == name) return true;
    }
    return false;
  }
  bool HasEventPrefix(std::string_view prefix) const {
    for (const Event& e : events) {
      if (e.name.starts_with(prefix)) return true;
    }
    return false;
  }
  bool Contains(ByteView data) const {
    for (const auto& [path, bytes] : items) {
      if (bytes == data) return true;
    }
    return false;
  }
};

inline WalkResult WalkAll(ByteView data, const std::string& path, ContainerLimits limits = {}) {
  WalkResult r;
  Walker(limits).Walk(
      data, path, [&](const Item& item) { r.items[std::string(item.path)] = Bytes(item.data); },
      [&](const Event& e) { r.events.push_back(e); });
  return r;
}

// A file of Debian's clamav-testfiles, or "" if it is not installed.
inline Bytes ReadTestFile(const std::string& name) {
  std::ifstream f(std::string(kClamavTestFiles) + "/" + name, std::ios::binary);
  if (!f) return "";
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Writes `v` little-endian in `bytes` bytes at `off`, growing `b` as needed.
inline void PutLe(Bytes& b, size_t off, uint64_t v, int bytes) {
  if (b.size() < off + static_cast<size_t>(bytes)) b.resize(off + static_cast<size_t>(bytes), '\0');
  for (int i = 0; i < bytes; ++i) b[off + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// The smallest PE that has an overlay: headers, one 0x200-byte section at 0x200, then `overlay`.
inline Bytes MinimalPe(ByteView overlay) {
  Bytes b(0x400, '\0');
  b[0] = 'M';
  b[1] = 'Z';
  PutLe(b, 0x3c, 0x80, 4);
  b.replace(0x80, 4, std::string("PE\0\0", 4));
  PutLe(b, 0x80 + 6, 1, 2);       // one section
  PutLe(b, 0x80 + 20, 0xe0, 2);   // optional header size
  PutLe(b, 0x80 + 24, 0x10b, 2);  // PE32
  size_t section = 0x80 + 24 + 0xe0;
  PutLe(b, section + 16, 0x200, 4);  // raw size
  PutLe(b, section + 20, 0x200, 4);  // raw pointer
  return b + Bytes(overlay);
}

// A raw deflate stream (no zlib header) of `in` at `level`, as zip, InstallShield and PDF embed them.
inline Bytes RawDeflate(ByteView in, int level = 9) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int r = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return r == Z_STREAM_END ? out : "";
}

// Whole files, for the tests that run other programs (arj, 7-Zip, unzip) on what they write.
inline Bytes ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
inline void WriteWholeFile(const std::string& path, ByteView data) {
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}
inline bool HaveProgram(const std::string& name) {
  return std::system(("command -v " + name + " > /dev/null 2>&1").c_str()) == 0;
}
// A fresh directory under the temporary directory; the caller removes it.
inline std::string MakeTempDir(const std::string& prefix) {
  std::string t = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  return mkdtemp(t.data()) != nullptr ? t : std::string();
}

// A stream as the stubs of scan/stub_bits.h read it: bits in bytes (most significant first), each
// byte reserved where the decoder loads it (when it needs a bit and the last byte's 8 are used),
// whole bytes appended to out_ in between. For writers of hand-made packed streams, which also
// keep in expected_ what the stream means (built from each code's meaning, not by a decoder).
class StubBitWriter {
 protected:
  void Bit(int b) {
    if (used_ == 8) {
      slot_ = out_.size();
      out_ += '\0';
      used_ = 0;
    }
    if (b) out_[slot_] = static_cast<char>(out_[slot_] | (0x80 >> used_));
    ++used_;
  }
  void Bits(uint32_t v, int n) {
    while (n-- > 0) Bit(int(v >> n) & 1);
  }
  void Gamma(uint32_t v) {  // v >= 2: its bits after the leading 1, each followed by "more"
    ASSERT_GE(v, 2u);
    int top = 31;
    while (!(v >> top)) --top;
    for (int i = top - 1; i >= 0; --i) {
      Bit(int(v >> i) & 1);
      Bit(i > 0);
    }
  }
  void NewBitByte() { used_ = 8; }                 // the decoder starts afresh (a new block)
  void Copy(uint32_t distance, uint32_t length) {  // a match: bytes from `distance` back, one by one
    for (uint32_t i = 0; i < length; ++i) expected_ += expected_[expected_.size() - distance];
  }
  Bytes out_, expected_;

 private:
  int used_ = 8;
  size_t slot_ = 0;
};

// Every `step`th byte of data[begin, end) flipped in turn and the copy read with `read`: each
// must end in OK or DataLoss and still yield its one member (the image as far as it was
// unpacked). Returns how many did not end OK.
inline size_t FlipEach(const Bytes& data, size_t begin, size_t end, size_t step,
                       Status (*read)(ByteView, const ReaderOptions&, const MemberSink&)) {
  size_t failed = 0;
  for (size_t at = begin; at < end; at += step) {
    Bytes bad = data;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    Collected c;
    Status s = read(bad, {}, c.Sink());
    EXPECT_TRUE(s.ok() || s.code() == Code::kDataLoss) << at << ": " << s.ToString();
    failed += !s.ok();
    EXPECT_EQ(c.members.size(), 1u) << at;
  }
  return failed;
}

}  // namespace accord::scan

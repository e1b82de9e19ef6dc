// Helpers for the tests of the container readers (scan/reader.h): collect a reader's members, walk
// a buffer and keep what came out, read a ClamAV test file.
#pragma once

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

}  // namespace accord::scan

#include "scan/report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace accord::scan {

std::string EscapePath(std::string_view p) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(p.size());
  for (size_t i = 0; i < p.size();) {
    unsigned char c = p[i];
    // Keep well-formed multi-byte UTF-8 sequences as they are.
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len > 1 && i + len <= p.size() && IsValidUtf8(p.substr(i, len))) {
      out.append(p.substr(i, len));
      i += len;
      continue;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(char(c));
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
    ++i;
  }
  return out;
}

std::string FormatText(const FileReport& r, bool infected_only) {
  std::string out;
  if (!r.error.empty()) {
    out += EscapePath(r.path) + ": " + r.error + " ERROR\n";
    return out;
  }
  bool any = false;
  for (const Finding& f : r.findings) {
    out += EscapePath(f.path) + ": " + f.name + " FOUND\n";
    // Where the signature came from, on a line of its own so that clamscan's "PATH: NAME FOUND"
    // lines stay as they are for the scripts that read them.
    if (f.cited) out += EscapePath(f.path) + ": " + f.name + " CITED " + EscapePath(f.source) + "\n";
    any = true;
  }
  if (!any && !infected_only) out += EscapePath(r.path) + ": OK\n";
  return out;
}

namespace {
std::string PathResultJson(std::string_view path, const char* result) {
  nlohmann::json j;
  j["path"] = EscapePath(path);
  j["result"] = result;
  return j.dump() + "\n";
}
}  // namespace

std::string FormatExcludedJson(std::string_view path) {
  return PathResultJson(path, "excluded");
}

std::string FormatSymlinkJson(std::string_view path) {
  return PathResultJson(path, "symlink");
}

std::string FormatJson(const FileReport& r) {
  nlohmann::json j;
  j["path"] = EscapePath(r.path);
  j["size"] = r.size;
  if (!r.sha256.empty()) j["sha256"] = r.sha256;
  j["scanned_bytes"] = r.bytes_scanned;
  if (!r.error.empty()) j["error"] = r.error;
  nlohmann::json matches = nlohmann::json::array();
  for (const Finding& f : r.findings) {
    nlohmann::json m;
    m["path"] = EscapePath(f.path);
    // The chain of containers above the item: "a.zip!b.tar" for "a.zip!b.tar!x.exe".
    size_t bang = f.path.rfind('!');
    m["container"] = bang == std::string::npos ? std::string() : EscapePath(f.path.substr(0, bang));
    m["name"] = f.name;
    m["kind"] = f.kind;
    m["source"] = EscapePath(f.source);
    if (f.cited) m["cited"] = true;
    if (f.distance) m["distance"] = *f.distance;  // TLSH findings
    matches.push_back(std::move(m));
  }
  j["matches"] = std::move(matches);
  j["result"] = !r.error.empty() ? "error" : r.detected() ? "found" : "ok";
  return j.dump() + "\n";
}

std::string FormatProgress(const ProgressCounts& c) {
  constexpr double kMb = 1048576.0;
  double rate = c.seconds > 0 ? double(c.bytes) / kMb / c.seconds : 0.0;
  char line[160];
  if (!c.totals_known) {
    std::snprintf(line, sizeof line, "%llu files, %.1f MB, %.1f MB/s, counting...",
                  (unsigned long long)c.files, double(c.bytes) / kMb, rate);
    return line;
  }
  uint64_t files = std::max(c.total_files, c.files), bytes = std::max(c.total_bytes, c.bytes);
  // The fraction done and its rate, by bytes, or by files when the files are all empty.
  double done = bytes > 0   ? double(c.bytes) / double(bytes)
                : files > 0 ? double(c.files) / double(files)
                            : 1.0;
  std::string eta = "--:--";
  if (done >= 1.0) {
    eta = "0:00";
  } else if (c.seconds >= 1.0 && done > 0) {
    uint64_t left = uint64_t(c.seconds * (1.0 - done) / done + 0.5);
    char b[32];
    if (left >= 100 * 3600) {
      std::snprintf(b, sizeof b, ">99h");
    } else if (left >= 3600) {
      std::snprintf(b, sizeof b, "%llu:%02llu:%02llu", (unsigned long long)(left / 3600),
                    (unsigned long long)(left / 60 % 60), (unsigned long long)(left % 60));
    } else {
      std::snprintf(b, sizeof b, "%llu:%02llu", (unsigned long long)(left / 60),
                    (unsigned long long)(left % 60));
    }
    eta = b;
  }
  std::snprintf(line, sizeof line, "%llu/%llu files, %.1f/%.1f MB (%d%%), %.1f MB/s, ETA %s",
                (unsigned long long)c.files, (unsigned long long)files, double(c.bytes) / kMb,
                double(bytes) / kMb, int(done * 100.0), rate, eta.c_str());
  return line;
}

}  // namespace accord::scan

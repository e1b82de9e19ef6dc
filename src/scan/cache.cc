#include "scan/cache.h"

#include <archive.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <tuple>

#include "core/fs.h"
#include "core/limits.h"

namespace accord::scan {

namespace {
constexpr std::string_view kMagic = "ACCSCAN1";
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxFileSize =
    kCacheHeaderSize + accord::limits::kMaxScanCacheRecords * kCacheRecordSize + kCacheTrailerSize;

void PutLE(Bytes& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}
uint64_t GetLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint8_t(p[i]);
  return v;
}
template <size_t N>
void PutBytes(Bytes& out, const std::array<uint8_t, N>& a) {
  out.append(reinterpret_cast<const char*>(a.data()), N);
}
template <size_t N>
void GetBytes(const char* p, std::array<uint8_t, N>& a) {
  std::memcpy(a.data(), p, N);
}

auto Key(const CacheRecord& r) {
  return std::tie(r.stamp.dev, r.stamp.ino, r.path_hash);
}

uint32_t DaysSinceEpoch(int64_t ns) {
  return ns <= 0 ? 0 : uint32_t(ns / (int64_t{86400} * 1'000'000'000));
}

int64_t Ns(const struct timespec& t) {
  return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::string HexOf(const std::array<uint8_t, 32>& a) {
  return HexEncode(ByteView(reinterpret_cast<const char*>(a.data()), a.size()));
}

// The cache file MUST be the effective user's own and writable by no one else (cache.h).
Status CheckPrivate(const struct stat& st, const std::string& what) {
  if (st.st_uid != ::geteuid())
    return FailedPrecondition(what + ": owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                              std::to_string(::geteuid()) + " who scans");
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return FailedPrecondition(what + ": writable by group or others");
  return Status::Ok();
}

// Reads the cache file: NotFound if there is none.
Result<Bytes> ReadPrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return NotFound(path);
    return FailedPrecondition(path + ": " + std::strerror(e));
  }
  struct stat st;
  Status s = ::fstat(fd, &st) != 0  ? Internal(path + ": " + std::strerror(errno))
             : !S_ISREG(st.st_mode) ? FailedPrecondition(path + ": not a regular file")
                                    : CheckPrivate(st, path);
  ::close(fd);
  if (!s.ok()) return s;
  // Opened again by fs::ReadFile: a file replaced in between is refused by the check below.
  auto bytes = fs::ReadFile(path, kMaxFileSize);
  if (!bytes.ok()) return bytes.status();
  struct stat again;
  if (::lstat(path.c_str(), &again) != 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)
    return FailedPrecondition(path + ": replaced while being read");
  return bytes;
}
}  // namespace

FileStamp StampOf(const struct stat& st) {
  FileStamp s;
  s.dev = uint64_t(st.st_dev);
  s.ino = uint64_t(st.st_ino);
  s.size = uint64_t(st.st_size);
  s.mtime_ns = Ns(st.st_mtim);
  s.ctime_ns = Ns(st.st_ctim);
  return s;
}

bool KeyLess(const CacheRecord& a, const CacheRecord& b) {
  return Key(a) < Key(b);
}

std::array<uint8_t, 16> PathHash(std::string_view path) {
  crypto::Hash h = crypto::Sha256(path);
  std::array<uint8_t, 16> out;
  std::copy_n(h.begin(), 16, out.begin());
  return out;
}

Bytes SerializeScanCache(const crypto::Hash& fingerprint, const std::vector<CacheRecord>& records) {
  Bytes out;
  out.reserve(kCacheHeaderSize + records.size() * kCacheRecordSize + kCacheTrailerSize);
  out.append(kMagic);
  PutLE(out, kVersion, 4);
  PutLE(out, kCacheRecordSize, 4);
  PutBytes(out, fingerprint);
  PutLE(out, records.size(), 8);
  for (const CacheRecord& r : records) {
    PutLE(out, r.stamp.dev, 8);
    PutLE(out, r.stamp.ino, 8);
    PutLE(out, r.stamp.size, 8);
    PutLE(out, uint64_t(r.stamp.mtime_ns), 8);
    PutLE(out, uint64_t(r.stamp.ctime_ns), 8);
    PutBytes(out, r.path_hash);
    PutBytes(out, r.sha256);
    PutLE(out, r.scanned_bytes, 8);
    PutLE(out, r.last_used_day, 4);
  }
  out.append(crypto::AsView(crypto::Sha256(out)));
  return out;
}

Result<std::vector<CacheRecord>> ParseScanCache(ByteView in, const crypto::Hash& fingerprint) {
  if (in.size() < kCacheHeaderSize + kCacheTrailerSize || in.substr(0, kMagic.size()) != kMagic)
    return DataLoss("not an accord scan cache (no " + std::string(kMagic) + " magic)");
  const char* p = in.data();
  if (uint32_t v = uint32_t(GetLE(p + 8, 4)); v != kVersion)
    return DataLoss("format version " + std::to_string(v) + ", this accord reads " +
                    std::to_string(kVersion));
  if (uint32_t rs = uint32_t(GetLE(p + 12, 4)); rs != kCacheRecordSize)
    return DataLoss("record size " + std::to_string(rs) + ", want " + std::to_string(kCacheRecordSize));
  uint64_t count = GetLE(p + 48, 8);
  if (count > accord::limits::kMaxScanCacheRecords)
    return DataLoss(std::to_string(count) + " records, over the limit of " +
                    std::to_string(accord::limits::kMaxScanCacheRecords));
  uint64_t want = kCacheHeaderSize + count * kCacheRecordSize + kCacheTrailerSize;
  if (in.size() != want)
    return DataLoss("size " + std::to_string(in.size()) + ", want " + std::to_string(want) + " for " +
                    std::to_string(count) + " records");
  ByteView body = in.substr(0, in.size() - kCacheTrailerSize);
  if (crypto::AsView(crypto::Sha256(body)) != in.substr(body.size()))
    return DataLoss("checksum mismatch (a torn or altered file)");
  if (in.substr(16, 32) != crypto::AsView(fingerprint))
    return FailedPrecondition("made for another engine, database or options (fingerprint differs)");
  std::vector<CacheRecord> out(count);
  for (uint64_t i = 0; i < count; ++i) {
    const char* r = p + kCacheHeaderSize + i * kCacheRecordSize;
    CacheRecord& c = out[i];
    c.stamp.dev = GetLE(r, 8);
    c.stamp.ino = GetLE(r + 8, 8);
    c.stamp.size = GetLE(r + 16, 8);
    c.stamp.mtime_ns = int64_t(GetLE(r + 24, 8));
    c.stamp.ctime_ns = int64_t(GetLE(r + 32, 8));
    GetBytes(r + 40, c.path_hash);
    GetBytes(r + 56, c.sha256);
    c.scanned_bytes = GetLE(r + 88, 8);
    c.last_used_day = uint32_t(GetLE(r + 96, 4));
    if (i > 0 && !KeyLess(out[i - 1], c))
      return DataLoss("record " + std::to_string(i) + ": not after record " + std::to_string(i - 1));
  }
  return out;
}

namespace {
// dev, ino, size, mtime and ctime of a file: the identity of an executable or a library.
Bytes StatIdentity(const struct stat& st) {
  FileStamp s = StampOf(st);
  Bytes id;
  for (uint64_t v : {s.dev, s.ino, s.size, uint64_t(s.mtime_ns), uint64_t(s.ctime_ns)}) PutLE(id, v, 8);
  return id;
}

int AddLoadedObject(struct dl_phdr_info* info, size_t, void* user) {
  auto* ids = static_cast<std::vector<std::pair<std::string, Bytes>>*>(user);
  struct stat st;
  if (info->dlpi_name && info->dlpi_name[0] == '/' && ::stat(info->dlpi_name, &st) == 0)
    ids->emplace_back(info->dlpi_name, StatIdentity(st));
  return 0;
}
}  // namespace

Fingerprint::Fingerprint() {
  Add("format", "accord scan cache 1");
  // The running executable's stat, and every shared library's (libyara, libarchive, libmspack,
  // ...): any rebuild or upgrade of accord or of a library it runs is another engine.
  struct stat st;
  if (::stat("/proc/self/exe", &st) == 0) {
    Add("executable", StatIdentity(st));
  } else {
    // No identity for the engine: a fingerprint that matches nothing, so nothing is trusted.
    std::random_device random;
    Bytes salt;
    for (int i = 0; i < 4; ++i) PutLE(salt, random(), 4);
    Add("executable-unknown", salt);
  }
  std::vector<std::pair<std::string, Bytes>> libraries;
  ::dl_iterate_phdr(AddLoadedObject, &libraries);
  std::sort(libraries.begin(), libraries.end());
  for (const auto& [name, id] : libraries) Add("library " + name, id);
  Add("libyara", YR_VERSION);
  // archive_version_details() leaks its buffer on every call (libarchive 3.6); the loaded
  // libraries above already identify the decompressors it links.
  Add("libarchive", archive_version_string());
  // What YARA rules see of a file besides its bytes (engine.cc): the path is in each record's key,
  // the owner's change changes the file's ctime.
  Add("yara-externals", "filename filepath extension filetype owner");
}

void Fingerprint::Add(std::string_view label, ByteView value) {
  PutLE(text_, label.size(), 8);
  text_.append(label);
  PutLE(text_, value.size(), 8);
  text_.append(value);
}

void Fingerprint::AddDatabase(const Database& db) {
  Add("database", db.header_sha256());
}

Status Fingerprint::AddYaraRules(const YaraRules& rules) {
  auto saved = rules.Save();
  if (!saved.ok()) return saved.status();
  Add("yara-rules", crypto::AsView(crypto::Sha256(*saved)));
  return Status::Ok();
}

void Fingerprint::AddOptions(const ScanOptions& o) {
  // A new option or limit changes these sizes: add it here, then update the assertions.
  static_assert(sizeof(ScanOptions) == sizeof(ContainerLimits));
  static_assert(sizeof(ContainerLimits) == 56, "a new ContainerLimits field: add it to the fingerprint");
  const ContainerLimits& l = o.limits;
  Bytes v;
  for (uint64_t x : {uint64_t(l.max_recursion), l.max_file_size, l.max_scan_size, l.max_files,
                     uint64_t(l.max_scan_time.count()), l.max_compression_ratio, l.compression_ratio_floor})
    PutLE(v, x, 8);
  Add("limits", v);
}

crypto::Hash Fingerprint::Finish() const {
  return crypto::Sha256(text_);
}

Result<crypto::Hash> ScanFingerprint(const std::vector<std::shared_ptr<const Database>>& databases,
                                     const std::vector<std::shared_ptr<const YaraRules>>& rules,
                                     const ScanOptions& options) {
  Fingerprint f;
  for (const auto& db : databases) f.AddDatabase(*db);
  for (const auto& r : rules) RETURN_IF_ERROR(f.AddYaraRules(*r));
  f.AddOptions(options);
  return f.Finish();
}

std::unique_ptr<ScanCache> ScanCache::Open(const std::string& path, const crypto::Hash& fingerprint,
                                           int64_t scan_start_ns, std::string* warning) {
  std::unique_ptr<ScanCache> c(new ScanCache);
  c->path_ = path;
  c->fingerprint_ = fingerprint;
  c->scan_start_ns_ = scan_start_ns;
  c->today_ = DaysSinceEpoch(scan_start_ns);
  warning->clear();
  auto bytes = ReadPrivate(path);
  if (!bytes.ok()) {
    if (bytes.status().code() != Code::kNotFound)
      *warning = "scan cache " + path + " not used (" + bytes.status().message() + ")";
    return c;
  }
  auto records = ParseScanCache(*bytes, fingerprint);
  if (records.ok()) {
    c->records_ = std::move(records).value();
  } else if (records.status().code() != Code::kFailedPrecondition) {
    *warning = "scan cache " + path + " is damaged, ignored and rebuilt: " + records.status().message();
    c->dirty_ = true;  // replace it even if this scan records nothing new
  }
  return c;
}

Result<std::string> ScanCache::DefaultPath() {
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && h[0] == '/') {
    base = fs::JoinPath(h, ".cache");
  } else {
    return FailedPrecondition("neither XDG_CACHE_HOME nor HOME is an absolute path");
  }
  std::string dir = fs::JoinPath(base, "accord");
  RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return FailedPrecondition(dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition(dir + ": not a directory");
  RETURN_IF_ERROR(CheckPrivate(st, dir));
  return fs::JoinPath(dir, "scan.cache");
}

bool ScanCache::Lookup(const FileStamp& stamp, std::string_view path, FileReport* report) {
  CacheRecord probe;
  probe.stamp = stamp;
  probe.path_hash = PathHash(path);
  std::lock_guard<std::mutex> l(mu_);
  auto it = std::lower_bound(records_.begin(), records_.end(), probe, KeyLess);
  if (it == records_.end() || KeyLess(probe, *it) || !(it->stamp == stamp)) return false;
  if (it->last_used_day != today_) {
    it->last_used_day = today_;
    dirty_ = true;
  }
  report->path = std::string(path);
  report->size = stamp.size;
  report->sha256 = HexOf(it->sha256);
  report->findings.clear();
  report->error.clear();
  report->bytes_scanned = it->scanned_bytes;
  return true;
}

void ScanCache::Insert(const FileStamp& stamp, const FileReport& r) {
  if (!r.error.empty() || !r.findings.empty() || r.size != stamp.size) return;
  if (stamp.mtime_ns > scan_start_ns_ - kRacyCleanNs || stamp.ctime_ns > scan_start_ns_ - kRacyCleanNs)
    return;
  auto digest = HexDecode(r.sha256);
  if (!digest || digest->size() != 32) return;
  CacheRecord c;
  c.stamp = stamp;
  c.path_hash = PathHash(r.path);
  std::memcpy(c.sha256.data(), digest->data(), 32);
  c.scanned_bytes = r.bytes_scanned;
  c.last_used_day = today_;
  std::lock_guard<std::mutex> l(mu_);
  if (added_.size() >= accord::limits::kMaxScanCacheRecords) return;  // past the bound: scanned next time too
  added_.push_back(c);
  dirty_ = true;
}

Status ScanCache::Save() {
  std::lock_guard<std::mutex> l(mu_);
  if (!dirty_) return Status::Ok();
  // Another scan may hold the lock for the moment it takes to write: wait up to two seconds.
  Result<fs::FileLock> lock = FailedPrecondition("");
  for (int i = 0; i < 100; ++i) {
    lock = fs::FileLock::Acquire(path_ + ".lock", "the scan cache");
    if (lock.ok() || lock.status().code() != Code::kFailedPrecondition) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!lock.ok()) return lock.status();
  // Priority when over the bound: this scan's records, then what it used, then the rest.
  // Records of one file and path keep the newest stamp (a file changed since is a stale record).
  std::vector<std::pair<int, CacheRecord>> all;
  for (const auto& r : added_) all.emplace_back(0, r);
  for (const auto& r : records_) all.emplace_back(r.last_used_day == today_ ? 1 : 2, r);
  if (auto bytes = ReadPrivate(path_); bytes.ok()) {
    if (auto theirs = ParseScanCache(*bytes, fingerprint_); theirs.ok())
      for (const auto& r : *theirs) all.emplace_back(r.last_used_day == today_ ? 1 : 2, r);
  }
  std::vector<CacheRecord> keep;
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (KeyLess(a.second, b.second) || KeyLess(b.second, a.second)) return KeyLess(a.second, b.second);
    return std::tie(b.second.stamp.ctime_ns, b.second.stamp.mtime_ns, a.first) <
           std::tie(a.second.stamp.ctime_ns, a.second.stamp.mtime_ns, b.first);
  });
  std::vector<std::pair<int, CacheRecord>> unique;
  for (auto& e : all) {
    if (!unique.empty() && !KeyLess(unique.back().second, e.second)) {
      // The same file and path: the first is the newest; remember the latest use.
      auto& u = unique.back();
      if (u.second.stamp == e.second.stamp) {
        u.second.last_used_day = std::max(u.second.last_used_day, e.second.last_used_day);
        u.first = std::min(u.first, e.first);
      }
      continue;
    }
    unique.push_back(e);
  }
  std::erase_if(unique, [&](const auto& e) {  // unused for long: a deleted file, another tree
    return today_ >= e.second.last_used_day + accord::limits::kMaxScanCacheAgeDays;
  });
  if (unique.size() > accord::limits::kMaxScanCacheRecords) {
    std::stable_sort(unique.begin(), unique.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    unique.resize(accord::limits::kMaxScanCacheRecords);
    std::sort(unique.begin(), unique.end(),
              [](const auto& a, const auto& b) { return KeyLess(a.second, b.second); });
  }
  keep.reserve(unique.size());
  for (auto& e : unique) keep.push_back(e.second);
  Status s = fs::WriteFileAtomic(path_, SerializeScanCache(fingerprint_, keep), 0600);
  if (s.ok()) dirty_ = false;
  return s;
}

}  // namespace accord::scan

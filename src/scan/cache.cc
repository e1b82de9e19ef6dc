#include "scan/cache.h"

#include <archive.h>
#include <endian.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
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
constexpr uint32_t kVersion = 3;
constexpr size_t kMaxCacheFileSize = kCacheHeaderSize +
                                     accord::limits::kMaxScanCacheRecords * kCacheRecordSize +
                                     kMaxScanCacheFindingsBytes + kCacheTrailerSize;
constexpr uint32_t kHasSha256 = 1;                // record flags
constexpr uint8_t kCited = 1, kHasDistance = 2;   // finding flags
constexpr size_t kMaxFindingString = 0xffff;      // u16 lengths
constexpr size_t kMaxFindingsPerRecord = 0xffff;  // u16 count

// The finding kinds a record can hold (Recordable), and their codes in the file: 1 + the index.
constexpr std::string_view kKinds[] = {"md5", "sha1", "sha256", "tlsh", "yara", "limit"};
// The limit notes that depend only on the file's bytes and the options: not MaxScanTime (the
// clock), nor MaxTlshMatches (its note names the database's path, which the fingerprint does not
// hold).
constexpr std::string_view kReplayableLimits[] = {
    kMaxFileSize,  kMaxScanSize,         kMaxFiles,
    kMaxRecursion, kMaxCompressionRatio, "Heuristics.Limits.Exceeded.MaxStringMatches"};

// Finding's fields, each of them in the file (EncodeFindings): a new field MUST be added there.
static_assert(sizeof(Finding) == 4 * sizeof(std::string) + 8 + 8 + 2 * sizeof(std::string),
              "a new Finding field: record it in the scan cache (EncodeFindings, DecodeFindings)");

void PutLE(Bytes& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}
uint64_t GetLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint8_t(p[i]);
  return v;
}
uint64_t Get64(const char* p) {  // GetLE(p, 8), in one load on little-endian machines
  uint64_t v;
  std::memcpy(&v, p, 8);
  return le64toh(v);
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

int KindCode(std::string_view kind) {
  for (size_t i = 0; i < std::size(kKinds); ++i)
    if (kKinds[i] == kind) return int(i) + 1;
  return 0;
}

bool Replayable(const Finding& f) {
  int kind = KindCode(f.kind);
  if (kind == 0) return false;  // encrypted, corrupt, unsupported: also what a lack of memory gives
  if (f.kind != "limit") return true;
  return std::find(std::begin(kReplayableLimits), std::end(kReplayableLimits), f.name) !=
         std::end(kReplayableLimits);
}

void PutString(Bytes& out, std::string_view s) {
  PutLE(out, s.size(), 2);
  out.append(s);
}

// A record's findings as the file holds them (docs/scan-cache.md: file-findings); "" if none.
// Each Finding::path is already the suffix after the file's path.
Bytes EncodeFindings(const std::vector<Finding>& findings) {
  Bytes out;
  if (findings.empty()) return out;
  PutLE(out, findings.size(), 2);
  for (const Finding& f : findings) {
    out.push_back(char(KindCode(f.kind)));
    out.push_back(char((f.cited ? kCited : 0) | (f.distance ? kHasDistance : 0)));
    PutLE(out, f.distance.value_or(0), 4);
    for (std::string_view s : {std::string_view(f.path), std::string_view(f.name), std::string_view(f.source),
                               std::string_view(f.item_sha256), std::string_view(f.item_digest)})
      PutString(out, s);
  }
  return out;
}

// The inverse of EncodeFindings, for `in` exactly; every rule of the grammar is checked.
Status DecodeFindings(ByteView in, std::vector<Finding>* out) {
  out->clear();
  size_t at = 0;
  auto need = [&](size_t n) { return in.size() - at >= n; };
  if (!need(2)) return DataLoss("findings: no count");
  size_t n = GetLE(in.data(), 2);
  at = 2;
  if (n == 0) return DataLoss("findings: a count of 0 (a clean file has none at all)");
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto where = [i] { return "finding " + std::to_string(i); };  // only for a message
    if (!need(6)) return DataLoss(where() + ": cut short");
    int kind = uint8_t(in[at]), flags = uint8_t(in[at + 1]);
    uint32_t distance = uint32_t(GetLE(in.data() + at + 2, 4));
    at += 6;
    if (kind < 1 || kind > int(std::size(kKinds)))
      return DataLoss(where() + ": kind " + std::to_string(kind));
    if (flags & ~(kCited | kHasDistance)) return DataLoss(where() + ": flags " + std::to_string(flags));
    if (!(flags & kHasDistance) && distance != 0) return DataLoss(where() + ": a distance without its flag");
    Finding f;
    f.kind = std::string(kKinds[kind - 1]);
    f.cited = flags & kCited;
    if (flags & kHasDistance) f.distance = distance;
    for (std::string* s : {&f.path, &f.name, &f.source, &f.item_sha256, &f.item_digest}) {
      if (!need(2)) return DataLoss(where() + ": cut short");
      size_t len = GetLE(in.data() + at, 2);
      at += 2;
      if (!need(len)) return DataLoss(where() + ": cut short");
      s->assign(in.data() + at, len);
      at += len;
    }
    if (!f.path.empty() && f.path[0] != '!') return DataLoss(where() + ": its path is not inside the file's");
    out->push_back(std::move(f));
  }
  if (at != in.size())
    return DataLoss("findings: " + std::to_string(in.size() - at) + " bytes after the last");
  return Status::Ok();
}

// Where each part of a checked file is.
struct Layout {
  uint64_t count = 0;
  ByteView records, findings;
};

// Every check of the grammar but the records' own (CheckRecords).
Result<Layout> CheckHeader(ByteView in, const crypto::Hash& fingerprint) {
  if (in.size() < kCacheHeaderSize + kCacheTrailerSize || in.substr(0, kMagic.size()) != kMagic)
    return DataLoss("not an accord scan cache (no " + std::string(kMagic) + " magic)");
  ByteView body = in.substr(0, in.size() - kCacheTrailerSize);
  if (crypto::AsView(crypto::Sha256(body)) != in.substr(body.size()))
    return DataLoss("checksum mismatch (a torn or altered file)");
  const char* p = in.data();
  // A sound file of another version (an older accord's): replaced, like another fingerprint's.
  if (uint32_t v = uint32_t(GetLE(p + 8, 4)); v != kVersion)
    return FailedPrecondition("format version " + std::to_string(v) + ", this accord writes " +
                              std::to_string(kVersion));
  if (uint32_t rs = uint32_t(GetLE(p + 12, 4)); rs != kCacheRecordSize)
    return DataLoss("record size " + std::to_string(rs) + ", want " + std::to_string(kCacheRecordSize));
  Layout l;
  l.count = GetLE(p + 48, 8);
  uint64_t findings = GetLE(p + 56, 8);
  if (l.count > accord::limits::kMaxScanCacheRecords)
    return DataLoss(std::to_string(l.count) + " records, over the limit of " +
                    std::to_string(accord::limits::kMaxScanCacheRecords));
  if (findings > kMaxScanCacheFindingsBytes)
    return DataLoss(std::to_string(findings) + " bytes of findings, over the limit of " +
                    std::to_string(kMaxScanCacheFindingsBytes));
  uint64_t want = kCacheHeaderSize + l.count * kCacheRecordSize + findings + kCacheTrailerSize;
  if (in.size() != want)
    return DataLoss("size " + std::to_string(in.size()) + ", want " + std::to_string(want) + " for " +
                    std::to_string(l.count) + " records and " + std::to_string(findings) +
                    " bytes of findings");
  if (in.substr(16, 32) != crypto::AsView(fingerprint))
    return FailedPrecondition("made for another engine, database or options (fingerprint differs)");
  l.records = in.substr(kCacheHeaderSize, l.count * kCacheRecordSize);
  l.findings = in.substr(kCacheHeaderSize + l.records.size(), findings);
  return l;
}

// A record's fixed part (its findings are elsewhere: FindingsOffset, FindingsLength).
CacheRecord DecodeRecord(const char* r) {
  CacheRecord c;
  c.stamp.dev = Get64(r);
  c.stamp.ino = Get64(r + 8);
  c.stamp.size = Get64(r + 16);
  c.stamp.mtime_ns = int64_t(Get64(r + 24));
  c.stamp.ctime_ns = int64_t(Get64(r + 32));
  GetBytes(r + 40, c.path_hash);
  GetBytes(r + 56, c.sha256);
  c.scanned_bytes = Get64(r + 88);
  c.last_used_day = uint32_t(GetLE(r + 96, 4));
  c.has_sha256 = GetLE(r + 100, 4) & kHasSha256;
  return c;
}
uint32_t FindingsOffset(const char* r) {
  return uint32_t(GetLE(r + 104, 4));
}
uint32_t FindingsLength(const char* r) {
  return uint32_t(GetLE(r + 108, 4));
}

// The records' rules: ascending keys, flags, and findings back to back in record order, each
// record's well formed. Fills *out if given.
Status CheckRecords(const Layout& l, std::vector<CacheRecord>* out) {
  if (out) out->reserve(l.count);
  uint64_t next = 0;  // where the next record's findings start
  CacheRecord prev;
  std::vector<Finding> findings;
  for (uint64_t i = 0; i < l.count; ++i) {
    const char* r = l.records.data() + i * kCacheRecordSize;
    auto where = [i] { return "record " + std::to_string(i); };  // only for a message
    CacheRecord c = DecodeRecord(r);
    if (i > 0 && !KeyLess(prev, c)) return DataLoss(where() + ": not after record " + std::to_string(i - 1));
    if (uint32_t flags = uint32_t(GetLE(r + 100, 4)); flags & ~kHasSha256)
      return DataLoss(where() + ": flags " + std::to_string(flags));
    if (!c.has_sha256 && c.sha256 != std::array<uint8_t, 32>{})
      return DataLoss(where() + ": a SHA-256 for a file that was not read");
    uint64_t offset = FindingsOffset(r), length = FindingsLength(r);
    if (offset != next)
      return DataLoss(where() + ": findings at " + std::to_string(offset) + ", want " + std::to_string(next));
    if (length > kMaxCachedFindingsBytes || length > l.findings.size() - next)
      return DataLoss(where() + ": " + std::to_string(length) + " bytes of findings");
    if (length > 0) {
      if (Status s = DecodeFindings(l.findings.substr(offset, length), &findings); !s.ok())
        return DataLoss(where() + ": " + s.message());
    } else {
      findings.clear();
    }
    next += length;
    prev = std::move(c);
    if (out) {
      out->push_back(prev);
      out->back().findings = std::move(findings);
    }
  }
  if (next != l.findings.size())
    return DataLoss(std::to_string(l.findings.size() - next) + " bytes of findings after the last record's");
  return Status::Ok();
}

// The cache file MUST be the effective user's own and writable by no one else (cache.h).
Status CheckPrivate(const struct stat& st, const std::string& what) {
  if (st.st_uid != ::geteuid())
    return FailedPrecondition(what + ": owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                              std::to_string(::geteuid()) + " who scans");
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return FailedPrecondition(what + ": writable by group or others");
  return Status::Ok();
}

// Opens the cache file and checks it (a private regular file, not over the size limit): its
// descriptor and size. NotFound if there is none.
Result<std::pair<int, size_t>> OpenPrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return NotFound(path);
    return FailedPrecondition(path + ": " + std::strerror(e));
  }
  struct stat st;
  Status s = ::fstat(fd, &st) != 0  ? Internal(path + ": " + std::strerror(errno))
             : !S_ISREG(st.st_mode) ? FailedPrecondition(path + ": not a regular file")
             : uint64_t(st.st_size) > kMaxCacheFileSize
                 ? DataLoss(path + ": " + std::to_string(st.st_size) + " bytes, over the limit of " +
                            std::to_string(kMaxCacheFileSize))
                 : CheckPrivate(st, path);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  return std::make_pair(fd, size_t(st.st_size));
}

// Reads the cache file, through the descriptor whose owner and mode were checked.
Result<Bytes> ReadPrivate(const std::string& path) {
  auto opened = OpenPrivate(path);
  if (!opened.ok()) return opened.status();
  auto [fd, size] = *opened;
  Bytes bytes(size, '\0');
  size_t got = 0;
  Status s = Status::Ok();
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Internal(path + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    got += size_t(n);
  }
  ::close(fd);
  if (!s.ok()) return s;
  bytes.resize(got);  // a file cut while read fails its checksum
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

bool CacheRecord::operator==(const CacheRecord& o) const {
  auto same = [](const Finding& a, const Finding& b) {
    return std::tie(a.path, a.name, a.kind, a.source, a.distance, a.cited, a.item_sha256, a.item_digest) ==
           std::tie(b.path, b.name, b.kind, b.source, b.distance, b.cited, b.item_sha256, b.item_digest);
  };
  return std::tie(stamp, path_hash, has_sha256, sha256, scanned_bytes, last_used_day) ==
             std::tie(o.stamp, o.path_hash, o.has_sha256, o.sha256, o.scanned_bytes, o.last_used_day) &&
         std::equal(findings.begin(), findings.end(), o.findings.begin(), o.findings.end(), same);
}

bool KeyLess(const CacheRecord& a, const CacheRecord& b) {
  return Key(a) < Key(b);
}

std::array<uint8_t, 16> PathHash(std::string_view path, std::string_view owner) {
  std::string text;
  text.reserve(path.size() + 1 + owner.size());
  text.append(path).push_back('\0');
  text.append(owner);
  crypto::Hash h = crypto::Sha256(text);
  std::array<uint8_t, 16> out;
  std::copy_n(h.begin(), 16, out.begin());
  return out;
}

bool Recordable(const FileReport& r) {
  if (!r.error.empty() || r.clock_dependent || r.findings.size() > kMaxFindingsPerRecord) return false;
  for (const Finding& f : r.findings) {
    if (!Replayable(f)) return false;
    std::string_view path = f.path;
    if (!path.starts_with(r.path)) return false;
    path.remove_prefix(r.path.size());
    if (!path.empty() && path[0] != '!') return false;
    for (size_t n : {path.size(), f.name.size(), f.source.size(), f.item_sha256.size(), f.item_digest.size()})
      if (n > kMaxFindingString) return false;
  }
  return true;
}

Bytes SerializeScanCache(const crypto::Hash& fingerprint, const std::vector<CacheRecord>& records) {
  std::vector<Bytes> findings;
  size_t findings_size = 0;
  findings.reserve(records.size());
  for (const CacheRecord& r : records) {
    findings.push_back(EncodeFindings(r.findings));
    findings_size += findings.back().size();
  }
  Bytes out;
  out.reserve(kCacheHeaderSize + records.size() * kCacheRecordSize + findings_size + kCacheTrailerSize);
  out.append(kMagic);
  PutLE(out, kVersion, 4);
  PutLE(out, kCacheRecordSize, 4);
  PutBytes(out, fingerprint);
  PutLE(out, records.size(), 8);
  PutLE(out, findings_size, 8);
  uint64_t offset = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const CacheRecord& r = records[i];
    PutLE(out, r.stamp.dev, 8);
    PutLE(out, r.stamp.ino, 8);
    PutLE(out, r.stamp.size, 8);
    PutLE(out, uint64_t(r.stamp.mtime_ns), 8);
    PutLE(out, uint64_t(r.stamp.ctime_ns), 8);
    PutBytes(out, r.path_hash);
    PutBytes(out, r.sha256);
    PutLE(out, r.scanned_bytes, 8);
    PutLE(out, r.last_used_day, 4);
    PutLE(out, r.has_sha256 ? kHasSha256 : 0, 4);
    PutLE(out, offset, 4);
    PutLE(out, findings[i].size(), 4);
    offset += findings[i].size();
  }
  for (const Bytes& f : findings) out += f;
  out.append(crypto::AsView(crypto::Sha256(out)));
  return out;
}

Result<std::vector<CacheRecord>> ParseScanCache(ByteView in, const crypto::Hash& fingerprint) {
  auto layout = CheckHeader(in, fingerprint);
  if (!layout.ok()) return layout.status();
  std::vector<CacheRecord> out;
  RETURN_IF_ERROR(CheckRecords(*layout, &out));
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
  Add("format", "accord scan cache 2");
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
  // What YARA rules see of a file besides its bytes (engine.cc): the path and the owner's name are
  // in each record's key.
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
  // The bindings name every field, so a new option or limit stops the build here until it is in
  // the fingerprint (a size check would miss one that fits in padding).
  // Neither changes a verdict: file_digests, only whether a clean file's report names its
  // SHA-256 (a scan with a cache has them on: the cache records them); share_member_scans, only
  // whether a member with another's bytes is scanned again.
  const auto& [limits, file_digests, share_member_scans] = o;
  (void)file_digests;
  (void)share_member_scans;
  const auto& [recursion, file_size, scan_size, files, scan_time, ratio, ratio_floor, kinds] = limits;
  Bytes v;
  for (uint64_t x :
       {uint64_t(recursion), file_size, scan_size, files, uint64_t(scan_time.count()), ratio, ratio_floor})
    PutLE(v, x, 8);
  Add("limits", v);
  const auto& [archive, mail, ole2, pdf, pe, html] = kinds;
  Bytes k;
  for (bool on : {archive, mail, ole2, pdf, pe, html}) k.push_back(on ? 1 : 0);
  Add("container kinds", k);
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

namespace {
int64_t ReadCentiseconds(const char* path) {
  Result<Bytes> text = fs::ReadFile(path, 64);
  if (!text.ok()) return -1;
  std::string s(*text);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::optional<uint64_t> v = ParseDecimal(s);
  return v && *v < 100'000'000 ? int64_t(*v) : -1;
}
int64_t ComputeRacyCleanNs() {
  constexpr int64_t kMs = 1'000'000;
  if (const char* env = std::getenv("ACCORD_SCAN_CACHE_SETTLE_MS")) {
    std::optional<uint64_t> v = ParseDecimal(env);
    if (v && *v < 100'000'000) return int64_t(*v) * kMs;
  }
  int64_t expire = ReadCentiseconds("/proc/sys/vm/dirty_expire_centisecs");
  int64_t writeback = ReadCentiseconds("/proc/sys/vm/dirty_writeback_centisecs");
  if (expire < 0 || writeback <= 0) return 3600 * 1000 * kMs;  // pages may stay dirty for ever
  return std::max<int64_t>(2000 * kMs, 2 * (expire + writeback) * 10 * kMs);
}
}  // namespace

int64_t RacyCleanNs() {
  static const int64_t ns = ComputeRacyCleanNs();
  return ns;
}

std::unique_ptr<ScanCache> ScanCache::Open(const std::string& path, const crypto::Hash& fingerprint,
                                           int64_t scan_start_ns, std::string* warning) {
  std::unique_ptr<ScanCache> c(new ScanCache);
  c->path_ = path;
  c->fingerprint_ = fingerprint;
  c->scan_start_ns_ = scan_start_ns;
  c->today_ = DaysSinceEpoch(scan_start_ns);
  warning->clear();
  auto opened = OpenPrivate(path);
  if (!opened.ok()) {
    if (opened.status().code() != Code::kNotFound)
      *warning = "scan cache " + path + " not used (" + opened.status().message() + ")";
    return c;
  }
  // Mapped, not read: the records are searched in place, and no page of memory is written (on
  // some virtual machines a fresh page costs tens of microseconds: reading 1 MB cost 10 ms). The
  // file is replaced by rename only (Save), which a mapping never sees.
  auto [fd, size] = *opened;
  if (size > 0) {
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (addr == MAP_FAILED) {
      *warning = "scan cache " + path + " not used (mmap: " + std::strerror(errno) + ")";
      ::close(fd);
      return c;
    }
    c->map_ = static_cast<const char*>(addr);
    c->map_size_ = size;
  }
  ::close(fd);
  // Checked whole before any record is trusted.
  ByteView file(c->map_, c->map_size_);
  auto layout = CheckHeader(file, fingerprint);
  Status s = layout.ok() ? CheckRecords(*layout, nullptr) : layout.status();
  if (s.ok()) {
    c->count_ = layout->count;
    c->used_.assign(c->count_, 0);
  } else if (s.code() != Code::kFailedPrecondition) {
    *warning = "scan cache " + path + " is damaged, ignored and rebuilt: " + s.message();
    c->dirty_ = true;  // replace it even if this scan records nothing new
  }
  return c;
}

ScanCache::~ScanCache() {
  if (map_) ::munmap(const_cast<char*>(map_), map_size_);
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

bool ScanCache::Lookup(const FileStamp& stamp, std::string_view path, std::string_view owner,
                       FileReport* report) {
  if (count_ == 0) return false;
  std::array<uint8_t, 16> path_hash = PathHash(path, owner);
  auto key = std::tie(stamp.dev, stamp.ino, path_hash);
  const char* records = map_ + kCacheHeaderSize;
  // A binary search on (dev, ino, path hash) over the records as the file holds them.
  uint64_t lo = 0, hi = count_;
  std::array<uint8_t, 16> h;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    const char* r = records + mid * kCacheRecordSize;
    uint64_t dev = Get64(r), ino = Get64(r + 8);
    GetBytes(r + 40, h);
    if (std::tie(dev, ino, h) < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == count_) return false;
  const char* r = records + lo * kCacheRecordSize;
  CacheRecord c = DecodeRecord(r);
  if (Key(c) != key || !(c.stamp == stamp)) return false;
  report->findings.clear();
  if (uint32_t length = FindingsLength(r); length > 0) {
    ByteView all(map_ + kCacheHeaderSize + count_ * kCacheRecordSize,
                 map_size_ - kCacheHeaderSize - count_ * kCacheRecordSize - kCacheTrailerSize);
    // Checked when the file was opened; checked again, as the mapping is the file as it is now.
    const uint64_t offset = FindingsOffset(r);
    if (offset > all.size() || length > all.size() - offset) return false;
    if (!DecodeFindings(all.substr(offset, length), &report->findings).ok()) return false;
    for (Finding& f : report->findings) f.path.insert(0, path);
  }
  report->path = std::string(path);
  report->owner = std::string(owner);
  report->size = stamp.size;
  report->sha256 = c.has_sha256 ? HexOf(c.sha256) : std::string();
  report->error.clear();
  report->bytes_scanned = c.scanned_bytes;
  std::lock_guard<std::mutex> l(mu_);
  used_[lo] = 1;
  if (c.last_used_day != today_) dirty_ = true;  // Save refreshes its day
  return true;
}

void ScanCache::Insert(const FileStamp& stamp, const FileReport& r) {
  if (!Recordable(r) || r.size != stamp.size) return;
  const int64_t settled = scan_start_ns_ - RacyCleanNs();
  if (stamp.mtime_ns > settled || stamp.ctime_ns > settled) return;
  CacheRecord c;
  c.stamp = stamp;
  c.path_hash = PathHash(r.path, r.owner);
  if (r.sha256.empty()) {
    c.has_sha256 = false;  // not read: over --max-filesize
  } else {
    auto digest = HexDecode(r.sha256);
    if (!digest || digest->size() != 32) return;
    std::memcpy(c.sha256.data(), digest->data(), 32);
  }
  c.scanned_bytes = r.bytes_scanned;
  c.last_used_day = today_;
  c.findings = r.findings;
  for (Finding& f : c.findings) f.path.erase(0, r.path.size());             // Recordable: inside r.path
  if (EncodeFindings(c.findings).size() > kMaxCachedFindingsBytes) return;  // scanned again next time
  std::lock_guard<std::mutex> l(mu_);
  if (added_.size() >= accord::limits::kMaxScanCacheRecords) return;  // past the bound: scanned next time too
  added_.push_back(std::move(c));
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
  if (count_ > 0) {
    auto mine = ParseScanCache(ByteView(map_, map_size_), fingerprint_);  // checked by Open: cannot fail
    if (!mine.ok()) return Internal("scan cache " + path_ + ": " + mine.status().message());
    for (size_t i = 0; i < mine->size(); ++i) {
      CacheRecord& r = (*mine)[i];
      if (used_[i]) r.last_used_day = today_;
      all.emplace_back(r.last_used_day == today_ ? 1 : 2, std::move(r));
    }
  }
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
  // Over a bound (records, bytes of findings): keep records in the order of priority while they fit.
  uint64_t findings_bytes = 0;
  for (const auto& e : unique) findings_bytes += EncodeFindings(e.second.findings).size();
  if (unique.size() > accord::limits::kMaxScanCacheRecords || findings_bytes > kMaxScanCacheFindingsBytes) {
    std::stable_sort(unique.begin(), unique.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<int, CacheRecord>> fit;
    findings_bytes = 0;
    for (auto& e : unique) {
      if (fit.size() == accord::limits::kMaxScanCacheRecords) break;
      uint64_t n = EncodeFindings(e.second.findings).size();
      if (findings_bytes + n > kMaxScanCacheFindingsBytes) continue;
      findings_bytes += n;
      fit.push_back(std::move(e));
    }
    unique = std::move(fit);
    std::sort(unique.begin(), unique.end(),
              [](const auto& a, const auto& b) { return KeyLess(a.second, b.second); });
  }
  keep.reserve(unique.size());
  for (auto& e : unique) keep.push_back(std::move(e.second));
  Status s = fs::WriteFileAtomic(path_, SerializeScanCache(fingerprint_, keep), 0600);
  if (s.ok()) dirty_ = false;
  return s;
}

}  // namespace accord::scan

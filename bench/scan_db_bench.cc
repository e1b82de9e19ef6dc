// Scan database load time and memory, side by side with clamscan loading the same signatures.
//
//   scan_db_bench [--n N] [--clam-n M] [--dir DIR] [--keep]
//                 (defaults: 10,000,000 SHA-256 signatures; clamscan with 1,000,000; DIR a new temp dir)
//
// Builds FILE.accdb from N random SHA-256 signatures (each with its own name, the worst case for the
// name table) plus one known signature, then opens it in a fresh process (this program, exec'd with
// --child) and looks the known one up: that is "ready". The child reports wall time from before Open
// to after the lookup, its resident memory before and after (/proc/self/status: VmRSS, RssFile) and
// its peak (VmHWM; see Child() for why not ru_maxrss). Runs just after the build, cold (the file's
// pages dropped from the page cache with posix_fadvise, no root needed) and warm. Then a million random
// lookups, and a full Verify (what `accord db verify` does). The first M signatures are also written as
// FILE.hsb, built into an .accdb through the .hsb parser, and loaded by `clamscan --no-summary -d FILE.hsb
// TINYFILE` under /usr/bin/time -v, if clamscan is installed.
//
// The target: 10,000,000 SHA-256 signatures ready in <= 0.2 s with <= 40 bytes per signature
// (clamscan: 0.78 s and 100 MB for 1,000,000).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "crypto/sha256.h"
#include "scan/database.h"

using namespace accord;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "scan_db_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s) {
  if (!s.ok()) Die(s.ToString());
}

// kB values of /proc/self/status fields.
std::map<std::string, uint64_t> ProcStatus() {
  std::map<std::string, uint64_t> out;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    out[line.substr(0, colon)] = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
  }
  return out;
}

uint64_t MaxRssKb() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss);
}

// Deterministic pseudo-random digests: xorshift64*, seeded by the index.
void RandomDigest(uint64_t i, char* out) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  for (int k = 0; k < 4; ++k) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(out + 8 * k, &v, 8);
  }
}
uint64_t RandomSize(uint64_t i) {
  return 1024 + (i * 2654435761u) % 10'000'000;
}
std::string Name(uint64_t i) {
  return "Bench.Sig-" + std::to_string(i);
}

const Bytes& KnownDigest() {
  static const Bytes d(crypto::AsView(crypto::Sha256("accord scan_db_bench known signature")));
  return d;
}
constexpr uint64_t kKnownSize = 4242;
constexpr std::string_view kKnownName = "Bench.Known";

// --- The child: open, one lookup, report ------------------------------------------------------------

int Child(const std::string& path, const std::string& mode) {
  std::map<std::string, uint64_t> before = ProcStatus();
  Clock::time_point t0 = Clock::now();
  Result<std::shared_ptr<const scan::Database>> db = scan::Database::Open(path);
  if (!db.ok()) Die(db.status().ToString());
  Result<std::vector<scan::Match>> m = (*db)->LookupHash(scan::HashKind::kSha256, KnownDigest(), kKnownSize);
  Clock::time_point t1 = Clock::now();
  if (!m.ok() || m->size() != 1 || (*m)[0].name != kKnownName) Die("the known signature was not found");
  std::map<std::string, uint64_t> after = ProcStatus();
  // VmHWM, not getrusage's ru_maxrss: across fork+exec the latter keeps the parent's peak (the
  // builder's gigabytes), while VmHWM belongs to this process image alone.
  std::printf("ready_s=%.6f rss_before_kb=%" PRIu64 " rss_after_kb=%" PRIu64 " rssfile_after_kb=%" PRIu64
              " hwm_kb=%" PRIu64 " ru_maxrss_kb=%" PRIu64 "\n",
              Seconds(t1 - t0), before["VmRSS"], after["VmRSS"], after["RssFile"], after["VmHWM"],
              MaxRssKb());
  if (mode == "lookups") {
    // The same million lookups twice: first as a scanner meets them (pages come from the page cache
    // or the disk as touched), then again with every page they need already mapped.
    uint64_t n = (*db)->SignatureCount(scan::HashKind::kSha256) - 1, hits = 0;
    constexpr uint64_t kLookups = 1'000'000;
    char d[32];
    for (int pass = 1; pass <= 2; ++pass) {
      Clock::time_point l0 = Clock::now();
      for (uint64_t i = 0; i < kLookups; ++i) {
        uint64_t k = (i * 0x9E3779B97F4A7C15ull) % (2 * n);  // half present, half absent
        RandomDigest(k, d);
        Result<std::vector<scan::Match>> r =
            (*db)->LookupHash(scan::HashKind::kSha256, ByteView(d, 32), RandomSize(k));
        if (!r.ok()) Die(r.status().ToString());
        hits += !r->empty();
      }
      Clock::time_point l1 = Clock::now();
      std::printf("lookups=%" PRIu64 " hits%d=%" PRIu64 " lookup%d_s=%.6f rss_lookups%d_kb=%" PRIu64 "\n",
                  kLookups, pass, hits, pass, Seconds(l1 - l0), pass, ProcStatus()["VmRSS"]);
      hits = 0;
    }
  } else if (mode == "verify") {
    Clock::time_point v0 = Clock::now();
    Check((*db)->Verify());
    std::printf("verify_s=%.6f\n", Seconds(Clock::now() - v0));
  }
  return 0;
}

std::map<std::string, double> RunChild(const std::string& path, const std::string& mode) {
  int fds[2];
  if (::pipe(fds) != 0) Die("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl("/proc/self/exe", "scan_db_bench", "--child", path.c_str(), mode.c_str(), nullptr);
    _exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int st;
  ::waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die("child failed: " + out);
  std::map<std::string, double> kv;
  std::istringstream in(out);
  std::string tok;
  while (in >> tok) {
    size_t eq = tok.find('=');
    if (eq != std::string::npos) kv[tok.substr(0, eq)] = std::strtod(tok.c_str() + eq + 1, nullptr);
  }
  return kv;
}

void DropFromPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Die("open " + path);
  ::fdatasync(fd);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

Status BuildRandom(const std::string& path, uint64_t n, double* build_s) {
  Clock::time_point t0 = Clock::now();
  scan::DatabaseBuilder b;
  ASSIGN_OR_RETURN(uint32_t src, b.AddSource(scan::Source{1, "bench.hsb", {Bytes(32, '\0')}}));
  char d[32];
  for (uint64_t i = 0; i < n; ++i) {
    RandomDigest(i, d);
    RETURN_IF_ERROR(b.Add(scan::HashFileRole::kDetect, src, scan::HashKind::kSha256, ByteView(d, 32),
                          RandomSize(i), Name(i)));
  }
  RETURN_IF_ERROR(b.Add(scan::HashFileRole::kDetect, src, scan::HashKind::kSha256, KnownDigest(), kKnownSize,
                        kKnownName));
  RETURN_IF_ERROR(b.Write(path));
  *build_s = Seconds(Clock::now() - t0);
  return Status::Ok();
}

struct Row {
  std::string what;
  uint64_t sigs;
  double ready_s;
  double rss_delta_kb, maxrss_kb;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--child") return Child(argv[2], argv[3]);
  uint64_t n = 10'000'000, clam_n = 1'000'000;
  std::string dir;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--n" && i + 1 < argc) {
      n = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--clam-n" && i + 1 < argc) {
      clam_n = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--keep") {
      keep = true;
    } else {
      Die("usage: scan_db_bench [--n N] [--clam-n M] [--dir DIR] [--keep]");
    }
  }
  if (clam_n > n) clam_n = n;
  if (dir.empty()) {
    char tmpl[] = "/tmp/scan_db_bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    dir = tmpl;
  } else {
    Check(fs::MakeDirs(dir));
  }
  std::vector<Row> rows;

  // accord, N signatures.
  std::string big = dir + "/big.accdb";
  double build_s = 0;
  Check(BuildRandom(big, n, &build_s));
  uint64_t big_size = FileSize(big);
  std::printf("built %s: %" PRIu64 " signatures + 1 known, %" PRIu64
              " bytes (%.1f bytes/signature) in %.1f s\n",
              big.c_str(), n, big_size, double(big_size) / double(n + 1), build_s);
  // Straight after the build the page cache holds the file as written, which on kernels with large
  // folios (ext4 on 6.x) maps in big chunks per fault; that is what a scan right after
  // `accord db build` sees.
  auto fresh = RunChild(big, "open");
  rows.push_back({"accord open+lookup, just built", n + 1, fresh["ready_s"],
                  fresh["rss_after_kb"] - fresh["rss_before_kb"], fresh["hwm_kb"]});
  DropFromPageCache(big);
  auto cold = RunChild(big, "open");
  rows.push_back({"accord open+lookup, cold cache", n + 1, cold["ready_s"],
                  cold["rss_after_kb"] - cold["rss_before_kb"], cold["hwm_kb"]});
  auto warm = RunChild(big, "open");
  rows.push_back({"accord open+lookup, warm cache", n + 1, warm["ready_s"],
                  warm["rss_after_kb"] - warm["rss_before_kb"], warm["hwm_kb"]});
  auto look = RunChild(big, "lookups");
  auto verify = RunChild(big, "verify");

  // The first clam_n signatures as a .hsb; accord builds from it through the parser, clamscan loads it.
  std::string hsb = dir + "/clam.hsb", small = dir + "/clam.accdb", tiny = dir + "/tiny.txt";
  {
    std::string text;
    text.reserve(clam_n * 100);
    char d[32];
    for (uint64_t i = 0; i < clam_n; ++i) {
      RandomDigest(i, d);
      text += HexEncode(ByteView(d, 32)) + ":" + std::to_string(RandomSize(i)) + ":" + Name(i) + "\n";
    }
    text +=
        HexEncode(KnownDigest()) + ":" + std::to_string(kKnownSize) + ":" + std::string(kKnownName) + "\n";
    Check(fs::WriteFileAtomic(hsb, text));
    Check(fs::WriteFileAtomic(tiny, "not malware\n"));
  }
  Clock::time_point h0 = Clock::now();
  {
    scan::DatabaseBuilder b;
    Check(scan::AddHashFile(b, hsb));
    Check(b.Write(small));
  }
  double hsb_build_s = Seconds(Clock::now() - h0);
  auto small_warm = RunChild(small, "open");
  rows.push_back({"accord open+lookup (.hsb-built), just built", clam_n + 1, small_warm["ready_s"],
                  small_warm["rss_after_kb"] - small_warm["rss_before_kb"], small_warm["hwm_kb"]});

  bool have_clam = !RunCapture("command -v clamscan 2>/dev/null").empty();
  bool have_time = FileSize("/usr/bin/time") > 0;
  std::string clam_note;
  if (have_clam && have_time) {
    for (int run = 0; run < 2; ++run) {  // the first run warms the page cache for the .hsb
      std::string out = RunCapture("/usr/bin/time -v clamscan --no-summary -d " + hsb + " " + tiny + " 2>&1");
      auto field = [&](const std::string& key) -> std::string {
        size_t p = out.find(key);
        if (p == std::string::npos) return "";
        size_t e = out.find('\n', p);
        return out.substr(p + key.size(), e - p - key.size());
      };
      std::string wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss): ");
      double secs = 0;
      for (size_t start = 0; start <= wall.size();) {  // m:ss.cc or h:mm:ss
        size_t c = wall.find(':', start);
        secs = secs * 60 + std::strtod(wall.substr(start, c - start).c_str(), nullptr);
        if (c == std::string::npos) break;
        start = c + 1;
      }
      double maxrss = std::strtod(field("Maximum resident set size (kbytes): ").c_str(), nullptr);
      if (run == 1)
        rows.push_back({"clamscan load .hsb + scan 1 tiny file", clam_n + 1, secs, maxrss, maxrss});
      if (out.find("tiny.txt: OK") == std::string::npos) clam_note = "clamscan output: " + out;
    }
  } else {
    clam_note = "clamscan or /usr/bin/time not installed: no clamscan row";
  }

  std::printf("\n%-40s %12s %10s %14s %12s %12s\n", "", "signatures", "ready s", "RSS delta KiB", "bytes/sig",
              "peak RSS KiB");
  for (const Row& r : rows) {
    std::printf("%-40s %12" PRIu64 " %10.4f %14.0f %12.3f %12.0f\n", r.what.c_str(), r.sigs, r.ready_s,
                r.rss_delta_kb, r.rss_delta_kb * 1024 / double(r.sigs), r.maxrss_kb);
  }
  std::printf(
      "  (accord: time and RSS growth from before Database::Open to after the first lookup, in a fresh\n"
      "   process; peak RSS is that process's VmHWM. clamscan: 'ready s' is its whole run, its RSS\n"
      "   columns its maximum resident set, from /usr/bin/time -v)\n");
  if (!clam_note.empty()) std::printf("  note: %s\n", clam_note.c_str());
  std::printf("\nfile: %.2f bytes/signature (%" PRIu64
              " bytes), all of it mapped, resident only where touched\n",
              double(big_size) / double(n + 1), big_size);
  std::printf("build %" PRIu64 " signatures (AddHash + sort + write + fsync): %.2f s\n", n + 1, build_s);
  std::printf("build %" PRIu64 " signatures from a .hsb (parse + build + write): %.2f s\n", clam_n + 1,
              hsb_build_s);
  for (int pass = 1; pass <= 2; ++pass) {
    std::string p = std::to_string(pass);
    std::printf(
        "%.0f random lookups (half hits), %s: %.3f s, %.2f us each; RSS then %.0f KiB (%.2f bytes/sig)\n",
        look["lookups"], pass == 1 ? "first touch, after a warm open" : "again, pages mapped",
        look["lookup" + p + "_s"], 1e6 * look["lookup" + p + "_s"] / look["lookups"],
        look["rss_lookups" + p + "_kb"], look["rss_lookups" + p + "_kb"] * 1024 / double(n + 1));
  }
  std::printf("Verify (SHA-256 of the file + every invariant, `accord db verify`): %.2f s\n",
              verify["verify_s"]);
  if (!keep) Check(fs::RemoveTree(dir));
  return 0;
}

#include "cli/scan_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>

#include "cli/limit_options.h"
#include "cli/process.h"
#include "cli/update_commands.h"
#include "core/fs.h"
#include "core/limits.h"
#include "scan/cache.h"
#include "scan/database.h"
#include "scan/engine.h"
#include "scan/load.h"
#include "scan/memo.h"
#include "scan/path_filter.h"
#include "scan/report.h"
#include "scan/tlsh.h"
#include "scan/walk.h"
#include "scan/yara_rules.h"
#include "update/update.h"

namespace accord::cli {

namespace {
using scan::Database;
using scan::YaraRules;

constexpr int kClean = 0, kFound = 1, kError = 2;

int Error(const Status& s) {
  std::fprintf(stderr, "accord: %s\n", s.ToString().c_str());
  return kError;
}

struct DbBuildArgs {
  std::string out;
  std::vector<std::string> hashes, yara, tlsh;
};

int DbBuild(const DbBuildArgs& a) {
  scan::DatabaseBuilder builder;
  for (const auto& h : a.hashes)
    if (Status s = scan::AddHashFile(builder, h); !s.ok()) return Error(s);
  for (const auto& t : a.tlsh)
    if (Status s = scan::AddTlshFile(builder, t); !s.ok()) return Error(s);
  size_t rules = 0;
  if (!a.yara.empty()) {
    auto compiled = YaraRules::Compile(a.yara);
    if (!compiled.ok()) return Error(compiled.status());
    auto blob = (*compiled)->Save();
    if (!blob.ok()) return Error(blob.status());
    rules = (*compiled)->rule_count();
    builder.SetYaraBlob(std::move(blob).value());
  }
  if (Status s = builder.Write(a.out); !s.ok()) return Error(s);
  auto db = Database::Open(a.out);
  if (!db.ok()) return Error(db.status());
  std::printf(
      "%s: %llu MD5, %llu SHA-1, %llu SHA-256 signatures, %llu TLSH signatures, %llu allow-listed, %zu YARA "
      "rules, %zu sources\n",
      a.out.c_str(), (unsigned long long)(*db)->SignatureCount(scan::HashKind::kMd5),
      (unsigned long long)(*db)->SignatureCount(scan::HashKind::kSha1),
      (unsigned long long)(*db)->SignatureCount(scan::HashKind::kSha256),
      (unsigned long long)(*db)->TlshCount(),
      (unsigned long long)((*db)->AllowedCount(scan::HashKind::kMd5) +
                           (*db)->AllowedCount(scan::HashKind::kSha1) +
                           (*db)->AllowedCount(scan::HashKind::kSha256)),
      rules, (*db)->sources().size());
  return kClean;
}

// `accord tlsh FILE...`: each file's TLSH and name, tab-separated, as `tlsh -f` prints them; the
// first field of a .tlsh signature line.
int PrintTlsh(const std::vector<std::string>& paths) {
  int rc = kClean;
  scan::TlshHasher hasher;
  for (const auto& path : paths) {
    auto data = fs::ReadFile(path, scan::limits::kMaxTlshInputSize);
    if (!data.ok()) {
      rc = Error(data.status());
      continue;
    }
    std::optional<scan::TlshDigest> digest = hasher.Hash(*data);
    if (!digest) {
      rc = Error(InvalidArgument(path + ": no TLSH (under " + std::to_string(scan::kTlshMinInput) +
                                 " bytes, or too little variety)"));
      continue;
    }
    std::printf("%s\t%s\n", digest->ToString().c_str(), path.c_str());
  }
  return rc;
}

int DbVerify(const std::string& path) {
  auto db = Database::Open(path);
  if (!db.ok()) return Error(db.status());
  if (Status s = (*db)->Verify(); !s.ok()) return Error(s);
  std::printf("OK: %s\n", path.c_str());
  return kClean;
}

struct ScanArgs {
  std::vector<std::string> dbs, hashes, yara, paths;
  std::vector<std::string> tlsh;
  int threads = 0;
  bool recursive = false, infected_only = false, json = false, no_summary = false;
  bool cross_fs = true;  // --cross-fs=no: mount points under a named directory are not entered
  int follow_dir_symlinks = 1, follow_file_symlinks = 1;  // clamscan's: 0 none, 1 named, 2 all
  int max_dir_levels = -1;                                // --max-dir-recursion; -1: no limit
  bool suppress_ok = false;       // -o: no "PATH: OK" lines (clamscan's --suppress-ok-results)
  bool quiet = false;             // --quiet: text output only for errors (clamscan's)
  bool errors_to_stdout = false;  // --stdout: error lines on standard output too (clamscan's)
  bool all_match = false;         // -z: accepted; accord reports every match anyway
  bool bell = false;              // --bell: a BEL on standard error for each file found (clamscan's)
  bool verbose = false;           // -v: "Scanning PATH" before each file's lines (clamscan's)
  bool leave_temps = false;       // --leave-temps: taken (clamscan's); accord writes no temporary file
  std::string log_path;           // -l: FOUND, Excluded and error lines and the summary, appended
  std::string file_list;          // -f: more paths, one per line
  scan::PathPatterns patterns;    // --exclude, --include, --exclude-dir, --include-dir
  std::string cache_path;         // --cache FILE; "" for the default (scan/cache.h)
  bool no_cache = false;
  bool scan_duplicates = false;  // --scan-duplicates: no ScanMemo, no MemberMemo
  bool unverified = false;       // --unverified: accept databases that no verified update built
  std::string policy;            // --policy: the databases must have been verified against this one
  scan::ContainerLimits limits;  // --max-ratio; the others from limit_texts
  LimitOptionTexts limit_texts;  // --max-filesize ... as clamscan reads them (cli/limit_options.h)
};

// clamscan's --file-list: a path per line (a trailing CR dropped, empty lines skipped), from a file
// or a pipe (`-f /dev/stdin`, `-f <(find ...)`). Paths are bytes, as on the command line; a NUL
// cannot be in one.
Result<std::vector<std::string>> ReadFileList(const std::string& path) {
  auto text = fs::ReadFileOrStream(path, limits::kMaxScanFileListSize);
  if (!text.ok()) return text.status();
  if (text->find('\0') != std::string::npos) return InvalidArgument(path + ": a NUL byte in a file list");
  std::vector<std::string> paths;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) paths.push_back(std::move(line));
    start = end + 1;
  }
  return paths;
}

// Whether descriptor 0 is open. Were it closed, the first file accord opens (a database, the log, a
// file of the walk) would take it, and `-` would read that file as "stdin": checked before any.
bool StdinOpen() {
  return ::fcntl(STDIN_FILENO, F_GETFD) >= 0;
}

// printf into `out`, at its end (lines of at most 255 bytes).
__attribute__((format(printf, 2, 3))) void Appendf(std::string* out, const char* format, ...) {
  char b[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(b, sizeof b, format, args);
  va_end(args);
  *out += b;
}

std::string Mb(uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f MB", double(bytes) / 1048576.0);
  return b;
}

// The scan cache for this scan, or nullptr (--no-cache, or it cannot be used: a warning).
std::unique_ptr<scan::ScanCache> OpenCache(const ScanArgs& a,
                                           const std::vector<std::shared_ptr<const Database>>& dbs,
                                           const std::vector<std::shared_ptr<const YaraRules>>& rules,
                                           const scan::ScanOptions& options, int64_t start_ns) {
  if (a.no_cache) return nullptr;
  std::string path = a.cache_path;
  if (path.empty()) {
    auto p = scan::ScanCache::DefaultPath();
    if (!p.ok()) {
      std::fprintf(stderr, "accord: warning: no scan cache: %s\n", p.status().message().c_str());
      return nullptr;
    }
    path = *p;
  }
  auto fingerprint = scan::ScanFingerprint(dbs, rules, options);
  if (!fingerprint.ok()) {
    std::fprintf(stderr, "accord: warning: no scan cache: %s\n", fingerprint.status().message().c_str());
    return nullptr;
  }
  std::string warning;
  auto cache = scan::ScanCache::Open(path, *fingerprint, start_ns, &warning);
  if (!warning.empty()) std::fprintf(stderr, "accord: warning: %s\n", warning.c_str());
  return cache;
}

int Scan(ScanArgs& a) {
  {  // the limits as clamscan reads them, checked before anything is opened
    std::vector<std::string> warnings;
    auto limits = ApplyLimitOptions(a.limit_texts, a.limits, warnings);
    if (!limits.ok()) return Error(limits.status());
    for (const std::string& w : warnings) std::fprintf(stderr, "accord: warning: %s\n", w.c_str());
    a.limits = *limits;
  }
  if (std::count(a.paths.begin(), a.paths.end(), "-") > 0 && !StdinOpen())
    return Error(InvalidArgument("\"-\": standard input is closed"));
  auto t0 = std::chrono::steady_clock::now();
  int64_t start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::time_t start_time = std::time(nullptr);
  // A directory is what `accord update` made: its database is DIR/scan.accdb.
  for (auto& d : a.dbs)
    if (fs::IsDir(d)) d = update::ScanDatabasePath(d);
  auto loaded = scan::LoadSignatures({a.dbs, a.hashes, a.yara, a.tlsh});
  if (!loaded.ok()) return Error(loaded.status());
  std::vector<std::shared_ptr<const Database>> dbs = std::move(loaded->databases);
  std::string trusted_policy;
  if (!a.policy.empty()) {
    auto text = fs::ReadFile(a.policy, limits::kMaxPolicySize);
    if (!text.ok()) return Error(text.status());
    trusted_policy = std::move(text).value();
  }
  for (size_t i = 0; i < a.dbs.size(); ++i) {  // the -d databases come first (scan/load.h)
    const auto& db = dbs[i];
    Result<std::string> verified = CheckVerifiedDatabase(*db, trusted_policy);
    if (!verified.ok() && !a.unverified)
      return Error(
          FailedPrecondition(db->name() + ": " + verified.status().message() +
                             "; accord scans only with databases that `accord update` built from a "
                             "witnessed log (--unverified to scan with it anyway, for local testing)"));
  }
  std::vector<std::shared_ptr<const YaraRules>> rules = std::move(loaded->rules);
  // clamscan's path filters and file list, checked before anything is scanned.
  std::shared_ptr<const scan::PathFilter> filter;
  if (!a.patterns.empty()) {
    auto made = scan::PathFilter::Make(a.patterns);
    if (!made.ok()) return Error(made.status());
    filter = std::move(made).value();
  }
  if (!a.file_list.empty()) {
    auto listed = ReadFileList(a.file_list);
    if (!listed.ok()) return Error(listed.status());
    a.paths.insert(a.paths.end(), listed->begin(), listed->end());
  }
  // "-": standard input, scanned first (clamscan's `clamscan -`), reported as "stdin".
  const size_t dashes = std::erase(a.paths, std::string("-"));
  if (dashes > 1) return Error(InvalidArgument("\"-\" (standard input) given more than once"));
  // Nothing named: the current directory by its absolute path, as clamscan names it; an empty list
  // names nothing.
  if (a.paths.empty() && dashes == 0 && a.file_list.empty()) {
    auto cwd = fs::RealPath(".");  // getcwd(3)'s path, as clamscan's
    if (!cwd.ok()) return Error(cwd.status());
    a.paths.push_back(*cwd);
  }
  if (dashes > 0 && !StdinOpen()) return Error(InvalidArgument("\"-\": standard input is closed"));
  // clamscan's --log: appended to, a separator line first, as clamscan writes it; a line at a time
  // (a scan killed midway leaves what it found, runs sharing a log do not split each other's lines).
  std::unique_ptr<FILE, int (*)(FILE*)> log(nullptr, &std::fclose);
  if (!a.log_path.empty()) {
    log.reset(std::fopen(a.log_path.c_str(), "ae"));
    if (!log) return Error(InvalidArgument("--log " + a.log_path + ": " + std::strerror(errno)));
    std::setvbuf(log.get(), nullptr, _IOLBF, 0);
    std::fprintf(log.get(), "\n%s\n\n", std::string(79, '-').c_str());
  }
  scan::ScanOptions options{a.limits};
  std::unique_ptr<scan::ScanCache> cache = OpenCache(a, dbs, rules, options, start_ns);
  // A clean file's SHA-256 is shown only by --json and recorded only by the cache: without
  // either, files are hashed only when something needs it (ScanOptions::file_digests).
  options.file_digests = a.json || cache != nullptr;
  options.share_member_scans = !a.scan_duplicates;  // --scan-duplicates: every copy scanned
  scan::Engine engine(std::move(dbs), std::move(rules), options);

  scan::WalkOptions wo;
  wo.threads = a.threads > 0 ? a.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  wo.recursive = a.recursive;
  wo.cross_fs = a.cross_fs;
  wo.follow_dir_symlinks = a.follow_dir_symlinks;
  wo.follow_file_symlinks = a.follow_file_symlinks;
  wo.max_dir_levels = a.max_dir_levels;
  wo.cache = cache.get();
  wo.filter = filter.get();  // (before the counting walk starts: it reads wo)
  // A path the walk passes over, in clamscan's words ("Excluded", "Symbolic link"): text unless -i
  // or -q, the log unless -i; its own JSON object with --json.
  auto passed_over = [&](const char* word, std::string (*json)(std::string_view)) {
    return [&, word, json](const std::string& path) {
      if (a.json) {
        std::string out = json(path);
        std::fwrite(out.data(), 1, out.size(), stdout);
      } else if (!a.infected_only && !a.quiet) {
        std::printf("%s: %s\n", scan::EscapePath(path).c_str(), word);
      }
      if (log && !a.infected_only) std::fprintf(log.get(), "%s: %s\n", scan::EscapePath(path).c_str(), word);
    };
  };
  wo.on_excluded = passed_over("Excluded", scan::FormatExcludedJson);
  wo.on_symlink = passed_over("Symbolic link", scan::FormatSymlinkJson);
  scan::ScanMemo memo;
  if (!a.scan_duplicates && engine.PathsCanShareKeys()) wo.memo = &memo;
  scan::Progress progress;
  scan::Totals totals;
  std::atomic<bool> done{false};
  std::thread bar, counter;
  // The bar's threads end and are joined however the scan ends (an exception out of ScanPaths
  // included: a joinable thread destroyed would abort the program).
  struct Join {
    std::atomic<bool>& done;
    std::thread &bar, &counter;
    void Now() {
      done = true;
      if (bar.joinable()) bar.join();
      if (counter.joinable()) counter.join();
    }
    ~Join() { Now(); }
  } join{done, bar, counter};
  // A progress bar; its totals come from a walk that only stats (CountPaths). Out of memory or
  // no thread for either: no totals, or no bar; the scan goes on.
  if (::isatty(2) && !a.quiet) {
    try {
      counter = std::thread([&] {
        try {
          scan::CountPaths(a.paths, wo, &totals, &done);
        } catch (const std::exception&) {
        }
      });
      bar = std::thread([&] {
        try {
          while (!done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            scan::ProgressCounts c;
            c.files = progress.files.load();
            c.bytes = progress.bytes.load();
            c.totals_known = totals.done.load();
            c.total_files = totals.files.load();
            c.total_bytes = totals.bytes.load();
            c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fprintf(stderr, "\r\033[K%s", scan::FormatProgress(c).c_str());
          }
        } catch (const std::exception&) {
        }
        std::fprintf(stderr, "\r\033[K");
      });
    } catch (const std::exception&) {
    }
  }
  // A walk holds up to limits::kMaxWalkRootsOpen named directories open, beside each thread's
  // files and the directories it descends: a low soft limit on descriptors would make files errors.
  RaiseOpenFileLimit();
  auto report = [&](const scan::FileReport& r) {
    if (a.bell && r.detected()) std::fputc('\a', stderr);  // whatever is printed
    if (a.verbose && !a.json && r.error.empty()) {         // as clamscan -v, to the log too; not with --quiet
      const std::string line = "Scanning " + scan::EscapePath(r.path) + "\n";
      if (!a.quiet) std::fwrite(line.data(), 1, line.size(), stdout);
      if (log) std::fwrite(line.data(), 1, line.size(), log.get());
    }
    if (log) {  // the FOUND, CITED and error lines, never OK
      std::string logged = scan::FormatText(r, true);
      std::fwrite(logged.data(), 1, logged.size(), log.get());
    }
    if (a.quiet && !a.json && r.error.empty()) return;  // --quiet: errors only, FOUND lines too go
    std::string out = a.json ? scan::FormatJson(r) : scan::FormatText(r, a.infected_only || a.suppress_ok);
    if (!r.error.empty()) std::fputs(out.c_str(), a.errors_to_stdout && !a.json ? stdout : stderr);
    if (r.error.empty() || a.json) std::fwrite(out.data(), 1, out.size(), stdout);
  };
  scan::ScanSummary from_stdin;
  if (dashes > 0) {
    scan::FileReport r;
    try {
      r = engine.ScanStream(*engine.NewWorker(), STDIN_FILENO, "stdin");
    } catch (const std::exception& e) {
      r = scan::FileReport();
      r.path = "stdin";
      r.error = dynamic_cast<const std::bad_alloc*>(&e) ? std::string("out of memory, not scanned")
                                                        : std::string("internal error: ") + e.what();
    }
    if (!r.error.empty()) {
      ++from_stdin.errors;
    } else {
      ++from_stdin.files;
      from_stdin.bytes_read += r.size;
      from_stdin.bytes_scanned += r.bytes_scanned;
      if (r.detected()) ++from_stdin.infected;
    }
    report(r);
  }
  auto summary =
      a.paths.empty() ? scan::ScanSummary() : scan::ScanPaths(engine, a.paths, wo, report, &progress);
  summary.files += from_stdin.files;
  summary.errors += from_stdin.errors;
  summary.infected += from_stdin.infected;
  summary.bytes_read += from_stdin.bytes_read;
  summary.bytes_scanned += from_stdin.bytes_scanned;
  join.Now();  // the bar is gone before the summary is printed
  if (cache) {
    if (Status s = cache->Save(); !s.ok())
      std::fprintf(stderr, "accord: warning: scan cache %s not saved: %s\n", cache->path().c_str(),
                   s.ToString().c_str());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string text;  // the summary, for standard output and the log
  if (!a.no_summary) {
    char start[64], end[64];
    std::time_t end_time = std::time(nullptr);
    std::strftime(start, sizeof start, "%Y:%m:%d %H:%M:%S", std::localtime(&start_time));
    std::strftime(end, sizeof end, "%Y:%m:%d %H:%M:%S", std::localtime(&end_time));
    Appendf(&text, "\n----------- SCAN SUMMARY -----------\n");
    Appendf(&text, "Known viruses: %zu\n", engine.signature_count());
    Appendf(&text, "Engine version: accord 0.1.0\n");
    Appendf(&text, "Scanned directories: %llu\n", (unsigned long long)summary.directories);
    Appendf(&text, "Scanned files: %llu\n", (unsigned long long)summary.files);
    Appendf(&text, "Infected files: %llu\n", (unsigned long long)summary.infected);
    if (summary.errors) Appendf(&text, "Total errors: %llu\n", (unsigned long long)summary.errors);
    Appendf(&text, "Data scanned: %s\n", Mb(summary.bytes_scanned).c_str());
    Appendf(&text, "Data read: %s (ratio %.2f:1)\n", Mb(summary.bytes_read).c_str(),
            summary.bytes_read ? double(summary.bytes_scanned) / double(summary.bytes_read) : 0.0);
    Appendf(&text, "Time: %.3f sec (%d m %d s)\n", secs, int(secs) / 60, int(secs) % 60);
    Appendf(&text, "Start Date: %s\nEnd Date:   %s\n", start, end);
    // Not a clamscan line: last, so that scripts reading clamscan's lines see them unchanged.
    if (cache) Appendf(&text, "Cached files: %llu\n", (unsigned long long)summary.cached);
    if (wo.memo)
      Appendf(&text, "Same content as a scanned file: %llu\n", (unsigned long long)summary.same_content);
    if (engine.shares_member_scans())
      Appendf(&text, "Members with the content of a scanned member: %llu\n",
              (unsigned long long)engine.shared_member_scans());
  }
  if (!a.json && !a.quiet) std::fwrite(text.data(), 1, text.size(), stdout);
  if (log) {
    std::fwrite(text.data(), 1, text.size(), log.get());
    if (std::fflush(log.get()) != 0 || std::ferror(log.get()))
      std::fprintf(stderr, "accord: warning: --log %s: not every line could be written\n",
                   a.log_path.c_str());
  }
  std::fflush(stdout);
  if (summary.infected > 0) return kFound;
  return summary.errors > 0 ? kError : kClean;
}
}  // namespace

void AddScanCommands(CLI::App& app, int& rc) {
  auto* db = app.add_subcommand("db", "scan databases: compile signatures into one immutable file")
                 ->require_subcommand(1);
  static DbBuildArgs build;
  auto* b =
      db->add_subcommand("build", "compile hash and TLSH signature files and YARA rules into FILE.accdb");
  b->add_option("-o,--output", build.out, "the database file to write")->required();
  b->add_option("--hashes", build.hashes,
                "ClamAV hash file: .hdb (MD5), .hsb (SHA-1/SHA-256), .fp/.sfp (allow-lists)")
      ->allow_extra_args(false);
  b->add_option("--yara", build.yara, "YARA rule file or directory (*.yar, *.yara, recursively)")
      ->allow_extra_args(false);
  b->add_option("--tlsh", build.tlsh, "TLSH fuzzy signature file: .tlsh, lines TLSH:THRESHOLD:NAME")
      ->allow_extra_args(false);
  b->callback([&] { rc = DbBuild(build); });
  static std::string verify_path;
  auto* v = db->add_subcommand("verify", "check a database's checksum and structure");
  v->add_option("FILE", verify_path)->required();
  v->callback([&] { rc = DbVerify(verify_path); });

  static std::vector<std::string> tlsh_paths;
  auto* t = app.add_subcommand("tlsh", "print each file's TLSH fuzzy hash, for making .tlsh signatures");
  t->add_option("FILE", tlsh_paths)->required();
  t->callback([&] { rc = PrintTlsh(tlsh_paths); });

  static ScanArgs s;
  auto* sc = app.add_subcommand("scan", "scan files and directories (clamscan's output and exit codes)");
  sc->add_option(
        "-d,--database", s.dbs,
        "a database directory from `accord update`, or a file from `accord db build` with --unverified "
        "(repeatable)")
      ->allow_extra_args(false);
  sc->add_option("--hashes", s.hashes, "a ClamAV hash file, without building a database (repeatable)")
      ->allow_extra_args(false);
  sc->add_option("--yara", s.yara, "YARA rule file or directory, without building a database (repeatable)")
      ->allow_extra_args(false);
  sc->add_option("--tlsh", s.tlsh, "a TLSH signature file (.tlsh), without building a database (repeatable)")
      ->allow_extra_args(false);
  sc->add_option("-j,--threads", s.threads, "scanning threads (default: the number of cores)");
  sc->add_flag("-r,--recursive", s.recursive, "descend into subdirectories");
  sc->add_flag("-i,--infected", s.infected_only, "print only what was found");
  sc->add_flag("-o,--suppress-ok-results", s.suppress_ok, "print no \"PATH: OK\" lines");
  sc->add_option("-f,--file-list", s.file_list, "scan the paths listed in FILE too, one per line")
      ->allow_extra_args(false);
  sc->add_option("--exclude", s.patterns.exclude,
                 "skip files whose path matches this POSIX extended regular expression (repeatable)")
      ->allow_extra_args(false);
  sc->add_option("--include", s.patterns.include,
                 "scan only files whose path matches one of these expressions (repeatable)")
      ->allow_extra_args(false);
  sc->add_option("--exclude-dir", s.patterns.exclude_dir,
                 "skip directories whose path matches this expression (repeatable)")
      ->allow_extra_args(false);
  sc->add_option("--include-dir", s.patterns.include_dir,
                 "enter only directories whose path matches one of these expressions (repeatable)")
      ->allow_extra_args(false);
  sc->add_flag("--cross-fs", s.cross_fs,
               "--cross-fs=no: do not enter other file systems (mount points) under a directory named "
               "(default yes)");
  sc->add_option("--max-dir-recursion", s.max_dir_levels,
                 "directories entered at most this deep, the one named the first (deeper: Excluded; "
                 "default: no limit)")
      ->check(CLI::NonNegativeNumber);
  sc->add_option("--follow-dir-symlinks", s.follow_dir_symlinks,
                 "links to directories: 0 none, 1 those named (default), 2 those met in the walk too")
      ->check(CLI::Range(0, 2));
  sc->add_option("--follow-file-symlinks", s.follow_file_symlinks,
                 "links to files: 0 none, 1 those named (default), 2 those met in the walk too")
      ->check(CLI::Range(0, 2));
  sc->add_flag("--json", s.json, "NDJSON: one object per scanned file");
  sc->add_flag("--no-summary", s.no_summary, "no summary at the end");
  sc->add_option("-l,--log", s.log_path,
                 "append the FOUND, Excluded and error lines and the summary to FILE (no OK lines)")
      ->allow_extra_args(false);
  sc->add_flag("--quiet", s.quiet, "print only errors (no FOUND lines, no summary; the exit code tells)");
  sc->add_flag("-v,--verbose", s.verbose, "print \"Scanning PATH\" before each file's lines");
  sc->add_flag("--bell", s.bell, "ring the terminal's bell (a BEL on standard error) for each file found");
  sc->add_flag("--stdout", s.errors_to_stdout, "print error lines on standard output, not standard error");
  sc->add_flag("-z,--allmatch", s.all_match,
               "accepted for clamscan's scripts: every match is reported anyway");
  AddLimitOptions(*sc, s.limit_texts);
  sc->add_option("--max-ratio", s.limits.max_compression_ratio,
                 "compression ratio above which extraction stops");
  sc->add_option("--cache", s.cache_path,
                 "the scan cache: unchanged files are reported as last scanned, unread (default: "
                 "$XDG_CACHE_HOME/accord/scan.cache, docs/scan-cache.md)")
      ->allow_extra_args(false);
  sc->add_flag("--no-cache,--disable-cache", s.no_cache,
               "scan every file, and neither read nor write a cache (--disable-cache: clamscan's name)");
  // clamscan's temporary files: accord writes none (containers are read in memory).
  sc->add_option_function<std::string>(
      "--tempdir", [](const std::string&) {}, "clamscan's; accord writes no temporary file");
  sc->add_flag("--leave-temps", s.leave_temps, "clamscan's; accord writes no temporary file");
  sc->add_flag("--scan-duplicates", s.scan_duplicates,
               "scan every file and member with the same bytes as one scanned earlier in this run (by "
               "default it gets that one's findings when the YARA rules cannot tell their names apart)");
  sc->add_option("--policy", s.policy,
                 "the trust policy (C2SP tlog-policy) every -d database must have been verified against by "
                 "`accord update`")
      ->allow_extra_args(false);
  sc->add_flag("--unverified", s.unverified,
               "scan with databases that no verified `accord update` built (local testing)");
  sc->add_option("PATH", s.paths,
                 "files and directories (default: the current directory, named by its absolute path as "
                 "clamscan names it); - is standard input");
  sc->callback([&] { rc = Scan(s); });
}

}  // namespace accord::cli

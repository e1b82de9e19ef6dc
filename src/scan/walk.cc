#include "scan/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <semaphore>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "core/fs.h"
#include "core/limits.h"
#include "scan/cache.h"
#include "scan/memo.h"
#include "scan/path_filter.h"

namespace accord::scan {

namespace {
// Places for the directories walks hold open (limits::kMaxWalkRootsOpen), in the process.
std::counting_semaphore<>& RootPlaces() {
  static std::counting_semaphore<> places(static_cast<std::ptrdiff_t>(accord::limits::kMaxWalkRootsOpen));
  return places;
}

// A directory named on the command line, open for as long as a walk or a file of it needs it:
// everything under it is opened relative to it, following no symbolic link (fs::OpenBeneath).
// It holds one of RootPlaces, taken before it was opened.
struct Root {
  Root(int fd, dev_t dev) : fd(fd), dev(dev) {}
  ~Root() {
    ::close(fd);
    RootPlaces().release();
  }
  Root(const Root&) = delete;
  Root& operator=(const Root&) = delete;
  const int fd;
  const dev_t dev;  // its file system (WalkOptions::cross_fs)
};
using RootPtr = std::shared_ptr<const Root>;

// A file for the workers: its path, and the stat the walk made (the cache's key).
struct WorkItem {
  std::string path;
  FileStamp stamp;
  bool named = false;    // named on the command line: stat follows its symbolic links
  bool no_memo = false;  // handed back by the memo (scan/memo.h): scan it, whatever others had
  RootPtr root;          // met in a walk: opened as `rel` under `root` (else by `path`)
  std::string rel;
  bool by_link = false;  // Met::kByLink: the file opened must be the one `stamp` describes
};

constexpr const char* kLinkInTheWay = "a symbolic link now stands in its path, not followed";

class Queue {
 public:
  void Push(WorkItem item) {
    std::unique_lock<std::mutex> l(mu_);
    room_.wait(l, [&] { return items_.size() < 4096; });
    items_.push_back(std::move(item));
    ready_.notify_one();
  }
  // A file the memo handed back: first in line, and never waiting for room (the workers, which
  // pop, call this; at most one per file queued before).
  void PushAgain(WorkItem item) {
    std::lock_guard<std::mutex> l(mu_);
    items_.push_front(std::move(item));
    ready_.notify_one();
  }
  bool Pop(WorkItem* item) {
    std::unique_lock<std::mutex> l(mu_);
    ready_.wait(l, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    room_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    ready_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<WorkItem> items_;
  bool closed_ = false;
};

// How the walk met a regular file.
enum class Met {
  kInWalk,  // listed in a directory: opened relative to the directory named above it
  kNamed,   // given on the command line: opened by its path, links followed
  kByLink,  // through a link the walk followed (--follow-file-symlinks 2): opened by its path as a
            // named file, and must then still be the file the walk checked (its stat)
};

// What the walk meets. The rules of the walk live in Walk below only, so that the counting walk
// (CountPaths) sees exactly the files the scan does.
class TreeVisitor {
 public:
  virtual ~TreeVisitor() = default;
  virtual void Error(const std::string& path, const std::string& what) = 0;
  virtual void Directory() = 0;
  virtual void Symlink(const std::string& path) = 0;  // a link not followed
  // A regular file, with its stat, as the walk met it; met in a directory, it is `rel` under `root`.
  virtual void File(std::string path, const struct stat& st, Met met, const RootPtr& root,
                    std::string rel) = 0;
  virtual void Excluded(const std::string& path) { (void)path; }  // WalkOptions::filter skipped it
  virtual bool Stopped() const { return false; }
};

// What the walk descends into and what it skips: WalkOptions' recursive, filter, cross_fs and
// the links it follows.
struct WalkRules {
  bool recursive = true;
  const PathFilter* filter = nullptr;
  bool cross_fs = true;
  int follow_dir_symlinks = 1, follow_file_symlinks = 1;
  int max_dir_levels = -1;  // WalkOptions::max_dir_levels
};

// The directories the walk is inside, while it follows links to directories
// (follow_dir_symlinks 2): a link to one of them is a loop, not followed; and how many followed
// links deep it is (at most kMaxFollowedDirLinks: each holds one of RootPlaces).
struct Inside {
  std::vector<std::pair<dev_t, ino_t>> dirs;
  // The directories links have led to in this walk: a second link to one is not followed, so
  // that a web of links (each directory linking thrice to the next) costs a walk per directory,
  // not one per path through the web.
  std::set<std::pair<dev_t, ino_t>> led_to;
  int followed = 0;  // NamedDir calls open: the directory named, and each link followed in it
  int level = 0;     // directories deep: 1 in the directory named (WalkOptions::max_dir_levels)
};
constexpr int kMaxFollowedDirLinks = 16;
// Directories above one the walk follows a link to that it looks at (PATH_MAX allows 2,048).
constexpr size_t kMaxAncestors = 4096;

void NamedDir(const std::string& path, dev_t walk_dev, const WalkRules& rules, TreeVisitor& v, Inside& inside,
              const struct stat* checked = nullptr);
std::string RealPath(const std::string& path);

// The directory `rel` under `root` ("" for the root itself, named on the command line and opened
// following links, as stat did): opened relative to the root, following no symbolic link put
// anywhere on its way since the walk listed it (fs::OpenBeneath), so that the walk and the files
// it queues stay in the tree.
// `real`: the directory's real path, for the filter's file patterns (PathFilter::SkipsFile); empty
// when there are none.
void Dir(const RootPtr& root, const std::string& rel, const std::string& path, const std::string& real,
         const WalkRules& rules, TreeVisitor& v, Inside& inside) {
  if (rules.max_dir_levels >= 0 && inside.level >= rules.max_dir_levels) {  // --max-dir-recursion
    v.Excluded(path);
    return;
  }
  int fd = rel.empty() ? ::openat(root->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                       : fs::OpenBeneath(root->fd, rel, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    int e = errno;
    v.Error(path, std::string("cannot open directory: ") + (e == ELOOP ? kLinkInTheWay : std::strerror(e)));
    return;
  }
  struct Closer {  // closed however this ends
    int fd;
    void Close() {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    ~Closer() { Close(); }
  } closer{fd};
  const bool follows = rules.follow_dir_symlinks == 2 || rules.follow_file_symlinks == 2;
  struct stat dir_st {};
  if ((!rules.cross_fs && !rel.empty()) || rules.follow_dir_symlinks == 2) {
    if (::fstat(fd, &dir_st) != 0) {
      v.Error(path, std::string("cannot stat directory: ") + std::strerror(errno));
      return;
    }
    // clamscan's --cross-fs=no: a mount point is not entered.
    if (!rules.cross_fs && !rel.empty() && dir_st.st_dev != root->dev) {
      v.Excluded(path);
      return;
    }
  }
  // The entries, read with getdents64 itself: opendir(3) would cost an fstat and two fcntl a
  // directory, a sixth of a rescan's system calls. One buffer a walking thread, as the names are
  // copied out before any subdirectory is walked.
  std::vector<std::pair<std::string, unsigned char>> names;
  {
    thread_local std::vector<char> buf(size_t(32) << 10);
    for (;;) {
      ssize_t n = ::getdents64(fd, buf.data(), buf.size());
      if (n < 0) {
        v.Error(path, std::string("cannot read directory: ") + std::strerror(errno));
        return;
      }
      if (n == 0) break;
      for (ssize_t off = 0; off < n;) {
        auto* e = reinterpret_cast<const struct dirent64*>(buf.data() + off);
        off += e->d_reclen;
        if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
        names.emplace_back(e->d_name, e->d_type);
      }
    }
  }
  v.Directory();
  if (rules.follow_dir_symlinks == 2) inside.dirs.emplace_back(dir_st.st_dev, dir_st.st_ino);
  ++inside.level;
  struct Leave {  // this directory, once its walk ends however it ends
    Inside& inside;
    bool on;
    ~Leave() {
      --inside.level;
      if (on) inside.dirs.pop_back();
    }
  } leave{inside, rules.follow_dir_symlinks == 2};
  std::sort(names.begin(), names.end());  // a stable order, run to run
  // Each entry is stat'ed relative to the directory (one name to resolve, not the whole path),
  // before the directory is closed: one descriptor open at a time, however deep the tree.
  // Directories and links need no stat: their type is in the entry (d_type).
  struct Entry {
    std::string name;
    unsigned char type;
    struct stat st;  // a link's target's, when links are followed (link_to)
    int error;
    unsigned char link_to = DT_UNKNOWN;  // a link's target: DT_DIR, DT_REG, or unknown (dangling...)
  };
  std::vector<Entry> entries;
  entries.reserve(names.size());
  for (auto& [name, type] : names) {
    if (v.Stopped()) break;
    Entry& e = entries.emplace_back(Entry{std::move(name), type, {}, 0});
    if (type == DT_REG || type == DT_UNKNOWN) {
      if (::fstatat(fd, e.name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
        e.error = errno;
        continue;
      }
      e.type = S_ISDIR(e.st.st_mode)   ? DT_DIR
               : S_ISLNK(e.st.st_mode) ? DT_LNK
               : S_ISREG(e.st.st_mode) ? DT_REG
                                       : DT_UNKNOWN;
    }
    // A link that may be followed: its target's stat (none: dangling, or a loop of links).
    if (e.type == DT_LNK && follows && ::fstatat(fd, e.name.c_str(), &e.st, 0) == 0)
      e.link_to = S_ISDIR(e.st.st_mode) ? DT_DIR : S_ISREG(e.st.st_mode) ? DT_REG : DT_UNKNOWN;
  }
  closer.Close();
  for (Entry& e : entries) {
    if (v.Stopped()) return;
    std::string child = path.back() == '/' ? path + e.name : path + "/" + e.name;
    std::string child_rel = rel.empty() ? e.name : rel + "/" + e.name;
    // Below a named directory nothing is a link the walk follows: the real path is the root's and
    // the names.
    std::string child_real = real.empty()         ? std::string()
                             : real.back() == '/' ? real + e.name
                                                  : real + "/" + e.name;
    if (e.error != 0) {
      v.Error(child, std::string("cannot stat: ") + std::strerror(e.error));
    } else if (e.type == DT_LNK && e.link_to == DT_DIR && rules.follow_dir_symlinks == 2) {
      // clamscan's --follow-dir-symlinks=2: walked as a directory named, by this path.
      if (!rules.recursive) continue;  // as a directory is
      const std::pair<dev_t, ino_t> id{e.st.st_dev, e.st.st_ino};
      if (std::find(inside.dirs.begin(), inside.dirs.end(), id) != inside.dirs.end() ||
          inside.followed > kMaxFollowedDirLinks || !inside.led_to.insert(id).second)
        v.Symlink(child);  // a loop, a directory a link led to already, or too deep: not followed
      else if ((rules.filter && rules.filter->SkipsDir(child)) ||
               (!rules.cross_fs && e.st.st_dev != root->dev))
        v.Excluded(child);
      else
        NamedDir(child, root->dev, rules, v, inside, &e.st);
    } else if (e.type == DT_LNK && e.link_to == DT_REG && rules.follow_file_symlinks == 2) {
      // clamscan's --follow-file-symlinks=2: scanned as a file named, by this path.
      if ((rules.filter && rules.filter->HasFilePatterns() && rules.filter->SkipsFile(RealPath(child))) ||
          (!rules.cross_fs && e.st.st_dev != root->dev))
        v.Excluded(child);
      else
        v.File(std::move(child), e.st, Met::kByLink, nullptr, "");
    } else if (e.type == DT_LNK) {
      v.Symlink(child);
    } else if (e.type == DT_DIR) {
      if (!rules.recursive) continue;
      if (rules.filter && rules.filter->SkipsDir(child))
        v.Excluded(child);
      else
        Dir(root, child_rel, child, child_real, rules, v, inside);
    } else if (e.type == DT_REG) {
      if ((rules.filter && rules.filter->HasFilePatterns() && rules.filter->SkipsFile(child_real)) ||
          (!rules.cross_fs && e.st.st_dev != root->dev))  // a file mounted on its own (a bind mount)
        v.Excluded(child);
      else
        v.File(std::move(child), e.st, Met::kInWalk, root, std::move(child_rel));
    }
    // Devices, FIFOs and sockets are not files to scan (reading a FIFO could block forever).
  }
}

// The path with symbolic links resolved, absolute (realpath(3)); the path itself if it cannot be
// resolved (gone meanwhile).
std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  return real ? std::string(real.get()) : path;
}

// A directory walked as named (on the command line, or by a link followed): opened following
// links, held open as the root of everything under it. `walk_dev`: the file system of the walk it
// belongs to (WalkOptions::cross_fs). `checked`: for a link followed, the stat of its target on
// which the walk decided to follow it (not a loop, not walked yet, on the walk's file system): the
// path is opened again, so a directory that is no longer that one (a name on the way swapped for
// a link meanwhile) is an error, not walked.
void NamedDir(const std::string& path, dev_t walk_dev, const WalkRules& rules, TreeVisitor& v, Inside& inside,
              const struct stat* checked) {
  const bool real_paths = rules.filter && rules.filter->HasFilePatterns();
  RootPlaces().acquire();  // given back by ~Root, or below
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    RootPlaces().release();
    v.Error(path, std::string("cannot open directory: ") + std::strerror(e));
    return;
  }
  if (checked) {
    struct stat now;
    if (::fstat(fd, &now) != 0 || now.st_dev != checked->st_dev || now.st_ino != checked->st_ino) {
      ::close(fd);
      RootPlaces().release();
      v.Error(path, "cannot open directory: it changed while the walk followed the link to it");
      return;
    }
  }
  RootPtr root;
  try {
    root = std::make_shared<const Root>(fd, walk_dev);
  } catch (...) {
    ::close(fd);
    RootPlaces().release();
    throw;
  }
  // Following links to directories: this directory and each directory above it are places the
  // walk is inside too (a link to /srv from under /srv/www is a loop), so that no directory is
  // walked twice, by a link or by its real path under one. They are found by ".." from the
  // directory opened, not from its path, so that no name swapped on the way can hide one.
  const size_t mark = inside.dirs.size();
  if (rules.follow_dir_symlinks == 2) {
    // O_PATH: a directory above needs only search permission to be looked at, as stat needs (a
    // home directory of mode 0711 is one no other user may read).
    struct Up {
      int fd = -1;
      ~Up() {
        if (fd >= 0) ::close(fd);
      }
    } at{::openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)};
    struct stat here;
    if (::fstat(fd, &here) == 0) inside.dirs.emplace_back(here.st_dev, here.st_ino);
    for (size_t up = 0; at.fd >= 0 && up < kMaxAncestors; ++up) {
      const int parent = ::openat(at.fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
      ::close(at.fd);
      at.fd = parent;
      if (parent < 0 || ::fstat(parent, &here) != 0) break;
      const std::pair<dev_t, ino_t> id{here.st_dev, here.st_ino};
      if (inside.dirs.size() > mark && inside.dirs.back() == id) break;  // "/" is its own ".."
      inside.dirs.push_back(id);
    }
  }
  ++inside.followed;
  struct Out {
    Inside& inside;
    size_t mark;
    ~Out() {
      --inside.followed;
      inside.dirs.resize(mark);
    }
  } out{inside, mark};
  Dir(root, "", path, real_paths ? RealPath(path) : std::string(), rules, v, inside);
}

void Walk(const std::vector<std::string>& given, const WalkRules& rules, TreeVisitor& v) {
  const bool real_paths = rules.filter && rules.filter->HasFilePatterns();
  for (std::string path : given) {
    if (v.Stopped()) return;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      v.Error(path, std::string("cannot open: ") + std::strerror(errno));
      continue;
    }
    // A link named is followed unless --follow-*-symlinks=0 says otherwise for its target's kind.
    if (rules.follow_dir_symlinks == 0 || rules.follow_file_symlinks == 0) {
      struct stat lst;
      if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) &&
          ((S_ISDIR(st.st_mode) && rules.follow_dir_symlinks == 0) ||
           (S_ISREG(st.st_mode) && rules.follow_file_symlinks == 0))) {
        v.Symlink(path);
        continue;
      }
    }
    // A directory named with trailing slashes ("ex/", "ex//") is "ex", as clamscan names it.
    if (S_ISDIR(st.st_mode))
      while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (rules.filter && (S_ISDIR(st.st_mode)   ? rules.filter->SkipsDir(path)
                         : S_ISREG(st.st_mode) ? real_paths && rules.filter->SkipsFile(RealPath(path))
                                               : false)) {
      v.Excluded(path);
    } else if (S_ISDIR(st.st_mode)) {
      Inside inside;
      NamedDir(path, st.st_dev, rules, v, inside);
    } else if (S_ISREG(st.st_mode)) {
      v.File(path, st, Met::kNamed, nullptr, "");
    } else {
      v.Error(path, "not a regular file or directory");
    }
  }
}

class ScanVisitor : public TreeVisitor {
 public:
  ScanVisitor(Queue& queue, ScanCache* cache, const std::function<void(const FileReport&)>& report,
              std::mutex& report_mu, ScanSummary& summary, Progress* progress,
              const std::function<bool()>& stopped, const std::function<void(const std::string&)>& excluded,
              const std::function<void(const std::string&)>& symlink)
      : excluded_(excluded),
        symlink_(symlink),
        stopped_(stopped),
        queue_(queue),
        cache_(cache),
        report_(report),
        report_mu_(report_mu),
        summary_(summary),
        progress_(progress) {}

  void Error(const std::string& path, const std::string& what) override {
    FileReport r;
    r.path = path;
    r.error = what;
    std::lock_guard<std::mutex> l(report_mu_);
    ++summary_.errors;
    report_(r);
  }
  void Directory() override {
    std::lock_guard<std::mutex> l(report_mu_);
    ++summary_.directories;
  }
  void Symlink(const std::string& path) override {
    std::lock_guard<std::mutex> l(report_mu_);
    ++summary_.symlinks_skipped;
    if (symlink_) symlink_(path);
  }
  void File(std::string path, const struct stat& st, Met met, const RootPtr& root, std::string rel) override {
    FileStamp stamp = StampOf(st);
    FileReport r;
    // Unchanged since its scan, under the same path and owner's name: that scan's report.
    if (cache_ && cache_->Lookup(stamp, path, Owner(st.st_uid), &r)) {
      if (progress_) {
        progress_->files.fetch_add(1, std::memory_order_relaxed);
        progress_->bytes.fetch_add(r.size, std::memory_order_relaxed);
      }
      std::lock_guard<std::mutex> l(report_mu_);
      ++summary_.files;
      ++summary_.cached;
      if (r.detected()) ++summary_.infected;
      report_(r);
      return;
    }
    queue_.Push(
        {std::move(path), stamp, met != Met::kInWalk, false, root, std::move(rel), met == Met::kByLink});
  }
  void Excluded(const std::string& path) override {
    std::lock_guard<std::mutex> l(report_mu_);
    ++summary_.excluded;
    if (excluded_) excluded_(path);
  }
  bool Stopped() const override { return stopped_ && stopped_(); }

 private:
  // OwnerName, asked once per user and walk (the walking thread only).
  const std::string& Owner(uid_t uid) {
    auto it = owners_.find(uid);
    if (it == owners_.end()) it = owners_.emplace(uid, OwnerName(uid)).first;
    return it->second;
  }

  std::unordered_map<uid_t, std::string> owners_;
  const std::function<void(const std::string&)>& excluded_;
  const std::function<void(const std::string&)>& symlink_;
  const std::function<bool()>& stopped_;
  Queue& queue_;
  ScanCache* cache_;
  const std::function<void(const FileReport&)>& report_;
  std::mutex& report_mu_;
  ScanSummary& summary_;
  Progress* progress_;
};

WalkRules RulesOf(const WalkOptions& o) {
  return {o.recursive, o.filter, o.cross_fs, o.follow_dir_symlinks, o.follow_file_symlinks, o.max_dir_levels};
}

// The sizes of the files a walk meets, for SizeCensus (those named on the command line never
// share a scan: ScanPaths).
class CensusVisitor : public TreeVisitor {
 public:
  CensusVisitor(SizeCensus& census, const std::atomic<bool>& stop, const std::function<bool()>& stopped)
      : census_(census), stop_(stop), stopped_(stopped) {}
  void Error(const std::string&, const std::string&) override {}
  void Directory() override {}
  void Symlink(const std::string&) override {}
  void File(std::string, const struct stat& st, Met met, const RootPtr&, std::string) override {
    if (met == Met::kInWalk) census_.Add(uint64_t(st.st_size));
  }
  bool Stopped() const override { return stop_.load(std::memory_order_relaxed) || (stopped_ && stopped_()); }

 private:
  SizeCensus& census_;
  const std::atomic<bool>& stop_;
  const std::function<bool()>& stopped_;  // the scan's (WalkOptions::stopped)
};

class CountVisitor : public TreeVisitor {
 public:
  CountVisitor(Totals* totals, const std::atomic<bool>* stop) : totals_(totals), stop_(stop) {}
  void Error(const std::string&, const std::string&) override {}
  void Directory() override {}
  void Symlink(const std::string&) override {}
  void File(std::string, const struct stat& st, Met, const RootPtr&, std::string) override {
    totals_->files.fetch_add(1, std::memory_order_relaxed);
    totals_->bytes.fetch_add(uint64_t(st.st_size), std::memory_order_relaxed);
  }
  bool Stopped() const override { return stop_ && stop_->load(std::memory_order_relaxed); }

 private:
  Totals* totals_;
  const std::atomic<bool>* stop_;
};
}  // namespace

ScanSummary ScanPaths(const Engine& engine, const std::vector<std::string>& paths, const WalkOptions& options,
                      const std::function<void(const FileReport&)>& on_report, Progress* progress) {
  ScanSummary summary;
  std::mutex report_mu;
  Queue queue;
  // The census walks the tree beside the scan, only stat'ing, once workers have read
  // kCensusAfterReads files for the memo (a rescan the cache answers but for a few files it may
  // not record walks the tree once): it is over long before the scan is, so that most files of
  // a size met once are scanned unhashed.
  constexpr uint64_t kCensusAfterReads = 64;
  std::atomic<uint64_t> memo_reads{0};
  SizeCensus census;
  std::atomic<bool> census_stop{false};
  std::thread census_walk;
  std::once_flag census_once;
  auto start_census = [&] {
    std::call_once(census_once, [&] {
      try {  // (any exception: std::call_once must not see one here)
        census_walk = std::thread([&] {
          try {
            CensusVisitor v(census, census_stop, options.stopped);
            Walk(paths, RulesOf(options), v);
            if (!census_stop.load()) census.Finish();
          } catch (const std::exception&) {  // out of memory: an unfinished census, as if none
          }
        });
      } catch (const std::exception&) {
        // No thread for it: no census, and every file is hashed for the memo, as before.
      }
    });
  };
  // The work items of the files waiting for the memo to answer for their bytes (Claim::kWaiting),
  // by path: one the memo hands back is opened as the walk met it (its root kept open meanwhile).
  std::mutex parked_mu;
  std::unordered_multimap<std::string, WorkItem> parked;
  auto Unpark = [&](const std::string& path) {
    std::lock_guard<std::mutex> l(parked_mu);
    auto it = parked.find(path);
    if (it == parked.end()) return WorkItem{};
    WorkItem item = std::move(it->second);
    parked.erase(it);
    return item;
  };
  std::vector<std::thread> workers;
  int n = std::max(1, options.threads);
  // A file's report goes out: recorded in the cache if it may be, counted, shown. It does not
  // throw: a cache that cannot record it (out of memory) leaves it unrecorded, and a report that
  // `on_report` cannot take counts as an error too.
  auto finish = [&](const FileReport& r, const FileStamp& stamp, bool same_content) noexcept {
    // Recorded only if the bytes scanned are the file the walk stat'ed, unchanged while read:
    // the descriptor's own status, not the path's, which a swapped directory could point
    // elsewhere between the read and a second stat (cache.h).
    // And only on a file system whose times the kernel keeps (FileReport::kernel_times).
    if (options.cache && Recordable(r) && r.read_stable && r.kernel_times && StampOf(r.read_stat) == stamp) {
      try {
        options.cache->Insert(stamp, r);
      } catch (const std::exception&) {  // not recorded: scanned again next time
      }
    }
    if (progress) {
      progress->files.fetch_add(1, std::memory_order_relaxed);
      progress->bytes.fetch_add(r.size, std::memory_order_relaxed);
    }
    std::lock_guard<std::mutex> l(report_mu);
    if (!r.error.empty()) {
      ++summary.errors;
    } else {
      ++summary.files;
      summary.bytes_read += r.size;
      if (same_content)
        ++summary.same_content;
      else
        summary.bytes_scanned += r.bytes_scanned;
      if (r.detected()) ++summary.infected;
    }
    try {
      on_report(r);
    } catch (const std::exception&) {
      ++summary.errors;
    }
  };
  // The memo's answer for a content: its waiters that got it are reported, the others scanned
  // like any file, by whichever thread is free (read again: the memo kept only the report of the
  // first read), opened as the walk met them. It does not throw: a waiter that cannot be queued
  // again (out of memory) is reported as an error ("out of memory": short enough to need no
  // allocation).
  auto Settle = [&](ScanMemo::Completed done) noexcept {
    for (const ScanMemo::Waiter& w : done.answered) {
      finish(w.report, w.stamp, true);
      (void)Unpark(w.report.path);
    }
    for (ScanMemo::Waiter& w : done.unanswered) {
      WorkItem again = Unpark(w.report.path);
      try {
        // (Unreachable without a parked item: then by its path, not following a last link.)
        if (again.path.empty()) again = {w.report.path, w.stamp, false, false, nullptr, ""};
        again.stamp = w.stamp;
        again.no_memo = true;
        queue.PushAgain(std::move(again));
      } catch (const std::exception&) {
        w.report.error = "out of memory";
        finish(w.report, w.stamp, false);
      }
    }
  };
  // How far a file's handling got, for a worker that an exception (out of memory) stops midway.
  struct Handling {
    bool reported = false;           // finish() was called for it
    bool parked = false;             // its work item is parked for the memo
    bool waiting = false;            // the memo will have another thread report it
    std::optional<uint64_t> ticket;  // the memo waits for its scan
  };
  auto scan_one = [&](WorkItem& item, Handling& h, Engine::Worker& worker) {
    bool read = false;
    FileReport r = item.root ? engine.ReadFileBeneath(worker, item.root->fd, item.rel, item.path, &read)
                             : engine.ReadFile(worker, item.path, item.named, &read);
    if (item.by_link && r.error.empty() &&
        (uint64_t(r.read_stat.st_dev) != item.stamp.dev || uint64_t(r.read_stat.st_ino) != item.stamp.ino)) {
      // Swapped since the walk checked it (filter, file system): not scanned, nor reported as that
      // file (its size, a limit it hits).
      if (read) engine.DropRead(worker);
      FileReport changed;
      changed.path = item.path;
      changed.error = "cannot open: it changed while the walk followed the link to it";
      r = std::move(changed);
      read = false;
    }
    // A path named on the command line is scanned itself: the memo may hand a file back to
    // the queue (below), which would then open it as a walked one, not following a link. So
    // is a file of a size no other file in the tree has: no need to hash it for the memo.
    const bool memo = read && options.memo && !item.no_memo && !item.named;
    if (memo && memo_reads.fetch_add(1) + 1 >= kCensusAfterReads) start_census();
    if (!memo || census.Unique(item.stamp.size)) {
      if (read) engine.ScanRead(worker, r);
      h.reported = true;
      finish(r, item.stamp, false);
      return;
    }
    uint64_t ticket = 0;
    auto key_of = [&](const FileReport& x) { return engine.ExternalsKey(worker, x); };
    // Parked before the memo may make it wait, so that the thread that answers for its bytes
    // finds it whenever that is (items of one path are alike: each is taken out once).
    {
      std::lock_guard<std::mutex> l(parked_mu);
      parked.emplace(item.path, item);
    }
    h.parked = true;
    ScanMemo::Claim claim = options.memo->Take(engine.ContentDigest(worker), r, item.stamp, key_of, &ticket);
    if (claim == ScanMemo::Claim::kWaiting) h.waiting = true;
    if (claim == ScanMemo::Claim::kScan) h.ticket = ticket;
    if (claim != ScanMemo::Claim::kWaiting) {
      (void)Unpark(item.path);
      h.parked = false;
    }
    switch (claim) {
      case ScanMemo::Claim::kAnswered:
        engine.DropRead(worker);
        h.reported = true;
        finish(r, item.stamp, true);
        break;
      case ScanMemo::Claim::kWaiting:  // the thread scanning its bytes will report it
        engine.DropRead(worker);
        break;
      case ScanMemo::Claim::kScan: {
        engine.ScanRead(worker, r);
        ScanMemo::Completed done = options.memo->Complete(ticket, r);
        h.ticket.reset();  // (nothing below throws)
        h.reported = true;
        finish(r, item.stamp, false);
        Settle(std::move(done));
        break;
      }
    }
  };
  // An exception in a file's handling (std::bad_alloc: the limits are set above what this process
  // may allocate) makes that file an error, reported like any other; the memo's waiters for it
  // are scanned by themselves. What must happen is done first, without allocating (short error
  // texts fit in a string's own bytes), so that a second failure cannot strand the memo's waiters
  // or lose the file: the memo's answer (an error: it keeps nothing), the parked item, the report.
  auto recover = [&](WorkItem& item, Handling& h, Engine::Worker* worker, const std::exception& e) noexcept {
    if (worker) engine.DropRead(*worker);
    if (h.ticket) {
      FileReport failed;
      failed.error = "failed";
      Settle(options.memo->Complete(*h.ticket, failed));
      h.ticket.reset();
    }
    if (h.parked && !h.waiting) (void)Unpark(item.path);
    if (h.reported || h.waiting) return;
    FileReport r;
    r.path = std::move(item.path);
    r.error = "out of memory";
    try {
      r.error = dynamic_cast<const std::bad_alloc*>(&e)
                    ? std::string("out of memory, not scanned")
                    : std::string("internal error, not scanned: ") + e.what();
    } catch (const std::exception&) {  // the short text stays
    }
    finish(r, item.stamp, false);
  };
  auto work = [&] {
    Engine::WorkerPtr worker;  // made for the first item, and again after a failure to make it
    WorkItem item;
    while (queue.Pop(&item)) {
      if (options.stopped && options.stopped()) continue;  // drain what was queued, unscanned
      Handling h;
      try {
        if (!worker) worker = engine.NewWorker();
        scan_one(item, h, *worker);
      } catch (const std::exception& e) {
        recover(item, h, worker.get(), e);
      }
    }
  };
  try {
    workers.reserve(size_t(n));
    for (int i = 0; i < n; ++i) workers.emplace_back(work);
  } catch (const std::exception&) {
    if (workers.empty()) throw;  // no thread to scan with (nothing started yet)
  }                              // else fewer threads than asked
  ScanVisitor visitor(queue, options.cache, on_report, report_mu, summary, progress, options.stopped,
                      options.on_excluded, options.on_symlink);
  std::exception_ptr walk_failed;
  try {
    Walk(paths, RulesOf(options), visitor);
  } catch (...) {  // out of memory: the workers finish what was queued, then it is passed on
    walk_failed = std::current_exception();
  }
  queue.Close();
  for (auto& t : workers) t.join();
  census_stop.store(true);
  if (census_walk.joinable()) census_walk.join();  // started, if at all, by a worker joined above
  if (walk_failed) std::rethrow_exception(walk_failed);
  return summary;
}

void CountPaths(const std::vector<std::string>& paths, const WalkOptions& options, Totals* totals,
                const std::atomic<bool>* stop) {
  CountVisitor visitor(totals, stop);
  Walk(paths, RulesOf(options), visitor);
  if (!visitor.Stopped()) totals->done.store(true);
}

}  // namespace accord::scan

#include "scan/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace accord::scan {

namespace {
class Queue {
 public:
  void Push(std::string path) {
    std::unique_lock<std::mutex> l(mu_);
    room_.wait(l, [&] { return items_.size() < 4096; });
    items_.push_back(std::move(path));
    ready_.notify_one();
  }
  bool Pop(std::string* path) {
    std::unique_lock<std::mutex> l(mu_);
    ready_.wait(l, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    *path = std::move(items_.front());
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
  std::deque<std::string> items_;
  bool closed_ = false;
};

struct DirWalker {
  Queue& queue;
  const WalkOptions& options;
  const std::function<void(const FileReport&)>& report;
  std::mutex& report_mu;
  ScanSummary& summary;

  void Error(const std::string& path, const std::string& what) {
    FileReport r;
    r.path = path;
    r.error = what;
    std::lock_guard<std::mutex> l(report_mu);
    ++summary.errors;
    report(r);
  }

  void Dir(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      Error(path, std::string("cannot open directory: ") + std::strerror(errno));
      return;
    }
    {
      std::lock_guard<std::mutex> l(report_mu);
      ++summary.directories;
    }
    std::vector<std::pair<std::string, unsigned char>> entries;
    while (struct dirent* e = ::readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      entries.emplace_back(e->d_name, e->d_type);
    }
    ::closedir(d);
    std::sort(entries.begin(), entries.end());  // a stable order, run to run
    for (auto& [name, type] : entries) {
      std::string child = path.back() == '/' ? path + name : path + "/" + name;
      struct stat st;
      if (::lstat(child.c_str(), &st) != 0) {
        Error(child, std::string("cannot stat: ") + std::strerror(errno));
        continue;
      }
      if (S_ISLNK(st.st_mode)) {
        std::lock_guard<std::mutex> l(report_mu);
        ++summary.symlinks_skipped;
      } else if (S_ISDIR(st.st_mode)) {
        if (options.recursive) Dir(child);
      } else if (S_ISREG(st.st_mode)) {
        queue.Push(child);
      }
      // Devices, FIFOs and sockets are not files to scan (reading a FIFO could block forever).
    }
  }

  void Top(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      Error(path, std::string("cannot open: ") + std::strerror(errno));
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      Dir(path);
    } else if (S_ISREG(st.st_mode)) {
      queue.Push(path);
    } else {
      Error(path, "not a regular file or directory");
    }
  }
};
}  // namespace

ScanSummary ScanPaths(const Engine& engine, const std::vector<std::string>& paths, const WalkOptions& options,
                      const std::function<void(const FileReport&)>& on_report, Progress* progress) {
  ScanSummary summary;
  std::mutex report_mu;
  Queue queue;
  std::vector<std::thread> workers;
  int n = std::max(1, options.threads);
  for (int i = 0; i < n; ++i) {
    workers.emplace_back([&] {
      auto worker = engine.NewWorker();
      std::string path;
      while (queue.Pop(&path)) {
        FileReport r = engine.ScanFile(*worker, path);
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
          summary.bytes_scanned += r.bytes_scanned;
          if (r.detected()) ++summary.infected;
        }
        on_report(r);
      }
    });
  }
  DirWalker walker{queue, options, on_report, report_mu, summary};
  for (const auto& p : paths) walker.Top(p);
  queue.Close();
  for (auto& t : workers) t.join();
  return summary;
}

}  // namespace accord::scan

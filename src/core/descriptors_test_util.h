// Tests only: this process out of file descriptors for a while. The soft RLIMIT_NOFILE is lowered
// to just above the descriptors open now and the room left is filled with /dev/null, so the next
// open(2) in any thread fails with EMFILE until the descriptors are released (by the destructor,
// which also puts the limit back, or `release_after` the constructor returns).
//
// The releasing thread is started, and has run, before the descriptors are taken: UBSan's type
// checks open a pipe the first time they meet a type (a thread's state among them), and report a
// false "invalid vptr" when they cannot.
// Thread-safety: construct and destroy from one thread; other threads only open files.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace accord::testing {

class DescriptorsExhausted {
 public:
  explicit DescriptorsExhausted(std::chrono::milliseconds release_after = std::chrono::milliseconds(0)) {
    if (release_after.count() > 0) {
      std::unique_lock l(mu_);
      releaser_ = std::thread([this, release_after] {
        std::unique_lock l(mu_);
        running_ = true;
        cv_.notify_all();
        cv_.wait(l, [&] { return taken_; });
        l.unlock();
        std::this_thread::sleep_for(release_after);
        Release();
      });
      cv_.wait(l, [&] { return running_; });
    }
    if (::getrlimit(RLIMIT_NOFILE, &saved_) == 0) {
      int highest = 0;
      for (int fd = 0; fd < 65536 && fd < static_cast<int>(saved_.rlim_cur); ++fd) {
        if (::fcntl(fd, F_GETFD) != -1) highest = fd;
      }
      struct rlimit low = saved_;
      low.rlim_cur = static_cast<rlim_t>(highest) + 17;
      if (::setrlimit(RLIMIT_NOFILE, &low) == 0) {
        lowered_ = true;
        for (;;) {
          int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          if (fd < 0) break;
          held_.push_back(fd);
        }
      }
    }
    std::lock_guard l(mu_);
    taken_ = true;
    cv_.notify_all();
  }
  ~DescriptorsExhausted() {
    if (releaser_.joinable()) releaser_.join();
    Release();
    if (lowered_) ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  DescriptorsExhausted(const DescriptorsExhausted&) = delete;
  DescriptorsExhausted& operator=(const DescriptorsExhausted&) = delete;

  // Whether every descriptor is taken now.
  bool exhausted() const {
    if (!lowered_) return false;
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
    return fd < 0;
  }

 private:
  void Release() {
    std::lock_guard l(held_mu_);
    for (int fd : held_) ::close(fd);
    held_.clear();
  }

  struct rlimit saved_ {};
  bool lowered_ = false;
  std::mutex held_mu_;
  std::vector<int> held_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false, taken_ = false;
  std::thread releaser_;
};

}  // namespace accord::testing

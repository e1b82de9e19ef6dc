// Tests only: this process out of file descriptors for a while. The soft RLIMIT_NOFILE is lowered
// to just above the descriptors open now and the room left is filled with /dev/null, so the next
// open(2) in any thread fails with EMFILE until Release() (or the destructor, which also puts the
// limit back).
// Thread-safety: construct and destroy from one thread; Release may be called from another
// thread that is joined before the destructor runs; other threads only open files.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

namespace accord::testing {

class DescriptorsExhausted {
 public:
  DescriptorsExhausted() {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    int highest = 0;
    for (int fd = 0; fd < 65536 && fd < static_cast<int>(saved_.rlim_cur); ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    struct rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(highest) + 17;
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return;
    lowered_ = true;
    for (;;) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      held_.push_back(fd);
    }
  }
  ~DescriptorsExhausted() {
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
  void Release() {
    for (int fd : held_) ::close(fd);
    held_.clear();
  }

 private:
  struct rlimit saved_ {};
  bool lowered_ = false;
  std::vector<int> held_;
};

}  // namespace accord::testing

// A deadline for a whole request of a cpp-httplib client, from connecting to the answer's last
// byte. cpp-httplib's own timeouts bound each connect, read and write, not the exchange: a server
// that trickles its answer a byte at a time holds the caller for as long as it likes.
//
// Header-only, so that the clients (witness/client.cc, update/log_source.cc) need no more than
// cpp-httplib. Thread-safety: `send` runs on the calling thread; a watchdog thread calls
// `client.stop()` (which cpp-httplib allows from another thread) once `timeout` has passed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace accord::http {

// Runs `send()` (a request on `client`) and returns what it returns. If it has not returned
// within `timeout`, `client` is stopped (the socket shut down, so `send` fails) and `*timed_out`
// is set; again every 50 ms until `send` returns. cpp-httplib resolves the name and connects
// under the lock that stop() takes, so a stop then takes effect once those end (the connect is
// bounded by the client's connection timeout; the name's resolution by the system's resolver).
template <typename Client, typename Send>
auto WithDeadline(Client& client, std::chrono::milliseconds timeout, Send&& send, bool* timed_out) {
  std::mutex mu;
  std::condition_variable cv;
  bool returned = false;
  *timed_out = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, timeout, [&] { return returned; })) return;
    *timed_out = true;
    do client.stop();
    while (!cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return returned; }));
  });
  struct Join {  // the watchdog is told and joined however `send` ends
    std::mutex& mu;
    std::condition_variable& cv;
    bool& returned;
    std::thread& watchdog;
    ~Join() {
      {
        std::lock_guard lock(mu);
        returned = true;
      }
      cv.notify_all();
      watchdog.join();
    }
  } join{mu, cv, returned, watchdog};
  return send();
}

}  // namespace accord::http

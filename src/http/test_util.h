// For tests of HTTP servers: a raw TCP connection, to send what no HTTP client would.
// Thread-safety: free functions without state.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace accord::http::testing {

// A connection to 127.0.0.1:`port`, or -1 if refused. The caller closes it.
inline int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  ::close(fd);
  return -1;
}

// Sends a request on `fd` a byte at a time (`first`, then 'a's), one every 100 ms, for at most
// `max_bytes` bytes, until the server answers or closes the connection. Returns what it answered
// meanwhile; `*ended`: whether it did answer or close.
inline std::string Trickle(int fd, char first, int max_bytes, bool* ended) {
  std::string got;
  *ended = false;
  for (int i = 0; i < max_bytes && !*ended; ++i) {
    const char c = i == 0 ? first : 'a';
    *ended = ::send(fd, &c, 1, MSG_NOSIGNAL) != 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, size_t(n));
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) *ended = true;
  }
  return got;
}

}  // namespace accord::http::testing

// The node's HTTP front end (node/http_server.h) end to end: each input is sent as it is, over a
// TCP connection, to a node served in this process (Beast's parser, accord's limits, routing,
// percent decoding, the handlers behind them); then the client half-closes and reads until the
// server closes.
//
// Properties: nothing crashes or hangs; every input is answered or closed (the client's
// half-close ends any request left incomplete); whatever the server sends is a sequence of
// HTTP/1.1 answers, the first with a status from 100 to 599; the node still serves its checkpoint.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "fuzz_common.h"
#include "node/http_server.h"
#include "node/node.h"

using namespace accord;

namespace {

struct Served {
  std::string dir;
  std::unique_ptr<node::Node> node;
  std::unique_ptr<node::HttpServer> server;
  std::thread thread;
};

Served& Server() {
  static Served* s = [] {
    auto* x = new Served;
    char tmpl[] = "/tmp/accord-fuzz-http-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    x->dir = tmpl;
    auto n = node::Node::Open(x->dir + "/node", "fuzz.example/log");
    FUZZ_CHECK(n.ok());
    x->node = std::move(n).value();
    node::HttpOptions o;
    o.port = 0;
    o.threads = 2;
    o.read_timeout_s = 2;
    o.keep_alive_timeout_s = 2;
    o.max_header_bytes = 4096;
    o.max_batch = 4;
    x->server = std::make_unique<node::HttpServer>(*x->node, o);
    FUZZ_CHECK(x->server->Start().ok());
    x->thread = std::thread([x] { (void)x->server->Run(); });
    // The log directory is removed at exit; the node, its threads and the server live on until then.
    static std::string dir = x->dir;
    std::atexit([] { std::filesystem::remove_all(dir); });
    return x;
  }();
  return *s;
}

// Sends `request`, half-closes, and returns what the server sent until it closed.
std::string Exchange(ByteView request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(Server().server->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's timeout alarm (SIGALRM) interrupts system calls: EINTR is retried throughout.
  int rc;
  do rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  while (rc != 0 && (errno == EINTR || errno == EALREADY));
  FUZZ_CHECK(rc == 0 || errno == EISCONN);
  timeval tv{10, 0};  // longer than the server's read timeout: a hang fails the check below
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  // The server may answer and close before taking all of it (a refused header or body).
  for (ByteView rest = request; !rest.empty();) {
    ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rest.remove_prefix(size_t(n));
  }
  ::shutdown(fd, SHUT_WR);
  std::string got;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      FUZZ_CHECK(errno == ECONNRESET);  // EAGAIN: the server neither answered nor closed
      break;
    }
    got.append(buf, size_t(n));
  }
  ::close(fd);
  return got;
}

int StatusOf(std::string_view answer) {
  if (answer.size() < 12 || answer.substr(0, 9) != "HTTP/1.1 ") return 0;  // the server speaks 1.1 to all
  int code = 0;
  for (char c : answer.substr(9, 3)) {
    if (c < '0' || c > '9') return 0;
    code = code * 10 + (c - '0');
  }
  return code;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string got = Exchange(fuzz::AsBytes(data, size));
  if (!got.empty()) {
    int status = StatusOf(got);
    FUZZ_CHECK(status >= 100 && status <= 599);
  }
  static size_t runs = 0;
  if (++runs % 256 == 0) {
    std::string cp = Exchange("GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n");
    FUZZ_CHECK(StatusOf(cp) == 200);
  }
  return 0;
}

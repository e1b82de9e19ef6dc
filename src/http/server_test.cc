// The HTTP engine with a toy service: where each kind of request is answered, the service's own
// error format for the server's refusals, exceptions, and Run's wait for answers given later.
// The connection limits: the header cap, the read deadline and max_connections here, in the
// service's format; the rest through the node (src/node/node_test.cc, HttpSlowClients and
// HttpProtocol) and the witness (src/witness/http_test.cc).
#include "http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <thread>

#include "http/test_util.h"

namespace accord::http {
namespace {

class ToyService : public Service {
 public:
  // POST /big: up to 2 MiB, a large body; anything else up to 16 bytes.
  BodyPolicy Body(std::string_view method, std::string_view target, std::string_view) override {
    if (method == "POST" && target == "/big") return {uint64_t{2} << 20, true};
    return {16, false};
  }
  bool Serve(Request& req, const Respond& respond) override {
    if (req.path == "/quick") {
      respond(Text("quick " + req.query));
      return true;
    }
    if (req.path == "/dropped") return true;  // taken, and `respond` dropped without a call
    if (req.path == "/oom") throw std::bad_alloc();
    if (req.path == "/twice") {
      Respond copy = respond;
      copy(Text("first"));
      respond(Text("second"));
      return true;
    }
    if (req.path == "/later") {
      // Answered from another thread, after a while.
      taken_later = true;
      later.emplace_back([this, respond] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        answered_later = true;
        respond(Text("later"));
      });
      return true;
    }
    return false;
  }
  Reply Handle(const Request& req) override {
    if (req.path == "/throw") throw std::runtime_error("boom");
    if (req.path == "/big") {
      big_in_handler = true;
      for (int i = 0; i < 1000 && hold_big; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return Text("got " + std::to_string(req.body.size()));
    }
    return Text("handled " + req.method + " " + req.path);
  }
  Reply Error(int status, std::string_view message, std::string_view /*path*/) override {
    if (errors_fail) throw std::bad_alloc();  // out of memory even for the answer
    Reply r = Text("E" + std::to_string(status) + ": " + std::string(message));
    r.status = status;
    return r;
  }
  static Reply Text(std::string body) {
    Reply r;
    r.content_type = "text/plain";
    r.body = std::move(body);
    return r;
  }
  ~ToyService() override {
    for (auto& t : later) t.join();
  }

  std::vector<std::thread> later;  // Serve runs on I/O threads one at a time per connection;
                                   // the tests below use one connection for /later
  std::atomic<bool> taken_later{false}, answered_later{false};
  std::atomic<bool> hold_big{false};  // Handle keeps /big (up to 10 s), its body in memory
  std::atomic<bool> big_in_handler{false};
  std::atomic<bool> errors_fail{false};
};

// Waits up to 30 s for `flag`.
bool WaitFor(const std::atomic<bool>& flag) {
  for (int i = 0; i < 3000 && !flag; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return flag;
}

struct Served {
  explicit Served(Options o = {}) {
    o.port = 0;
    server = std::make_unique<Server>(service, o);
    EXPECT_TRUE(server->Start().ok());
    run = std::thread([this] { (void)server->Run(); });
  }
  ~Served() { Stop(); }
  void Stop() {
    server->Stop();
    if (run.joinable()) run.join();
  }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(10);
    return c;
  }
  ToyService service;
  std::unique_ptr<Server> server;
  std::thread run;
};

TEST(HttpServer, ServesQuickLaterAndHandledRequests) {
  Served s;
  auto c = s.Client();
  auto r = c.Get("/quick?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "quick x=1");
  r = c.Get("/later");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "later");
  r = c.Post("/a%20b", "", "text/plain");  // the path is decoded
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "handled POST /a b");
  // Over Beast's own default limit (1 MiB): the service's limit holds.
  r = c.Post("/big", std::string(1536 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "got 1572864");
  r = c.Post("/big", std::string((2 << 20) + 1, 'x'), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, "E413: the body is over the limit of 2097152 bytes for this request");
  const Stats st = s.server->stats();
  EXPECT_EQ(st.answered[200], 4u);
  EXPECT_EQ(st.answered[413], 1u);
}

TEST(HttpServer, RefusalsUseTheServicesErrorFormat) {
  Served s;
  auto c = s.Client();
  auto r = c.Post("/small", std::string(17, 'x'), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, "E413: the body is over the limit of 16 bytes for this request");
  r = s.Client().Get("/throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "E500: internal error");
  r = s.Client().Get("/%zz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body.rfind("E400: ", 0), 0u) << r->body;
  const Stats st = s.server->stats();
  EXPECT_EQ(st.answered[413] + st.answered[500] + st.answered[400], 3u);
}

// Sends `request` on a new connection and returns everything the server sends until it closes
// (at most 10 s).
std::string Exchange(int port, const std::string& request) {
  int fd = testing::ConnectLoopback(port);
  if (fd < 0) return "(refused)";
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
  ::close(fd);
  return got;
}

TEST(HttpServer, ConnectionLimitsAnswerInTheServicesFormat) {
  Options o;
  o.max_header_bytes = 1024;
  o.read_timeout_s = 1;
  Served s(o);
  int port = s.server->port();
  std::string got = Exchange(port, "GET /quick HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') +
                                       "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 431 ", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\nE431: "), std::string::npos) << got;
  got = Exchange(port, "GET /quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(got.find("quick"), std::string::npos) << "a small header still passes: " << got;

  int fd = testing::ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  bool ended = false;
  got = testing::Trickle(fd, 'G', 40, &ended);  // a byte every 100 ms: the 1 s deadline passes
  ::close(fd);
  EXPECT_TRUE(ended);
  EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\nE408: "), std::string::npos) << got;

  const Stats st = s.server->stats();
  EXPECT_EQ(st.answered[431], 1u);
  EXPECT_EQ(st.answered[408], 1u);

  // Two connections open (sending nothing yet, within the default 10 s deadline); a third is
  // answered 503 and closed.
  Options two;
  two.max_connections = 2;
  Served busy(two);
  port = busy.server->port();
  int a = testing::ConnectLoopback(port), b = testing::ConnectLoopback(port);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  for (int i = 0; i < 500 && busy.server->stats().connections < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  got = Exchange(port, "GET /quick HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 503 ", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\nE503: "), std::string::npos) << got;
  ::close(a);
  ::close(b);
  EXPECT_EQ(busy.server->stats().refused_connections, 1u);
}

TEST(HttpServer, ARespondIsAnsweredOnce) {
  Served s;
  auto r = s.Client().Get("/dropped");  // every copy dropped without a call: 500
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "E500: the request was dropped without an answer");
  r = s.Client().Get("/twice");  // the first call of any copy answers; the second does nothing
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "first");
  r = s.Client().Get("/quick");  // and the server goes on
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "quick ");
}

// Out of memory even for the 500 (the service's Error throws std::bad_alloc): the request's
// connection is closed unanswered, on an I/O thread and on a handler thread, and the server goes on
// with every other connection and stops cleanly. (The exception ended the program before.)
TEST(HttpServer, OutOfMemoryForAnAnswerDropsOnlyItsConnection) {
  Served s;
  auto keep = s.Client();  // a keep-alive connection opened before, used after
  keep.set_keep_alive(true);
  ASSERT_TRUE(keep.Get("/quick?before"));
  s.service.errors_fail = true;
  for (const char* path : {"/oom", "/throw", "/dropped"}) {  // I/O thread, handler thread, Pending
    const std::string got =
        Exchange(s.server->port(), std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(got, "") << path;  // closed without an answer
  }
  s.service.errors_fail = false;
  auto r = keep.Get("/quick?after");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "quick after");
  r = s.Client().Get("/throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = s.Client().Get("/oom");  // Serve's exception, answered 500 when Error can answer
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  s.Stop();  // Run returns: no answer is counted as still to come
}

// Large bodies in memory at once share Options::max_large_bodies: while one 1.5 MiB body waits
// for its handler, a second is answered 503 with Retry-After; once the first is answered, the
// budget is back.
TEST(HttpServer, LargeBodiesShareABudget) {
  Options o;
  o.max_large_bodies = 2 << 20;
  Served s(o);
  s.service.hold_big = true;
  const std::string body(1536 * 1024, 'x');
  std::thread first([&] {
    auto r = s.Client().Post("/big", body, "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  });
  EXPECT_TRUE(WaitFor(s.service.big_in_handler));
  auto r = s.Client().Post("/big", body, "text/plain");
  s.service.hold_big = false;
  first.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  r = s.Client().Post("/big", body, "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, RunWaitsForAnswersGivenLater) {
  Served s;
  std::thread client([&] {
    auto c = s.Client();
    c.set_read_timeout(1);  // the answer is dropped with the connection when the server stops
    (void)c.Get("/later");
  });
  EXPECT_TRUE(WaitFor(s.service.taken_later));
  s.Stop();  // returns once Run did: after the answer given later
  EXPECT_TRUE(s.service.answered_later);
  client.join();
}

TEST(HttpServer, StartFailsOnBadOptions) {
  ToyService service;
  Options o;
  o.host = "not an address";
  EXPECT_EQ(Server(service, o).Start().code(), Code::kInvalidArgument);
  o.host = "127.0.0.1";
  o.port = 0;
  o.tls_cert = "/nonexistent/cert.pem";
  EXPECT_EQ(Server(service, o).Start().code(), Code::kInvalidArgument);  // the key is missing
  o.tls_key = "/nonexistent/key.pem";
  EXPECT_EQ(Server(service, o).Start().code(), Code::kInvalidArgument);  // unreadable
}

}  // namespace
}  // namespace accord::http

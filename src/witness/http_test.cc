// The witness over HTTP on 127.0.0.1: the server, and the client a log uses to reach it.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "core/limits.h"
#include "http/test_util.h"
#include "witness/client.h"
#include "witness/server.h"
#include "witness/test_util.h"

namespace accord::witness {
namespace {

using ::testing::HasSubstr;
using testing::MemoryLog;

constexpr std::chrono::milliseconds kTimeout{5000};

class WitnessHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    witness_ = Witness::Open(testing::Options(dir_, key_, {&log_})).value();
    Serve(ServerOptions{});
  }
  // (Re)starts the server on the same witness with `o`.
  void Serve(const ServerOptions& o) {
    StopServing();
    server_ = std::make_unique<Server>(*witness_, o);
    ASSERT_TRUE(server_->Start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = std::thread([this] { (void)server_->Run(); });
  }
  void StopServing() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
    server_.reset();
  }
  void TearDown() override {
    StopServing();
    witness_.reset();
    EXPECT_TRUE(fs::RemoveTree(dir_).ok());
  }
  CosignResult Cosign(uint64_t old_size, uint64_t size, const note::Verifier* as = nullptr) {
    std::vector<tlog::Hash> proof = log_.Proof(old_size, size);
    return RequestCosignature(url_, as ? *as : key_.verifier(), old_size, proof, log_.Checkpoint(size),
                              kTimeout);
  }

  std::string dir_, url_;
  note::Signer key_ = testing::WitnessKey();
  MemoryLog log_;
  std::unique_ptr<Witness> witness_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(WitnessHttpTest, ClientGetsAVerifiedCosignature) {
  CosignResult r = Cosign(0, 5);
  ASSERT_TRUE(r.ok()) << r.status.ToString();
  EXPECT_EQ(r.http_status, 200);
  ASSERT_EQ(r.cosignatures.size(), 1u);
  EXPECT_EQ(r.timestamps[0], 1700000000u);
  // The cosigned checkpoint, as the log publishes it, opens with both keys.
  auto published = AddCosignatures(log_.Checkpoint(5), r.cosignatures);
  ASSERT_TRUE(published.ok());
  std::vector<note::Verifier> keys = {log_.key().verifier(), key_.verifier()};
  auto cp = tlog::OpenCheckpoint(*published, keys[0], std::span(keys).subspan(1));
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  ASSERT_EQ(cp->cosignatures.size(), 1u);
  EXPECT_EQ(cp->cosignatures[0].name, "witness.example/w1");
  // Adding the same cosignature again changes nothing.
  EXPECT_EQ(AddCosignatures(*published, r.cosignatures).value(), *published);
  // A prefix URL with a trailing slash reaches the same endpoint.
  CosignResult again = RequestCosignature(url_ + "/", key_.verifier(), 5, {}, log_.Checkpoint(5), kTimeout);
  EXPECT_TRUE(again.ok()) << again.status.ToString();
}

TEST_F(WitnessHttpTest, ConflictCarriesTheWitnessSize) {
  ASSERT_TRUE(Cosign(0, 9).ok());
  CosignResult r = Cosign(5, 12);
  EXPECT_EQ(r.status.code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.http_status, 409);
  ASSERT_TRUE(r.witness_size);
  EXPECT_EQ(*r.witness_size, 9u);
  // The retry the node makes: from the size the witness has.
  EXPECT_TRUE(Cosign(*r.witness_size, 12).ok());
}

TEST_F(WitnessHttpTest, ErrorsAreTyped) {
  ASSERT_TRUE(Cosign(0, 9).ok());
  tlog::Hash forked = crypto::Sha256("fork");
  CosignResult r = RequestCosignature(url_, key_.verifier(), 9, {}, log_.Checkpoint(9, &forked), kTimeout);
  EXPECT_EQ(r.status.code(), Code::kAlreadyExists) << r.status.ToString();
  EXPECT_EQ(r.http_status, 409);
  EXPECT_FALSE(r.witness_size);
  EXPECT_THAT(r.status.message(), HasSubstr("split view"));

  MemoryLog stranger("stranger.example/log");
  r = RequestCosignature(url_, key_.verifier(), 0, {}, stranger.Checkpoint(3), kTimeout);
  EXPECT_EQ(r.status.code(), Code::kNotFound);
  EXPECT_EQ(r.http_status, 404);

  MemoryLog impostor(log_.origin());
  r = RequestCosignature(url_, key_.verifier(), 9, {}, impostor.Checkpoint(12), kTimeout);
  EXPECT_EQ(r.status.code(), Code::kPermissionDenied);
  EXPECT_EQ(r.http_status, 403);

  std::vector<tlog::Hash> proof = log_.Proof(9, 12);
  proof[0][0] ^= 1;
  r = RequestCosignature(url_, key_.verifier(), 9, proof, log_.Checkpoint(12), kTimeout);
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(r.http_status, 422);

  r = RequestCosignature(url_, key_.verifier(), 13, {}, log_.Checkpoint(12), kTimeout);
  EXPECT_EQ(r.http_status, 400);
}

TEST_F(WitnessHttpTest, CosignatureByAnotherKeyIsNotAccepted) {
  note::Signer stranger = testing::WitnessKey("witness.example/w1");  // same name, other key
  note::Verifier v = stranger.verifier();
  CosignResult r = Cosign(0, 5, &v);
  EXPECT_EQ(r.status.code(), Code::kPermissionDenied) << r.status.ToString();
  EXPECT_EQ(r.http_status, 200);
  EXPECT_TRUE(r.cosignatures.empty());
}

// What RequestCosignature makes of `answer` (a 200) from a fake witness, for the checkpoint of size 5.
CosignResult AskFake(MemoryLog& log, const note::Signer& key, const std::string& answer) {
  httplib::Server fake;
  fake.Post("/add-checkpoint",
            [&](const httplib::Request&, httplib::Response& res) { res.set_content(answer, "text/plain"); });
  int port = fake.bind_to_any_port("127.0.0.1");
  if (port <= 0) return CosignResult{Internal("no port"), 0, {}, {}, {}};
  std::thread serving([&] { fake.listen_after_bind(); });
  CosignResult r = RequestCosignature("http://127.0.0.1:" + std::to_string(port), key.verifier(), 0,
                                      log.Proof(0, 5), log.Checkpoint(5), kTimeout);
  fake.stop();
  serving.join();
  return r;
}

// A witness answering with more than signature lines: a blank line first moves where the note's
// text ends, so a cosignature over the checkpoint with an empty line more would verify against
// that text. The client refuses the answer; it must not reach the published checkpoint, where
// every client trusting this witness would refuse the whole note (a failing known signature).
TEST_F(WitnessHttpTest, AnAnswerThatIsNotSignatureLinesIsRefused) {
  const std::string checkpoint = log_.Checkpoint(5);
  const std::string text = note::ParseNote(checkpoint).value().text;
  const std::string other = note::FormatSignatureLine(note::Cosign(key_, text + "\n", 1700000000).value());
  const std::string good = note::FormatSignatureLine(note::Cosign(key_, text, 1700000000).value());
  for (const std::string& answer : {"\n" + other, "junk\n\n" + other, good + "\n" + other, good + "junk\n",
                                    good.substr(0, good.size() - 1), std::string()}) {
    CosignResult r = AskFake(log_, key_, answer);
    EXPECT_EQ(r.status.code(), Code::kPermissionDenied) << Printable(answer) << ": " << r.status.ToString();
    EXPECT_EQ(r.http_status, 200);
    EXPECT_TRUE(r.cosignatures.empty()) << Printable(answer);
  }
  // The same fake with the one line a witness sends is taken (the test's fake is not the fault).
  CosignResult r = AskFake(log_, key_, good);
  EXPECT_TRUE(r.ok()) << r.status.ToString();
  ASSERT_EQ(r.cosignatures.size(), 1u);
  auto published = AddCosignatures(checkpoint, r.cosignatures);
  ASSERT_TRUE(published.ok());
  note::Verifier w = key_.verifier();
  EXPECT_TRUE(note::Open(*published, std::span<const note::Verifier>(&w, 1)).ok());
}

// cpp-httplib's timeouts bound each read; a witness that sends a byte of its answer now and then
// (here every 100 ms, for up to a minute) is cut off once the request's timeout (3 s) has passed.
TEST_F(WitnessHttpTest, AWitnessThatTricklesItsAnswerIsCutOffAtTheTimeout) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  timeval tv{10, 0};  // accept and recv give up after 10 s: the test cannot hang on them
  ::setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::atomic<bool> done{false};
  std::thread fake([&] {
    int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    (void)::recv(c, buf, sizeof(buf), 0);
    std::string_view head = "HTTP/1.1 200 OK\r\nX-Slow: ";
    bool open = ::send(c, head.data(), head.size(), MSG_NOSIGNAL) > 0;
    for (int i = 0; open && !done && i < 600; ++i) {
      open = ::send(c, "a", 1, MSG_NOSIGNAL) == 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::close(c);
  });
  CosignResult r =
      RequestCosignature("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), key_.verifier(), 0,
                         log_.Proof(0, 5), log_.Checkpoint(5), std::chrono::milliseconds(3000));
  done = true;
  fake.join();
  ::close(listener);
  EXPECT_EQ(r.status.code(), Code::kUnavailable) << r.status.ToString();
  EXPECT_THAT(r.status.message(), HasSubstr("no whole answer within 3000 ms"));
  EXPECT_TRUE(r.cosignatures.empty());
}

TEST_F(WitnessHttpTest, NoWitnessIsUnavailable) {
  CosignResult r =
      RequestCosignature("http://127.0.0.1:1", key_.verifier(), 0, {}, log_.Checkpoint(5), kTimeout);
  EXPECT_EQ(r.status.code(), Code::kUnavailable) << r.status.ToString();
  EXPECT_EQ(r.http_status, 0);
  r = RequestCosignature("ftp://127.0.0.1/", key_.verifier(), 0, {}, log_.Checkpoint(5), kTimeout);
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
}

TEST_F(WitnessHttpTest, OnlyAddCheckpointIsServed) {
  httplib::Client c(url_);
  auto res = c.Get("/add-checkpoint");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  res = c.Post("/checkpoint", "x", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = c.Post("/add-checkpoint", std::string(limits::kMaxWitnessRequestSize + 1, 'a'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  res = c.Post("/add-checkpoint", log_.Request(0, 3), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = c.Post("/add-checkpoint", log_.Request(0, 4), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/x.tlog.size");
  EXPECT_EQ(res->body, "3\n");
}

TEST_F(WitnessHttpTest, ConcurrentClients) {
  // Several logs' worth of requests at once against one origin: every answer is a 200 or a 409,
  // and the witness ends at the largest size it cosigned.
  std::vector<std::string> checkpoints;
  for (uint64_t n = 1; n <= 8; ++n) checkpoints.push_back(log_.Checkpoint(n));
  std::atomic<int> ok{0}, conflict{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      CosignResult r = RequestCosignature(url_, key_.verifier(), 0, {}, checkpoints[size_t(t)], kTimeout);
      (r.ok() ? ok : r.witness_size ? conflict : other)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 7);
  EXPECT_EQ(other.load(), 0);
}

// Stalled clients, many more than the witness has threads, and each allowed 30 s to finish its
// request, do not keep a log from getting its cosignature (a thread-per-connection server with
// 2 threads kept them until their timeout).
TEST_F(WitnessHttpTest, StalledClientsDoNotBlockCosigning) {
  ServerOptions o;
  o.threads = 2;
  o.read_timeout_s = 30;
  Serve(o);
  std::vector<int> stalled;
  for (int i = 0; i < 40; ++i) {
    int fd = http::testing::ConnectLoopback(server_->port());
    ASSERT_GE(fd, 0);
    const std::string half = "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nold";
    ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), ssize_t(half.size()));
    stalled.push_back(fd);
  }
  CosignResult r = Cosign(0, 3);
  EXPECT_TRUE(r.ok()) << r.status.ToString();
  EXPECT_EQ(r.http_status, 200);
  StopServing();
  for (int fd : stalled) ::close(fd);
}

// A request sent a byte at a time, each well within any per-read timeout, is answered 408 once
// the request as a whole is late.
TEST_F(WitnessHttpTest, ATrickledRequestGets408) {
  ServerOptions o;
  o.read_timeout_s = 1;
  Serve(o);
  int fd = http::testing::ConnectLoopback(server_->port());
  ASSERT_GE(fd, 0);
  bool ended = false;
  const std::string got = http::testing::Trickle(fd, 'P', 100, &ended);  // 10 s at most
  EXPECT_TRUE(ended);
  EXPECT_THAT(got, ::testing::StartsWith("HTTP/1.1 408 "));
  ::close(fd);
}

}  // namespace
}  // namespace accord::witness

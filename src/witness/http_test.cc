// The witness over HTTP on 127.0.0.1: the server, and the client a log uses to reach it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

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

#include "node/node.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "core/fs.h"
#include "crypto/sha256.h"
#include "http/test_util.h"
#include "node/http_server.h"
#include "node/test_util.h"
#include "statement/statement.h"
#include "tlog/log.h"
#include "witness/server.h"
#include "witness/witness.h"

namespace accord::node {
namespace {

using json::Json;
using statement::Kind;

using testing::Key;
using testing::Signed;
std::string B64(const crypto::Ed25519PublicKey& k) {
  return testing::KeyB64(k);
}

std::string Registration(const crypto::Ed25519KeyPair& k, std::string name = "Example CERT") {
  return Signed(
      Kind::kRegistration, k,
      {{"name", name}, {"country", "DE"}, {"contact", "cert@example.org"}, {"key", B64(k.public_key)}});
}
std::string HashSet(const crypto::Ed25519KeyPair& k, std::string digest, std::string name = "Test.Sig") {
  return Signed(
      Kind::kHashSet, k,
      {{"entries", Json::array({{{"hash", "sha256"}, {"digest", digest}, {"name", name}, {"size", 68}}})}});
}
std::string Yara(const crypto::Ed25519KeyPair& k, std::string rule, std::string source = "") {
  if (source.empty()) source = "rule " + rule + " { strings: $a = \"evil\" condition: $a }";
  return Signed(Kind::kYaraRule, k, {{"source", source}, {"rules", Json::array({rule})}});
}

const std::string kEicar = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("accord-node-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Reopen("test.example/log");
  }
  void TearDown() override {
    node_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(const std::string& origin = "") {
    node_.reset();
    auto n = Node::Open(dir_.string(), origin);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    node_ = std::move(n).value();
  }
  std::filesystem::path dir_;
  std::unique_ptr<Node> node_;
};

TEST_F(NodeTest, AcceptsRegisteredAuthorsAndAnswersResubmissionsWithTheSameIndex) {
  auto a = Key(1);
  auto r = node_->Submit(Registration(a));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->index, 0u);
  EXPECT_FALSE(r->duplicate);
  std::string hs = HashSet(a, kEicar);
  auto h = node_->Submit(hs);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->index, 1u);
  auto again = node_->Submit(hs);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->index, 1u);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->id, h->id);
  // Durable before the answer; the checkpoint follows.
  auto cp = node_->Sync();
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->checkpoint.size, 2u);
  auto found = node_->store().FindDigest(kEicar, 10);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].index, 1u);
  EXPECT_EQ((*found)[0].leaf, hs);
  auto ps = node_->store().Participants();
  ASSERT_TRUE(ps.ok());
  ASSERT_EQ(ps->size(), 1u);
  EXPECT_EQ((*ps)[0].name, "Example CERT");
}

TEST_F(NodeTest, RefusesWithoutLoggingAnything) {
  auto a = Key(1), stranger = Key(2);
  ASSERT_TRUE(node_->Submit(Registration(a)).ok());
  // Unknown author.
  auto u = node_->Submit(HashSet(stranger, kEicar));
  EXPECT_EQ(u.status().code(), Code::kPermissionDenied) << u.status().ToString();
  // A bad signature: one byte of the body changed after signing.
  std::string hs = HashSet(a, kEicar);
  std::string forged = hs;
  forged.replace(forged.find("Test.Sig"), 8, "Test.Sih");
  auto f = node_->Submit(forged);
  EXPECT_EQ(f.status().code(), Code::kPermissionDenied) << f.status().ToString();
  EXPECT_EQ(HttpStatusFor(f.status()), 403);
  // Not JSON; not canonical.
  EXPECT_EQ(HttpStatusFor(node_->Submit("{not json").status()), 400);
  EXPECT_EQ(HttpStatusFor(node_->Submit(" " + hs).status()), 400);
  // A rule that does not compile: 422 with the line.
  statement::Statement s;
  s.kind = Kind::kYaraRule;
  s.author = a.public_key;
  s.created = "2026-11-28T10:00:00Z";
  s.body = {{"source", "rule Bad {\n condition: $nope\n}"}, {"rules", Json::array({"Bad"})}};
  auto bad = statement::Sign(s, a);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(HttpStatusFor(bad.status()), 422) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("body.source:3: undefined string \"$nope\""), std::string::npos)
      << bad.status().ToString();
  // A second registration of the same key.
  auto twice = node_->Submit(Registration(a, "Other name"));
  EXPECT_EQ(twice.status().code(), Code::kAlreadyExists) << twice.status().ToString();
  EXPECT_EQ(node_->Sync()->checkpoint.size, 1u);
  EXPECT_EQ(*node_->store().Size(), 1u);
}

TEST_F(NodeTest, RuleNamesAreUniquePerAuthorUntilRetracted) {
  auto a = Key(1), b = Key(2);
  ASSERT_TRUE(node_->Submit(Registration(a)).ok());
  ASSERT_TRUE(node_->Submit(Registration(b, "B")).ok());
  auto first = node_->Submit(Yara(a, "Dropper"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto same = node_->Submit(Yara(a, "Dropper", "rule Dropper { condition: true }"));
  EXPECT_EQ(same.status().code(), Code::kAlreadyExists);
  EXPECT_TRUE(node_->Submit(Yara(b, "Dropper")).ok());  // another author's namespace
  // Retracting frees the name; the registry survives a restart.
  ASSERT_TRUE(node_->Submit(Signed(Kind::kRetraction, a, {{"index", first->index}})).ok());
  Reopen();
  EXPECT_TRUE(node_->Submit(Yara(a, "Dropper", "rule Dropper { condition: true }")).ok());
  auto rec = node_->store().Get(first->index);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_TRUE((*rec)->retracted);
  // Retracting another author's statement is refused.
  auto other = node_->Submit(Signed(Kind::kRetraction, b, {{"index", first->index}}));
  EXPECT_FALSE(other.ok());
}

TEST_F(NodeTest, RetractedKeyCanNoLongerPublish) {
  auto a = Key(1);
  auto reg = node_->Submit(Registration(a));
  ASSERT_TRUE(reg.ok());
  ASSERT_TRUE(
      node_->Submit(Signed(Kind::kRetraction, a, {{"index", reg->index}, {"reason", "key lost"}})).ok());
  auto after = node_->Submit(HashSet(a, kEicar));
  EXPECT_EQ(after.status().code(), Code::kPermissionDenied) << after.status().ToString();
  Reopen();
  EXPECT_EQ(node_->Submit(HashSet(a, kEicar)).status().code(), Code::kPermissionDenied);
}

// A statement is retracted once: a second retraction (other bytes: another reason or time) would
// revoke the same STIX objects again. Refused (409) and not logged, whether the first is in the
// same round, indexed, or read back from the index after a restart.
TEST_F(NodeTest, ASecondRetractionOfTheSameStatementIsRefused) {
  auto a = Key(1);
  ASSERT_TRUE(node_->Submit(Registration(a)).ok());
  auto hs = node_->Submit(HashSet(a, kEicar));
  ASSERT_TRUE(hs.ok()) << hs.status().ToString();
  auto retract = [&](std::string reason, std::string created = "2026-11-28T10:00:00Z") {
    return Signed(Kind::kRetraction, a, {{"index", hs->index}, {"reason", reason}}, created);
  };
  const std::string first = retract("superseded"), second = retract("superseded, again");
  std::vector<ByteView> round = {first, second};
  std::vector<Result<Accepted>> both = node_->SubmitMany(round);
  ASSERT_EQ(both.size(), 2u);
  ASSERT_TRUE(both[0].ok()) << both[0].status().ToString();
  EXPECT_EQ(both[1].status().code(), Code::kAlreadyExists) << both[1].status().ToString();
  EXPECT_EQ(HttpStatusFor(both[1].status()), 409);
  EXPECT_NE(both[1].status().message().find("already retracted"), std::string::npos);
  auto later = node_->Submit(retract("superseded", "2026-11-28T11:00:00Z"));
  EXPECT_EQ(later.status().code(), Code::kAlreadyExists) << later.status().ToString();
  Reopen();
  EXPECT_EQ(node_->Submit(retract("once more")).status().code(), Code::kAlreadyExists);
  // The first one again is the same statement: answered with its index, nothing new.
  auto again = node_->Submit(first);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(*node_->store().Size(), 3u);
}

TEST_F(NodeTest, ReindexesFromTheLogWhenTheIndexIsLost) {
  auto a = Key(1);
  ASSERT_TRUE(node_->Submit(Registration(a)).ok());
  std::string hs = HashSet(a, kEicar);
  ASSERT_TRUE(node_->Submit(hs).ok());
  node_.reset();
  std::filesystem::remove(dir_ / "index.sqlite");
  std::filesystem::remove(dir_ / "index.sqlite-wal");
  std::filesystem::remove(dir_ / "index.sqlite-shm");
  Reopen();
  EXPECT_EQ(*node_->store().Size(), 2u);
  auto again = node_->Submit(hs);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->index, 1u);
  EXPECT_EQ(node_->Submit(Registration(a)).value().duplicate, true);
  EXPECT_EQ(node_->Submit(Registration(a, "again")).status().code(), Code::kAlreadyExists);
}

TEST_F(NodeTest, ManyConcurrentSubmittersGetDistinctConsecutiveIndices) {
  auto a = Key(1);
  ASSERT_TRUE(node_->Submit(Registration(a)).ok());
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto h = crypto::Sha256(std::to_string(t * kEach + i));
        std::string digest = HexEncode(ByteView(reinterpret_cast<const char*>(h.data()), 32));
        auto r = node_->Submit(HashSet(a, digest));
        if (r.ok()) got[t].push_back(r->index);
      }
    });
  for (auto& th : threads) th.join();
  std::vector<uint64_t> all;
  for (auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), size_t(kThreads * kEach));
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  EXPECT_EQ(node_->Sync()->checkpoint.size, all.size() + 1);
  // The log directory verifies as an auditor checks it.
  auto report = tlog::VerifyLog(node_->log_dir(), node_->verifier());
  EXPECT_TRUE(report.ok()) << report.status().ToString();
}

TEST_F(NodeTest, OriginMustMatch) {
  node_.reset();
  auto n = Node::Open(dir_.string(), "other.example/log");
  EXPECT_EQ(n.status().code(), Code::kFailedPrecondition);
  auto fresh = Node::Open((dir_ / "sub").string(), "");
  EXPECT_EQ(fresh.status().code(), Code::kInvalidArgument);
}

// ---- HTTP

class HttpTest : public NodeTest {
 protected:
  void SetUp() override {
    NodeTest::SetUp();
    HttpOptions o;
    o.port = 0;
    o.threads = 16;
    server_ = std::make_unique<HttpServer>(*node_, o);
    ASSERT_TRUE(server_->Start().ok());
    thread_ = std::thread([this] { (void)server_->Run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
    server_.reset();
    NodeTest::TearDown();
  }
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpTest, SubmissionAnswersAndErrors) {
  auto a = Key(1);
  auto r = client_->Post("/statements", Registration(a), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  auto body = Json::parse(r->body);
  EXPECT_EQ(body["index"], 0);
  r = client_->Post("/statements", Registration(a), "application/json");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["duplicate"], true);
  r = client_->Post("/statements", Registration(a), "text/plain");
  EXPECT_EQ(r->status, 415);
  EXPECT_NE(r->body.find("application/json"), std::string::npos);
  r = client_->Post("/statements", std::string(70000, 'x'), "application/json");
  EXPECT_EQ(r->status, 413);
  r = client_->Post("/statements", "{\"a\":1}", "application/json");
  EXPECT_EQ(r->status, 400);
  // Nested past the parser's depth: malformed (400), not too large (413).
  r = client_->Post("/statements", std::string(40, '[') + std::string(40, ']'), "application/json");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(Json::parse(r->body).contains("error"));
  r = client_->Post("/statements", HashSet(Key(9), kEicar), "application/json");
  EXPECT_EQ(r->status, 403);
  // NDJSON: each line on its own.
  std::string batch =
      HashSet(a, kEicar) + "\n" + HashSet(Key(9), kEicar) + "\n" + HashSet(a, kEicar, "Other.Sig") + "\n";
  r = client_->Post("/statements", batch, "application/x-ndjson");
  ASSERT_EQ(r->status, 200);
  std::vector<Json> lines;
  for (std::string_view rest = r->body; !rest.empty();) {
    size_t nl = rest.find('\n');
    lines.push_back(Json::parse(rest.substr(0, nl)));
    rest = rest.substr(nl + 1);
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["index"], 1);
  EXPECT_EQ(lines[1]["status"], 403);
  EXPECT_EQ(lines[2]["index"], 2);
  EXPECT_EQ(node_->Sync()->checkpoint.size, 3u);
  // CRLF line ends are NDJSON too; a body of more lines than the limit is 413 before anything
  // is parsed, however short its lines.
  r = client_->Post("/statements", HashSet(a, kEicar, "Crlf.Sig") + "\r\n", "application/x-ndjson");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["index"], 3) << r->body;
  std::string many;
  for (int i = 0; i < 1001; ++i) many += "x\n";
  r = client_->Post("/statements", many, "application/x-ndjson");
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("over the limit of 1000"), std::string::npos) << r->body;
  // A batch body over 1 MiB (Beast's own default limit) is read whole: each line gets its answer.
  std::string big;
  for (int i = 0; i < 1000; ++i) big += std::string(1200, 'x') + "\n";
  r = client_->Post("/statements", big, "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body.substr(0, 200);
  EXPECT_EQ(std::count(r->body.begin(), r->body.end(), '\n'), 1000) << r->body.substr(0, 200);
}

// A round of statements logged at one time gets times 1 µs apart (each later than the one before,
// for TAXII's added_after): a batch of 1,000 ends about 1 ms ahead of the clock, not 1 s as it did
// when the time added was kept in milliseconds.
TEST_F(HttpTest, TimesAddedToABatchKeepToTheClock) {
  auto a = Key(1);
  ASSERT_EQ(client_->Post("/statements", Registration(a), "application/json")->status, 201);
  std::string batch;
  for (int i = 0; i < 1000; ++i)
    batch += HashSet(a, HexEncode(ByteView(
                            reinterpret_cast<const char*>(crypto::Sha256(std::to_string(i)).data()), 32))) +
             "\n";
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = now_us();
  auto r = client_->Post("/statements", batch, "application/x-ndjson");
  const int64_t after = now_us();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->body.find("error"), std::string::npos) << r->body.substr(0, 300);
  auto added = [&](int index) -> int64_t {
    auto g = client_->Get("/statements/" + std::to_string(index));
    EXPECT_TRUE(g && g->status == 200);
    return g ? Json::parse(g->body).value("added_us", int64_t{0}) : 0;
  };
  const int64_t first = added(1), last = added(1000);
  EXPECT_GE(first, before);
  EXPECT_LT(first, last);
  EXPECT_EQ(added(2), first + 1);
  EXPECT_LE(last, after + 100000) << "the batch's last time is " << (last - after)
                                  << " µs ahead of the clock";
}

TEST_F(HttpTest, ReadPathAndLookups) {
  auto a = Key(1);
  ASSERT_EQ(client_->Post("/statements", Registration(a), "application/json")->status, 201);
  std::string hs = HashSet(a, kEicar);
  ASSERT_EQ(client_->Post("/statements", hs, "application/json")->status, 201);
  ASSERT_TRUE(node_->Sync().ok());
  auto cp = client_->Get("/checkpoint");
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->status, 200);
  EXPECT_EQ(cp->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(cp->body, node_->checkpoint().raw);
  auto tile = client_->Get("/tile/0/000.p/2");
  ASSERT_TRUE(tile);
  EXPECT_EQ(tile->status, 200);
  EXPECT_EQ(tile->body.size(), 64u);
  EXPECT_EQ(tile->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_NE(tile->get_header_value("Cache-Control").find("immutable"), std::string::npos);
  auto bundle = client_->Get("/tile/entries/000.p/2");
  ASSERT_TRUE(bundle);
  EXPECT_EQ(bundle->status, 200);
  EXPECT_NE(bundle->body.find(hs), std::string::npos);
  EXPECT_EQ(client_->Get("/tile/0/001")->status, 404);
  EXPECT_EQ(client_->Get("/tile/../node.key")->status, 404);
  EXPECT_EQ(client_->Get("/tile/0/000.p/2/../../../../node.key")->status, 404);
  EXPECT_EQ(client_->Get("/.accord/config")->status, 404);

  auto byhash = client_->Get("/lookup/hash/" + kEicar);
  ASSERT_EQ(byhash->status, 200);
  auto j = Json::parse(byhash->body);
  ASSERT_EQ(j["statements"].size(), 1u);
  EXPECT_EQ(j["statements"][0]["index"], 1);
  EXPECT_EQ(j["statements"][0]["kind"], "hash-set");
  EXPECT_EQ(client_->Get("/lookup/hash/xyz")->status, 400);
  std::string key = B64(a.public_key);
  for (char& c : key) c = c == '+' ? '-' : c == '/' ? '_' : c;
  auto byauthor = client_->Get("/lookup/author/" + key);
  ASSERT_EQ(byauthor->status, 200);
  EXPECT_EQ(Json::parse(byauthor->body)["statements"].size(), 2u);
  auto st = client_->Get("/statements/1");
  ASSERT_EQ(st->status, 200);
  EXPECT_EQ(Json::parse(st->body)["statement"].dump(), Json::parse(hs).dump());
  std::string id = Json::parse(st->body)["id"];
  EXPECT_EQ(client_->Get("/statements/id/" + id)->status, 200);
  EXPECT_EQ(client_->Get("/statements/7")->status, 404);
  EXPECT_EQ(client_->Get("/statements/01")->status, 400);
  auto ps = client_->Get("/participants");
  ASSERT_EQ(ps->status, 200);
  EXPECT_EQ(Json::parse(ps->body)["participants"][0]["country"], "DE");
  auto m = client_->Get("/metrics");
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("accord_statements_accepted_total 2"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("accord_log_size 2"), std::string::npos);
}

// A statement signed by hand, bypassing Sign's checks: what a careless or hostile client sends.
std::string HandSigned(const crypto::Ed25519KeyPair& k, const std::string& kind, Json body,
                       const std::string& tlp = "clear") {
  Json st = {{"accord", "statement/v1"},
             {"author", B64(k.public_key)},
             {"body", std::move(body)},
             {"created", "2026-11-28T10:00:00Z"},
             {"kind", kind},
             {"tlp", tlp}};
  std::string canon = *json::Serialize(st);
  auto sig = crypto::Ed25519Sign(k, std::string(statement::kSignatureContext) + canon);
  Json env = {
      {"signature",
       {{"alg", "ed25519"}, {"sig", Base64Encode(ByteView(reinterpret_cast<const char*>(sig.data()), 64))}}},
      {"statement", st}};
  return *json::Serialize(env);
}

TEST_F(HttpTest, RuleThatDoesNotCompileIs422WithTheLine) {
  auto a = Key(1);
  ASSERT_EQ(client_->Post("/statements", Registration(a), "application/json")->status, 201);
  auto r = client_->Post("/statements",
                         HandSigned(a, "yara-rule",
                                    {{"source", "rule Bad {\n  strings: $a = \"x\"\n  condition: $b\n}"},
                                     {"rules", Json::array({"Bad"})}}),
                         "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_NE(r->body.find("body.source:"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("$b"), std::string::npos) << r->body;
  // Over the TLP this log accepts.
  Json body = {
      {"entries", Json::array({{{"hash", "sha256"}, {"digest", kEicar}, {"name", "X"}, {"size", 1}}})}};
  std::string amber = HandSigned(a, "hash-set", body, "amber");
  r = client_->Post("/statements", amber, "application/json");
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_NE(r->body.find("clear"), std::string::npos) << r->body;
  EXPECT_EQ(node_->Sync()->checkpoint.size, 1u);
}

// A node and its HTTP server in a directory of their own, served from a thread until destroyed.
struct ServedNode {
  explicit ServedNode(const std::string& name, HttpOptions o, bool run = true, const NodeOptions& no = {},
                      HttpHandler taxii = {}) {
    dir = std::filesystem::temp_directory_path() / ("accord-node-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    auto opened = Node::Open(dir.string(), name + ".example/log", no);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    node = std::move(opened).value();
    o.port = 0;
    server = std::make_unique<HttpServer>(*node, o);
    if (taxii) server->SetTaxiiHandler(std::move(taxii));
    EXPECT_TRUE(server->Start().ok());
    if (run) thread = std::thread([this] { (void)server->Run(); });
  }
  ~ServedNode() {
    server->Stop();
    if (thread.joinable()) thread.join();
    server.reset();
    node.reset();
    std::filesystem::remove_all(dir);
  }
  // A raw TCP connection to the server (-1 if refused).
  int Connect() const { return http::testing::ConnectLoopback(server->port()); }
  // GET /checkpoint, waiting up to a minute for the server.
  httplib::Result Checkpoint() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(60);
    c.set_connection_timeout(60);
    return c.Get("/checkpoint");
  }

  std::filesystem::path dir;
  std::unique_ptr<Node> node;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
};

// Everything the server sends on `fd` until it closes the connection or `seconds` pass;
// `closed`: whether it closed cleanly (a FIN, not a reset, and within the time).
std::string ReadAll(int fd, int seconds, bool* closed = nullptr) {
  if (closed) *closed = false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) {
      if (closed) *closed = true;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      break;
    }
    out.append(buf, size_t(n));
  }
  return out;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

// The status code of the first answer in `raw` ("HTTP/1.1 200 OK..."), or 0.
int StatusOf(std::string_view raw) {
  if (raw.size() < 12 || raw.substr(0, 9) != "HTTP/1.1 ") return 0;
  return std::atoi(std::string(raw.substr(9, 3)).c_str());
}

// The sequencer held (NodeOptions::before_round) while max_waiting statements wait for it: a
// further SubmitAsync, and so an HTTP submission, is answered Unavailable (503, Retry-After) at
// once and logs nothing; a blocking Submit waits for room; once the sequencer goes on, the queued
// ones are logged in order and the refused one can be sent again.
TEST(NodeBusy, AFullQueueAnswersAtOnceAndLogsNothingOfWhatItRefused) {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false, held = false;
  NodeOptions no;
  no.max_waiting = 2;
  no.before_round = [&] {
    std::unique_lock lock(mu);
    held = hold;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return !hold; });  // bounded: never hangs a test
    held = false;
  };
  // Declared before the node: on a failed assertion, ~Node answers what is queued into it.
  std::vector<std::optional<Result<Accepted>>> got(3);
  ServedNode n("busy", HttpOptions{}, true, no);
  struct Release {  // destroyed before `n`: a failed assertion does not leave the sequencer held
    std::mutex& mu;
    std::condition_variable& cv;
    bool& hold;
    ~Release() {
      std::lock_guard lock(mu);
      hold = false;
      cv.notify_all();
    }
  } release{mu, cv, hold};
  auto a = Key(1);
  ASSERT_TRUE(n.node->Submit(Registration(a)).ok());
  auto digest = [](int i) {
    auto h = crypto::Sha256("busy-" + std::to_string(i));
    return HexEncode(ByteView(reinterpret_cast<const char*>(h.data()), 32));
  };
  {
    std::lock_guard lock(mu);
    hold = true;
  }
  // The first statement wakes the sequencer, which stops before taking it: 1 queued.
  auto submit = [&](int i) {
    n.node->SubmitAsync(HashSet(a, digest(i)), [&, i](Result<Accepted> r) {
      std::lock_guard lock(mu);
      got[size_t(i)] = std::move(r);
      cv.notify_all();
    });
  };
  submit(0);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return held; }));
  }
  submit(1);  // 2 queued: the limit
  submit(2);  // refused on this thread, before SubmitAsync returns
  {
    std::lock_guard lock(mu);
    EXPECT_FALSE(got[0].has_value());
    EXPECT_FALSE(got[1].has_value());
    ASSERT_TRUE(got[2].has_value());
    EXPECT_EQ(got[2]->status().code(), Code::kUnavailable);
    EXPECT_NE(got[2]->status().message().find("busy"), std::string::npos) << got[2]->status().ToString();
  }
  // Over HTTP: 503 with Retry-After, at once.
  httplib::Client c("127.0.0.1", n.server->port());
  c.set_read_timeout(30);
  auto r = c.Post("/statements", HashSet(a, digest(3)), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_NE(r->body.find("busy"), std::string::npos) << r->body;
  // A YARA rule (compiled on a handler thread, not the I/O thread) is answered the same way.
  r = c.Post("/statements", Yara(a, "Busy_Rule"), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  // A blocking Submit waits for room instead.
  auto blocking = std::async(std::launch::async, [&] { return n.node->Submit(HashSet(a, digest(4))); });
  EXPECT_EQ(blocking.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  {
    std::lock_guard lock(mu);
    hold = false;
  }
  cv.notify_all();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return got[0] && got[1]; }));
    ASSERT_TRUE(got[0]->ok()) << got[0]->status().ToString();
    ASSERT_TRUE(got[1]->ok()) << got[1]->status().ToString();
    EXPECT_EQ((*got[0])->index, 1u);
    EXPECT_EQ((*got[1])->index, 2u);
  }
  auto fourth = blocking.get();
  ASSERT_TRUE(fourth.ok()) << fourth.status().ToString();
  EXPECT_EQ(fourth->index, 3u);
  // Nothing of the refused ones is in the log or the index; sent again, they are accepted.
  EXPECT_EQ(n.node->Sync()->checkpoint.size, 4u);
  for (int i : {2, 3}) {
    auto found = n.node->store().FindDigest(digest(i), 10);
    ASSERT_TRUE(found.ok());
    EXPECT_TRUE(found->empty()) << i;
  }
  auto again = n.node->Submit(HashSet(a, digest(2)));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->index, 4u);
  EXPECT_FALSE(again->duplicate);
  r = c.Post("/statements", HashSet(a, digest(3)), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(Json::parse(r->body)["index"], 5);
}

// Two witnesses in this process, quorum 1: one with a clock on time, one whose clock is a day
// behind. The node publishes the checkpoint with the first's cosignature only; the second's,
// dated too far from the node's clock, is that witness failing.
TEST(NodeWitnesses, ACosignatureDatedFarFromTheNodesClockIsNotPublished) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("accord-node-wclock-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  { ASSERT_TRUE(Node::Open((dir / "node").string(), "wclock.example/log").ok()); }  // creates the key
  auto vkey = fs::ReadFile((dir / "node" / "node.vkey").string(), 4096);
  ASSERT_TRUE(vkey.ok());
  auto log_key = note::ParseVerifierKey(std::string_view(*vkey).substr(0, vkey->find('\n')));
  ASSERT_TRUE(log_key.ok()) << log_key.status().ToString();
  struct Running {
    note::Signer key;
    std::unique_ptr<witness::Witness> witness;
    std::unique_ptr<witness::Server> server;
    std::thread thread;
    ~Running() {  // also when an assertion returns early
      if (server) server->Stop();
      if (thread.joinable()) thread.join();
    }
  };
  std::vector<Running> ws(2);
  NodeOptions no;
  for (size_t i = 0; i < ws.size(); ++i) {
    ws[i].key =
        note::GenerateSigner("w" + std::to_string(i) + ".example", note::KeyType::kCosignatureV1).value();
    witness::WitnessOptions wo;
    wo.dir = (dir / ("w" + std::to_string(i))).string();
    wo.key = ws[i].key;
    wo.logs = {*log_key};
    const int64_t offset = i == 0 ? 0 : -86400;
    wo.clock = [offset] {
      return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() +
                      offset);
    };
    auto opened = witness::Witness::Open(wo);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ws[i].witness = std::move(opened).value();
    ws[i].server = std::make_unique<witness::Server>(*ws[i].witness, witness::ServerOptions{});
    ASSERT_TRUE(ws[i].server->Start().ok());
    ws[i].thread = std::thread([&w = ws[i]] { (void)w.server->Run(); });
    no.witnesses.push_back(
        {ws[i].key.verifier(), "http://127.0.0.1:" + std::to_string(ws[i].server->port())});
  }
  no.cosigner.quorum = 1;
  {
    auto n = Node::Open((dir / "node").string(), "", no);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_TRUE((*n)->Submit(Registration(Key(1))).ok());
    // The published checkpoint: size 1 once the witnesses answered (at most a few seconds).
    std::string published;
    for (int i = 0; i < 300; ++i) {
      auto text = fs::ReadFile((dir / "node" / "log" / "checkpoint").string(), 1 << 16);
      if (text.ok() && text->find("\n1\n") != std::string::npos) {
        published = *text;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(published.empty());
    std::vector<note::Verifier> both = {ws[0].key.verifier(), ws[1].key.verifier()};
    auto opened = note::Open(published, both);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ASSERT_EQ(opened->verified.size(), 1u) << published;
    EXPECT_EQ(opened->verified[0].verifier, 0u) << published;
  }
  ws.clear();
  std::filesystem::remove_all(dir);
}

TEST(NodeOptionsChecks, MaxWaitingOfZeroAndAWitnessNamedTwiceAreRefused) {
  auto dir = std::filesystem::temp_directory_path() / ("accord-node-busy0-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  NodeOptions no;
  no.max_waiting = 0;
  auto opened = Node::Open(dir.string(), "busy0.example/log", no);
  EXPECT_EQ(opened.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir));  // nothing created
  // A witness named twice would count twice towards the quorum.
  NodeOptions twice;
  note::Verifier w = note::GenerateSigner("w.example", note::KeyType::kCosignatureV1).value().verifier();
  twice.witnesses = {{w, "http://127.0.0.1:1"}, {w, "http://127.0.0.1:2"}};
  opened = Node::Open(dir.string(), "busy0.example/log", twice);
  EXPECT_EQ(opened.status().code(), Code::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("named twice"), std::string::npos) << opened.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(dir));
  std::filesystem::remove_all(dir);
}

TEST(HttpSlowClients, StalledConnectionsAreDroppedAndOthersServed) {
  HttpOptions o;
  o.threads = 8;
  o.read_timeout_s = 1;
  ServedNode served("slow", o);
  // 40 connections (5 per thread) that send half a request line and then nothing.
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    int fd = served.Connect();
    if (fd < 0) continue;
    (void)::send(fd, "GET /check", 10, MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  EXPECT_EQ(fds.size(), 40u);
  auto r = served.Checkpoint();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  // A stalled request is answered 408 and closed, never left open for ever.
  for (int fd : {fds.front(), fds.back()}) EXPECT_EQ(StatusOf(ReadAll(fd, 5)), 408);
  // A connection that sends nothing is closed without a word after the read timeout.
  int idle = served.Connect();
  bool closed = false;
  EXPECT_EQ(ReadAll(idle, 5, &closed), "");
  EXPECT_TRUE(closed);
  ::close(idle);
  for (int fd : fds) ::close(fd);
}

// A client that sends its request a byte at a time, each within the read timeout, is closed when
// the request as a whole is late (a thread-per-connection server restarting its timeout at every
// read kept it for ever, and its header line growing in memory).
TEST(HttpSlowClients, ATrickledRequestIsClosedAtItsDeadline) {
  HttpOptions o;
  o.read_timeout_s = 1;
  ServedNode served("trickle", o);
  int fd = served.Connect();
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  bool ended = false;
  std::string got = http::testing::Trickle(fd, 'G', 60, &ended);  // 6 s at most
  EXPECT_TRUE(ended);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  got += ReadAll(fd, 5);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 408) << got;
  EXPECT_NE(got.find("did not arrive whole within 1 seconds"), std::string::npos) << got;
  auto r = served.Checkpoint();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
}

// Headers past the cap are answered 431 and the connection closed; memory stays bounded.
TEST(HttpSlowClients, HeadersOverTheCapAre431) {
  HttpOptions o;
  o.max_header_bytes = 4096;
  ServedNode served("headers", o);
  int fd = served.Connect();
  ASSERT_GE(fd, 0);
  std::string req =
      "GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  (void)SendAll(fd, req);  // the server may close before all of it is sent
  std::string got = ReadAll(fd, 5);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 431) << got.substr(0, 200);
  EXPECT_NE(got.find("\"error\""), std::string::npos) << got;
  // A request line that never ends: the same.
  fd = served.Connect();
  (void)SendAll(fd, "GET /" + std::string(64 * 1024, 'a'));
  got = ReadAll(fd, 5);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 431) << got.substr(0, 200);
}

// A body over the limit is refused with 413 (and a JSON error) before it is read, and the client
// gets the answer, not a reset, though it sends the whole body.
TEST(HttpSlowClients, BodiesOverTheLimitAre413) {
  HttpOptions o;
  o.max_batch = 10;
  ServedNode served("body", o);
  int fd = served.Connect();
  ASSERT_GE(fd, 0);
  const size_t size = 6u << 20;
  std::string req =
      "POST /statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
      std::to_string(size) + "\r\n\r\n";
  // Like most clients, it sends the whole request before it reads the answer: a server that
  // closed with the body unread would reset the connection, and the reset would discard the
  // answer waiting in the client's buffer.
  EXPECT_TRUE(SendAll(fd, req + std::string(size, '{')));
  bool closed = false;
  std::string got = ReadAll(fd, 10, &closed);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 413) << got.substr(0, 200);
  EXPECT_TRUE(closed) << "reset: the server closed with the body unread";
  EXPECT_NE(got.find("over the limit"), std::string::npos) << got;
  EXPECT_EQ(served.node->checkpoint().checkpoint.size, 0u);
}

// Only the TAXII API's own paths take TAXII's larger body: "/taxii2/" in the query of another
// path does not, and its body over one statement's limit is refused (413) from the Content-Length
// alone, before any of it is sent.
TEST(HttpSlowClients, ATaxiiPathInTheQueryDoesNotRaiseTheBodyLimit) {
  HttpOptions o;
  o.read_timeout_s = 3;  // without the fix, the server would wait for the body and answer 408
  ServedNode served("taxiiquery", o);
  int fd = served.Connect();
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(SendAll(fd,
                      "POST /statements?x=/taxii2/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 1000000\r\n\r\n"));
  std::string got = ReadAll(fd, 10);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 413) << got.substr(0, 200);
  EXPECT_NE(got.find("over the limit of " + std::to_string(limits::kMaxEntrySize)), std::string::npos) << got;
}

// What the server refuses itself on a TAXII path is a TAXII error message too (a TAXII client
// reads its fields): a body over TAXII's limit, refused from the Content-Length alone (413), one
// that stops coming (408), one over the budget of large bodies (503), a handler that fails (500).
TEST(HttpSlowClients, TaxiiPathsGetTaxiiErrorsFromTheServerItself) {
  HttpOptions o;
  o.read_timeout_s = 1;
  o.max_large_bodies = 4096;  // large bodies in memory at once
  ServedNode served("taxiierr", o, true, {}, [](const HttpRequest& req) {
    if (req.path.find("/boom/") != std::string::npos) throw std::runtime_error("boom");
    HttpReply r;
    r.status = 500;  // never reached otherwise: the server answers first
    return r;
  });
  // Sends `request` on a connection of its own; the answer, whole.
  auto exchange = [&](const std::string& request) {
    int fd = served.Connect();
    EXPECT_GE(fd, 0);
    if (fd < 0) return std::string();
    EXPECT_TRUE(SendAll(fd, request));
    std::string got = ReadAll(fd, 10);
    ::close(fd);
    return got;
  };
  // The TAXII error message in `got` (null if it is none).
  auto taxii_error = [](const std::string& got) {
    EXPECT_NE(got.find("Content-Type: application/taxii+json;version=2.1\r\n"), std::string::npos) << got;
    size_t body = got.find("\r\n\r\n");
    if (body == std::string::npos) return json::Json();
    json::Json e = json::Json::parse(got.substr(body + 4), nullptr, false);
    return e.is_object() ? e : json::Json();
  };
  const std::string post =
      "POST /taxii2/api/collections/all/objects/ HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/taxii+json;version=2.1\r\n";
  std::string got = exchange(post + "Content-Length: 1000000000\r\n\r\n");
  EXPECT_EQ(StatusOf(got), 413) << got.substr(0, 300);
  json::Json e = taxii_error(got);
  ASSERT_TRUE(e.is_object()) << got;
  EXPECT_EQ(e["http_status"], "413");
  EXPECT_EQ(e["title"], "Request too large");
  EXPECT_NE(e["description"].get<std::string>().find("over the limit"), std::string::npos) << got;
  // A body that stops coming: 408, a TAXII error message too.
  got = exchange(post + "Content-Length: 100\r\n\r\n{\"objects\"");
  EXPECT_EQ(StatusOf(got), 408) << got.substr(0, 300);
  e = taxii_error(got);
  ASSERT_TRUE(e.is_object()) << got;
  EXPECT_EQ(e["http_status"], "408");
  EXPECT_TRUE(e["title"].is_string()) << got;
  // Over the budget of large bodies in memory: 503, before the body is read.
  got = exchange(post + "Content-Length: 5000\r\n\r\n");
  EXPECT_EQ(StatusOf(got), 503) << got.substr(0, 300);
  EXPECT_NE(got.find("Retry-After: 1\r\n"), std::string::npos) << got.substr(0, 300);
  e = taxii_error(got);
  ASSERT_TRUE(e.is_object()) << got;
  EXPECT_EQ(e["http_status"], "503");
  EXPECT_NE(e.value("description", "").find("too many large requests"), std::string::npos) << got;
  // A handler that fails (an exception): 500, a TAXII error message that says no more.
  got = exchange(
      "GET /taxii2/boom/ HTTP/1.1\r\nHost: x\r\nAccept: application/taxii+json;version=2.1\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(got), 500) << got.substr(0, 300);
  e = taxii_error(got);
  ASSERT_TRUE(e.is_object()) << got;
  EXPECT_EQ(e["http_status"], "500");
  EXPECT_EQ(got.find("boom", got.find("\r\n\r\n")), std::string::npos)
      << "the exception's text stays inside: " << got;
  // Other paths keep the node's own JSON error.
  got = exchange(
      "POST /statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000000000\r\n\r\n");
  EXPECT_EQ(StatusOf(got), 413) << got.substr(0, 300);
  EXPECT_NE(got.find("\"error\""), std::string::npos) << got;
}

// HTTP/1.1 as clients use it: two requests in one packet answered in order, HEAD without a body,
// a client that waits for "100 Continue" before its body, a method a resource does not take (405),
// a malformed request (400).
TEST(HttpProtocol, PipeliningHeadContinueAndErrors) {
  ServedNode served("proto", HttpOptions{});
  int fd = served.Connect();
  ASSERT_TRUE(
      SendAll(fd,
              "GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n"
              "HEAD /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n"
              "PUT /checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
  std::string got = ReadAll(fd, 5);
  ::close(fd);
  size_t second = got.find("HTTP/1.1 ", 1), third = got.find("HTTP/1.1 ", second + 1);
  ASSERT_NE(third, std::string::npos) << got;
  EXPECT_EQ(StatusOf(got), 200);
  std::string checkpoint = served.Checkpoint()->body;
  EXPECT_EQ(got.substr(second - checkpoint.size(), checkpoint.size()), checkpoint);
  EXPECT_EQ(StatusOf(got.substr(second)), 200);
  // HEAD: the length of the body, and no body (the next answer follows the blank line).
  EXPECT_NE(got.substr(second, third - second).find("Content-Length: " + std::to_string(checkpoint.size())),
            std::string::npos);
  EXPECT_EQ(got.substr(third - 4, 4), "\r\n\r\n");
  EXPECT_EQ(StatusOf(got.substr(third)), 405);

  fd = served.Connect();
  std::string stmt = Registration(Key(1));
  ASSERT_TRUE(SendAll(fd,
                      "POST /statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                          std::to_string(stmt.size()) + "\r\n\r\n"));
  char buf[64] = {};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssize_t n = ::recv(fd, buf, sizeof(buf) - 1, 0);
  EXPECT_EQ(std::string(buf, size_t(std::max<ssize_t>(n, 0))), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(SendAll(fd, stmt));
  got = ReadAll(fd, 5);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 201) << got;

  // The absolute form names the same resource; a broken escape in the path or the query is 400.
  std::string author = B64(Key(1).public_key);
  for (char& c : author) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!author.empty() && author.back() == '=') author.pop_back();
  fd = served.Connect();
  ASSERT_TRUE(SendAll(fd,
                      "GET http://127.0.0.1/checkpoint HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /lookup/author/" +
                          author +
                          "?limit=%zz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /check%2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  got = ReadAll(fd, 5);
  ::close(fd);
  second = got.find("HTTP/1.1 ", 1);
  third = got.find("HTTP/1.1 ", second + 1);
  ASSERT_NE(third, std::string::npos) << got;
  EXPECT_EQ(StatusOf(got), 200) << got;
  EXPECT_EQ(StatusOf(got.substr(second)), 400) << got;
  EXPECT_NE(got.substr(second, third - second).find("the query has a bad percent escape"), std::string::npos)
      << got;
  EXPECT_EQ(StatusOf(got.substr(third)), 400) << got;

  // HTTP/1.0: kept alive when asked for (and told so), closed otherwise.
  fd = served.Connect();
  ASSERT_TRUE(SendAll(fd,
                      "GET /checkpoint HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                      "GET /checkpoint HTTP/1.0\r\n\r\n"));
  bool closed = false;
  got = ReadAll(fd, 5, &closed);
  ::close(fd);
  second = got.find("HTTP/1.1 ", 1);
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_NE(got.substr(0, second).find("Connection: keep-alive\r\n"), std::string::npos) << got;
  EXPECT_EQ(StatusOf(got.substr(second)), 200) << got;
  EXPECT_TRUE(closed);

  fd = served.Connect();
  ASSERT_TRUE(SendAll(fd, "GET /checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n"));
  got = ReadAll(fd, 5);
  ::close(fd);
  EXPECT_EQ(StatusOf(got), 400) << got;
  EXPECT_NE(got.find("\"error\""), std::string::npos) << got;
}

// Connections cost a descriptor, not a thread: 1,000 open at once with 4 handler threads are all
// served; past max_connections a connection is answered 503 and closed at once, so a flood of
// them cannot take the descriptors the log needs.
TEST(HttpManyClients, ThousandsOfConnectionsAreServedAndTheRestAnswered503) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t want = 2 * 1000 + 256;
  if (lim.rlim_cur < want && lim.rlim_max >= want) {
    rlimit raised = lim;
    raised.rlim_cur = want;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
  }
  rlimit now{};
  ::getrlimit(RLIMIT_NOFILE, &now);
  const size_t n = now.rlim_cur >= want ? 1000 : size_t(now.rlim_cur - 256) / 2;
  HttpOptions o;
  o.threads = 4;
  o.max_connections = n;
  o.read_timeout_s = 30;
  o.keep_alive_timeout_s = 30;
  ServedNode served("many", o);
  std::vector<int> fds;
  for (size_t i = 0; i < n; ++i) fds.push_back(served.Connect());
  EXPECT_EQ(std::count(fds.begin(), fds.end(), -1), 0);
  // One more: answered 503 with a JSON error and closed, while the others stay open.
  for (int tries = 0; tries < 50; ++tries) {
    int extra = served.Connect();
    std::string got = ReadAll(extra, 5);
    ::close(extra);
    if (StatusOf(got) == 503) {
      EXPECT_NE(got.find("too many connections"), std::string::npos) << got;
      break;
    }
    ASSERT_LT(tries, 49) << "never refused: " << got;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the server is still accepting
  }
  // Every one of the open connections asks (a lookup: handled by the 4 handler threads), and every
  // one is answered.
  for (int fd : fds)
    ASSERT_TRUE(SendAll(fd, "GET /participants HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  size_t answered = 0;
  for (int fd : fds) {
    answered += StatusOf(ReadAll(fd, 10)) == 200;
    ::close(fd);
  }
  EXPECT_EQ(answered, n);
}

// A stop that comes before the server listens is not lost (httplib ignores it then): Run returns.
TEST(HttpStop, AStopBeforeRunIsKept) {
  HttpOptions o;
  o.threads = 2;
  ServedNode served("stop", o, /*run=*/false);
  served.server->Stop();
  EXPECT_TRUE(served.server->Run().ok());
}

// A stop at any moment around the start of Run ends it: Stop never waits (it runs in a signal
// handler on Run's thread) and is never lost (httplib's own stop() is, before it listens).
TEST(HttpStop, AStopAtAnyMomentEndsRun) {
  HttpOptions o;
  o.threads = 1;
  ServedNode served("stops", o, /*run=*/false);
  for (int i = 0; i < 200; ++i) {
    o.port = 0;
    HttpServer server(*served.node, o);
    ASSERT_TRUE(server.Start().ok());
    auto run = std::async(std::launch::async, [&] { return server.Run(); });
    if (i % 2) std::this_thread::sleep_for(std::chrono::microseconds(i * 5));
    server.Stop();
    if (run.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "iteration " << i << ": the stop was lost";
      server.Stop();  // listening by now: this one ends it
    }
    EXPECT_TRUE(run.get().ok()) << i;
  }
}

}  // namespace
}  // namespace accord::node

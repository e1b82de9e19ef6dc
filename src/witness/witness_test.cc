#include "witness/witness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "core/limits.h"
#include "witness/test_util.h"

namespace accord::witness {
namespace {

using ::testing::HasSubstr;
using testing::MemoryLog;

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Reopen();
  }
  void TearDown() override {
    witness_.reset();
    EXPECT_TRUE(fs::RemoveTree(dir_).ok());
  }
  void Reopen() {
    witness_.reset();
    auto w = Witness::Open(testing::Options(dir_, key_, {&log_, &other_}));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    witness_ = std::move(w).value();
  }
  // Asks for a cosignature and checks that a 200 carries a valid one.
  Response Add(const std::string& body) {
    Response r = witness_->AddCheckpoint(body);
    if (r.status == 200) {
      AddCheckpointRequest req = ParseAddCheckpointRequest(body).value();
      note::Note n = note::ParseNote(req.checkpoint).value();
      std::string cosigned = n.text + "\n" + r.body;
      note::Verifier v = key_.verifier();
      auto opened = note::Open(cosigned, std::span<const note::Verifier>(&v, 1));
      EXPECT_TRUE(opened.ok()) << opened.status().ToString() << "\n" << r.body;
      if (opened.ok()) {
        EXPECT_EQ(opened->verified[0].timestamp, 1700000000u);
      }
    }
    return r;
  }

  std::string dir_;
  note::Signer key_ = testing::WitnessKey();
  MemoryLog log_, other_{"other.example/log"};
  std::unique_ptr<Witness> witness_;
};

TEST_F(WitnessTest, FirstCheckpointThenConsistentOnesAreCosigned) {
  Response r = Add(log_.Request(0, 5));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, kTextContentType);
  EXPECT_EQ(r.body.rfind("\xe2\x80\x94 witness.example/w1 ", 0), 0u) << r.body;
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 1);
  r = Add(log_.Request(5, 9));
  EXPECT_EQ(r.status, 200) << r.body;
  r = Add(log_.Request(9, 64));
  EXPECT_EQ(r.status, 200) << r.body;
  auto state = witness_->State(log_.origin());
  ASSERT_TRUE(state);
  EXPECT_EQ(state->checkpoint.size, 64u);
  EXPECT_EQ(state->note, log_.Checkpoint(64));
  // Each log has its own state.
  EXPECT_EQ(Add(other_.Request(0, 3)).status, 200);
  EXPECT_EQ(witness_->State(other_.origin())->checkpoint.size, 3u);
}

TEST_F(WitnessTest, OldSizeThatIsNotTheStoredOneIs409WithTheStoredSize) {
  Response r = Add(log_.Request(3, 5));  // nothing stored: the witness has size 0
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "text/x.tlog.size");
  EXPECT_EQ(r.body, "0\n");
  ASSERT_EQ(Add(log_.Request(0, 5)).status, 200);
  r = Add(log_.Request(0, 9));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "5\n");
  r = Add(log_.Request(4, 9));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "5\n");
}

TEST_F(WitnessTest, RollbackIsRefused) {
  ASSERT_EQ(Add(log_.Request(0, 9)).status, 200);
  // An older checkpoint, from the size the log claims the witness had or from the true one.
  Response r = Add(log_.Request(5, 5));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "9\n");
  r = Add(FormatAddCheckpointRequest({9, {}, log_.Checkpoint(5)}));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("old size 9 is above the checkpoint's size 5"));
  EXPECT_EQ(witness_->State(log_.origin())->checkpoint.size, 9u);
}

TEST_F(WitnessTest, SameSizeSameRootIsCosignedAgain) {
  ASSERT_EQ(Add(log_.Request(0, 9)).status, 200);
  EXPECT_EQ(Add(log_.Request(9, 9)).status, 200);
  EXPECT_EQ(witness_->State(log_.origin())->checkpoint.size, 9u);
  Response r = Add(FormatAddCheckpointRequest({9, log_.Proof(5, 9), log_.Checkpoint(9)}));
  EXPECT_EQ(r.status, 422);  // equal sizes take an empty proof
}

TEST_F(WitnessTest, SplitViewIsRefusedAndKeptAsEvidence) {
  ASSERT_EQ(Add(log_.Request(0, 9)).status, 200);
  tlog::Hash forked = crypto::Sha256("another tree");
  std::string fork = log_.Checkpoint(9, &forked);
  Response r = Add(FormatAddCheckpointRequest({9, {}, fork}));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, kTextContentType);
  EXPECT_THAT(r.body, HasSubstr("split view: log.example/test at size 9"));
  EXPECT_EQ(witness_->State(log_.origin())->note, log_.Checkpoint(9));
  // Both signed checkpoints are kept: together they prove the log forked.
  auto dirs = fs::ListDir(dir_ + "/evidence").value();
  ASSERT_EQ(dirs.size(), 1u);
  auto files = fs::ListDir(dir_ + "/evidence/" + dirs[0]).value();
  EXPECT_EQ(files.size(), 2u);
  // The log's true history still extends from the cosigned checkpoint.
  r = Add(FormatAddCheckpointRequest({9, log_.Proof(9, 12), log_.Checkpoint(12)}));
  EXPECT_EQ(r.status, 200);
}

TEST_F(WitnessTest, UnknownLogIs404) {
  MemoryLog stranger("stranger.example/log");
  Response r = Add(stranger.Request(0, 3));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("unknown log \"stranger.example/log\""));
}

TEST_F(WitnessTest, CheckpointNotSignedByTheLogIs403) {
  MemoryLog impostor(log_.origin());  // the same origin, another key
  Response r = Add(impostor.Request(0, 3));
  EXPECT_EQ(r.status, 403);
  // A known key's signature that does not verify.
  std::string cp = log_.Checkpoint(3);
  note::Note n = note::ParseNote(cp).value();
  n.signatures[0].data[0] ^= 1;
  r = Add(FormatAddCheckpointRequest({0, {}, note::FormatNote(n)}));
  EXPECT_EQ(r.status, 403);
  // Other signatures beside the log's are ignored.
  n = note::ParseNote(cp).value();
  n.signatures.insert(n.signatures.begin(), note::Sign(impostor.key(), n.text).value());
  n.signatures[0].name = "unrelated.example";
  EXPECT_EQ(Add(FormatAddCheckpointRequest({0, {}, note::FormatNote(n)})).status, 200);
}

TEST_F(WitnessTest, BadConsistencyProofIs422) {
  ASSERT_EQ(Add(log_.Request(0, 5)).status, 200);
  std::vector<tlog::Hash> proof = log_.Proof(5, 9);
  proof[0][3] ^= 1;
  Response r = Add(FormatAddCheckpointRequest({5, proof, log_.Checkpoint(9)}));
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(r.body, HasSubstr("consistency proof from size 5 to 9"));
  proof = log_.Proof(5, 9);
  proof.pop_back();
  EXPECT_EQ(Add(FormatAddCheckpointRequest({5, proof, log_.Checkpoint(9)})).status, 422);
  // A proof from size 0 must be empty.
  EXPECT_EQ(Add(FormatAddCheckpointRequest({0, log_.Proof(5, 9), other_.Checkpoint(9)})).status, 422);
  EXPECT_EQ(witness_->State(log_.origin())->checkpoint.size, 5u);
}

TEST_F(WitnessTest, MalformedBodiesAre400) {
  std::string cp = log_.Checkpoint(5);
  std::string hash = Base64Encode(crypto::AsView(crypto::Sha256("x")));
  std::string many;
  for (int i = 0; i < 64; ++i) many += hash + "\n";
  for (const std::string& body : {
           std::string(""), std::string("old 0\n"),
           "old 0\n" + cp,     // no empty line
           "old 00\n\n" + cp,  // leading zero
           "old -1\n\n" + cp, "old  0\n\n" + cp, "Old 0\n\n" + cp, "old 0\r\n\n" + cp,
           "old 0\nnot base64\n\n" + cp, "old 0\n" + hash.substr(0, 40) + "\n\n" + cp,
           "old 0\n" + many + "\n" + cp,  // 64 proof lines: the spec allows 63
           std::string("old 0\n\nnot a note\n"), "old 0\n\n" + cp.substr(0, cp.size() - 1),
           "old 0\n\nhello\n\n" + cp.substr(cp.find("\xe2\x80\x94")),  // not a checkpoint
       }) {
    Response r = Add(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_FALSE(r.body.empty());
  }
  EXPECT_EQ(Add(std::string(limits::kMaxWitnessRequestSize + 1, 'a')).status, 413);
  // 63 proof lines are allowed by the parser (the proof itself is then wrong: 422, not 400).
  ASSERT_EQ(Add(log_.Request(0, 5)).status, 200);
  std::string max_lines;
  for (int i = 0; i < 63; ++i) max_lines += hash + "\n";
  EXPECT_EQ(Add("old 5\n" + max_lines + "\n" + log_.Checkpoint(9)).status, 422);
}

TEST_F(WitnessTest, RequestFormatRoundTrips) {
  AddCheckpointRequest req{5, log_.Proof(5, 9), log_.Checkpoint(9)};
  std::string body = FormatAddCheckpointRequest(req);
  EXPECT_EQ(body.rfind("old 5\n", 0), 0u);
  auto parsed = ParseAddCheckpointRequest(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->old_size, 5u);
  EXPECT_EQ(parsed->proof, req.proof);
  EXPECT_EQ(parsed->checkpoint, req.checkpoint);
}

TEST_F(WitnessTest, RestartKeepsTheState) {
  ASSERT_EQ(Add(log_.Request(0, 9)).status, 200);
  Reopen();
  EXPECT_EQ(witness_->State(log_.origin())->checkpoint.size, 9u);
  Response r = Add(log_.Request(0, 12));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "9\n");
  EXPECT_EQ(Add(log_.Request(9, 12)).status, 200);
}

TEST_F(WitnessTest, ASecondWitnessOnTheSameDirectoryIsRefused) {
  auto second = Witness::Open(testing::Options(dir_, key_, {&log_}));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
}

TEST_F(WitnessTest, DamagedStateStopsTheWitnessInsteadOfForgettingIt) {
  ASSERT_EQ(Add(log_.Request(0, 9)).status, 200);
  witness_.reset();
  auto files = fs::ListDir(dir_ + "/state").value();
  ASSERT_EQ(files.size(), 1u);
  std::string path = dir_ + "/state/" + files[0];
  std::string good = fs::ReadFile(path, 1 << 20).value();
  for (const std::string& bad : {std::string(""), good.substr(0, good.size() / 2),
                                 "accord/witness-state@v1\n" + other_.Checkpoint(3)}) {
    ASSERT_TRUE(fs::WriteFileAtomic(path, bad).ok());
    auto w = Witness::Open(testing::Options(dir_, key_, {&log_}));
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Code::kDataLoss) << w.status().ToString();
  }
  // A leftover temporary file beside the state (a crash during a write) is not the state.
  ASSERT_TRUE(fs::WriteFileAtomic(path, good).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(path + ".tmp", "garbage").ok());
  auto w = Witness::Open(testing::Options(dir_, key_, {&log_}));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->State(log_.origin())->checkpoint.size, 9u);
}

TEST_F(WitnessTest, StateThatCannotBeStoredIsNotCosigned) {
  // A directory where the state file goes makes the durable write fail.
  std::string path = dir_ + "/state/" + HexEncode(crypto::AsView(crypto::Sha256(log_.origin())));
  ASSERT_TRUE(fs::MakeDirs(path + "/blocker").ok());
  Response r = Add(log_.Request(0, 5));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("nothing was cosigned"));
  EXPECT_FALSE(witness_->State(log_.origin()));
  ASSERT_TRUE(fs::RemoveTree(path).ok());
  EXPECT_EQ(Add(log_.Request(0, 5)).status, 200);
}

TEST_F(WitnessTest, OpenChecksItsKeys) {
  witness_.reset();
  WitnessOptions o = testing::Options(dir_, key_, {&log_});
  o.key = log_.key();
  EXPECT_EQ(Witness::Open(o).status().code(), Code::kInvalidArgument);
  o = testing::Options(dir_, key_, {});
  EXPECT_EQ(Witness::Open(o).status().code(), Code::kInvalidArgument);
  o = testing::Options(dir_, key_, {&log_});
  o.logs[0] = key_.verifier();
  EXPECT_EQ(Witness::Open(o).status().code(), Code::kInvalidArgument);
}

// Many requests race from the same old size: exactly one wins each step, so the cosigned
// (old, new) pairs form one chain and the stored size never goes back.
TEST_F(WitnessTest, ConcurrentRequestsNeverBothPassAgainstOneOldSize) {
  constexpr int kThreads = 8, kSteps = 12;
  // Bodies prepared up front: proofs and signatures are not what is being tested.
  std::map<std::pair<uint64_t, uint64_t>, std::string> bodies;
  for (uint64_t old = 0; old <= kSteps * kThreads; ++old)
    for (uint64_t n = old + 1; n <= std::min<uint64_t>(old + kThreads, kSteps * kThreads + kThreads); ++n)
      bodies[{old, n}] = log_.Request(old, n);
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> won;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t old = 0;
      for (int i = 0; i < kSteps * 4; ++i) {
        uint64_t target = old + 1 + uint64_t(t);
        auto it = bodies.find({old, target});
        if (it == bodies.end()) return;
        Response r = witness_->AddCheckpoint(it->second);
        if (r.status == 200) {
          std::lock_guard lock(mu);
          won.push_back({old, target});
          old = target;
        } else if (r.status == 409) {
          old = ParseDecimal(std::string_view(r.body).substr(0, r.body.size() - 1)).value();
        } else {
          ADD_FAILURE() << r.status << " " << r.body;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_GE(won.size(), 12u);  // from 0 to past 96, at most 8 at a time
  std::sort(won.begin(), won.end());
  EXPECT_EQ(won[0].first, 0u);
  for (size_t i = 1; i < won.size(); ++i) EXPECT_EQ(won[i].first, won[i - 1].second) << i;
  EXPECT_EQ(witness_->State(log_.origin())->checkpoint.size, won.back().second);
}

}  // namespace
}  // namespace accord::witness

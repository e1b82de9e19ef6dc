#include "scand/protocol.h"

#include <gtest/gtest.h>

#include "core/bytes.h"

namespace accord::scand {
namespace {

constexpr size_t kMax = 4096;

Parsed Parse(std::string_view in, bool end_of_read = false) {
  return ParseCommand(in, end_of_read, kMax);
}

TEST(ParseCommand, PrefixesChooseTheDelimiterOfCommandAndReply) {
  Parsed z = Parse(std::string_view("zPING\0zVERSION\0", 15));
  ASSERT_EQ(z.kind, Parsed::kCommand);
  EXPECT_EQ(z.request.command, Command::kPing);
  EXPECT_EQ(z.request.term, '\0');
  EXPECT_TRUE(z.request.prefixed);
  EXPECT_EQ(z.consumed, 6u);
  Parsed n = Parse("nVERSION\n");
  ASSERT_EQ(n.kind, Parsed::kCommand);
  EXPECT_EQ(n.request.command, Command::kVersion);
  EXPECT_EQ(n.request.term, '\n');
  Parsed crlf = Parse("nPING\r\n");
  EXPECT_EQ(crlf.request.command, Command::kPing);
}

TEST(ParseCommand, WaitsForTheDelimiter) {
  EXPECT_EQ(Parse("zPIN").kind, Parsed::kNeedMore);
  EXPECT_EQ(Parse("nSCAN /tmp").kind, Parsed::kNeedMore);
  EXPECT_EQ(Parse("").kind, Parsed::kNeedMore);
  // A z command ends at NUL only: a newline is part of it.
  EXPECT_EQ(Parse("zPING\n").kind, Parsed::kNeedMore);
}

TEST(ParseCommand, OldStyleIsOneReadOrOneLine) {
  Parsed p = Parse("PING", true);
  ASSERT_EQ(p.kind, Parsed::kCommand);
  EXPECT_EQ(p.request.command, Command::kPing);
  EXPECT_FALSE(p.request.prefixed);
  EXPECT_EQ(p.consumed, 4u);
  EXPECT_EQ(Parse("PING", false).kind, Parsed::kNeedMore);
  Parsed line = Parse("SCAN /a b/c\nrest");
  ASSERT_EQ(line.kind, Parsed::kCommand);
  EXPECT_EQ(line.request.command, Command::kScan);
  EXPECT_EQ(line.request.argument, "/a b/c");
  EXPECT_EQ(line.consumed, 12u);
}

TEST(ParseCommand, NewCommandsNeedAPrefix) {
  for (const char* c : {"INSTREAM\n", "IDSESSION\n", "END\n", "VERSIONCOMMANDS\n", "ALLMATCHSCAN /x\n"}) {
    Parsed p = Parse(c);
    ASSERT_EQ(p.kind, Parsed::kCommand) << c;
    EXPECT_EQ(p.request.command, Command::kUnknown) << c;
  }
  EXPECT_EQ(Parse(std::string_view("zINSTREAM\0", 10)).request.command, Command::kInstream);
  EXPECT_EQ(Parse("nALLMATCHSCAN /x\n").request.command, Command::kAllMatchScan);
  EXPECT_EQ(Parse("nALLMATCHSCAN /x\n").request.argument, "/x");
}

TEST(ParseCommand, ArgumentsAreRequiredOrRefused) {
  EXPECT_EQ(Parse("nSCAN\n").request.command, Command::kUnknown);
  EXPECT_EQ(Parse("nSCAN \n").request.command, Command::kUnknown);
  EXPECT_EQ(Parse("nPING now\n").request.command, Command::kUnknown);
  EXPECT_EQ(Parse("nSCANX /a\n").request.command, Command::kUnknown);
  EXPECT_EQ(Parse("nping\n").request.command, Command::kUnknown);
  EXPECT_EQ(Parse("nQUIT\n").request.command, Command::kShutdown);
  EXPECT_EQ(Parse("nMULTISCAN /a\n").request.command, Command::kMultiScan);
  EXPECT_EQ(Parse("nCONTSCAN /a\n").request.command, Command::kContScan);
}

TEST(ParseCommand, FildesTakesTheByteThatCarriesTheDescriptor) {
  EXPECT_EQ(Parse(std::string_view("zFILDES\0", 8)).kind, Parsed::kNeedMore);
  Parsed p = Parse(std::string_view("zFILDES\0\0zPING\0", 15));
  ASSERT_EQ(p.kind, Parsed::kCommand);
  EXPECT_EQ(p.request.command, Command::kFildes);
  EXPECT_EQ(p.consumed, 9u);
}

TEST(ParseCommand, OverlongCommandsAreRefused) {
  std::string big = "nSCAN /" + std::string(5000, 'a');
  EXPECT_EQ(Parse(big).kind, Parsed::kTooLong);
  EXPECT_EQ(Parse(big + "\n").kind, Parsed::kTooLong);
  EXPECT_EQ(Parse(std::string(5000, 'X'), true).kind, Parsed::kTooLong);
}

TEST(ParseCommand, FormatCommandRoundTrips) {
  for (char prefix : {'z', 'n'}) {
    std::string bytes = FormatCommand(Command::kScan, prefix, "/tmp/a file");
    Parsed p = Parse(bytes);
    ASSERT_EQ(p.kind, Parsed::kCommand);
    EXPECT_EQ(p.request.command, Command::kScan);
    EXPECT_EQ(p.request.argument, "/tmp/a file");
    EXPECT_EQ(p.consumed, bytes.size());
  }
}

TEST(SessionRules, FollowClamd) {
  EXPECT_TRUE(AllowedInSession(Command::kInstream));
  EXPECT_TRUE(AllowedInSession(Command::kScan));
  EXPECT_TRUE(AllowedInSession(Command::kEnd));
  EXPECT_FALSE(AllowedInSession(Command::kContScan));
  EXPECT_FALSE(AllowedInSession(Command::kMultiScan));
  EXPECT_FALSE(AllowedInSession(Command::kReload));
  EXPECT_FALSE(AllowedInSession(Command::kShutdown));
  EXPECT_FALSE(AllowedInSession(Command::kIdSession));
}

std::string Chunk(std::string_view data) {
  std::string out;
  PutU32(out, uint32_t(data.size()));
  out.append(data);
  return out;
}

TEST(StreamDecoder, ReadsChunksUntilTheEmptyOne) {
  std::string wire = Chunk("hello ") + Chunk("world") + Chunk("") + "zPING";
  StreamDecoder d(100);
  std::string out;
  size_t used = 0;
  EXPECT_EQ(d.Feed(wire, &used, &out), StreamDecoder::State::kDone);
  EXPECT_EQ(out, "hello world");
  EXPECT_EQ(wire.substr(used), "zPING");
}

TEST(StreamDecoder, AnySplitGivesTheSameBytes) {
  std::string wire = Chunk("abc") + Chunk(std::string(300, 'x')) + Chunk("") + "tail";
  for (size_t step = 1; step < 20; ++step) {
    StreamDecoder d(1000);
    std::string out, rest = wire;
    StreamDecoder::State st = StreamDecoder::State::kMore;
    while (st == StreamDecoder::State::kMore && !rest.empty()) {
      size_t used = 0;
      std::string piece = rest.substr(0, step);
      st = d.Feed(piece, &used, &out);
      rest.erase(0, used);
    }
    EXPECT_EQ(st, StreamDecoder::State::kDone);
    EXPECT_EQ(out, "abc" + std::string(300, 'x'));
    EXPECT_EQ(rest, "tail");
  }
}

TEST(StreamDecoder, RefusesAChunkPastTheLimitBeforeItsBytes) {
  StreamDecoder d(10);
  std::string out, wire = Chunk("12345") + Chunk("123456");
  size_t used = 0;
  EXPECT_EQ(d.Feed(wire.substr(0, 9 + 4), &used, &out), StreamDecoder::State::kTooLarge);
  EXPECT_EQ(out, "12345");
  StreamDecoder exact(10);
  out.clear();
  wire = Chunk("12345") + Chunk("67890") + Chunk("");
  EXPECT_EQ(exact.Feed(wire, &used, &out), StreamDecoder::State::kDone);
}

TEST(Replies, MatchClamdsFormats) {
  EXPECT_EQ(Reply(0, "PONG", '\0'), std::string("PONG\0", 5));
  EXPECT_EQ(Reply(3, "stream: OK", '\n'), "3: stream: OK\n");
  scan::FileReport clean;
  EXPECT_EQ(ReportLines(clean, "stream", false, true), std::vector<std::string>{"stream: OK"});
  EXPECT_TRUE(ReportLines(clean, "/x", false, false).empty());
  scan::FileReport bad;
  bad.findings.push_back({"stream", "Heuristics.Limits.Exceeded.MaxFileSize", "limit", ""});
  bad.findings.push_back({"stream", "Clam.Test.File", "sha256", "x.hsb"});
  bad.findings.push_back({"stream!a", "Other.Name", "sha256", "x.hsb"});
  EXPECT_EQ(ReportLines(bad, "stream", false, true),
            std::vector<std::string>{"stream: Clam.Test.File FOUND"});
  EXPECT_EQ(ReportLines(bad, "stream", true, true),
            (std::vector<std::string>{"stream: Clam.Test.File FOUND", "stream: Other.Name FOUND"}));
  scan::FileReport err;
  err.error = "cannot open: Permission denied";
  EXPECT_EQ(ReportLines(err, "/a\nb", false, true),
            std::vector<std::string>{"/a\\x0ab: cannot open: Permission denied ERROR"});
  EXPECT_EQ(VersionText("12/Sat Nov 28 09:00:00 2026"), "accord 0.1.0/12/Sat Nov 28 09:00:00 2026");
  std::string vc = VersionCommandsText("1/x");
  EXPECT_EQ(vc.rfind("accord 0.1.0/1/x| COMMANDS: SCAN ", 0), 0u);
  EXPECT_NE(vc.find(" IDSESSION"), std::string::npos);
  EXPECT_NE(vc.find(" INSTREAM"), std::string::npos);
  std::string stats = StatsText({});
  EXPECT_EQ(stats.rfind("POOLS: 1\n", 0), 0u);
  EXPECT_EQ(stats.substr(stats.size() - 4), "\nEND");
}

}  // namespace
}  // namespace accord::scand

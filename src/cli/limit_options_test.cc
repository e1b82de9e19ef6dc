#include "cli/limit_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "core/limits.h"

namespace accord::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

uint64_t Size(std::string_view text) {
  std::vector<std::string> warnings;
  auto v = ParseLimitSize("--max-filesize", text, warnings);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  EXPECT_THAT(warnings, IsEmpty()) << text;
  return v.ok() ? *v : 0;
}

// clamscan 1.4's option parser, tried by hand with --max-filesize against a 2,000-byte file and
// --alert-exceeds-max (tests/scan_cli_test.sh compares the two programs on some of these).
TEST(LimitOptions, SizesAsClamscanReadsThem) {
  EXPECT_EQ(Size("0"), 0u);
  EXPECT_EQ(Size("00"), 0u);
  EXPECT_EQ(Size("2000"), 2000u);
  EXPECT_EQ(Size("1K"), 1024u);
  EXPECT_EQ(Size("1k"), 1024u);
  EXPECT_EQ(Size("25M"), uint64_t{25} << 20);
  EXPECT_EQ(Size("25m"), uint64_t{25} << 20);
  EXPECT_EQ(Size("3G"), uint64_t{3} << 30);
  EXPECT_EQ(Size("3g"), uint64_t{3} << 30);
  EXPECT_EQ(Size("17179869183G"), ((uint64_t{1} << 34) - 1) << 30);  // the largest G that fits
  EXPECT_EQ(Size("18446744073709551615"), UINT64_MAX);
}

TEST(LimitOptions, WhatClamscanRefusesIsAnErrorNamingTheOption) {
  for (std::string_view bad :
       {"", "K", "M", "1T", "1.5M", "10MB", " 5", "5 ", "-5", "+5", "0x10", "1M2", "1KK", "５"}) {
    std::vector<std::string> warnings;
    auto v = ParseLimitSize("--max-scansize", bad, warnings);
    ASSERT_FALSE(v.ok()) << "\"" << bad << "\" gave " << *v;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(v.status().message(), HasSubstr("--max-scansize \"" + std::string(bad) + "\": not a size"));
  }
  for (std::string_view bad : {"", "1K", "1M", "-1", "1.0", "1e3"}) {
    std::vector<std::string> warnings;
    auto v = ParseLimitCount("--max-files", bad, warnings);
    ASSERT_FALSE(v.ok()) << "\"" << bad << "\"";
    EXPECT_THAT(v.status().message(), HasSubstr("--max-files \"" + std::string(bad) + "\": not a number"));
  }
}

TEST(LimitOptions, ValuesPastWhatCanBeCountedAreNoLimitWithAWarning) {
  for (std::string_view big :
       {"18446744073709551616", "99999999999999999999999", "17179869184G", "18014398509481984K"}) {
    std::vector<std::string> warnings;
    auto v = ParseLimitSize("--max-filesize", big, warnings);
    ASSERT_TRUE(v.ok()) << big;
    EXPECT_EQ(*v, UINT64_MAX) << big;
    ASSERT_EQ(warnings.size(), 1u) << big;
    EXPECT_THAT(warnings[0], HasSubstr("more than accord can count: no limit"));
  }
  std::vector<std::string> warnings;
  auto v = ParseLimitCount("--max-files", "184467440737095516150", warnings);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, UINT64_MAX);
  EXPECT_EQ(warnings.size(), 1u);
}

// The options through CLI11, as the commands parse them.
Result<scan::ContainerLimits> Parse(std::vector<std::string> args, std::vector<std::string>& warnings) {
  CLI::App app;
  LimitOptionTexts texts;
  AddLimitOptions(app, texts);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  app.parse(args);
  return ApplyLimitOptions(texts, scan::ContainerLimits{}, warnings);
}

TEST(LimitOptions, NothingGivenKeepsTheDefaults) {
  std::vector<std::string> warnings;
  auto l = Parse({}, warnings);
  ASSERT_TRUE(l.ok());
  const scan::ContainerLimits d;
  EXPECT_EQ(l->max_file_size, d.max_file_size);
  EXPECT_EQ(l->max_scan_size, d.max_scan_size);
  EXPECT_EQ(l->max_files, d.max_files);
  EXPECT_EQ(l->max_scan_time, d.max_scan_time);
  EXPECT_EQ(l->max_recursion, 17);  // clamscan's default, counted as clamscan counts
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(LimitOptions, ZeroIsNoLimitAsInClamscan) {
  std::vector<std::string> warnings;
  auto l = Parse({"--max-filesize=0", "--max-scansize", "0", "--max-files=0", "--max-scantime=0"}, warnings);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->max_file_size, UINT64_MAX);
  EXPECT_EQ(l->max_scan_size, UINT64_MAX);
  EXPECT_EQ(l->max_files, UINT64_MAX);
  EXPECT_EQ(l->max_scan_time, std::chrono::milliseconds(limits::kMaxScanTimeMs));
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(LimitOptions, GivenValuesAreApplied) {
  std::vector<std::string> warnings;
  auto l = Parse({"--max-filesize=25M", "--max-scansize=1G", "--max-files=7", "--max-scantime=1500",
                  "--max-recursion=3"},
                 warnings);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->max_file_size, uint64_t{25} << 20);
  EXPECT_EQ(l->max_scan_size, uint64_t{1} << 30);
  EXPECT_EQ(l->max_files, 7u);
  EXPECT_EQ(l->max_scan_time, std::chrono::milliseconds(1500));
  EXPECT_EQ(l->max_recursion, 3);
  EXPECT_THAT(warnings, IsEmpty());
}

// clamscan's --scan-<kind> values (tried by hand with clamscan 1.4 on clam.zip): yes, no, 1, 0,
// true, false in any case; bare is yes.
TEST(LimitOptions, ContainerKindsAsClamscanReadsThem) {
  std::vector<std::string> warnings;
  auto all = Parse({}, warnings);
  ASSERT_TRUE(all.ok());
  const auto& k = all->kinds;
  EXPECT_TRUE(k.archive && k.mail && k.ole2 && k.pdf && k.pe && k.html);
  auto off = Parse({"--scan-archive=no", "--scan-mail=NO", "--scan-ole2=0", "--scan-pdf=false",
                    "--scan-pe=False", "--scan-html=no"},
                   warnings);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  const auto& o = off->kinds;
  EXPECT_FALSE(o.archive || o.mail || o.ole2 || o.pdf || o.pe || o.html);
  auto on = Parse({"--scan-archive", "--scan-mail=yes", "--scan-ole2=1", "--scan-pdf=TRUE"}, warnings);
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->kinds.archive && on->kinds.mail && on->kinds.ole2 && on->kinds.pdf);
  auto one = Parse({"--scan-pdf=no"}, warnings);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->kinds.pdf);
  EXPECT_TRUE(one->kinds.archive && one->kinds.mail && one->kinds.ole2 && one->kinds.pe && one->kinds.html);
  // Kinds accord never opens: taken, nothing changes.
  auto others = Parse({"--scan-elf=no", "--scan-swf=no", "--scan-xmldocs=no", "--scan-hwp3=no",
                       "--scan-onenote=no", "--scan-image=no", "--scan-image-fuzzy-hash=no"},
                      warnings);
  ASSERT_TRUE(others.ok()) << others.status().ToString();
  EXPECT_THAT(warnings, IsEmpty());
}

// accord reports every limit hit and every encrypted member: clamscan's switches for those are
// taken, and `=no` is not followed, with a warning.
TEST(LimitOptions, AlertSwitchesAreTakenAndNoIsNotFollowed) {
  std::vector<std::string> warnings;
  ASSERT_TRUE(Parse({"--alert-exceeds-max", "--alert-encrypted=yes", "--alert-encrypted-archive",
                     "--alert-encrypted-doc=yes"},
                    warnings)
                  .ok());
  EXPECT_THAT(warnings, IsEmpty());
  ASSERT_TRUE(Parse({"--alert-exceeds-max=no", "--alert-encrypted-doc=no"}, warnings).ok());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], HasSubstr("--alert-exceeds-max=no is not followed"));
  EXPECT_THAT(warnings[1], HasSubstr("--alert-encrypted-doc=no is not followed"));
  // Whatever the order, each =no is warned about under its own name.
  warnings.clear();
  ASSERT_TRUE(Parse({"--alert-encrypted=no", "--alert-encrypted-archive"}, warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("--alert-encrypted=no is not followed"));
}

// clamscan's opt-in detections that accord lacks: their default (no) is taken, yes is an error
// naming the option; the heuristic and phishing switches are taken.
TEST(LimitOptions, DetectionsAccordLacksAreRefusedWhenAskedFor) {
  std::vector<std::string> warnings;
  std::vector<std::string> defaults;
  for (const char* o : kOptInDetections) defaults.push_back(std::string(o) + "=no");
  defaults.push_back("--phishing-scan-urls=no");
  defaults.push_back("--heuristic-alerts=yes");
  ASSERT_TRUE(Parse(defaults, warnings).ok());
  EXPECT_THAT(warnings, IsEmpty());
  for (const char* o : kOptInDetections) {
    for (std::string given : {std::string(o), std::string(o) + "=yes"}) {
      auto l = Parse({given}, warnings);
      ASSERT_FALSE(l.ok()) << given;
      EXPECT_THAT(l.status().message(), HasSubstr(std::string(o) + "=yes: accord has no such detection"))
          << given;
    }
  }
  ASSERT_TRUE(Parse({"--heuristic-alerts=no"}, warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("--heuristic-alerts=no is not followed"));
}

// clamscan's options for stages accord lacks: taken when clamscan takes them (each value as
// clamscan 1.4.6 checks it, tried by hand), refused when it refuses them, and they change no limit.
TEST(LimitOptions, OptionsOfStagesAccordLacksAreCheckedAsClamscanChecksThem) {
  std::vector<std::string> warnings;
  std::vector<std::string> taken = {"--max-embeddedpe=10M",     "--max-htmlnormalize=40M",
                                    "--max-ziptypercg=1K",      "--pcre-max-filesize=0",
                                    "--max-partitions=50",      "--pcre-match-limit=5",
                                    "--bytecode-timeout=60000", "--structured-ssn-format=2",
                                    "--structured-cc-mode=1",   "--exclude-pua=Win.Packer",
                                    "--exclude-pua=Tool",       "--detect-pua",
                                    "--detect-pua=no",          "--bytecode=no",
                                    "--bytecode-unsigned=yes",  "--nocerts=no",
                                    "--phishing-sigs=no",       "--normalize=no",
                                    "--force-to-disk"};
  auto l = Parse(taken, warnings);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(l->max_file_size, scan::ContainerLimits{}.max_file_size);
  EXPECT_EQ(l->max_recursion, scan::ContainerLimits{}.max_recursion);
  ASSERT_TRUE(Parse({"--include-pua=" + std::string(40, 'x'), "--include-pua=Spy"}, warnings).ok());
  ASSERT_TRUE(Parse({"--include-pua=Spy", "--exclude-pua=Tool"}, warnings).ok());  // without --detect-pua
  auto both = Parse({"--detect-pua", "--include-pua=Spy", "--exclude-pua=Tool"}, warnings);
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(both.status().message(), HasSubstr("cannot be used at the same time"));
  // Refused by ApplyLimitOptions, or by CLI11 as it parses (an empty value, a yes/no that is
  // neither): either way an error naming the option, exit 2 before scanning.
  for (const char* refused :
       {"--max-embeddedpe=abc", "--max-partitions=1K", "--max-partitions=-1", "--bytecode-timeout=x",
        "--structured-cc-mode=3", "--exclude-pua=", "--bytecode=maybe"}) {
    const std::string option(refused, std::string_view(refused).find('='));
    try {
      auto r = Parse({refused}, warnings);
      ASSERT_FALSE(r.ok()) << refused;
      EXPECT_THAT(r.status().message(), HasSubstr(option)) << refused;
    } catch (const CLI::ExtrasError& e) {  // not an option at all: not what is tested here
      ADD_FAILURE() << refused << ": " << e.what();
    } catch (const CLI::ParseError& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr(option)) << refused;
    }
  }
  // Every occurrence of a repeated option is checked, not only the first.
  for (const char* second_bad : {"--max-embeddedpe=abc", "--max-partitions=1K"}) {
    const std::string option(second_bad, std::string_view(second_bad).find('='));
    auto r = Parse({option + "=1", second_bad}, warnings);
    ASSERT_FALSE(r.ok()) << second_bad;
    EXPECT_THAT(r.status().message(), HasSubstr(option));
  }
  // Each of them is an option (a valid value of each is taken).
  for (const InertOption& o : kInertValueOptions) {
    const std::string given = std::string(o.name) + "=1";
    EXPECT_TRUE(Parse({given}, warnings).ok()) << given;
  }
  for (const char* o : kInertSwitches) EXPECT_TRUE(Parse({std::string(o) + "=no"}, warnings).ok()) << o;
}

TEST(LimitOptions, AScanTimeBeyondAYearIsAYearSoTheDeadlineCannotOverflow) {
  std::vector<std::string> warnings;
  auto l = Parse({"--max-scantime=18446744073709551615"}, warnings);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->max_scan_time, std::chrono::milliseconds(limits::kMaxScanTimeMs));
  // now() + the limit, as the engine computes its deadline, does not overflow.
  auto deadline = std::chrono::steady_clock::now() + l->max_scan_time;
  EXPECT_GT(deadline, std::chrono::steady_clock::now());
}

TEST(LimitOptions, RecursionZeroIsTheDefaultWithAWarningAndTooDeepIsAnError) {
  std::vector<std::string> warnings;
  auto l = Parse({"--max-recursion=0"}, warnings);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->max_recursion, 17);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("--max-recursion 0 is not allowed: the default, 17"));

  warnings.clear();
  l = Parse({"--max-recursion=256"}, warnings);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->max_recursion, 256);
  for (const char* deep : {"--max-recursion=257", "--max-recursion=99999999999999999999999"}) {
    l = Parse({deep}, warnings);
    ASSERT_FALSE(l.ok()) << deep;
    EXPECT_THAT(l.status().message(), HasSubstr("at most 256 levels"));
  }
  for (const char* empty : {"--max-recursion", "--max-filesize", "--max-scantime"}) {
    l = Parse({empty, ""}, warnings);  // given, but empty: an error, as clamscan's, not the default
    ASSERT_FALSE(l.ok()) << empty;
    EXPECT_THAT(l.status().message(), HasSubstr("\"\": not a")) << empty;
  }
  l = Parse({"--max-recursion=2K"}, warnings);
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.status().message(), HasSubstr("not a number"));
}

}  // namespace
}  // namespace accord::cli

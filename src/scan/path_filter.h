// clamscan's path filters for `accord scan`: --exclude and --include for files, --exclude-dir and
// --include-dir for directories. Each is a POSIX extended regular expression (regcomp(3),
// REG_EXTENDED: clamscan's syntax) that may match anywhere in the path it is given, as clamscan
// matches them:
//   - a file's real path (realpath(3): absolute, symbolic links resolved), whatever path names it
//     in the output;
//   - a directory's path as the walk names it (named on the command line, trailing slashes
//     dropped; met in a walk, its parent's path, "/" and its name);
//   - a pattern that ends in '/' is matched against the path with a '/' appended
//     (`--exclude-dir=/proc/`).
// A file is skipped if an --exclude pattern matches, or if --include patterns are given and none
// matches; a directory likewise with --exclude-dir and --include-dir, those named on the command
// line too (as clamscan: `--include-dir d1` skips a named `ex`). A skipped directory is not
// entered. Paths are matched as bytes (accord runs in the C locale), so names that are not UTF-8
// match too. Members of containers are not paths: never filtered.
// Thread-safety: const methods from any thread (regexec(3) is thread-safe).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace accord::scan {

struct PathPatterns {
  std::vector<std::string> exclude, include, exclude_dir, include_dir;
  bool empty() const {
    return exclude.empty() && include.empty() && exclude_dir.empty() && include_dir.empty();
  }
};

class PathFilter {
 public:
  // InvalidArgument naming the option, the pattern and regerror(3)'s reason for a pattern that
  // does not compile (clamscan would match nothing with it, in silence). At most
  // limits::kMaxPathPatterns patterns of at most limits::kMaxPathPatternSize bytes.
  static Result<std::shared_ptr<const PathFilter>> Make(const PathPatterns& patterns);
  ~PathFilter();

  bool HasFilePatterns() const;  // --exclude or --include: SkipsFile needs real paths
  bool SkipsFile(const std::string& real_path) const;
  bool SkipsDir(const std::string& path) const;

  struct Regex;

 private:
  PathFilter() = default;
  std::vector<std::unique_ptr<Regex>> exclude_, include_, exclude_dir_, include_dir_;
};

}  // namespace accord::scan

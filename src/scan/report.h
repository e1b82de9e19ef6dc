// How scan results are written: clamscan's text lines ("PATH: NAME FOUND", "PATH: OK", the
// summary) so that scripts keep working, and NDJSON, one object per scanned file.
//
// Paths are bytes: a newline, a control character or a byte that is not UTF-8 is written as
// \xNN (and a backslash as \\), in both forms, so that one file is always one line and JSON
// stays valid. Thread-safety: pure functions.
#pragma once

#include <string>

#include "scan/engine.h"

namespace accord::scan {

std::string EscapePath(std::string_view path);
// Text lines for one file, each ending in '\n'. infected_only: only "FOUND" lines.
std::string FormatText(const FileReport& r, bool infected_only);
// One JSON object and '\n'.
std::string FormatJson(const FileReport& r);
// A path that `--exclude` and the like skipped (WalkOptions::filter): {"path":P,"result":"excluded"}
// and '\n'. (Its text form is clamscan's "PATH: Excluded".)
std::string FormatExcludedJson(std::string_view path);
// A symbolic link the walk did not follow (WalkOptions::on_symlink): {"path":P,"result":"symlink"}
// and '\n'. (Its text form is clamscan's "PATH: Symbolic link".)
std::string FormatSymlinkJson(std::string_view path);

// What the progress line shows: the files and bytes done so far and, once the counting walk
// (CountPaths) has finished, the totals.
struct ProgressCounts {
  uint64_t files = 0, bytes = 0;
  bool totals_known = false;
  uint64_t total_files = 0, total_bytes = 0;
  double seconds = 0;  // since the scan started
};
// The progress line of `accord scan` on a terminal, without a newline, short enough for 80
// columns: "120/8689 files, 512.0/1342.0 MB (38%), 150.3 MB/s, ETA 0:05", or before the totals
// are known "120 files, 512.0 MB, 150.3 MB/s, counting...". Percent and ETA go by bytes (by files
// when there are no bytes); files that appeared after the count raise the total to what was done.
std::string FormatProgress(const ProgressCounts& c);

}  // namespace accord::scan

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

}  // namespace accord::scan

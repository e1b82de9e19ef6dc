// What a verified statement contributes to a scan database, shared by `accord update` (every
// statement of the log) and `accord evidence verify` (the statements of one bundle), so both load
// a statement's signatures the same way, and the citation each detection carries.
// Thread-safety: pure functions; the builder is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/canonical_json.h"
#include "core/status.h"
#include "scan/database.h"

namespace accord::update {

// The body of a hash-set statement (statement::Parse checked it) as detection records of
// `source`; returns how many. Errors: the database's limits.
Result<size_t> AddHashSetSignatures(scan::DatabaseBuilder& db, uint32_t source, const json::Json& body);
// The same for a tlsh-set statement.
Result<size_t> AddTlshSetSignatures(scan::DatabaseBuilder& db, uint32_t source, const json::Json& body);

// "log ORIGIN entry INDEX by NAME (COUNTRY), checkpoint SIZE": the citation of a statement, as
// reports print it (docs/update.md). Author-chosen text is shown with control characters as '?';
// "(COUNTRY)" is left out when the registration has none.
std::string Citation(std::string_view origin, uint64_t index, std::string_view name, std::string_view country,
                     uint64_t checkpoint_size);

// `text` with control characters (C0 and DEL) shown as '?': author-chosen or bundle-given text
// printed to a terminal.
std::string Displayable(std::string_view text);

// kLogEntry source fields (scan/database.h): {origin, index, author key, author name,
// registration index}; the indices as u64 big-endian.
Bytes BigEndian64(uint64_t v);
// nullopt unless `b` is 8 bytes.
std::optional<uint64_t> FromBigEndian64(ByteView b);

}  // namespace accord::update

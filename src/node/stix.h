// The STIX 2.1 form of logged statements, for the node's TAXII API (taxii.h). docs/taxii.md has the
// mapping table, the ids and the accord extension; this header is the contract for code.
// SPEC: docs.oasis-open.org/cti/stix/v2.1/stix-v2.1.html (STIX 2.1 OS),
//       RFC 9562 section 5.5 (UUIDv5), TLP 2.0 marking definitions from
//       github.com/oasis-open/cti-stix-common-objects extension-definition-specifications/tlp-2.0.
//
// Every object derived from a statement is a pure function of the log: the same statement gives
// the same STIX ids and the same content (bar the "checkpoint" extension property, which names the
// newest checkpoint that covers the statement). Ids are UUIDv5 under kNamespace:
//   identity--uuid5(ns, "participant:" + base64 author key)      (registration)
//   <type>--uuid5(ns, "statement:" + statement id)                (the statement's main object)
//   location--/relationship--uuid5(ns, "participant-location:"/"participant-located-at:" + key)
// A retraction re-issues the retracted statement's objects as a new version (same id,
// "revoked": true), so the retraction's objects carry the ids of the statement it retracts.
// Thread-safety: pure functions; a RecordLookup is called on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/canonical_json.h"
#include "core/status.h"
#include "node/record.h"

namespace accord::node::stix {

// accord's UUIDv5 namespace for STIX ids: chosen at random once; it never changes.
inline constexpr std::string_view kNamespace = "6022a5e9-177a-448a-a558-804e182b0156";
inline constexpr std::string_view kMediaType = "application/stix+json;version=2.1";
// TLP 2.0 TLP:CLEAR for STIX 2.1 (OASIS cti-stix-common-objects, tlp-2.0/examples/tlp-clear.json),
// and the OASIS TLP 2.0 extension definition it uses.
inline constexpr std::string_view kTlpClearId = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
inline constexpr std::string_view kTlp2ExtensionId =
    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
// The accord project's identity (creator of the extension definition) and the accord statement
// extension: uuid5(kNamespace, "accord") and uuid5(kNamespace, "extension:statement/v1").
inline constexpr std::string_view kAccordIdentityId = "identity--6cb6610d-e93d-5a32-95ab-018512033ccd";
inline constexpr std::string_view kExtensionId = "extension-definition--25edfbbc-3caf-5da7-9024-a7dd68abdd7a";
// created/modified of the accord identity and the extension definition.
inline constexpr std::string_view kFixedObjectsCreated = "2026-11-28T00:00:00.000Z";

// RFC 9562 UUIDv5 (SHA-1) of `name` under `namespace_uuid` (text form, 8-4-4-4-12 hex; MUST be
// valid), in lower-case text form.
std::string Uuid5(std::string_view namespace_uuid, std::string_view name);

// STIX timestamps: "YYYY-MM-DDTHH:MM:SS.sssZ" (UTC, milliseconds) of Unix milliseconds, and back.
// ParseTimestamp accepts RFC 3339 UTC with "Z" and an optional fraction (cut to milliseconds);
// nullopt for anything else (offsets, out-of-range fields, years before 1970).
// ParseTimestampAnyYear also takes years 0000-1969 (proleptic Gregorian, negative milliseconds):
// for bounds such as TAXII's added_after, where any RFC 3339 date is valid.
std::string FormatTimestamp(int64_t unix_ms);
std::optional<int64_t> ParseTimestamp(std::string_view text);
std::optional<int64_t> ParseTimestampAnyYear(std::string_view text);
// The same in microseconds ("YYYY-MM-DDTHH:MM:SS.ssssssZ"; finer digits cut): for TAXII's date
// added, which must tell apart statements logged in one millisecond.
std::string FormatTimestampUs(int64_t unix_us);
std::optional<int64_t> ParseTimestampAnyYearUs(std::string_view text);

// What the objects of a statement say about the log that holds it.
struct Context {
  std::string log_origin;        // the log's checkpoint origin line
  std::string checkpoint;        // the node's newest signed checkpoint (note text); may be empty
  uint64_t checkpoint_size = 0;  // its tree size: statements at index < size are covered by it
};
// Takes the size from the checkpoint's second line; a malformed or empty text covers nothing.
Context MakeContext(std::string log_origin, std::string checkpoint_text);

// Returns the record at a log index (nullopt if there is none). Retractions and audit findings
// need the statement they name.
using RecordLookup = std::function<Result<std::optional<Record>>(uint64_t index)>;

std::string IdentityId(const crypto::Ed25519PublicKey& key);

// The objects every collection starts with: the TLP:CLEAR marking definition (as OASIS publishes
// it), the accord identity and the accord extension definition.
std::vector<json::Json> FixedObjects();

// The STIX objects of the statement `r` (docs/taxii.md has the table). A retraction yields the
// revoked versions of the retracted statement's objects (none when it retracts a retraction).
// DataLoss when the leaf is not the statement the record says, or a named statement is missing.
Result<std::vector<json::Json>> StixObjects(const Record& r, const RecordLookup& lookup, const Context& ctx);

// The id of the object that stands for statement `r`: what an audit finding's opinion points to.
Result<std::string> MainObjectId(const Record& r, const RecordLookup& lookup);

// TAXII POST: what a posted STIX 2.1 object becomes, for a node-attested statement. Only
// indicators are logged: pattern_type "yara" gives a yara-rule body (the rule names its source
// defines; the object's id, name and description in "meta"), "stix" an indicator body (pattern,
// description). Refused, with the reason (InvalidArgument): other object types, other pattern
// types, a missing or malformed property STIX requires of an indicator (spec_version "2.1", id,
// created, modified, pattern, pattern_type, valid_from), what a statement cannot carry ("revoked"
// other than false: revocation is the author's signed retraction; "valid_until"), objects without
// TLP:CLEAR in
// object_marking_refs (STIX 2.1's TLP:WHITE is taken as TLP:CLEAR), objects with another marking
// or granular markings: this public log takes TLP:CLEAR only. `note` says what was changed (a
// description cut to the statement's limit).
// STIX 2.1's own TLP:WHITE marking definition (section 7.2.1.4), accepted as TLP:CLEAR.
inline constexpr std::string_view kTlpWhiteId = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
struct PostedBody {
  statement::Kind kind = statement::Kind::kIndicator;
  json::Json body;
  std::string note;
};
Result<PostedBody> BodyFromObject(const json::Json& object);

// The version of an object as TAXII names it: "modified", or "created" for objects without one
// (marking definitions).
std::string ObjectVersion(const json::Json& object);

}  // namespace accord::node::stix

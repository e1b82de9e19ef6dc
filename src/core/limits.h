// Every resource cap of accord's log and formats, in one place (yara's limits.h, ClamAV's Max*).
//
// A cap that is hit is reported as an error that names it (ResourceExhausted); nothing is
// silently truncated or skipped.
#pragma once

#include <cstddef>
#include <cstdint>

namespace accord::limits {

// An entry is stored with a big-endian uint16 length prefix in entry bundles (c2sp.org/tlog-tiles),
// so 65,535 bytes is the largest entry a log can hold. Larger content lives beside the log by its
// SHA-256 and the entry carries the hash (DESIGN.md).
inline constexpr size_t kMaxEntrySize = 65535;

// Signed notes: c2sp.org/signed-note requires accepting at least 16 signatures.
inline constexpr size_t kMaxNoteSignatures = 64;
inline constexpr size_t kMaxNoteSize = 64 * 1024;
inline constexpr size_t kMaxCheckpointExtensions = 16;

// Proofs: a tree of at most 2^63 leaves needs at most 63 hashes per inclusion proof and fewer
// than 2*63 per consistency proof.
inline constexpr size_t kMaxProofHashes = 128;
inline constexpr size_t kMaxProofFileSize = kMaxNoteSize + 16 * 1024;

// Tiles: 256 hashes of 32 bytes (tile height 8, as c2sp.org/tlog-tiles fixes it).
inline constexpr int kTileHeight = 8;
inline constexpr uint64_t kTileWidth = 256;
inline constexpr size_t kFullTileSize = kTileWidth * 32;
inline constexpr size_t kMaxBundleSize = kTileWidth * (2 + kMaxEntrySize);

// Sequencer: the most bytes of entries integrated in one batch (one durable write and one
// checkpoint). Larger submissions are split across batches; callers are never refused for load
// below kMaxQueuedBytes.
inline constexpr size_t kMaxBatchBytes = 16u << 20;
inline constexpr size_t kMaxQueuedBytes = 32u << 20;
// The node (node/node.h): statements parsed and queued for its sequencer at most (NodeOptions::
// max_waiting). Past it Submit waits for room and SubmitAsync answers Unavailable at once.
inline constexpr size_t kMaxWaitingStatements = 65536;
// The log's journal (tlog/log.h): rounds since the last checkpoint. Tiles are published and the
// journal emptied once it passes kMaxJournalBytes; a journal file over kMaxJournalFileSize (only
// a single batch of that size could leave one) is refused on open rather than read.
inline constexpr size_t kMaxJournalBytes = 4 * kMaxBatchBytes;
inline constexpr size_t kMaxJournalFileSize = size_t{1} << 30;

// Out of file descriptors (EMFILE, ENFILE): core/fs.h's writes wait this long for one to be
// closed before they report the error, so a server whose clients briefly hold every descriptor
// delays a write instead of failing it (the log writer stops for good at its first failed write).
inline constexpr int kMaxDescriptorWaitMs = 5000;

// Key files and verifier keys are small text files.
inline constexpr size_t kMaxKeyFileSize = 4096;
// A PEM file of CA certificates given on the command line (a system bundle is about 220 KB).
inline constexpr size_t kMaxCaFileSize = 4u << 20;

// The scan cache of `accord scan` (scan/cache.h; its findings caps are there too): at most this
// many records of 112 bytes (224 MB); past it, records this scan did not use are dropped first, then the
// files found last are not recorded (they are scanned again next time). Records no scan used for
// kMaxScanCacheAgeDays are dropped when the cache is written.
inline constexpr size_t kMaxScanCacheRecords = 2'000'000;
inline constexpr uint32_t kMaxScanCacheAgeDays = 30;

// Directories named on the command line that walks (scan/walk.h) hold open at once, in a process:
// each stays open while a file under it is queued or waits in the memo, so that files open
// relative to it. A walk that would open one more waits until another is let go.
inline constexpr size_t kMaxWalkRootsOpen = 256;

// `accord scan --exclude/--include/--exclude-dir/--include-dir` (scan/path_filter.h): patterns in
// all, and bytes of one (regcomp's automata grow with the pattern; these are far above real use).
inline constexpr size_t kMaxPathPatterns = 1024;
inline constexpr size_t kMaxPathPatternSize = 4096;
// `accord scan --file-list FILE`: the list's size (some 2 million paths).
inline constexpr size_t kMaxScanFileListSize = size_t{256} << 20;
// The per-file limit options of `accord scan` and `accord scand` (cli/limit_options.h): the most
// --max-recursion may be (each open level holds a reader and its buffers, ~400 KB for a zip, and a
// few frames of the walk's stack), and the longest --max-scantime, which 0 ("no limit") means.
inline constexpr int kMaxContainerLevels = 256;
inline constexpr uint64_t kMaxScanTimeMs = uint64_t{365} * 24 * 3600 * 1000;

// Files with the same bytes in one `accord scan` (scan/memo.h): at most this many verdicts are kept,
// one per content and externals key (about 400 bytes each for a clean file, more with findings),
// holding at most kMaxScanMemoBytes, the oldest dropped first (those still being scanned, at most
// one per thread, are kept beyond it).
inline constexpr size_t kMaxScanMemoEntries = 65536;
inline constexpr size_t kMaxScanMemoBytes = 32u << 20;  // and what they hold; 1/64 of it for one
// One content under at most this many externals keys (or names, for a file whose members are
// named after it): a further one is scanned without the memo, so a lookup compares at most this many.
inline constexpr size_t kMaxScanMemoVariants = 16;
// The sizes `accord scan` counts to skip hashing files of a size met once (scan/memo.h, SizeCensus):
// at most this many distinct sizes (about 40 bytes each); a size met past it is hashed as before.
inline constexpr size_t kMaxSizeCensusSizes = 262144;
// Members of containers with the same bytes in one Engine's life (scan/member_memo.h): at most
// this many contents are remembered (about 300 bytes each: a digest, the first member's external
// variables, its YARA outcome), holding at most kMaxMemberMemoBytes; past either, new contents are
// scanned without being remembered.
inline constexpr size_t kMaxMemberMemoEntries = 32768;
inline constexpr size_t kMaxMemberMemoBytes = 16u << 20;
// The predicates over YARA's external variables a rule set carries (scan/yara_split.h,
// ExternalUses; a database's YARA section): at most this many, each at most this long.
inline constexpr size_t kMaxYaraExternalPredicates = 65536;
inline constexpr size_t kMaxYaraExternalPredicateSize = 4096;
// The literals a database's YARA group may carry (the rules' needs, scan/yara_split.h) and the
// bytes of one: signature-base's largest group needs ~7,600; a rule's literal is cut to
// kMaxYaraLiteral (scan/yara_split.h) bytes, far below.
inline constexpr size_t kMaxYaraGroupLiterals = 1 << 20;
inline constexpr size_t kMaxYaraLiteralSize = 64 * 1024;
// libyara scanners a memory fault interrupted (scan/fault_guard.h), kept aside unfreed (their
// state is unknown; each holds up to a few MB: its match tables and a 580 KB notebook). Once this
// many have faulted in a process, its YARA scans are refused with an error until it restarts:
// a file made to fault libyara again and again cannot exhaust the memory. (Going back to
// libyara's own guard is not safe: Debian's 4.2.3 swaps the handlers without a lock.)
inline constexpr size_t kMaxYaraFaultedScanners = 16;

// Canonical JSON (core/canonical_json.h): statements and their bodies are small; deeper nesting
// or larger documents are refused before they are parsed further.
inline constexpr size_t kMaxJsonSize = 1u << 20;
inline constexpr int kMaxJsonDepth = 32;

// Trust policies (c2sp.org/tlog-policy, tlog/policy.h): the spec asks implementations to support
// at least 32 logs, 32 witnesses and 32 groups.
inline constexpr size_t kMaxPolicySize = 256 * 1024;
inline constexpr size_t kMaxPolicyLogs = 256;
inline constexpr size_t kMaxPolicyWitnesses = 256;
inline constexpr size_t kMaxPolicyGroups = 256;

// Freshness (tlog::CheckFreshQuorum): how far in the future a witness's cosignature timestamp may
// be and still count, for clocks that disagree. The node (node/cosigner.h) takes a cosignature
// only if it is dated within this of its own clock, before or after.
inline constexpr uint64_t kMaxClockSkew = 600;

// Witness requests (c2sp.org/tlog-witness add-checkpoint, witness/witness.h): "old <size>", at
// most 63 consistency proof lines (the spec's cap), a blank line and a checkpoint note.
inline constexpr size_t kMaxWitnessProofLines = 63;
inline constexpr size_t kMaxWitnessRequestSize = 32 + kMaxWitnessProofLines * 45 + 1 + kMaxNoteSize;
// Logs that one witness follows (one state file each).
inline constexpr size_t kMaxWitnessLogs = 1024;

// Evidence bundles (update/evidence.h): JSON holding, per log entry, a statement of at most
// kMaxEntrySize bytes (escaped, up to twice that) and its proof; one file's detections.
inline constexpr size_t kMaxEvidenceSize = 8u << 20;
inline constexpr size_t kMaxEvidenceDetections = 256;
inline constexpr size_t kMaxEvidenceEntries = 48;

}  // namespace accord::limits

// InstallShield setup programs: a Windows program (PE) with the installation's files appended after
// its last section (the overlay), in one of two layouts. A reader of scan/reader.h (its contract
// applies).
//
// "Setup" (InstallShield 5-12 without MSI): the overlay is a run of records
//     name NUL  path NUL  version NUL  decimal size NUL  <size bytes>
// Every record is a member, named by its path ("Disk1\setup.inx"). When the records include
// data1.hdr and dataN.cab (InstallShield cabinets, magic "ISc(" = 0x28635349), the files of
// data1.hdr's file table that live in a cabinet are members too, named by the table: the header
// (u32 magic, u32, u32, u32 data offset D, u32) and at D a table of u32 (strings, 0, components,
// directories X, 0, ?, ?, directory count, 0, directory table size, file count F, directory table
// size S); F file items of 87 bytes from D + X + S: u16 flags (4 = in a cabinet), u64 size, u64
// compressed size, u64 offset in the cabinet, 16 bytes MD5, ..., u32 name offset (from D + X) at
// 58, u8 duplicate flags at 84 (1: a copy of an earlier item, not repeated), u16 cabinet number at
// 85. A file's data is chunks of u16 length + a raw deflate stream, inflated one after the other.
//
// "MSI" (InstallShield setups that carry an .msi): after "InstallShield\0" in the overlay, a
// 32-byte header (u32 file count, u32, 24 zero bytes), then per file a 312-byte block (the name,
// NUL-terminated in 260 bytes; u64 compressed size at 268) and its data: every byte's nibbles
// swapped and XORed with the name (itself XORed with EC CA 79 F8) at (position mod 1024) mod the
// name's length, then a zlib stream. Members are named by the block's name ("clam.msi").
//
// A record or block outside the input, a table pointing outside data1.hdr, or data that does not
// inflate to its size is DataLoss; what came before is still yielded.
//
// SPEC: none published; the layouts are those ClamAV's ishield.c reads (learned from, not copied),
// checked against ClamAV's four InstallShield test files.
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// A PE whose overlay is either layout: setup records from its start to its end (at most 4,096), or
// the first MSI-layout header in its first 64 KiB with blocks that fill it.
bool LooksLikeInstallShield(ByteView data);
Status ReadInstallShield(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan

// Windows programs packed with Upack 0.39 (the three-section form): the program compressed as one
// LZMA stream (lc from the stub, lp 0, pb 0, no end marker), unpacked in memory by a stub that
// Upack spreads over the PE headers and the ends of its sections, then its call and jump operands
// made relative again. A reader of scan/reader.h (its contract applies) whose one member ("Upack")
// is the program's memory image as the stub leaves it before it resolves imports (headers at 0,
// each section at its RVA, the stream unpacked, the fix-ups applied): an archive or a program
// inside is then found by the other readers.
//
// The stub, in the memory image (sections mapped from PointerToRawData rounded down to 512, as
// Windows maps them; Upack's first section starts in the headers), compared byte for byte with
// clam-upack.exe's, immediates aside:
//   EP       mov esi, P0; lodsd; push eax; push [esi+0x34]; jmp J2
//   J2       push [esi+0x38]; lodsd; push eax; mov edi, [esi]; mov esi, SRC; push N; pop ecx;
//            rep movsd; push [esi+4]; or eax, -1; mov ebx, edi; stosd; jmp J3
//   J3       ...; mov ch, COUNT; rep stosd; mov edi, [esi+0xc]; push edi; push ecx; jmp DEC
//   DEC      the LZMA decoder (0x7b bytes of routines before DEC, 0x115 after, up to DST), with
//            `shr ebp, NN` at DEC + 0x18 (the literal context: the last byte >> NN) and a jump to
//            the tail copied to DST
//   SRC      the tail (N = 0x27 dwords, copied to DST = [P0 + 8] before anything runs): the end of
//            the decoder loop, the fix-ups (`cmp al, M` at + 0x4f), the imports; its last dword is
//            the packed data's address
// and P = SRC + 4 * N holds [P] the bit decoder's address, [P + 4] the fix-ups F, [P + 0xc] the
// output's start, [P + 0x10] the range's normalisation, [P + 0x34] the output's end, [P + 0x38] K,
// [P + 0x4c, 0x50, 0x54] the other routines' addresses (each must be where the compared code has
// them); the tail's copy may not reach SRC or P. The coder's state (COUNT * 0x100 probabilities
// after 0x18 bytes of registers) sits at DST + 4 * N; it must hold the literal coders of lc = 8 -
// NN and lie after the output's start; the output (and 273 bytes past it, where a last match may
// write), the state and the stub must lie apart, and the packed data apart from the output and
// the state (it is read up to the first of them).
//   stream   = LZMA's range-coded packets (lc = 8 - NN, lp 0, pb 0; without the zero byte an LZMA
//              stream starts with), decoded until the output's end is reached; the literal context
//              of the first byte, and matches reaching before the output, read the image before it
//   fix-ups  = from the output's start, F times: the next E8 or E9 byte whose following byte is
//              M; the u32 after it, its top three bytes read big-endian, + K - (its own address),
//              replaces it; the walk goes on after it (after a near miss, at the next byte), and
//              must find them all within the output
// SPEC: none published. The stub's code was read from clam-upack.exe's disassembly (and ClamAV's
// libclamav/upack.c, an independent reading, has the same parameters, coder and fix-ups);
// clam-upack.exe unpacks to the zip holding clam.exe (CRC-32 checked). The LZMA stream is decoded
// by liblzma (Debian's liblzma-dev) as raw LZMA1 with the image before the output as its preset
// dictionary, so the first literal's context and matches before the output read what the stub's
// do.
//
// DataLoss: the packed stream corrupt or running past the image, the fix-ups running past the
// output, the output or coder state outside the image or over the stub, the packed data or each
// other. ResourceExhausted: the image and liblzma's dictionary (the image up to the output's end)
// larger than ReaderOptions::max_total_bytes. After each of these the image (the output as far as
// it was decoded) is still yielded.
// Unimplemented: a Upack stub other than this one, or an NN liblzma cannot take (lc over 4).
// Not done as the stub does: a last match that runs past the output's end is cut there (the stub
// writes it out).
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// A PE whose entry point holds Upack 0.39's first instructions (mov esi; lodsd; push eax; push
// [esi+0x34]; jmp).
bool LooksLikeUpack(ByteView data);
Status ReadUpack(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan

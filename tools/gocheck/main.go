// gocheck checks accord's logs with Go's independent implementation of signed notes and tiled
// transparency logs (golang.org/x/mod/sumdb/note and sumdb/tlog, from Debian's
// golang-golang-x-mod-dev). Nothing here shares code with accord: paths, bundles and proof files
// are parsed anew, so a bug in accord's formats shows up as a disagreement.
//
//	gocheck verify-log DIR VKEYFILE          open the checkpoint, read tiles through
//	                                         tlog.TileHashReader, prove and check every record
//	                                         (or a sample) and tree consistency
//	gocheck check-proof PROOF VKEYFILE ENTRY check a c2sp.org/tlog-proof@v1 with tlog.CheckRecord
//	gocheck check-consistency PROOF VKEYFILE OLDCHECKPOINT
//	                                         check accord's consistency proof with tlog.CheckTree
//	gocheck genkey NAME DIR                  note.GenerateKey -> DIR/NAME.key, DIR/NAME.vkey
//	gocheck sign KEYFILE < TEXT              sign TEXT with note.NewSigner (accord's or Go's key)
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"crypto/rand"
	"crypto/sha256"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocheck: "+format+"\n", args...)
	os.Exit(1)
}

func indexPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func tilePath(level string, n int64, w int) string {
	p := "tile/" + level + "/" + indexPath(n)
	if w < 256 {
		p += fmt.Sprintf(".p/%d", w)
	}
	return p
}

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }
func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, tilePath(strconv.Itoa(t.L), t.N, t.W)))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func readVerifier(path string) note.Verifier {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		die("%s: %v", path, err)
	}
	return v
}

// openCheckpoint verifies a checkpoint note and parses its first three lines.
func openCheckpoint(msg []byte, v note.Verifier) (origin string, tree tlog.Tree) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		die("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		die("checkpoint text malformed: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		die("checkpoint size: %v", err)
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil {
		die("checkpoint root: %v", err)
	}
	return lines[0], tlog.Tree{N: size, Hash: h}
}

func readBundle(dir string, n int64, w int) [][]byte {
	b, err := os.ReadFile(filepath.Join(dir, tilePath("entries", n, w)))
	if err != nil {
		die("%v", err)
	}
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			die("bundle %d: truncated", n)
		}
		l := int(b[0])<<8 | int(b[1])
		if len(b) < 2+l {
			die("bundle %d: entry truncated", n)
		}
		out = append(out, b[2:2+l])
		b = b[2+l:]
	}
	if len(out) != w {
		die("bundle %d: %d entries, want %d", n, len(out), w)
	}
	return out
}

func verifyLog(dir, vkeyPath string) {
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		die("%v", err)
	}
	origin, tree := openCheckpoint(msg, readVerifier(vkeyPath))
	hr := tlog.TileHashReader(tree, dirTiles{dir})
	if tree.N == 0 {
		// sumdb's TreeHash(0) is the zero hash; RFC 6962's empty tree is SHA-256("").
		if tree.Hash != tlog.Hash(sha256.Sum256(nil)) {
			die("empty tree root %v is not SHA-256 of the empty string", tree.Hash)
		}
		fmt.Printf("go: %s size 0: checkpoint verified, empty root correct\n", origin)
		return
	}
	root, err := tlog.TreeHash(tree.N, hr)
	if err != nil {
		die("TreeHash: %v", err)
	}
	if root != tree.Hash {
		die("tree hash %v != checkpoint %v", root, tree.Hash)
	}
	// Records: every one for small logs, else both ends and a stride through the middle.
	var indexes []int64
	stride := int64(1)
	if tree.N > 3000 {
		stride = tree.N / 1000
	}
	for i := int64(0); i < tree.N; i += stride {
		indexes = append(indexes, i)
	}
	if tree.N > 0 {
		indexes = append(indexes, tree.N-1)
	}
	checked := 0
	for _, i := range indexes {
		w := 256
		if (i/256+1)*256 > tree.N {
			w = int(tree.N - i/256*256)
		}
		entry := readBundle(dir, i/256, w)[i%256]
		p, err := tlog.ProveRecord(tree.N, i, hr)
		if err != nil {
			die("ProveRecord(%d, %d): %v", tree.N, i, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
			die("CheckRecord(%d): %v", i, err)
		}
		checked++
	}
	// Consistency with a spread of older sizes.
	trees := 0
	for m := int64(1); m < tree.N; m = m*3 + 1 {
		old, err := tlog.TreeHash(m, hr)
		if err != nil {
			die("TreeHash(%d): %v", m, err)
		}
		p, err := tlog.ProveTree(tree.N, m, hr)
		if err != nil {
			die("ProveTree(%d, %d): %v", tree.N, m, err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, m, old); err != nil {
			die("CheckTree(%d): %v", m, err)
		}
		trees++
	}
	fmt.Printf("go: %s size %d: checkpoint verified, %d records and %d tree proofs checked\n", origin, tree.N, checked, trees)
}

// parseProof reads accord's proof text: header, optional extra, a count line, hashes, blank,
// checkpoint.
func parseProof(path, header, countKey string) (count int64, hashes []tlog.Hash, checkpoint []byte) {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	parts := bytes.SplitN(b, []byte("\n\n"), 2)
	if len(parts) != 2 {
		die("%s: no blank line before the checkpoint", path)
	}
	lines := strings.Split(string(parts[0]), "\n")
	if lines[0] != header {
		die("%s: header %q, want %q", path, lines[0], header)
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], countKey+" ") {
		die("%s: no %s line", path, countKey)
	}
	count, err = strconv.ParseInt(strings.TrimPrefix(lines[0], countKey+" "), 10, 64)
	if err != nil {
		die("%s: %v", path, err)
	}
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			die("%s: %v", path, err)
		}
		hashes = append(hashes, h)
	}
	return count, hashes, parts[1]
}

// benchProofs times Go's ProveRecord/ProveTree over accord's tiles on disk (fresh reader per
// proof, like accord's benchmark) and CheckRecord/CheckTree, for the side-by-side in docs/.
func benchProofs(dir, vkeyPath string) {
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		die("%v", err)
	}
	_, tree := openCheckpoint(msg, readVerifier(vkeyPath))
	const n = 2000
	var seed uint64 = 1
	next := func() int64 {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return int64(seed % uint64(tree.N))
	}
	start := time.Now()
	var proofs []tlog.RecordProof
	var idx []int64
	for k := 0; k < n; k++ {
		i := next()
		p, err := tlog.ProveRecord(tree.N, i, tlog.TileHashReader(tree, dirTiles{dir}))
		if err != nil {
			die("ProveRecord: %v", err)
		}
		proofs = append(proofs, p)
		idx = append(idx, i)
	}
	prove := time.Since(start) / n
	hr := tlog.TileHashReader(tree, dirTiles{dir})
	leaves := make([]tlog.Hash, n)
	for k := range idx {
		h, err := tlog.StoredHashes(idx[k], nil, hr)
		_ = h
		if err != nil {
			die("%v", err)
		}
		hs, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, idx[k])})
		if err != nil {
			die("%v", err)
		}
		leaves[k] = hs[0]
	}
	start = time.Now()
	for k := range idx {
		if err := tlog.CheckRecord(proofs[k], tree.N, tree.Hash, idx[k], leaves[k]); err != nil {
			die("CheckRecord: %v", err)
		}
	}
	check := time.Since(start) / n
	start = time.Now()
	for k := 0; k < n; k++ {
		if _, err := tlog.ProveTree(tree.N, 1+next()%(tree.N-1), tlog.TileHashReader(tree, dirTiles{dir})); err != nil {
			die("ProveTree: %v", err)
		}
	}
	proveTree := time.Since(start) / n
	fmt.Printf("go sumdb/tlog on %d entries: ProveRecord %v, CheckRecord %v, ProveTree %v (mean of %d)\n",
		tree.N, prove, check, proveTree, n)
}

func checkProof(proofPath, vkeyPath, entryPath string) {
	index, hashes, cp := parseProof(proofPath, "c2sp.org/tlog-proof@v1", "index")
	origin, tree := openCheckpoint(cp, readVerifier(vkeyPath))
	entry, err := os.ReadFile(entryPath)
	if err != nil {
		die("%v", err)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(hashes), tree.N, tree.Hash, index, tlog.RecordHash(entry)); err != nil {
		die("CheckRecord: %v", err)
	}
	fmt.Printf("go: entry %d of %s at size %d: inclusion proof checked\n", index, origin, tree.N)
}

func checkConsistency(proofPath, vkeyPath, oldPath string) {
	v := readVerifier(vkeyPath)
	m, hashes, cp := parseProof(proofPath, "accord/tlog-consistency-proof@v1", "old-size")
	origin, tree := openCheckpoint(cp, v)
	oldMsg, err := os.ReadFile(oldPath)
	if err != nil {
		die("%v", err)
	}
	_, old := openCheckpoint(oldMsg, v)
	if old.N != m {
		die("old checkpoint size %d, proof from %d", old.N, m)
	}
	if err := tlog.CheckTree(tlog.TreeProof(hashes), tree.N, tree.Hash, old.N, old.Hash); err != nil {
		die("CheckTree: %v", err)
	}
	fmt.Printf("go: %s size %d is consistent with size %d\n", origin, tree.N, old.N)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: see the comment at the top of main.go")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "verify-log":
		verifyLog(args[0], args[1])
	case "check-proof":
		checkProof(args[0], args[1], args[2])
	case "check-consistency":
		checkConsistency(args[0], args[1], args[2])
	case "bench-proofs":
		benchProofs(args[0], args[1])
	case "genkey":
		skey, vkey, err := note.GenerateKey(rand.Reader, args[0])
		if err != nil {
			die("%v", err)
		}
		base := filepath.Join(args[1], filepath.Base(strings.ReplaceAll(args[0], "/", "_")))
		if err := os.WriteFile(base+".key", []byte(skey+"\n"), 0600); err != nil {
			die("%v", err)
		}
		if err := os.WriteFile(base+".vkey", []byte(vkey+"\n"), 0644); err != nil {
			die("%v", err)
		}
		fmt.Println(vkey)
	case "sign":
		b, err := os.ReadFile(args[0])
		if err != nil {
			die("%v", err)
		}
		s, err := note.NewSigner(strings.TrimSpace(string(b)))
		if err != nil {
			die("note.NewSigner: %v", err)
		}
		text, err := readAll()
		if err != nil {
			die("%v", err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			die("note.Sign: %v", err)
		}
		os.Stdout.Write(msg)
	default:
		die("unknown command %q", os.Args[1])
	}
}

func readAll() ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(os.Stdin)
	if err != nil {
		return nil, errors.New("reading standard input: " + err.Error())
	}
	return buf.Bytes(), nil
}

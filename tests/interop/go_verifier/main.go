// Command go_verifier checks the archive's checkpoints, inclusion proofs and consistency
// proofs with Go's own transparency-log library (golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog), written only from ARCHIVE_FORMAT.md.
//
//	go_verifier checkpoint  VKEY_FILE NOTE_FILE
//	go_verifier inclusion   VKEY_FILE NOTE_FILE RECORD_LINE_FILE PROOF_JSON_FILE
//	go_verifier consistency VKEY_FILE OLD_NOTE_FILE NEW_NOTE_FILE PROOF_JSON_FILE
//
// Exit status 0 only when everything verified; 1 on any failure (message on stderr);
// 2 on usage errors. Tree sizes and roots are taken only from notes whose signature
// was checked; the numbers and hashes in a proof other than its audit path are hints
// that must agree with what was verified, never inputs.
//
// Build offline (Debian's golang-go and golang-golang-x-mod-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(mktemp -d) \
//	    go build -o go_verifier ./tests/interop/go_verifier
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Strict: the archive writes canonical (zero trailing bits, padded) base64; a decoder
// that ignores the trailing bits would accept a one-character change of a hash.
var b64 = base64.StdEncoding.Strict()

type checkpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"`
	root   tlog.Hash
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_verifier: "+format+"\n", args...)
	os.Exit(1)
}

func readFile(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	return data
}

func decodeHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := b64.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q: %v", s, err)
	}
	if len(raw) != len(h) {
		return h, fmt.Errorf("hash %q: %d bytes, want %d", s, len(raw), len(h))
	}
	copy(h[:], raw)
	return h, nil
}

func verifiers(vkeyFile string) note.Verifiers {
	vkey := strings.TrimSpace(string(readFile(vkeyFile)))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key %s: %v", vkeyFile, err)
	}
	return note.VerifierList(v)
}

// parseDecimal accepts only the canonical decimal form of a non-negative integer.
func parseDecimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q is not a canonical non-negative decimal", s)
	}
	return n, nil
}

// openCheckpoint verifies the note's signature and parses its text as a C2SP
// tlog-checkpoint: "<origin>\n<size>\n<base64 root>\n" (no extension lines).
func openCheckpoint(known note.Verifiers, noteFile string) checkpoint {
	msg := readFile(noteFile)
	n, err := note.Open(msg, known)
	if err != nil {
		fail("%s: %v", noteFile, err)
	}
	// note.Open decodes signature lines with the lenient base64 decoder (trailing bits
	// ignored); the archive writes canonical base64, so insist on it.
	for _, sig := range n.Sigs {
		if _, err := b64.DecodeString(sig.Base64); err != nil {
			fail("%s: signature of %s is not canonical base64: %v", noteFile, sig.Name, err)
		}
	}
	if len(n.UnverifiedSigs) > 0 {
		fail("%s: signature(s) by unknown key(s): %v", noteFile, n.UnverifiedSigs)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		fail("%s: checkpoint text must be exactly 3 lines (origin, size, root), got %q", noteFile, n.Text)
	}
	if lines[0] == "" {
		fail("%s: empty origin", noteFile)
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		fail("%s: tree size: %v", noteFile, err)
	}
	root, err := decodeHash(lines[2])
	if err != nil {
		fail("%s: root: %v", noteFile, err)
	}
	return checkpoint{Origin: lines[0], Size: size, Root: lines[2], root: root}
}

// strictObject decodes a JSON object whose member names must be exactly `want`
// (Go's encoding/json would otherwise match names case-insensitively and ignore extras).
func strictObject(data []byte, want ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	var rest json.RawMessage
	if err := dec.Decode(&rest); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	got := make([]string, 0, len(obj))
	for k := range obj {
		got = append(got, k)
	}
	sort.Strings(got)
	sorted := append([]string(nil), want...)
	sort.Strings(sorted)
	if strings.Join(got, ",") != strings.Join(sorted, ",") {
		return nil, fmt.Errorf("members %v, want exactly %v", got, sorted)
	}
	return obj, nil
}

func intMember(obj map[string]json.RawMessage, name string) (int64, error) {
	return parseDecimal(string(obj[name]))
}

func stringMember(obj map[string]json.RawMessage, name string) (string, error) {
	var s string
	if err := json.Unmarshal(obj[name], &s); err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return s, nil
}

func hashesMember(obj map[string]json.RawMessage) ([]tlog.Hash, error) {
	var list []string
	if err := json.Unmarshal(obj["hashes"], &list); err != nil || list == nil {
		return nil, fmt.Errorf("hashes: not a list of strings")
	}
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := decodeHash(s)
		if err != nil {
			return nil, fmt.Errorf("hashes[%d]: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

var envelopeMembers = []string{"ct", "kid", "nonce", "prev", "seq", "time", "type", "v"}

// recordSeq reads `seq` from the record's canonical envelope bytes C(e), checking that
// the bytes are indeed canonical: re-encoding them with sorted members and no
// insignificant whitespace must give the same bytes.
func recordSeq(line []byte) (int64, error) {
	if len(line) > 0 && line[len(line)-1] == '\n' {
		return 0, errors.New("record line must be C(e) without its trailing newline")
	}
	obj, err := strictObject(line, envelopeMembers...)
	if err != nil {
		return 0, fmt.Errorf("envelope: %v", err)
	}
	var canon bytes.Buffer
	canon.WriteByte('{')
	for i, name := range envelopeMembers { // already sorted by name
		if i > 0 {
			canon.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		canon.Write(key)
		canon.WriteByte(':')
		var compact bytes.Buffer
		if err := json.Compact(&compact, obj[name]); err != nil {
			return 0, err
		}
		canon.Write(compact.Bytes())
	}
	canon.WriteByte('}')
	if !bytes.Equal(canon.Bytes(), line) {
		return 0, errors.New("envelope bytes are not canonical JSON (sorted members, no whitespace)")
	}
	if v, err := intMember(obj, "v"); err != nil || v != 1 {
		return 0, fmt.Errorf("envelope: v must be 1, got %s", obj["v"])
	}
	seq, err := intMember(obj, "seq")
	if err != nil {
		return 0, fmt.Errorf("envelope seq: %v", err)
	}
	return seq, nil
}

func cmdCheckpoint(args []string) {
	cp := openCheckpoint(verifiers(args[0]), args[1])
	out, _ := json.Marshal(cp)
	fmt.Println(string(out))
}

func cmdInclusion(args []string) {
	cp := openCheckpoint(verifiers(args[0]), args[1])
	line := readFile(args[2])
	seq, err := recordSeq(line)
	if err != nil {
		fail("%s: %v", args[2], err)
	}
	leaf := tlog.RecordHash(line)

	proof, err := strictObject(readFile(args[3]), "seq", "tree_size", "leaf_hash", "hashes")
	if err != nil {
		fail("%s: %v", args[3], err)
	}
	hashes, err := hashesMember(proof)
	if err != nil {
		fail("%s: %v", args[3], err)
	}
	// Hints: compared with what was computed or verified, never used.
	if hint, err := intMember(proof, "seq"); err != nil || hint != seq {
		fail("%s: seq hint %s, the record is seq %d", args[3], proof["seq"], seq)
	}
	if hint, err := intMember(proof, "tree_size"); err != nil || hint != cp.Size {
		fail("%s: tree_size hint %s, the checkpoint is of %d records", args[3], proof["tree_size"], cp.Size)
	}
	hintLeaf, err := stringMember(proof, "leaf_hash")
	if err == nil {
		var h tlog.Hash
		if h, err = decodeHash(hintLeaf); err == nil && h != leaf {
			err = fmt.Errorf("leaf_hash hint %s, the record hashes to %s", hintLeaf, leaf)
		}
	}
	if err != nil {
		fail("%s: %v", args[3], err)
	}
	if seq >= cp.Size {
		fail("record %d is not in the checkpoint of %d records", seq, cp.Size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(hashes), cp.Size, cp.root, seq, leaf); err != nil {
		fail("inclusion of record %d in tree %d: %v", seq, cp.Size, err)
	}
	out, _ := json.Marshal(map[string]interface{}{
		"verified": "inclusion", "origin": cp.Origin, "seq": seq, "tree_size": cp.Size,
		"leaf_hash": leaf.String(), "root": cp.Root,
	})
	fmt.Println(string(out))
}

func cmdConsistency(args []string) {
	known := verifiers(args[0])
	old := openCheckpoint(known, args[1])
	cur := openCheckpoint(known, args[2])
	if old.Origin != cur.Origin {
		fail("checkpoints of different logs: %q and %q", old.Origin, cur.Origin)
	}
	proof, err := strictObject(readFile(args[3]), "old_size", "new_size", "hashes")
	if err != nil {
		fail("%s: %v", args[3], err)
	}
	hashes, err := hashesMember(proof)
	if err != nil {
		fail("%s: %v", args[3], err)
	}
	if hint, err := intMember(proof, "old_size"); err != nil || hint != old.Size {
		fail("%s: old_size hint %s, the old checkpoint is of %d records", args[3], proof["old_size"], old.Size)
	}
	if hint, err := intMember(proof, "new_size"); err != nil || hint != cur.Size {
		fail("%s: new_size hint %s, the new checkpoint is of %d records", args[3], proof["new_size"], cur.Size)
	}
	if old.Size < 1 || old.Size > cur.Size {
		fail("old size %d must be in 1..%d", old.Size, cur.Size)
	}
	if err := tlog.CheckTree(tlog.TreeProof(hashes), cur.Size, cur.root, old.Size, old.root); err != nil {
		fail("consistency of tree %d with tree %d: %v", old.Size, cur.Size, err)
	}
	out, _ := json.Marshal(map[string]interface{}{
		"verified": "consistency", "origin": cur.Origin, "old_size": old.Size,
		"new_size": cur.Size, "old_root": old.Root, "new_root": cur.Root,
	})
	fmt.Println(string(out))
}

func main() {
	usage := "usage: go_verifier checkpoint VKEY NOTE | inclusion VKEY NOTE RECORD_LINE PROOF_JSON | consistency VKEY OLD_NOTE NEW_NOTE PROOF_JSON"
	commands := map[string]struct {
		nargs int
		run   func([]string)
	}{
		"checkpoint":  {2, cmdCheckpoint},
		"inclusion":   {4, cmdInclusion},
		"consistency": {4, cmdConsistency},
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok || len(os.Args)-2 != cmd.nargs {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd.run(os.Args[2:])
}

// Command interop is the Go peer of accord's interop suites (tests/interop/run.sh): it reads a
// log that accord served or published, as C2SP tlog-tiles, with Go libraries written
// independently of accord, and fails on any disagreement.
//
//	interop -vkey VKEY (-url URL | -dir DIR) [-expect EXPECTED.json]
//
// It checks:
//
//  1. the checkpoint's signature with the vkey (golang.org/x/mod/sumdb/note), and that the
//     checkpoint's origin is the key's name (torchwood.ParseCheckpoint);
//  2. the tree hash computed from the hash tiles (torchwood's TileFetcher and tile hash reader,
//     golang.org/x/mod/sumdb/tlog.TreeHash) against the checkpoint's root; tlog's tile hash
//     reader also authenticates every tile it reads against that root;
//  3. each sampled leaf (torchwood.Client.Entry): the entry from its entry bundle, its leaf hash
//     SHA-256(0x00 || entry), and its inclusion proof (tlog.ProveRecord over the tiles), checked
//     with tlog.CheckRecord against the checkpoint; with -expect, all three must also equal
//     accord's own answers (tests/interop/expected.py);
//  4. every entry of every entry bundle (torchwood.Client.Entries), each matched against the
//     level-0 hash tiles.
//
// A directory (-dir) is served on a loopback port by Go's net/http.FileServer, a plain static
// file server, and read over HTTP like any other host: torchwood v0.6.1 reads tiles only
// over HTTP.
//
// Exit status 0 when everything agrees; 1, with the first failure on standard error, if not.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// expected is accord's own view of the log, written by tests/interop/expected.py.
type expected struct {
	Size       int64  `json:"size"`
	Root       string `json:"root"`
	Checkpoint string `json:"checkpoint"`
	Leaves     []struct {
		Index    int64    `json:"index"`
		Entry    string   `json:"entry"`
		LeafHash string   `json:"leaf_hash"`
		Proof    []string `json:"proof"`
	} `json:"leaves"`
}

func main() {
	vkey := flag.String("vkey", "", "the log's public key (C2SP signed-note verifier key)")
	url := flag.String("url", "", "the log's tlog-tiles URL prefix")
	dir := flag.String("dir", "", "a directory written by accord publish")
	expectFile := flag.String("expect", "", "accord's answers (tests/interop/expected.py)")
	flag.Parse()
	if *vkey == "" || (*url == "") == (*dir == "") {
		fmt.Fprintln(os.Stderr, "usage: interop -vkey VKEY (-url URL | -dir DIR) [-expect FILE]")
		os.Exit(2)
	}
	where := *url
	if *dir != "" {
		where = *dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	summary, err := run(ctx, *vkey, *url, *dir, *expectFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go peer: %s: REJECTED: %v\n", where, err)
		os.Exit(1)
	}
	fmt.Printf("go peer: %s: %s\n", where, summary)
}

func run(ctx context.Context, vkey, url, dir, expectFile string) (string, error) {
	var exp *expected
	if expectFile != "" {
		raw, err := os.ReadFile(expectFile)
		if err != nil {
			return "", err
		}
		exp = new(expected)
		if err := json.Unmarshal(raw, exp); err != nil {
			return "", fmt.Errorf("%s: %w", expectFile, err)
		}
	}
	if dir != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer ln.Close()
		go http.Serve(ln, http.FileServer(http.Dir(dir)))
		url = "http://" + ln.Addr().String() + "/"
	}
	fetcher, err := torchwood.NewTileFetcher(url, torchwood.WithUserAgent("accord-interop"))
	if err != nil {
		return "", err
	}

	// 1. The checkpoint, verified with the vkey.
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("vkey: %w", err)
	}
	signed, err := fetcher.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		return "", fmt.Errorf("checkpoint signature: %w", err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if cp.Origin != verifier.Name() {
		return "", fmt.Errorf("checkpoint origin %q is not the key's name %q", cp.Origin, verifier.Name())
	}
	root := base64.StdEncoding.EncodeToString(cp.Hash[:])
	if exp != nil {
		if string(signed) != exp.Checkpoint {
			return "", fmt.Errorf("checkpoint differs from accord's:\n%s--- accord:\n%s", signed, exp.Checkpoint)
		}
		if cp.N != exp.Size || root != exp.Root {
			return "", fmt.Errorf("checkpoint size %d root %s, accord says %d %s", cp.N, root, exp.Size, exp.Root)
		}
	}

	// 2. The tree hash from the hash tiles.
	th, err := tlog.TreeHash(cp.N, torchwood.TileHashReaderWithContext(ctx, cp.Tree, fetcher))
	if err != nil {
		return "", fmt.Errorf("tree hash from the tiles: %w", err)
	}
	if th != cp.Hash {
		return "", fmt.Errorf("tree hash from the tiles %s is not the checkpoint's root %s", th, root)
	}

	// 3. Sampled leaves: entry, leaf hash, inclusion proof.
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		return "", err
	}
	var sample []int64
	if exp != nil {
		for _, l := range exp.Leaves {
			sample = append(sample, l.Index)
		}
	} else {
		sample = []int64{0, cp.N / 2, cp.N - 1}
	}
	for k, i := range sample {
		entry, proof, err := client.Entry(ctx, cp.Tree, i)
		if err != nil {
			return "", fmt.Errorf("entry %d: %w", i, err)
		}
		sum := sha256.Sum256(append([]byte{0}, entry...))
		leaf := tlog.Hash(sum)
		if leaf != tlog.RecordHash(entry) {
			return "", fmt.Errorf("entry %d: SHA-256(0x00 || entry) is not tlog.RecordHash", i)
		}
		if err := tlog.CheckRecord(proof, cp.N, cp.Hash, i, leaf); err != nil {
			return "", fmt.Errorf("entry %d: inclusion: %w", i, err)
		}
		if exp == nil {
			continue
		}
		want := exp.Leaves[k]
		if base64.StdEncoding.EncodeToString(entry) != want.Entry {
			return "", fmt.Errorf("entry %d differs from accord's", i)
		}
		if leaf.String() != want.LeafHash {
			return "", fmt.Errorf("entry %d: leaf hash %s, accord's is %s", i, leaf, want.LeafHash)
		}
		if len(proof) != len(want.Proof) {
			return "", fmt.Errorf("entry %d: proof of %d hashes, accord's has %d", i, len(proof), len(want.Proof))
		}
		for j, h := range proof {
			if h.String() != want.Proof[j] {
				return "", fmt.Errorf("entry %d: proof hash %d is %s, accord's is %s", i, j, h, want.Proof[j])
			}
		}
	}

	// 4. Every entry of every bundle. Entries stops before a trailing partial bundle and reads
	// it when called again from its start.
	var next int64
	bundleBytes := 0
	for next < cp.N {
		from := next
		for i, e := range client.Entries(ctx, cp.Tree, next) {
			if i != next {
				return "", fmt.Errorf("entries: got entry %d, expected %d", i, next)
			}
			next++
			bundleBytes += 2 + len(e)
		}
		if err := client.Err(); err != nil {
			return "", fmt.Errorf("entries from %d: %w", from, err)
		}
		if next == from {
			return "", errors.New("entries: no progress at " + fmt.Sprint(next))
		}
	}
	bundles := (cp.N + 255) / 256

	what := "sampled"
	if exp != nil {
		what = "sampled leaves: entries, leaf hashes and inclusion proofs equal accord's and"
	}
	return fmt.Sprintf("checkpoint of %s size %d verified with the vkey (note.Open); tree hash from the "+
		"hash tiles = root %s; %d %s check against the root (tlog.CheckRecord); all %d entries "+
		"(%d entry bundles, %s) matched the hash tiles", cp.Origin, cp.N, root, len(sample), what,
		cp.N, bundles, human(bundleBytes)), nil
}

func human(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

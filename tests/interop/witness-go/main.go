// Command witness-go is the Go peer of the witness part of accord's interop suites
// (tests/interop/run.sh witness): it checks C2SP tlog-cosignature v1 (Ed25519, type 0x04)
// cosignatures with filippo.io/torchwood v0.10.0 and golang.org/x/mod/sumdb/note, code written
// independently of accord, and makes cosignatures for accord to check.
//
//	witness-go verify -log VKEY -witness VKEY -policy FILE -checkpoint FILE
//	witness-go cosign -log VKEY -name NAME -checkpoint FILE -out FILE -vkey-out FILE
//
// verify runs two checks on a cosigned checkpoint (the log's signed checkpoint with one or
// more cosignature lines appended) and prints one verdict line for each:
//
//  1. "note.Open": note.Open with the log's note verifier and torchwood.NewCosignatureVerifier
//     of the witness vkey; both the log's signature and the witness's cosignature must be
//     among the verified signatures (a line of either key that fails makes note.Open fail);
//     the cosignature's timestamp is read with torchwood.CosignatureTimestamp;
//  2. "policy": torchwood.ParsePolicy of the policy file and torchwood.VerifyCheckpoint.
//
// Each verdict line is "OK <check>: ..." or "REJECTED <check>: <reason>". Exit status 0 when
// both are OK, 1 when either is REJECTED, 2 for a usage error.
//
// cosign opens the checkpoint with the log's vkey, makes a fresh Ed25519 key, cosigns the
// checkpoint with torchwood.NewCosignatureSigner (name NAME), writes the checkpoint with the
// cosignature appended to -out and the witness vkey to -vkey-out, and checks its own output
// with the verifier of step 1.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: witness-go verify -log VKEY -witness VKEY -policy FILE -checkpoint FILE")
	fmt.Fprintln(os.Stderr, "       witness-go cosign -log VKEY -name NAME -checkpoint FILE -out FILE -vkey-out FILE")
	os.Exit(2)
}

func fatal(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "witness-go: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "verify":
		verify(os.Args[2:])
	case "cosign":
		cosign(os.Args[2:])
	default:
		usage()
	}
}

// openCosigned verifies the log's signature and the witness's cosignature with note.Open and
// returns the cosignature's timestamp.
func openCosigned(signed []byte, logV note.Verifier, witV *torchwood.CosignatureVerifier) (*note.Note, int64, error) {
	n, err := note.Open(signed, note.VerifierList(logV, witV))
	if err != nil {
		return nil, 0, err
	}
	var logOK bool
	var cosig *note.Signature
	for i, s := range n.Sigs {
		switch {
		case s.Name == logV.Name() && s.Hash == logV.KeyHash():
			logOK = true
		case s.Name == witV.Name() && s.Hash == witV.KeyHash():
			cosig = &n.Sigs[i]
		}
	}
	if !logOK {
		return nil, 0, errors.New("no verified signature of the log")
	}
	if cosig == nil {
		return nil, 0, errors.New("no verified cosignature of the witness")
	}
	t, err := torchwood.CosignatureTimestamp(*cosig)
	if err != nil {
		return nil, 0, err
	}
	return n, t, nil
}

func verify(args []string) {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	logKey := fs.String("log", "", "the log's vkey (Ed25519 signed note, type 0x01)")
	witKey := fs.String("witness", "", "the witness's cosignature vkey (type 0x04)")
	policyFile := fs.String("policy", "", "a torchwood policy file")
	cpFile := fs.String("checkpoint", "", "the cosigned checkpoint")
	fs.Parse(args)
	if *logKey == "" || *witKey == "" || *policyFile == "" || *cpFile == "" || fs.NArg() != 0 {
		usage()
	}
	logV, err := note.NewVerifier(*logKey)
	if err != nil {
		fatal("log vkey: %v", err)
	}
	witV, err := torchwood.NewCosignatureVerifier(*witKey)
	if err != nil {
		fatal("witness vkey: %v", err)
	}
	policyText, err := os.ReadFile(*policyFile)
	if err != nil {
		fatal("%v", err)
	}
	signed, err := os.ReadFile(*cpFile)
	if err != nil {
		fatal("%v", err)
	}

	rejected := false
	if n, t, err := openCosigned(signed, logV, witV); err != nil {
		fmt.Printf("REJECTED note.Open: %v\n", err)
		rejected = true
	} else {
		fmt.Printf("OK note.Open: signed by %s and cosigned by %s at time %d (%d signature lines verified)\n",
			logV.Name(), witV.Name(), t, len(n.Sigs))
	}

	policy, err := torchwood.ParsePolicy(policyText)
	if err != nil {
		fatal("policy: %v", err)
	}
	if c, _, err := torchwood.VerifyCheckpoint(signed, policy); err != nil {
		fmt.Printf("REJECTED policy: %v\n", err)
		rejected = true
	} else {
		fmt.Printf("OK policy: %s size %d root %s\n", c.Origin, c.N, c.Hash)
	}
	if rejected {
		os.Exit(1)
	}
}

func cosign(args []string) {
	fs := flag.NewFlagSet("cosign", flag.ExitOnError)
	logKey := fs.String("log", "", "the log's vkey")
	name := fs.String("name", "", "the witness name")
	cpFile := fs.String("checkpoint", "", "the log's signed checkpoint")
	out := fs.String("out", "", "where to write the cosigned checkpoint")
	vkeyOut := fs.String("vkey-out", "", "where to write the witness vkey")
	fs.Parse(args)
	if *logKey == "" || *name == "" || *cpFile == "" || *out == "" || *vkeyOut == "" || fs.NArg() != 0 {
		usage()
	}
	logV, err := note.NewVerifier(*logKey)
	if err != nil {
		fatal("log vkey: %v", err)
	}
	signed, err := os.ReadFile(*cpFile)
	if err != nil {
		fatal("%v", err)
	}
	n, err := note.Open(signed, note.VerifierList(logV))
	if err != nil {
		fatal("the log's checkpoint does not verify: %v", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		fatal("%v", err)
	}
	signer, err := torchwood.NewCosignatureSigner(*name, priv)
	if err != nil {
		fatal("%v", err)
	}
	cosigned, err := note.Sign(n, signer)
	if err != nil {
		fatal("cosigning: %v", err)
	}
	if _, _, err := openCosigned(cosigned, logV, signer.Verifier()); err != nil {
		fatal("torchwood does not verify its own cosignature: %v", err)
	}
	if err := os.WriteFile(*out, cosigned, 0o644); err != nil {
		fatal("%v", err)
	}
	if err := os.WriteFile(*vkeyOut, []byte(signer.Verifier().String()+"\n"), 0o644); err != nil {
		fatal("%v", err)
	}
	fmt.Printf("cosigned %s as %s\n", *cpFile, signer.Verifier())
}

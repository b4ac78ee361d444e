//! accord: a compliance-attestation ledger.
//!
//! Companies sign attestations of cybersecurity norms (Ed25519, COSE_Sign1) and append them to
//! an append-only, hash-chained ledger whose leaves also form an RFC 9162 Merkle tree; every
//! commit ends with a C2SP checkpoint signed by the ledger's own key. Anyone replays and
//! verifies the whole ledger with nothing but that key.
//!
//! The library holds all logic; the `accord` binary is a thin command-line layer on top.
//! Format and verification modules ([`codec`], [`statement`], [`norms`], [`proofs`],
//! [`checkpoint`]) touch no files; [`store`] is the only module that talks to the database.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bucket;
pub mod checkpoint;
pub mod clock;
pub mod codec;
pub mod cosignature;
pub mod destination;
pub mod entry;
pub mod export;
pub mod keyfile;
pub mod keys;
pub mod ledger;
pub mod localfs;
pub mod merkle;
pub mod names;
pub mod norms;
pub mod pending;
pub mod policy;
pub mod proofs;
pub mod publish;
pub mod remote;
pub mod replay;
pub mod report;
pub mod rules;
pub mod sequencer;
pub mod serve;
pub mod state;
pub mod statemap;
pub mod statement;
pub mod store;
pub mod tiles;
pub mod time;
pub mod verdict;
pub mod watch;
pub mod witness;
pub mod witnessing;

//! Signed checkpoints and offline proofs: the signed-note vectors of
//! golang.org/x/mod/sumdb/note and C2SP's examples
//! (`tests/vectors/signed-note.json`, cited there), property tests over
//! random checkpoints and keys, event proofs built from a real store and
//! each way of tampering with them, and that a signing key's secret shows
//! nowhere.

use audit_store::checkpoint::{Checkpoint, CheckpointError, SignedNote, SigningKey, VerifierKey};
use audit_store::merkle;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/signed-note.json")).unwrap()
}

fn go_vector(field: &str) -> String {
    vectors()["go_note"][field].as_str().unwrap().to_owned()
}

/// Every text that is `text` with one part cut out or one byte raised by
/// one: none of them is the same key.
fn manglings(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for start in 0..=bytes.len() {
        for end in start + 1..=bytes.len() {
            if (start, end) != (0, bytes.len()) {
                out.push(String::from_utf8(bytes[start..end].to_vec()).unwrap());
            }
        }
    }
    for at in 0..bytes.len() {
        let mut raised = bytes.to_vec();
        raised[at] += 1;
        out.push(String::from_utf8(raised).unwrap());
    }
    out
}

mod vectors {
    use super::*;

    #[test]
    fn go_keys_parse_and_the_signing_key_gives_the_verifier_key() {
        let signing = SigningKey::parse(&go_vector("signer_key")).unwrap();
        assert_eq!((signing.name(), signing.key_hash()), ("PeterNeumann", 0xc74f_20a3));
        let verifier = VerifierKey::parse(&go_vector("verifier_key")).unwrap();
        assert_eq!(signing.verifier_key(), verifier);
        assert_eq!(verifier.to_string(), go_vector("verifier_key"));
        assert_eq!(*signing.expose_private_text(), go_vector("signer_key"));
    }

    #[test]
    fn signing_the_go_text_gives_the_go_signature_byte_for_byte() {
        let key = SigningKey::parse(&go_vector("signer_key")).unwrap();
        let note = SignedNote::sign(go_vector("text"), &key).unwrap();
        assert_eq!(note.to_string(), go_vector("signed_note"));
    }

    #[test]
    fn the_go_note_verifies_and_prints_back_exactly() {
        let verifier = VerifierKey::parse(&go_vector("verifier_key")).unwrap();
        let note = SignedNote::parse(&go_vector("signed_note")).unwrap();
        assert_eq!(note.verify(&verifier).unwrap(), go_vector("text"));
        assert_eq!(note.to_string(), go_vector("signed_note"));
        assert_eq!(note.signatures().len(), 1);
        assert_eq!(note.signatures()[0].key_hash(), 0xc74f_20a3);
        assert_eq!(note.signatures()[0].signature().len(), 64);
    }

    #[test]
    fn each_known_key_verifies_its_own_signature_and_ignores_the_other() {
        let both = go_vector("signed_note") + &go_vector("other_signature_line");
        let note = SignedNote::parse(&both).unwrap();
        for key in ["verifier_key", "other_verifier_key"] {
            let verifier = VerifierKey::parse(&go_vector(key)).unwrap();
            assert_eq!(note.verify(&verifier).unwrap(), go_vector("text"), "{key}");
        }
        assert_eq!(note.to_string(), both);
    }

    #[test]
    fn a_changed_text_or_signature_does_not_verify() {
        let verifier = VerifierKey::parse(&go_vector("verifier_key")).unwrap();
        let signed = go_vector("signed_note");
        let changed_text = signed.replace("cryptography", "Cryptography");
        // Bytes added inside the signature: same key hash, longer signature.
        let signature_at = signed.find('\u{2014}').unwrap();
        let changed_signature = format!("{}ABCD{}", &signed[..signature_at + 60], &signed[signature_at + 60..]);
        for note in [changed_text, changed_signature] {
            let error = SignedNote::parse(&note).unwrap().verify(&verifier).unwrap_err();
            assert!(matches!(error, CheckpointError::BadSignature { .. }), "{error:?}");
            assert_eq!(
                error.to_string(),
                "the signature by PeterNeumann+c74f20a3 does not verify"
            );
        }
    }

    #[test]
    fn a_note_by_another_key_is_refused_naming_the_key_asked_for() {
        let enoch_only = format!("{}\n{}", go_vector("text"), go_vector("other_signature_line"));
        let peter = VerifierKey::parse(&go_vector("verifier_key")).unwrap();
        let error = SignedNote::parse(&enoch_only).unwrap().verify(&peter).unwrap_err();
        assert!(matches!(error, CheckpointError::NoSignatureByKey { .. }), "{error:?}");
        assert_eq!(error.to_string(), "the note has no signature by PeterNeumann+c74f20a3");
    }

    #[test]
    fn every_mangled_go_verifier_key_is_refused() {
        for mangled in manglings(&go_vector("verifier_key")) {
            assert!(VerifierKey::parse(&mangled).is_err(), "{mangled}");
        }
        let bad = &vectors()["go_note"]["bad_verifier_keys"];
        let wrong_length = VerifierKey::parse(bad["wrong key length, key hash adjusted"].as_str().unwrap());
        assert!(
            matches!(wrong_length, Err(CheckpointError::MalformedVerifierKey { .. })),
            "{wrong_length:?}"
        );
        let unknown = VerifierKey::parse(bad["unknown algorithm, key hash adjusted"].as_str().unwrap());
        assert!(
            matches!(unknown, Err(CheckpointError::UnknownAlgorithm { algorithm: 0x65 })),
            "{unknown:?}"
        );
    }

    #[test]
    fn every_mangled_go_signing_key_is_refused() {
        for mangled in manglings(&go_vector("signer_key")) {
            assert!(SigningKey::parse(&mangled).is_err(), "{mangled}");
        }
    }

    #[test]
    fn the_c2sp_examples_parse_and_print_back_exactly() {
        let examples = &vectors()["c2sp_examples"];
        let poem = examples["signed_note"].as_str().unwrap();
        let note = SignedNote::parse(poem).unwrap();
        assert!(
            note.text().ends_with("\n\ned è subito sera.\n"),
            "the text keeps its own blank line"
        );
        assert_eq!(note.signatures()[0].name(), "quasimodo.example/salvatore");
        assert_eq!(note.to_string(), poem);

        let signed = examples["checkpoint"].as_str().unwrap();
        let note = SignedNote::parse(signed).unwrap();
        let checkpoint = Checkpoint::parse(note.text()).unwrap();
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20_852_163);
        assert_eq!(
            audit_store::serde_hash::encode(&checkpoint.root),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert_eq!(checkpoint.to_body().unwrap(), note.text());
        // Its key is not published: a key of the same name is another key.
        let stranger = SigningKey::generate("example.com/behind-the-sofa")
            .unwrap()
            .verifier_key();
        assert!(matches!(
            Checkpoint::open(signed, &stranger),
            Err(CheckpointError::NoSignatureByKey { .. })
        ));
    }
}

mod properties {
    use super::*;

    fn checkpoints() -> impl Strategy<Value = Checkpoint> {
        (
            "[a-z0-9.-]{1,20}(/[a-z0-9:%.-]{1,20}){0,2}",
            any::<u64>(),
            any::<[u8; 32]>(),
            proptest::collection::vec("[ -~]{1,30}", 0..3),
        )
            .prop_map(|(origin, size, root, extensions)| Checkpoint {
                origin,
                size,
                root,
                extensions,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_signed_checkpoint_opens_to_itself_and_any_flipped_byte_fails(
            checkpoint in checkpoints(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 8),
        ) {
            let key = SigningKey::generate("audit.example.com/log").unwrap();
            let verifier = key.verifier_key();
            let note = checkpoint.sign(&key).unwrap();
            prop_assert_eq!(Checkpoint::open(&note, &verifier).unwrap(), checkpoint);
            // Half the flips land in the signature line, half anywhere.
            let signature_line = note.rfind("\n\n").unwrap() + 2;
            for (i, (index, mask)) in flips.into_iter().enumerate() {
                let at = if i % 2 == 0 {
                    index.index(note.len())
                } else {
                    signature_line + index.index(note.len() - signature_line)
                };
                let mut bytes = note.clone().into_bytes();
                bytes[at] ^= mask;
                // A flip that breaks UTF-8 cannot even be handed over as text.
                if let Ok(flipped) = String::from_utf8(bytes) {
                    prop_assert!(Checkpoint::open(&flipped, &verifier).is_err(), "byte {} ^ {:#04x}: {}", at, mask, flipped);
                }
            }
        }

        #[test]
        fn a_note_signed_by_another_key_has_no_signature_by_this_one(
            checkpoint in checkpoints(),
            same_name in any::<bool>(),
        ) {
            let key = SigningKey::generate("audit.example.com/log").unwrap();
            let other = SigningKey::generate(if same_name { "audit.example.com/log" } else { "elsewhere.example.com/log" }).unwrap();
            let note = checkpoint.sign(&other).unwrap();
            let error = Checkpoint::open(&note, &key.verifier_key()).unwrap_err();
            prop_assert!(matches!(error, CheckpointError::NoSignatureByKey { .. }), "{:?}", error);
        }

        #[test]
        fn a_key_text_with_another_key_hash_is_refused(wrong_hash in any::<u32>()) {
            let key = SigningKey::generate("audit.example.com/log").unwrap();
            prop_assume!(wrong_hash != key.key_hash());
            let right = format!("+{:08x}+", key.key_hash());
            let wrong = format!("+{wrong_hash:08x}+");
            let verifier_text = key.verifier_key().to_string().replacen(&right, &wrong, 1);
            let expected = key.key_hash();
            let verdict = VerifierKey::parse(&verifier_text);
            prop_assert!(
                matches!(verdict, Err(CheckpointError::KeyHashMismatch { found, expected: e }) if found == wrong_hash && e == expected),
                "{:?}", verdict
            );
            let signing_text = key.expose_private_text().replacen(&right, &wrong, 1);
            let verdict = SigningKey::parse(&signing_text);
            prop_assert!(
                matches!(verdict, Err(CheckpointError::KeyHashMismatch { found, .. }) if found == wrong_hash),
                "{:?}", verdict
            );
            // A signature line claiming another key hash is not by this key.
            let note = Checkpoint::new("log/global", 0, merkle::empty_root()).sign(&key).unwrap();
            let signature_at = note.rfind(' ').unwrap() + 1;
            let mut bytes = STANDARD.decode(note[signature_at..].trim_end()).unwrap();
            bytes[..4].copy_from_slice(&wrong_hash.to_be_bytes());
            let relabelled = format!("{}{}\n", &note[..signature_at], STANDARD.encode(bytes));
            let verdict = Checkpoint::open(&relabelled, &key.verifier_key());
            prop_assert!(matches!(verdict, Err(CheckpointError::NoSignatureByKey { .. })), "{:?}", verdict);
        }
    }
}

/// Event proofs from a real (in-memory) store: events sealed as the store
/// seals them, the tree built in memory from their leaves.
#[cfg(feature = "sqlite")]
mod event_proofs {
    use audit_core::{Action, Actor, AuditSink as _, Event, Integrity};
    use audit_store::SqliteStore;
    use audit_store::merkle::{Hash, ProofError};
    use audit_store::proof::{ConsistencyProof, EventProof, InvalidProof, Verified};

    use super::*;

    const LOG: &str = "audit.example.com/log";

    /// What storage and JSON tend to mangle, so a proof's round trip is
    /// tested on it: non-ASCII text and numbers that need an exact form.
    fn event(tenant: &str, n: usize) -> Event {
        Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("user_{n}")))
            .tenant(tenant)
            .description(format!("app {n} — naïve café ✓ 🚀"))
            .metadata("price", &(0.1 + 0.2))
            .metadata("big", &u64::MAX)
            .build()
    }

    /// One stream's events as stored, in seq order, and their leaves.
    struct Stream {
        events: Vec<Event>,
        leaves: Vec<Hash>,
    }

    impl Stream {
        fn name(&self) -> &str {
            &self.events[0].integrity().unwrap().stream
        }

        fn checkpoint(&self, size: u64) -> Checkpoint {
            let leaves = &self.leaves[..usize::try_from(size).unwrap()];
            Checkpoint::new(Checkpoint::origin(LOG, self.name()), size, merkle::root(leaves))
        }

        fn proof(&self, index: u64, size: u64, key: &SigningKey) -> EventProof {
            EventProof {
                event: self.events[usize::try_from(index).unwrap()].clone(),
                leaf_index: index,
                tree_size: size,
                audit_path: merkle::inclusion_proof(index, size, |node| merkle::node_of(&self.leaves, node)).unwrap(),
                checkpoint: self.checkpoint(size).sign(key).unwrap(),
            }
        }
    }

    struct Fixture {
        key: SigningKey,
        acme: Stream,
        globex: Stream,
    }

    impl Fixture {
        fn verify(&self, proof: &EventProof) -> Result<Verified, InvalidProof> {
            proof.verify(&self.key.verifier_key(), LOG)
        }
    }

    /// Five events of tenant acme and three of globex, written in one batch
    /// and read back sealed.
    async fn fixture() -> Fixture {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let written: Vec<Event> = (0..8)
            .map(|n| event(if n < 5 { "acme" } else { "globex" }, n))
            .collect();
        store.write_batch(&written).await.unwrap();
        let mut stored = Vec::new();
        for event in &written {
            stored.push(store.get(event.id()).await.unwrap().unwrap());
        }
        let stream = |name: &str| {
            let mut events: Vec<Event> = stored
                .iter()
                .filter(|event| event.integrity().unwrap().stream == name)
                .cloned()
                .collect();
            events.sort_by_key(|event| event.integrity().unwrap().seq);
            let leaves = events
                .iter()
                .map(|event| merkle::leaf(&event.canonical_bytes()))
                .collect();
            Stream { events, leaves }
        };
        Fixture {
            key: SigningKey::generate(LOG).unwrap(),
            acme: stream("tenant:acme"),
            globex: stream("tenant:globex"),
        }
    }

    /// Asserts that `fixture` refuses `proof` with an error matching
    /// `pattern`, and gives the error.
    macro_rules! assert_refused {
        ($fixture:expr, $proof:expr, $pattern:pat) => {{
            let error = $fixture.verify(&$proof).unwrap_err();
            assert!(matches!(error, $pattern), "{error:?}");
            error
        }};
    }

    /// `proof` with its event's description edited in its JSON, as someone
    /// holding the file could.
    fn with_edited_description(proof: &EventProof) -> EventProof {
        let mut json = serde_json::to_value(proof).unwrap();
        json["event"]["description"] = "nothing happened".into();
        serde_json::from_value(json).unwrap()
    }

    #[tokio::test]
    async fn every_event_proof_survives_json_and_verifies_in_every_tree_holding_it() {
        let fixture = fixture().await;
        for size in 1..=5 {
            for index in 0..size {
                let proof = fixture.acme.proof(index, size, &fixture.key);
                let json = serde_json::to_string(&proof).unwrap();
                let read: EventProof = serde_json::from_str(&json).unwrap();
                assert_eq!(read, proof);
                let verified = fixture.verify(&read).unwrap();
                assert_eq!((verified.stream.as_str(), verified.seq), ("tenant:acme", index + 1));
                assert_eq!(verified.checkpoint, fixture.acme.checkpoint(size));
                assert_eq!(verified.leaf_hash, fixture.acme.leaves[usize::try_from(index).unwrap()]);
            }
        }
        let json = serde_json::to_value(fixture.acme.proof(3, 5, &fixture.key)).unwrap();
        assert_eq!(
            (json["leaf_index"].as_u64(), json["tree_size"].as_u64()),
            (Some(3), Some(5))
        );
        assert!(
            json["audit_path"]
                .as_array()
                .unwrap()
                .iter()
                .all(|hash| { audit_store::serde_hash::decode(hash.as_str().unwrap()).is_ok() })
        );
        assert!(
            json["checkpoint"]
                .as_str()
                .unwrap()
                .starts_with("audit.example.com/log/tenant:acme\n5\n")
        );
    }

    #[tokio::test]
    async fn an_edited_event_is_reported_as_altered() {
        let fixture = fixture().await;
        let proof = with_edited_description(&fixture.acme.proof(2, 5, &fixture.key));
        let error = assert_refused!(fixture, proof, InvalidProof::EventAltered { seq: 3, .. });
        assert!(error.to_string().contains("was altered"), "{error}");
    }

    #[tokio::test]
    async fn an_edited_event_with_a_matching_leaf_hash_is_not_in_the_tree() {
        let fixture = fixture().await;
        let mut proof = with_edited_description(&fixture.acme.proof(2, 5, &fixture.key));
        let integrity = proof.event.integrity().unwrap().clone();
        proof.event.set_integrity(Integrity {
            leaf_hash: audit_store::leaf_hash(&proof.event),
            ..integrity
        });
        assert_refused!(fixture, proof, InvalidProof::NotIncluded(ProofError::Mismatch));
    }

    #[tokio::test]
    async fn a_wrong_leaf_index_is_refused() {
        let fixture = fixture().await;
        let mut proof = fixture.acme.proof(2, 5, &fixture.key);
        proof.leaf_index = 3;
        assert_refused!(fixture, proof, InvalidProof::WrongLeafIndex { leaf_index: 3, seq: 3 });
    }

    #[tokio::test]
    async fn a_tree_size_other_than_the_checkpoints_is_refused() {
        let fixture = fixture().await;
        let mut proof = fixture.acme.proof(2, 5, &fixture.key);
        proof.tree_size = 4;
        assert_refused!(
            fixture,
            proof,
            InvalidProof::WrongTreeSize {
                proof: 4,
                checkpoint: 5
            }
        );
    }

    #[tokio::test]
    async fn another_tenants_checkpoint_is_refused() {
        let fixture = fixture().await;
        let mut proof = fixture.acme.proof(1, 3, &fixture.key);
        proof.checkpoint = fixture.globex.checkpoint(3).sign(&fixture.key).unwrap();
        let error = fixture.verify(&proof).unwrap_err();
        match error {
            InvalidProof::WrongOrigin { expected, found } => {
                assert_eq!(expected, "audit.example.com/log/tenant:acme");
                assert_eq!(found, "audit.example.com/log/tenant:globex");
            }
            other => panic!("{other:?}"),
        }
        let error = fixture
            .acme
            .proof(1, 3, &fixture.key)
            .verify(&fixture.key.verifier_key(), "another.example.com/log")
            .unwrap_err();
        assert!(matches!(error, InvalidProof::WrongOrigin { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn a_checkpoint_signed_by_another_key_is_refused() {
        let fixture = fixture().await;
        let impostor = SigningKey::generate(LOG).unwrap();
        let proof = fixture.acme.proof(2, 5, &impostor);
        assert_refused!(
            fixture,
            proof,
            InvalidProof::Signature(CheckpointError::NoSignatureByKey { .. })
        );
        // The key's own signature over an edited checkpoint does not verify.
        let mut proof = fixture.acme.proof(2, 5, &fixture.key);
        proof.checkpoint = proof.checkpoint.replacen("\n5\n", "\n6\n", 1);
        assert_refused!(
            fixture,
            proof,
            InvalidProof::Signature(CheckpointError::BadSignature { .. })
        );
    }

    #[tokio::test]
    async fn a_signed_text_that_is_no_checkpoint_is_refused() {
        let fixture = fixture().await;
        let mut proof = fixture.acme.proof(2, 5, &fixture.key);
        proof.checkpoint = SignedNote::sign("just a note\n", &fixture.key).unwrap().to_string();
        assert_refused!(
            fixture,
            proof,
            InvalidProof::Checkpoint(CheckpointError::TooFewLines { lines: 1 })
        );
    }

    #[tokio::test]
    async fn a_modified_audit_path_is_refused() {
        let fixture = fixture().await;
        let proof = fixture.acme.proof(2, 5, &fixture.key);
        for position in 0..proof.audit_path.len() {
            let mut modified = proof.clone();
            modified.audit_path[position][7] ^= 0x20;
            assert_refused!(fixture, modified, InvalidProof::NotIncluded(ProofError::Mismatch));
        }
        let mut shortened = proof;
        shortened.audit_path.pop();
        assert_refused!(
            fixture,
            shortened,
            InvalidProof::NotIncluded(ProofError::WrongLength { .. })
        );
    }

    #[tokio::test]
    async fn an_event_never_stored_is_refused() {
        let fixture = fixture().await;
        let mut proof = fixture.acme.proof(0, 5, &fixture.key);
        proof.event = event("acme", 0);
        assert_refused!(fixture, proof, InvalidProof::NotSealed);
    }

    #[tokio::test]
    async fn a_later_checkpoint_is_proven_to_extend_an_earlier_one() {
        let fixture = fixture().await;
        let verifier = fixture.key.verifier_key();
        let open =
            |checkpoint: Checkpoint| Checkpoint::open(&checkpoint.sign(&fixture.key).unwrap(), &verifier).unwrap();
        let (old, new) = (open(fixture.acme.checkpoint(2)), open(fixture.acme.checkpoint(5)));
        let proof = ConsistencyProof {
            stream: "tenant:acme".to_owned(),
            old_size: 2,
            new_size: 5,
            proof: merkle::consistency_proof(2, 5, |node| merkle::node_of(&fixture.acme.leaves, node)).unwrap(),
        };
        let json = serde_json::to_string(&proof).unwrap();
        let proof: ConsistencyProof = serde_json::from_str(&json).unwrap();
        proof.verify(&old, &new).unwrap();

        let mut modified = proof.clone();
        modified.proof[0][0] ^= 1;
        let error = modified.verify(&old, &new).unwrap_err();
        assert!(
            matches!(error, InvalidProof::NotConsistent(ProofError::Mismatch)),
            "{error:?}"
        );

        let mut rewritten = fixture.acme.checkpoint(5);
        rewritten.root[0] ^= 1;
        let error = proof.verify(&old, &rewritten).unwrap_err();
        assert!(matches!(error, InvalidProof::NotConsistent(_)), "{error:?}");

        let error = proof.verify(&old, &fixture.globex.checkpoint(3)).unwrap_err();
        assert!(matches!(error, InvalidProof::OriginsDiffer { .. }), "{error:?}");

        let other_stream = ConsistencyProof {
            stream: "tenant:globex".to_owned(),
            ..proof.clone()
        };
        let error = other_stream.verify(&old, &new).unwrap_err();
        assert!(matches!(error, InvalidProof::WrongStream { .. }), "{error:?}");

        let error = proof.verify(&old, &fixture.acme.checkpoint(4)).unwrap_err();
        assert!(
            matches!(
                error,
                InvalidProof::WrongTreeSize {
                    proof: 5,
                    checkpoint: 4
                }
            ),
            "{error:?}"
        );
    }
}

/// A signing key's seed, in any of its usual spellings, shows nowhere but in
/// `expose_private_text`.
mod secrets {
    use super::*;

    /// The seed of the Go vector's key as base64 (with and without its type
    /// byte) and hex, and every 8-character piece of those.
    fn seed_spellings() -> Vec<String> {
        let private = go_vector("signer_key");
        let encoded = private.splitn(5, '+').nth(4).unwrap().to_owned();
        let seed = STANDARD.decode(&encoded).unwrap()[1..].to_vec();
        let hex: String = seed.iter().map(|byte| format!("{byte:02x}")).collect();
        let whole = [encoded, STANDARD.encode(&seed), hex.clone(), hex.to_uppercase()];
        let mut spellings: Vec<String> = whole
            .iter()
            .flat_map(|text| (0..=text.len() - 8).map(move |start| text[start..start + 8].to_owned()))
            .collect();
        spellings.extend(whole);
        spellings
    }

    fn assert_secret_free(what: &str, output: &str) {
        for spelling in seed_spellings() {
            assert!(!output.contains(&spelling), "{what} shows {spelling}: {output}");
        }
    }

    #[test]
    fn the_seed_shows_in_no_debug_output_and_no_signed_note() {
        let key = SigningKey::parse(&go_vector("signer_key")).unwrap();
        assert_secret_free("Debug", &format!("{key:?}"));
        assert_secret_free("pretty Debug", &format!("{key:#?}"));
        assert_secret_free(
            "the verifier key",
            &format!("{} {:?}", key.verifier_key(), key.verifier_key()),
        );
        let note = Checkpoint::new("log/tenant:acme", 7, merkle::empty_root())
            .sign(&key)
            .unwrap();
        assert_secret_free("a signed checkpoint", &note);
        let note = SignedNote::sign(go_vector("text"), &key).unwrap();
        assert_secret_free("a signed note", &format!("{note} {note:?}"));
        assert!(go_vector("signer_key").contains(&*key.expose_private_text()));
    }

    #[test]
    fn no_error_about_a_mangled_signing_key_quotes_it() {
        let mut checked = 0;
        for mangled in manglings(&go_vector("signer_key")) {
            let error = SigningKey::parse(&mangled).unwrap_err();
            assert_secret_free("an error", &format!("{error} {error:?}"));
            checked += 1;
        }
        assert!(checked > 3000, "{checked}");
    }

    #[test]
    fn keys_load_from_files_and_errors_about_files_quote_no_key() {
        let dir = std::env::temp_dir().join(format!("audit-store-checkpoint-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let signer = dir.join("signer.key");
        std::fs::write(&signer, go_vector("signer_key") + "\n").unwrap();
        let verifier = dir.join("verifier.key");
        std::fs::write(&verifier, go_vector("verifier_key") + "\n").unwrap();
        let key = SigningKey::from_file(&signer).unwrap();
        assert_eq!(key.verifier_key(), VerifierKey::from_file(&verifier).unwrap());

        let private = go_vector("signer_key");
        std::fs::write(&signer, private.replace("PRIVATE+KEY+PeterNeumann+", "PRIVATE+KEY+")).unwrap();
        let error = SigningKey::from_file(&signer).unwrap_err();
        assert_secret_free("a file's key error", &format!("{error} {error:?}"));

        let error = SigningKey::from_file(dir.join("missing.key")).unwrap_err();
        assert!(matches!(error, CheckpointError::KeyFile { .. }), "{error:?}");
        assert!(error.to_string().contains("missing.key"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();

        let error = SigningKey::from_env("AUDIT_STORE_TEST_NO_SUCH_VARIABLE").unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable AUDIT_STORE_TEST_NO_SUCH_VARIABLE holds no key: it is not set"
        );
    }
}

//! Unit tests of the store.
use super::*;

#[test]
fn create_open_and_lock() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("l");
    let s = Store::create(&d).unwrap();
    assert!(matches!(Store::create(&d), Err(StoreError::Exists(_))));
    assert!(matches!(Store::open(&d), Err(StoreError::InUse(..))));
    drop(s);
    let s = Store::open(&d).unwrap();
    s.write(|t| t.put_entry(0, b"x")).unwrap();
    assert_eq!(s.read(|r| r.entry(0)).unwrap(), Some(b"x".to_vec()));
    drop(s);
    let ro = Store::open_read_only(&d).unwrap();
    assert!(matches!(
        ro.write(|t| t.put_entry(1, b"y")),
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(
        Store::open(&dir.path().join("none")),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn failed_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::create(dir.path()).unwrap();
    let r: Result<(), StoreError> = s.write(|t| {
        t.put_entry(0, b"x")?;
        Err(StoreError::Io("injected".into()))
    });
    assert!(r.is_err());
    assert_eq!(s.read(|r| r.entry_count()).unwrap(), 0);
}

#[test]
fn key_records_round_trip() {
    let mut k = KeyRecord {
        public_key: [3; 32],
        registration: 42,
        org: "acme".into(),
        ended: None,
    };
    assert_eq!(KeyRecord::from_bytes(&k.to_bytes()).unwrap(), k);
    k.ended = Some((50, -7));
    assert_eq!(KeyRecord::from_bytes(&k.to_bytes()).unwrap(), k);
    assert!(KeyRecord::from_bytes(&[0; 39]).is_err());
}

#[test]
fn cosigned_notes_are_absent_until_stored_then_kept_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("l");
    let s = Store::create(&d).unwrap();
    assert_eq!(
        s.cosigned().unwrap(),
        vec![],
        "a ledger that never stored one has none"
    );
    s.put_cosigned(7, b"seven").unwrap();
    s.put_cosigned(3, b"three").unwrap();
    s.put_cosigned(7, b"seven, more witnesses").unwrap();
    drop(s);
    let ro = Store::open_read_only(&d).unwrap();
    assert_eq!(
        ro.cosigned().unwrap(),
        vec![(3, b"three".to_vec()), (7, b"seven, more witnesses".to_vec())]
    );
    assert!(matches!(ro.put_cosigned(9, b"x"), Err(StoreError::ReadOnly)));
}

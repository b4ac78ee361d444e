//! A plain binary encoding for accord's own local files (the verifier's remembered replay
//! state): fixed-width little-endian integers and length-prefixed byte strings, read back with
//! every length checked against what is left, so that a damaged file is an error, never a
//! panic or an allocation of what a length field claims.

/// What went wrong reading a [`Dec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub struct Enc {
    /// The bytes so far.
    pub buf: Vec<u8>,
}

impl Enc {
    /// A `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// A `u32`, little-endian.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A `u64`, little-endian.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// An `i64`, little-endian.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A count of items or bytes.
    pub fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    /// 32 bytes, as they are.
    pub fn h32(&mut self, v: &[u8; 32]) {
        self.buf.extend_from_slice(v);
    }
    /// A byte string: its length, then its bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.buf.extend_from_slice(v);
    }
    /// A UTF-8 string.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    /// An optional value: a presence byte, then the value.
    pub fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                f(self, x);
            }
        }
    }
}

/// Reads values back from bytes written by [`Enc`].
#[derive(Debug)]
pub struct Dec<'a> {
    rest: &'a [u8],
}

impl<'a> Dec<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Dec { rest: bytes }
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.rest.len() {
            return Err(WireError(format!(
                "truncated: {n} bytes wanted, {} left",
                self.rest.len()
            )));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    /// A `u8`.
    ///
    /// # Errors
    /// [`WireError`] when the bytes end.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    /// A `u32`.
    ///
    /// # Errors
    /// [`WireError`] when the bytes end.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// A `u64`.
    ///
    /// # Errors
    /// [`WireError`] when the bytes end.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// An `i64`.
    ///
    /// # Errors
    /// [`WireError`] when the bytes end.
    pub fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// A count of items, each at least `min_item` bytes: larger than the bytes left could hold
    /// is an error (so that no count allocates more than the file could describe).
    ///
    /// # Errors
    /// [`WireError`].
    pub fn len(&mut self, min_item: usize) -> Result<usize, WireError> {
        let n = self.u64()?;
        let n = usize::try_from(n).map_err(|_| WireError(format!("count {n} too large")))?;
        if n.saturating_mul(min_item.max(1)) > self.rest.len() {
            return Err(WireError(format!(
                "count {n} larger than the {} bytes left could hold",
                self.rest.len()
            )));
        }
        Ok(n)
    }
    /// 32 bytes.
    ///
    /// # Errors
    /// [`WireError`] when the bytes end.
    pub fn h32(&mut self) -> Result<[u8; 32], WireError> {
        self.array()
    }
    /// A byte string.
    ///
    /// # Errors
    /// [`WireError`].
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.len(1)?;
        self.take(n)
    }
    /// A UTF-8 string.
    ///
    /// # Errors
    /// [`WireError`], also for bytes that are not UTF-8.
    pub fn str(&mut self) -> Result<String, WireError> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| WireError("a string is not UTF-8".into()))
    }
    /// An optional value written by [`Enc::opt`].
    ///
    /// # Errors
    /// [`WireError`], also for a presence byte other than 0 or 1.
    pub fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, WireError>,
    ) -> Result<Option<T>, WireError> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            b => Err(WireError(format!("presence byte {b}"))),
        }
    }
    /// Succeeds only when every byte was read.
    ///
    /// # Errors
    /// [`WireError`] naming how many bytes are left over.
    pub fn end(&self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError(format!("{} bytes left over", self.rest.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_damage_is_an_error() {
        let mut e = Enc::default();
        e.u8(7);
        e.u32(70_000);
        e.u64(u64::MAX);
        e.i64(-5);
        e.h32(&[9; 32]);
        e.str("héllo");
        e.opt(Some(3u64), |e, v| e.u64(v));
        e.opt(None::<u64>, |e, v| e.u64(v));
        let mut d = Dec::new(&e.buf);
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.u32().unwrap(), 70_000);
        assert_eq!(d.u64().unwrap(), u64::MAX);
        assert_eq!(d.i64().unwrap(), -5);
        assert_eq!(d.h32().unwrap(), [9; 32]);
        assert_eq!(d.str().unwrap(), "héllo");
        assert_eq!(d.opt(|d| d.u64()).unwrap(), Some(3));
        assert_eq!(d.opt(|d| d.u64()).unwrap(), None);
        d.end().unwrap();
        // Every truncation is an error, never a panic.
        for cut in 0..e.buf.len() {
            let mut d = Dec::new(&e.buf[..cut]);
            let r = (|| -> Result<(), WireError> {
                d.u8()?;
                d.u32()?;
                d.u64()?;
                d.i64()?;
                d.h32()?;
                d.str()?;
                d.opt(|d| d.u64())?;
                d.opt(|d| d.u64())?;
                Ok(())
            })();
            assert!(r.is_err(), "cut at {cut}");
        }
        // A count that claims more than the bytes could hold.
        let mut e = Enc::default();
        e.u64(1 << 40);
        assert!(Dec::new(&e.buf).len(8).is_err());
    }
}

//! Detach keys: `--detach-keys` as Podman spells it (`ctrl-p,ctrl-q` by default; each key is
//! `ctrl-<a-z|@|[|\|]|^|_>` or a single character; empty disables detaching), and the
//! [`Matcher`] an attach client runs its stdin through: it holds back bytes while they could
//! begin the sequence, lets them through when they turn out not to, and reports the detach.

/// Podman's default.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// A `--detach-keys` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid detach keys \"{keys}\": \"{key}\" is not a key: use ctrl-<letter> (also ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_) or a single character, separated by commas, e.g. ctrl-p,ctrl-q")]
pub struct KeysError {
    pub keys: String,
    pub key: String,
}

/// The byte sequence of `keys`; empty when detaching is disabled.
pub fn parse(keys: &str) -> Result<Vec<u8>, KeysError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    keys.split(',')
        .map(|key| {
            let bad = || KeysError {
                keys: keys.to_string(),
                key: key.to_string(),
            };
            let lower = key.to_ascii_lowercase();
            match lower.strip_prefix("ctrl-") {
                Some(rest) if rest.len() == 1 => {
                    let c = rest.as_bytes()[0];
                    match c {
                        b'a'..=b'z' => Ok(c - b'a' + 1),
                        b'@' => Ok(0),
                        b'[' => Ok(27),
                        b'\\' => Ok(28),
                        b']' => Ok(29),
                        b'^' => Ok(30),
                        b'_' => Ok(31),
                        _ => Err(bad()),
                    }
                }
                Some(_) => Err(bad()),
                None if key.len() == 1 => Ok(key.as_bytes()[0]),
                None => Err(bad()),
            }
        })
        .collect()
}

/// Finds the detach sequence in a stream of input chunks.
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: Vec<u8>,
    /// How many bytes of `keys` the input ended with so far (held back).
    held: usize,
}

/// What one chunk of input amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Pass these bytes on (some may be held back for the next chunk).
    Forward(Vec<u8>),
    /// The sequence was typed: pass these bytes (typed before it) on, then detach.
    Detach(Vec<u8>),
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, held: 0 }
    }

    /// Scans `input`.
    pub fn scan(&mut self, input: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return Scan::Forward(out);
        }
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            // Not the next key: what was held goes through, and this byte may start anew.
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
                if self.keys.len() == 1 {
                    self.held = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Scan::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_spellings_parse() {
        assert_eq!(parse(DEFAULT).expect("default"), vec![16, 17]);
        assert_eq!(parse("ctrl-a,x").expect("mixed"), vec![1, b'x']);
        assert_eq!(
            parse("CTRL-[,ctrl-@,ctrl-_").expect("symbols"),
            vec![27, 0, 31]
        );
        assert_eq!(parse("").expect("empty"), Vec::<u8>::new());
        for bad in ["ctrl-", "ctrl-1", "ctrl-ab", "xy", "ctrl-p,"] {
            let e = parse(bad).expect_err(bad);
            assert!(e.to_string().contains("ctrl-p,ctrl-q"), "{e}");
        }
    }

    #[test]
    fn the_sequence_detaches_and_other_input_passes() {
        let mut m = Matcher::new(parse(DEFAULT).expect("keys"));
        assert_eq!(m.scan(b"ls\n"), Scan::Forward(b"ls\n".to_vec()));
        // Split across reads.
        assert_eq!(m.scan(b"a\x10"), Scan::Forward(b"a".to_vec()));
        assert_eq!(m.scan(b"\x11rest"), Scan::Detach(Vec::new()));
        // A held ctrl-p that is not followed by ctrl-q goes through.
        assert_eq!(m.scan(b"\x10x"), Scan::Forward(b"\x10x".to_vec()));
        assert_eq!(m.scan(b"\x10\x10\x11"), Scan::Detach(b"\x10".to_vec()));
    }

    #[test]
    fn no_keys_never_detach_and_one_key_detaches_at_once() {
        let mut none = Matcher::new(Vec::new());
        assert_eq!(none.scan(b"\x10\x11"), Scan::Forward(b"\x10\x11".to_vec()));
        let mut one = Matcher::new(vec![b'~']);
        assert_eq!(one.scan(b"ab~c"), Scan::Detach(b"ab".to_vec()));
    }
}

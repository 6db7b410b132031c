//! Id mapping of the FUSE overlay (`uidmapping=`/`gidmapping=`, fuse-overlayfs syntax): ids on
//! disk are translated to the ids shown in the mount (getattr) and back (chown, create), so one
//! set of layers serves containers with different mappings without chowning them.
//!
//! The syntax is a user namespace map flattened with `:`: `IN:DISK:LEN[:IN:DISK:LEN...]`, where
//! `IN` is the first id seen in the mount and `DISK` the first id on disk.

/// The id shown for an on-disk id outside every range (the kernel's overflow id).
pub const OVERFLOW_ID: u32 = 65534;

/// One range: ids `inside..inside+len` in the mount are `disk..disk+len` on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub disk: u32,
    pub len: u32,
}

/// A mapping; empty = identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap {
    ranges: Vec<IdRange>,
}

/// Why a `uidmapping=`/`gidmapping=` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdMapError {
    #[error("id mapping \"{0}\": expected IN:DISK:LEN triples separated by ':' (e.g. 0:1000:1:1:100000:65536)")]
    Shape(String),
    #[error("id mapping \"{value}\": \"{field}\" is not a number")]
    Number { value: String, field: String },
    #[error("id mapping \"{0}\": a range has length 0 or runs past 2^32")]
    Range(String),
}

impl IdMap {
    /// Parses the fuse-overlayfs syntax (see the module doc).
    pub fn parse(value: &str) -> Result<IdMap, IdMapError> {
        let fields: Vec<&str> = value.split(':').collect();
        if fields.is_empty() || fields.len() % 3 != 0 {
            return Err(IdMapError::Shape(value.to_string()));
        }
        let mut ranges = Vec::with_capacity(fields.len() / 3);
        for t in fields.chunks(3) {
            let num = |f: &str| {
                f.trim().parse::<u32>().map_err(|_| IdMapError::Number {
                    value: value.to_string(),
                    field: f.to_string(),
                })
            };
            let r = IdRange {
                inside: num(t[0])?,
                disk: num(t[1])?,
                len: num(t[2])?,
            };
            let fits = |start: u32| u64::from(start) + u64::from(r.len) <= 1 << 32;
            if r.len == 0 || !fits(r.inside) || !fits(r.disk) {
                return Err(IdMapError::Range(value.to_string()));
            }
            ranges.push(r);
        }
        Ok(IdMap { ranges })
    }

    /// True for the identity mapping.
    pub fn is_identity(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The id shown in the mount for on-disk `id` ([`OVERFLOW_ID`] when unmapped).
    pub fn to_inside(&self, id: u32) -> u32 {
        if self.ranges.is_empty() {
            return id;
        }
        self.ranges
            .iter()
            .find(|r| id >= r.disk && id - r.disk < r.len)
            .map_or(OVERFLOW_ID, |r| r.inside + (id - r.disk))
    }

    /// The on-disk id for `id` seen in the mount, `None` when unmapped (EINVAL to the caller).
    pub fn to_disk(&self, id: u32) -> Option<u32> {
        if self.ranges.is_empty() {
            return Some(id);
        }
        self.ranges
            .iter()
            .find(|r| id >= r.inside && id - r.inside < r.len)
            .map(|r| r.disk + (id - r.inside))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fuse_overlayfs_syntax_and_translates_both_ways() {
        let m = IdMap::parse("0:1000:1:1:100000:65536").expect("valid");
        assert_eq!(m.to_inside(1000), 0);
        assert_eq!(m.to_inside(100000), 1);
        assert_eq!(m.to_inside(100009), 10);
        assert_eq!(m.to_inside(5), OVERFLOW_ID);
        assert_eq!(m.to_disk(0), Some(1000));
        assert_eq!(m.to_disk(10), Some(100009));
        assert_eq!(m.to_disk(65537), None);
        assert!(!m.is_identity());
        assert!(IdMap::default().is_identity());
        assert_eq!(IdMap::default().to_disk(7), Some(7));
    }

    #[test]
    fn refuses_bad_shapes_numbers_and_ranges() {
        assert!(matches!(IdMap::parse("0:1"), Err(IdMapError::Shape(_))));
        assert!(matches!(
            IdMap::parse("0:x:1"),
            Err(IdMapError::Number { .. })
        ));
        assert!(matches!(IdMap::parse("0:1:0"), Err(IdMapError::Range(_))));
        assert!(matches!(
            IdMap::parse("4294967295:0:2"),
            Err(IdMapError::Range(_))
        ));
    }
}

//! `--shard I/N`: a deterministic split of a run's input files.
//!
//! As nextest's `--partition hash:I/N`, each file belongs to the shard its
//! hash names, so the split does not depend on which other files exist, and
//! N runs with I = 1..N check every file exactly once.

use std::path::Path;
use std::str::FromStr;

/// Shard `index` (1-based) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("expected I/N, got {0:?}")]
    Syntax(String),
    #[error("shard {index}/{total}: I must be between 1 and N")]
    Range { index: u32, total: u32 },
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (i, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index: u32 = i.trim().parse().map_err(|_| syntax())?;
        let total: u32 = n.trim().parse().map_err(|_| syntax())?;
        if total == 0 || index == 0 || index > total {
            return Err(ShardError::Range { index, total });
        }
        Ok(Shard { index, total })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl Shard {
    /// Whether this shard checks `path`. The hash is FNV-1a (64 bit) over
    /// the path as given, with `\` read as `/`, so it is the same on every
    /// machine and every version.
    pub fn keeps(&self, path: &Path) -> bool {
        let text = path.to_string_lossy().replace('\\', "/");
        let text = text.strip_prefix("./").unwrap_or(&text);
        (fnv1a(text.as_bytes()) % u64::from(self.total)) as u32 == self.index - 1
    }

    /// Whether this shard is the first: findings that belong to no file (a
    /// folder that could not be read) are reported by it alone.
    pub fn is_first(&self) -> bool {
        self.index == 1
    }
}

/// Keeps the items of `items` whose path this shard checks (all without a shard).
pub fn partition<T>(items: Vec<T>, shard: Option<Shard>, path: impl Fn(&T) -> &Path) -> Vec<T> {
    match shard {
        None => items,
        Some(shard) => items.into_iter().filter(|item| shard.keeps(path(item))).collect(),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, total: 3 }));
        assert!(matches!("0/3".parse::<Shard>(), Err(ShardError::Range { .. })));
        assert!(matches!("4/3".parse::<Shard>(), Err(ShardError::Range { .. })));
        assert!(matches!("1/0".parse::<Shard>(), Err(ShardError::Range { .. })));
        assert!(matches!("x".parse::<Shard>(), Err(ShardError::Syntax(_))));
    }

    #[test]
    fn every_path_lands_in_exactly_one_shard() {
        let paths: Vec<PathBuf> = (0..200).map(|i| PathBuf::from(format!("renders/clip_{i}.mp4"))).collect();
        for total in 1..6 {
            let mut counts = vec![0usize; paths.len()];
            for index in 1..=total {
                let shard = Shard { index, total };
                for (n, path) in paths.iter().enumerate() {
                    counts[n] += usize::from(shard.keeps(path));
                }
            }
            assert!(counts.iter().all(|&c| c == 1), "N = {total}");
        }
        // The split is stable: the known hash of a known path.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(
            Shard { index: 1, total: 2 }.keeps(Path::new("./x")) == Shard { index: 1, total: 2 }.keeps(Path::new("x"))
        );
    }
}

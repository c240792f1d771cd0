//! The ingest write-ahead log: numbered segment files of framed records,
//! each `[length u32 LE][CRC-32 u32 LE][payload]`. Appending and syncing a
//! segment is the durability point of ingest; sled is flushed in the
//! background (a checkpoint), after which the segments it covers are
//! deleted. At open, the records of every remaining segment are replayed
//! into sled.
//!
//! A torn tail (a crash mid-append) ends a segment: reading stops at the
//! first frame that is short or fails its checksum. Only acknowledged
//! records matter, and those were synced whole.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Frame header: length and checksum.
const HEADER: usize = 8;
/// A record larger than this is not a record (a corrupt length).
const MAX_RECORD: usize = 64 << 20;

/// Appends one framed record to `buffer`.
pub(super) fn frame(payload: &[u8], buffer: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    buffer.extend_from_slice(&len.to_le_bytes());
    buffer.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buffer.extend_from_slice(payload);
}

/// The path of segment `n`.
pub(super) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016}.wal"))
}

/// The segments in `dir`, oldest first.
pub(super) fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".wal").and_then(|n| n.parse().ok()) {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Every intact record of a segment, in order.
pub(super) fn read_segment(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut records = Vec::new();
    loop {
        let mut header = [0u8; HEADER];
        if reader.read_exact(&mut header).is_err() {
            return Ok(records);
        }
        let (len, crc) = header.split_at(4);
        let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
        if len > MAX_RECORD {
            return Ok(records);
        }
        let mut payload = vec![0; len];
        if reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
            return Ok(records);
        }
        records.push(payload);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_ends_the_segment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = segment_path(dir.path(), 7);
        let mut bytes = Vec::new();
        frame(b"first", &mut bytes);
        frame(b"second", &mut bytes);
        let mut torn = Vec::new();
        frame(b"third, cut short", &mut torn);
        bytes.extend_from_slice(&torn[..torn.len() - 3]);
        File::create(&path)
            .and_then(|mut f| f.write_all(&bytes))
            .expect("writes");
        let records = read_segment(&path).expect("reads");
        assert_eq!(records, [b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(segments(dir.path()).expect("lists"), [7]);
    }

    #[test]
    fn a_corrupt_record_ends_the_segment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = segment_path(dir.path(), 1);
        let mut bytes = Vec::new();
        frame(b"good", &mut bytes);
        frame(b"flipped", &mut bytes);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).expect("writes");
        assert_eq!(read_segment(&path).expect("reads"), [b"good".to_vec()]);
    }
}

//! The spool's directory: numbered segment files of [`frame`] records, one
//! appended to at a time, each deleted once every record in it is stored.
//!
//! A segment is named after the sequence number of its first record
//! (`00000000000000004096.spool`); record *n* of it has number
//! `first + n`. Numbers restart from the spool's content on every open, so
//! they only order records, they are never stored anywhere else.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::frame::{self, Decoded};
use super::{Damage, DamageKind, SpoolConfig, SpoolError};

const SUFFIX: &str = ".spool";

/// Zeros written ahead of the appends to the active segment. An append
/// inside them changes no file size, so its `fdatasync` writes the data
/// alone, not the inode as well: on this project's reference machine that
/// took a sync from 283 µs of CPU to 71 µs (see BENCHMARKS.md, issue 18).
/// The reader stops at the first zero header ([`frame::decode`]).
const WRITE_AHEAD: u64 = 1 << 20;

struct Segment {
    first_seq: u64,
    path: PathBuf,
    bytes: u64,
}

/// The segment files, the open appender and the byte count.
pub(crate) struct SpoolFiles {
    dir: PathBuf,
    /// Held for the life of the spool: a second process (or a second
    /// auditor) on the same directory would interleave records.
    _lock: File,
    /// Oldest first; the last one is appended to.
    segments: VecDeque<Segment>,
    active: File,
    /// Bytes of the active segment that hold whole records; a failed
    /// append is overwritten from here.
    active_len: u64,
    /// Bytes of the active segment written so far: its records and the
    /// zeros ahead of them.
    written_ahead: u64,
    next_seq: u64,
    bytes: u64,
    segment_bytes: u64,
    buf: Vec<u8>,
}

/// What an open found: the records waiting to be stored and any damage.
pub(crate) struct Recovered {
    /// The first and last number of the records to replay, if any.
    pub(crate) pending: Option<(u64, u64)>,
    pub(crate) records: u64,
    pub(crate) damage: Vec<Damage>,
}

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SUFFIX}"))
}

/// Makes a created or removed file name durable (the file's own fsync
/// does not cover its directory entry).
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What [`scan`] found in a segment.
struct Scanned {
    records: u64,
    /// The bytes of its whole records, or of the whole file when damaged.
    bytes: u64,
    /// The damage that ends it early, and where.
    damage: Option<(DamageKind, u64)>,
}

/// Counts the whole records of a segment.
fn scan(path: &Path) -> io::Result<Scanned> {
    let bytes = std::fs::read(path)?;
    let mut offset = 0;
    let mut records = 0;
    loop {
        match frame::decode(&bytes[offset..]) {
            Decoded::Record { len, .. } => {
                offset += len;
                records += 1;
            }
            Decoded::End => {
                return Ok(Scanned {
                    records,
                    bytes: offset as u64,
                    damage: None,
                });
            }
            damaged => {
                let kind = match damaged {
                    Decoded::Corrupt if torn_into_zeros(&bytes[offset..]) => DamageKind::Torn,
                    Decoded::Corrupt => DamageKind::Corrupt,
                    _ => DamageKind::Torn,
                };
                return Ok(Scanned {
                    records,
                    bytes: bytes.len() as u64,
                    damage: Some((kind, offset as u64)),
                });
            }
        }
    }
}

/// Whether a record that fails its checksum is a write the process did not
/// finish inside the zeros written ahead: only zeros follow the length its
/// header claims (the rest of the record never reached the disk), and at
/// least a header's worth of them.
fn torn_into_zeros(from_record: &[u8]) -> bool {
    let Some(len) = from_record
        .first_chunk::<4>()
        .map(|len| u32::from_le_bytes(*len) as usize)
    else {
        return false;
    };
    let end = (frame::HEADER + len).min(from_record.len());
    let after = &from_record[end..];
    after.len() >= frame::HEADER && after.iter().all(|&byte| byte == 0)
}

impl SpoolFiles {
    pub(crate) fn open(config: &SpoolConfig) -> Result<(Self, Recovered), SpoolError> {
        let dir = config.dir.clone();
        let io = |error| SpoolError::Io {
            dir: dir.clone(),
            error,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(SpoolError::Locked { dir }),
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            let Some(first_seq) = name
                .to_str()
                .and_then(|name| name.strip_suffix(SUFFIX))
                .and_then(|stem| stem.parse::<u64>().ok())
            else {
                continue;
            };
            found.push(first_seq);
        }
        found.sort_unstable();
        let mut segments = VecDeque::new();
        let mut damage = Vec::new();
        let (mut bytes, mut records, mut next_seq) = (0, 0, 0);
        let mut first_pending = None;
        for first_seq in found {
            let path = segment_path(&dir, first_seq);
            let Scanned {
                records: count,
                bytes: size,
                damage: damaged,
            } = scan(&path).map_err(io)?;
            if let Some((kind, offset)) = damaged {
                damage.push(Damage {
                    segment: path.clone(),
                    offset,
                    kind,
                    after_record: first_seq + count,
                });
            }
            if count > 0 {
                first_pending.get_or_insert(first_seq);
            }
            records += count;
            bytes += size;
            next_seq = next_seq.max(first_seq + count);
            segments.push_back(Segment {
                first_seq,
                path,
                bytes: size,
            });
        }
        // Appends go to a fresh segment: the last one may end in a torn
        // record, and records written after it could never be read. A
        // segment already named so holds no whole record (that is why the
        // number is free): it is emptied.
        if segments.back().is_some_and(|last| last.first_seq == next_seq) {
            let last = segments.pop_back().unwrap_or_else(|| unreachable!("checked above"));
            bytes -= last.bytes;
        }
        let path = segment_path(&dir, next_seq);
        let active = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        sync_dir(&dir).map_err(io)?;
        segments.push_back(Segment {
            first_seq: next_seq,
            path,
            bytes: 0,
        });
        let recovered = Recovered {
            pending: first_pending.map(|first| (first, next_seq - 1)),
            records,
            damage,
        };
        let files = Self {
            dir,
            _lock: lock,
            segments,
            active,
            active_len: 0,
            written_ahead: 0,
            next_seq,
            bytes,
            segment_bytes: config.segment_bytes,
            buf: Vec::new(),
        };
        Ok((files, recovered))
    }

    /// Bytes on disk in every segment.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The number the next record appended gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The bytes `payloads` take as records.
    pub(crate) fn encoded_len<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> u64 {
        payloads.into_iter().map(|p| (frame::HEADER + p.len()) as u64).sum()
    }

    /// Appends `payloads` as records and makes them durable (one
    /// `fdatasync` for all of them); returns the number of the first. On
    /// an error nothing counts as appended: the next append overwrites
    /// whatever part of it reached the file.
    pub(crate) fn append<'a>(&mut self, payloads: impl IntoIterator<Item = &'a [u8]>) -> io::Result<u64> {
        self.buf.clear();
        let mut count = 0;
        for payload in payloads {
            frame::encode(payload, &mut self.buf);
            count += 1;
        }
        if count == 0 {
            return Ok(self.next_seq);
        }
        let written = self.write_at_end();
        if let Err(error) = written {
            // Give back what the failed write took (a full disk wants it);
            // the next append writes over it anyway.
            let _ = self.active.set_len(self.active_len);
            self.written_ahead = self.active_len;
            return Err(error);
        }
        let first = self.next_seq;
        let len = self.buf.len() as u64;
        self.active_len += len;
        self.bytes += len;
        if let Some(active) = self.segments.back_mut() {
            active.bytes += len;
        }
        self.next_seq += count;
        if self.active_len >= self.segment_bytes {
            self.roll()?;
        }
        Ok(first)
    }

    fn write_at_end(&mut self) -> io::Result<()> {
        let end = self.active_len + self.buf.len() as u64;
        if end > self.written_ahead {
            self.write_zeros_ahead(end);
        }
        self.active.seek(SeekFrom::Start(self.active_len))?;
        self.active.write_all(&self.buf)?;
        self.active.sync_data()
    }

    /// Writes [`WRITE_AHEAD`] zeros past `end` (at most a segment's size),
    /// synced with the records about to be written. Best effort: on a full
    /// disk the records go in without them (each sync then updates the
    /// size, as without zeros).
    fn write_zeros_ahead(&mut self, end: u64) {
        let ahead = WRITE_AHEAD.min(self.segment_bytes);
        let zeros = vec![0; usize::try_from(ahead).unwrap_or(usize::MAX)];
        let written = self
            .active
            .seek(SeekFrom::Start(end))
            .and_then(|_| self.active.write_all(&zeros));
        match written {
            Ok(()) => self.written_ahead = end + ahead,
            Err(_) => {
                // Give the space back: the records need it more.
                let _ = self.active.set_len(self.active_len);
                self.written_ahead = self.active_len;
            }
        }
    }

    /// Starts a new segment: the full one can be deleted once stored.
    fn roll(&mut self) -> io::Result<()> {
        // The full segment keeps its records, not the zeros ahead of them.
        let _ = self.active.set_len(self.active_len);
        let path = segment_path(&self.dir, self.next_seq);
        let file = OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
        sync_dir(&self.dir)?;
        self.active = file;
        self.active_len = 0;
        self.written_ahead = 0;
        self.segments.push_back(Segment {
            first_seq: self.next_seq,
            path,
            bytes: 0,
        });
        Ok(())
    }

    /// Deletes every segment whose records are all numbered `through` or
    /// below, except the one being appended to; returns the bytes freed.
    pub(crate) fn delete_through(&mut self, through: u64) -> io::Result<u64> {
        let mut freed = 0;
        while self.segments.len() > 1 && self.segments[1].first_seq <= through + 1 {
            let segment = self.segments.pop_front().unwrap_or_else(|| unreachable!("len > 1"));
            match std::fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    self.segments.push_front(segment);
                    return Err(error);
                }
            }
            freed += segment.bytes;
            self.bytes -= segment.bytes;
        }
        Ok(freed)
    }

    /// Empties the active segment once all of it is stored, so a clean
    /// stop leaves nothing to replay.
    pub(crate) fn retire_active(&mut self, through: u64) -> io::Result<()> {
        if self.next_seq > through + 1 || self.segments.len() != 1 {
            return Ok(());
        }
        self.active.set_len(0)?;
        self.active.sync_all()?;
        self.written_ahead = 0;
        self.bytes -= self.active_len;
        if let Some(active) = self.segments.back_mut() {
            active.bytes = 0;
        }
        self.active_len = 0;
        Ok(())
    }

    /// Where record `seq` is to be read from: the segment holding it and the
    /// first number of the next segment (records from `seq` up to it are in
    /// this segment, or were lost to damage).
    pub(crate) fn locate(&self, seq: u64) -> Option<(PathBuf, u64, Option<u64>)> {
        let index = self.segments.iter().rposition(|s| s.first_seq <= seq)?;
        let segment = &self.segments[index];
        let next = self.segments.get(index + 1).map(|s| s.first_seq);
        Some((segment.path.clone(), segment.first_seq, next))
    }
}

/// Reads records back in order, for the drainer, outside the lock that
/// guards appends: a segment is read whole, then re-read from where it
/// stopped while it is still being appended to.
#[derive(Default)]
pub(crate) struct Cursor {
    /// The segment being read: its first number and path.
    segment: Option<(u64, PathBuf)>,
    /// Bytes read from it and not yet decoded, from `file_pos`.
    data: Vec<u8>,
    offset: usize,
    file_pos: u64,
    /// The number of the record at `offset`.
    seq: u64,
}

impl Cursor {
    /// Reads up to `max` records numbered `from` to `through`; records lost
    /// to damage are skipped (they were reported when the spool was opened).
    pub(crate) fn read(
        &mut self,
        files: &std::sync::Mutex<SpoolFiles>,
        from: u64,
        through: u64,
        max: usize,
    ) -> io::Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut seq = from;
        // Whether the data ran out since the last refill: only then is the
        // segment known to hold nothing more (for now).
        let mut refilled = false;
        while seq <= through && out.len() < max {
            let located = files
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .locate(seq);
            let Some((path, first_seq, next_segment)) = located else {
                break;
            };
            if self.segment.as_ref().is_none_or(|(first, _)| *first != first_seq) || self.seq > seq {
                *self = Self {
                    segment: Some((first_seq, path)),
                    seq: first_seq,
                    ..Self::default()
                };
                refilled = false;
            }
            match frame::decode(&self.data[self.offset..]) {
                Decoded::Record { payload, len } => {
                    if self.seq >= seq {
                        out.push((self.seq, payload.to_vec()));
                        seq = self.seq + 1;
                    }
                    self.offset += len;
                    self.seq += 1;
                    refilled = false;
                }
                _ if !refilled => {
                    self.refill()?;
                    refilled = true;
                }
                // Damaged, or at its end: the numbers up to the next
                // segment are not on disk (reported when the spool opened).
                _ => match next_segment {
                    Some(next) => {
                        seq = next;
                        refilled = false;
                    }
                    None => break,
                },
            }
        }
        Ok(out)
    }

    /// Drops what was decoded and reads the segment again past it: what
    /// was not decoded (a record being written, the zeros ahead of the
    /// appends) may have been written over since.
    fn refill(&mut self) -> io::Result<()> {
        let Some((_, path)) = &self.segment else {
            return Ok(());
        };
        self.file_pos += self.offset as u64;
        self.data.clear();
        self.offset = 0;
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(self.file_pos))?;
        file.read_to_end(&mut self.data)?;
        Ok(())
    }
}

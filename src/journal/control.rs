//! The `CONTROL` file: the two facts about the log that its segments cannot
//! tell by themselves, which recovery needs to tell damage from history.
//!
//! * `reclaimed`: every segment numbered up to here may be gone (reclamation
//!   deleted it). A missing segment above it is damage, not history.
//! * `head`: the newest segment whose creation completed. A log that ends
//!   before it lost its newest segments.
//!
//! The file holds two 64-byte slots, at offsets 0 and [`SLOT_STRIDE`], each
//! a full copy of the state with a generation number and a CRC-32C. A write
//! goes to the slot the previous write did not use and is synced before the
//! journal acts on it (deletes a reclaimed segment); a write torn by a crash
//! leaves the other slot, which is the state before it. Recovery takes the
//! valid slot with the higher generation.
//!
//! Slot layout (little-endian): magic `TRLNCTRL` (0..8), format version u32
//! (8..12), zero (12..16), generation u64 (16..24), reclaimed u64 (24..32),
//! head u64 (32..40), CRC-32C of bytes 0..40 (40..44), zero (44..64).

use std::io;

use super::crc32c;
use super::segment::{JournalError, FORMAT_VERSION};
use super::storage::{Storage, StorageFile};

/// The control file's name.
pub(crate) const CONTROL: &str = "CONTROL";
const MAGIC: &[u8; 8] = b"TRLNCTRL";
const SLOT: usize = 64;
/// Slots sit in different 4 KiB pages, so one torn page write damages one.
const SLOT_STRIDE: u64 = 4096;

/// What the control file records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Control {
    /// Bumped by every write; the newer valid slot wins.
    pub(crate) generation: u64,
    /// Segments numbered up to here may have been deleted.
    pub(crate) reclaimed: u64,
    /// The newest segment whose creation completed (0: none yet).
    pub(crate) head: u64,
}

fn encode(control: Control) -> [u8; SLOT] {
    let mut slot = [0u8; SLOT];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    slot[16..24].copy_from_slice(&control.generation.to_le_bytes());
    slot[24..32].copy_from_slice(&control.reclaimed.to_le_bytes());
    slot[32..40].copy_from_slice(&control.head.to_le_bytes());
    let crc = crc32c::crc32c(&slot[..40]);
    slot[40..44].copy_from_slice(&crc.to_le_bytes());
    slot
}

/// What one slot holds.
enum Slot {
    Valid(Control),
    /// Never written, or torn by a crash while being written: its other
    /// slot speaks for the file.
    Unusable,
    Version(u32),
}

fn decode(bytes: &[u8]) -> Slot {
    let Some(slot) = bytes.get(..SLOT) else { return Slot::Unusable };
    let word = |at: usize| u64::from_le_bytes(slot[at..at + 8].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(slot[40..44].try_into().expect("4 bytes"));
    if &slot[..8] != MAGIC || crc32c::crc32c(&slot[..40]) != crc {
        return Slot::Unusable;
    }
    let version = u32::from_le_bytes(slot[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Slot::Version(version);
    }
    if slot[12..16] != [0; 4] || slot[44..] != [0; SLOT - 44] {
        return Slot::Unusable;
    }
    Slot::Valid(Control { generation: word(16), reclaimed: word(24), head: word(32) })
}

fn damaged(why: impl Into<String>) -> JournalError {
    JournalError::corrupt(CONTROL, 0, why, None)
}

/// Reads the control file: `None` if there is none.
pub(crate) fn read(storage: &dyn Storage) -> Result<Option<Control>, JournalError> {
    if !storage.list()?.iter().any(|name| name == CONTROL) {
        return Ok(None);
    }
    let file = storage.open(CONTROL, false).map_err(|error| match error.kind() {
        io::ErrorKind::IsADirectory => damaged("a directory stands where the control file belongs"),
        _ => JournalError::Io(error),
    })?;
    let len = file.len()?.min(SLOT_STRIDE + SLOT as u64) as usize;
    let mut bytes = vec![0; len];
    file.read_exact_at(0, &mut bytes)?;
    let slots = [decode(&bytes), decode(bytes.get(SLOT_STRIDE as usize..).unwrap_or_default())];
    let mut best: Option<Control> = None;
    for slot in slots {
        match slot {
            Slot::Valid(control) if best.is_none_or(|best| control.generation > best.generation) => {
                best = Some(control);
            }
            Slot::Version(version) => {
                return Err(JournalError::UnsupportedVersion { segment: CONTROL.to_owned(), version });
            }
            _ => {}
        }
    }
    match best {
        Some(control) => Ok(Some(control)),
        None => Err(damaged("neither copy of the log's control state is readable")),
    }
}

/// The open control file, written by the journal's single writer.
pub(crate) struct ControlFile {
    file: Box<dyn StorageFile>,
    state: Control,
}

impl ControlFile {
    /// Opens the control file holding `state`, creating it (durably: its
    /// directory entry is synced) if it does not exist yet.
    pub(crate) fn open(storage: &dyn Storage, state: Option<Control>) -> Result<ControlFile, JournalError> {
        match state {
            Some(state) => Ok(ControlFile { file: storage.open(CONTROL, false)?, state }),
            None => {
                let file = storage.open(CONTROL, true)?;
                file.set_len(SLOT_STRIDE * 2)?;
                let mut control = ControlFile { file, state: Control::default() };
                control.write(Control::default())?;
                storage.sync_dir()?;
                Ok(control)
            }
        }
    }

    /// The state last written.
    pub(crate) fn state(&self) -> Control {
        self.state
    }

    /// Makes `next` (with a new generation) the durable state.
    pub(crate) fn write(&mut self, next: Control) -> Result<(), JournalError> {
        let next = Control { generation: self.state.generation + 1, ..next };
        let at = (next.generation % 2) * SLOT_STRIDE;
        self.file.write_all_at(at, &encode(next))?;
        self.file.sync_data()?;
        self.state = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::faulty::{Crash, FaultyStorage};
    use crate::journal::storage::MemStorage;

    #[test]
    fn the_newer_slot_wins_and_a_torn_one_leaves_the_older() {
        let storage = FaultyStorage::new();
        assert_eq!(read(&storage).unwrap(), None);
        let mut file = ControlFile::open(&storage, None).unwrap();
        file.write(Control { generation: 0, reclaimed: 0, head: 1 }).unwrap();
        file.write(Control { generation: 0, reclaimed: 3, head: 5 }).unwrap();
        let read_back = read(&storage).unwrap().unwrap();
        assert_eq!((read_back.reclaimed, read_back.head, read_back.generation), (3, 5, 3));
        // Damage to the newer slot leaves the older state, never garbage.
        let newer = (read_back.generation % 2 * SLOT_STRIDE) as usize;
        storage.flip(CONTROL, newer + 30, 1);
        assert_eq!(read(&storage).unwrap().map(|c| (c.reclaimed, c.head)), Some((0, 1)));
        // Both copies damaged: corruption of the control file.
        storage.flip(CONTROL, (SLOT_STRIDE as usize - newer) + 20, 0);
        match read(&storage) {
            Err(JournalError::Corrupt { segment, .. }) => assert_eq!(segment, CONTROL),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn an_unsynced_write_is_lost_whole_at_power_loss() {
        let storage = FaultyStorage::new();
        let mut file = ControlFile::open(&storage, None).unwrap();
        file.write(Control { generation: 0, reclaimed: 0, head: 1 }).unwrap();
        let image = storage.crash(Crash::PowerLoss);
        assert_eq!(read(&image).unwrap().map(|c| c.head), Some(1));
        // A control file of another format version is refused by version.
        let storage = MemStorage::new();
        let file = storage.open(CONTROL, true).unwrap();
        let mut slot = encode(Control { generation: 1, reclaimed: 0, head: 1 });
        slot[8] = 9;
        let crc = crc32c::crc32c(&slot[..40]);
        slot[40..44].copy_from_slice(&crc.to_le_bytes());
        file.write_all_at(0, &slot).unwrap();
        assert!(matches!(read(&storage), Err(JournalError::UnsupportedVersion { version: 9, .. })));
    }
}

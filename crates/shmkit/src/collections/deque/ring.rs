//! One ring block as the lock holder sees it: bounds-checked copies of entries in and out
//! at logical positions, wrapping around the end of the data.
//!
//! Invariants: a [`Ring`] is only built from a block whose header was validated (magic,
//! power-of-two capacity within limits, data inside the block); every access goes through
//! the region's bounds-checked copies, so a damaged position or length yields an error,
//! never a wild access. Callers hold the deque's lock; nothing here synchronises.
//!
//! ```
//! use shmkit::collections::deque::layout::entry_len;
//! // An entry is 8-aligned, so a ring of 1024 bytes holds 16 entries of 48-byte items.
//! assert_eq!(1024 / entry_len(48), 16);
//! ```

use super::error::DequeError;
use super::layout::{
    ENTRY_OVERHEAD, MAX_RING, MIN_RING, RING_HEADER_LEN, RING_MAGIC, RingHeader, entry_checksum,
    entry_len, frame, framed_checksum, framed_len,
};
use crate::raw::Region;
use crate::sync::atomic::Ordering;

/// A validated ring block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ring {
    /// Offset of the block.
    pub(crate) block: u64,
    /// Bytes of data (a power of two).
    pub(crate) capacity: u64,
}

/// One entry found at a position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryAt {
    /// Its first position.
    pub(crate) start: u64,
    /// The item's length.
    pub(crate) len: u64,
    /// The checksum its header names.
    pub(crate) checksum: u32,
}

impl EntryAt {
    /// Position after the entry.
    pub(crate) fn end(&self) -> u64 {
        self.start.wrapping_add(entry_len(self.len))
    }
}

impl Ring {
    /// The ring at `block`, after checking its header and that its data lies inside the
    /// block (`block_capacity`: the usable bytes of the allocator block).
    pub(crate) fn open(
        region: &Region,
        block: u64,
        block_capacity: u64,
    ) -> Result<Ring, DequeError> {
        let header: &RingHeader = region.get(block)?;
        if header.magic.load(Ordering::Acquire) != RING_MAGIC {
            return Err(DequeError::corrupt(block, "not a deque ring (bad magic)"));
        }
        let capacity = header.capacity.load(Ordering::Relaxed);
        if !capacity.is_power_of_two() || !(MIN_RING..=MAX_RING).contains(&capacity) {
            return Err(DequeError::corrupt(
                block,
                format!("ring capacity {capacity} is not a power of two in range"),
            ));
        }
        if block_capacity < RING_HEADER_LEN + capacity {
            return Err(DequeError::corrupt(
                block,
                format!("ring of {capacity} bytes in a block of {block_capacity}"),
            ));
        }
        Ok(Ring { block, capacity })
    }

    /// Writes a ring header into a fresh block of at least `RING_HEADER_LEN + capacity`
    /// bytes.
    pub(crate) fn init(region: &Region, block: u64, capacity: u64) -> Result<Ring, DequeError> {
        let header: &RingHeader = region.get(block)?;
        header.capacity.store(capacity, Ordering::Relaxed);
        header.magic.store(RING_MAGIC, Ordering::Release);
        Ok(Ring { block, capacity })
    }

    fn data(&self) -> u64 {
        self.block + RING_HEADER_LEN
    }

    /// Byte offset in the store of position `pos`.
    fn at(&self, pos: u64) -> u64 {
        self.data() + (pos & (self.capacity - 1))
    }

    /// Copies `out.len()` bytes starting at position `pos`.
    pub(crate) fn read(&self, region: &Region, pos: u64, out: &mut [u8]) -> Result<(), DequeError> {
        let first = (self.capacity - (pos & (self.capacity - 1))).min(out.len() as u64) as usize;
        let (a, b) = out.split_at_mut(first);
        region.read_bytes(self.at(pos), a)?;
        if !b.is_empty() {
            region.read_bytes(self.data(), b)?;
        }
        Ok(())
    }

    /// Copies `data` to position `pos` onwards.
    pub(crate) fn write(&self, region: &Region, pos: u64, data: &[u8]) -> Result<(), DequeError> {
        let first = (self.capacity - (pos & (self.capacity - 1))).min(data.len() as u64) as usize;
        let (a, b) = data.split_at(first);
        region.write_bytes(self.at(pos), a)?;
        if !b.is_empty() {
            region.write_bytes(self.data(), b)?;
        }
        Ok(())
    }

    fn read_word(&self, region: &Region, pos: u64) -> Result<u64, DequeError> {
        let mut w = [0u8; 8];
        self.read(region, pos, &mut w)?;
        Ok(u64::from_le_bytes(w))
    }

    /// Writes the entry of `item` at `pos` (header, item, zero padding, footer).
    pub(crate) fn write_entry(
        &self,
        region: &Region,
        pos: u64,
        item: &[u8],
    ) -> Result<(), DequeError> {
        let word = frame(item.len() as u64, entry_checksum(item)).to_le_bytes();
        let len = item.len() as u64;
        self.write(region, pos, &word)?;
        self.write(region, pos.wrapping_add(8), item)?;
        let pad = len.next_multiple_of(8) - len;
        if pad > 0 {
            self.write(region, pos.wrapping_add(8 + len), &[0u8; 8][..pad as usize])?;
        }
        self.write(region, pos.wrapping_add(entry_len(len) - 8), &word)
    }

    /// The entry starting at `pos`, which must end by `limit` (the deque's `tail`); its
    /// footer must repeat its header.
    pub(crate) fn entry_from_front(
        &self,
        region: &Region,
        pos: u64,
        limit: u64,
    ) -> Result<EntryAt, DequeError> {
        let word = self.read_word(region, pos)?;
        let len = framed_len(word);
        let room = limit.wrapping_sub(pos);
        if room < ENTRY_OVERHEAD || entry_len(len) > room {
            return Err(DequeError::corrupt(
                self.at(pos),
                format!("entry of {len} bytes runs past the end of the deque"),
            ));
        }
        let entry = EntryAt {
            start: pos,
            len,
            checksum: framed_checksum(word),
        };
        self.check_footer(region, &entry, word)?;
        Ok(entry)
    }

    /// The entry ending at `end`, which must start at or after `limit` (the deque's `head`).
    pub(crate) fn entry_from_back(
        &self,
        region: &Region,
        end: u64,
        limit: u64,
    ) -> Result<EntryAt, DequeError> {
        let room = end.wrapping_sub(limit);
        if room < ENTRY_OVERHEAD {
            return Err(DequeError::corrupt(
                self.block,
                "deque positions leave no room for an entry",
            ));
        }
        let word = self.read_word(region, end.wrapping_sub(8))?;
        let len = framed_len(word);
        if entry_len(len) > room {
            return Err(DequeError::corrupt(
                self.at(end.wrapping_sub(8)),
                format!("entry of {len} bytes runs past the front of the deque"),
            ));
        }
        let entry = EntryAt {
            start: end.wrapping_sub(entry_len(len)),
            len,
            checksum: framed_checksum(word),
        };
        let header = self.read_word(region, entry.start)?;
        if header != word {
            return Err(DequeError::corrupt(
                self.at(entry.start),
                "entry header and footer disagree",
            ));
        }
        Ok(entry)
    }

    fn check_footer(&self, region: &Region, entry: &EntryAt, word: u64) -> Result<(), DequeError> {
        let footer_pos = entry.end().wrapping_sub(8);
        if self.read_word(region, footer_pos)? != word {
            return Err(DequeError::corrupt(
                self.at(footer_pos),
                "entry header and footer disagree",
            ));
        }
        Ok(())
    }

    /// Copies the item of `entry` into `out` (replacing its contents) and checks it against
    /// the entry's checksum.
    pub(crate) fn read_item(
        &self,
        region: &Region,
        entry: &EntryAt,
        out: &mut Vec<u8>,
    ) -> Result<(), DequeError> {
        out.clear();
        self.append_item(region, entry, out)
    }

    /// Appends the item of `entry` to `out` and checks it against the entry's checksum (on
    /// failure `out` is left as it was).
    pub(crate) fn append_item(
        &self,
        region: &Region,
        entry: &EntryAt,
        out: &mut Vec<u8>,
    ) -> Result<(), DequeError> {
        let at = out.len();
        out.resize(at + entry.len as usize, 0);
        let read = self.read(region, entry.start.wrapping_add(8), &mut out[at..]);
        if read.is_err() || entry_checksum(&out[at..]) != entry.checksum {
            out.truncate(at);
            read?;
            return Err(DequeError::corrupt(
                self.at(entry.start),
                "item does not match its checksum",
            ));
        }
        Ok(())
    }

    /// Copies the bytes of positions `[from, to)` of `self` to the same positions of `to_ring`
    /// (which must be large enough), in chunks.
    pub(crate) fn copy_range(
        &self,
        region: &Region,
        from: u64,
        to: u64,
        to_ring: &Ring,
    ) -> Result<(), DequeError> {
        const CHUNK: u64 = 64 * 1024;
        let mut buf = vec![0u8; CHUNK.min(to.wrapping_sub(from)) as usize];
        let mut pos = from;
        while pos != to {
            let n = CHUNK.min(to.wrapping_sub(pos)) as usize;
            self.read(region, pos, &mut buf[..n])?;
            to_ring.write(region, pos, &buf[..n])?;
            pos = pos.wrapping_add(n as u64);
        }
        Ok(())
    }
}

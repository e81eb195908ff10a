//! How arrangements store packed rows: each batch keeps all its rows' bytes in one buffer
//! with an offset per row, instead of one [`PackedRow`] (and, past 24 bytes, one heap
//! allocation) per row. Merging batches copies bytes; dropping a batch frees two buffers.

use std::rc::Rc;

use differential_dataflow::batcher::merge::vec::VecMerger;
use differential_dataflow::batcher::merge::MergeBatcher;
use differential_dataflow::trace::implementations::ord_neu::{OrdKeyBatch, OrdKeyBuilder, OrdValBatch, OrdValBuilder};
use differential_dataflow::trace::implementations::spine_fueled::Spine;
use differential_dataflow::trace::implementations::{BatchContainer, ContainerChunker, OffsetList};
use eddy_repr::{Diff, PackedRef, PackedRow};
use timely::container::PushInto;

/// Packed rows one after another, in one buffer.
pub struct PackedColumn {
    /// Where each row ends in `bytes` (the first starts at 0).
    ends: OffsetList,
    bytes: Vec<u8>,
}

/// Bytes reserved per row when only the number of rows is known.
const EXPECTED_ROW_BYTES: usize = 16;

impl PackedColumn {
    fn with_room(rows: usize, bytes: usize) -> Self {
        PackedColumn { ends: OffsetList::with_capacity(rows), bytes: Vec::with_capacity(bytes) }
    }

    fn push_bytes(&mut self, row: &[u8]) {
        self.bytes.extend_from_slice(row);
        self.ends.push(self.bytes.len());
    }

    /// Bytes this column takes in memory (what it holds; capacity aside).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len() + self.ends.smol.len() * 4 + self.ends.chonk.len() * 8
    }
}

impl Default for PackedColumn {
    fn default() -> Self {
        PackedColumn::with_room(0, 0)
    }
}

impl PushInto<PackedRow> for PackedColumn {
    fn push_into(&mut self, row: PackedRow) {
        self.push_bytes(row.as_bytes());
    }
}

impl PushInto<&PackedRow> for PackedColumn {
    fn push_into(&mut self, row: &PackedRow) {
        self.push_bytes(row.as_bytes());
    }
}

impl PushInto<PackedRef<'_>> for PackedColumn {
    fn push_into(&mut self, row: PackedRef<'_>) {
        self.push_bytes(row.as_bytes());
    }
}

impl BatchContainer for PackedColumn {
    type Owned = PackedRow;
    type ReadItem<'a> = PackedRef<'a>;

    fn into_owned<'a>(item: PackedRef<'a>) -> PackedRow {
        item.to_owned()
    }

    fn push_ref(&mut self, item: PackedRef<'_>) {
        self.push_bytes(item.as_bytes());
    }

    fn push_own(&mut self, item: &PackedRow) {
        self.push_bytes(item.as_bytes());
    }

    fn clear(&mut self) {
        self.ends = OffsetList::with_capacity(0);
        self.bytes.clear();
    }

    fn with_capacity(size: usize) -> Self {
        PackedColumn::with_room(size, size.saturating_mul(EXPECTED_ROW_BYTES))
    }

    fn merge_capacity(a: &Self, b: &Self) -> Self {
        PackedColumn::with_room(a.len() + b.len(), a.bytes.len() + b.bytes.len())
    }

    fn reborrow<'b, 'a: 'b>(item: PackedRef<'a>) -> PackedRef<'b> {
        item
    }

    fn index(&self, index: usize) -> PackedRef<'_> {
        let start = if index == 0 { 0 } else { self.ends.index(index - 1) };
        PackedRef::from_packed_bytes(&self.bytes[start..self.ends.index(index)])
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

type Updates<K, V, T> = Vec<((K, V), T, Diff)>;

/// Rows as keys with no values: a maintained collection.
type KeyLayout<T> = (PackedColumn, Vec<()>, Vec<T>, Vec<Diff>, OffsetList);
pub type RowSpine<T> = Spine<Rc<OrdKeyBatch<KeyLayout<T>>>>;
pub type RowBatcher<T> = MergeBatcher<
    ContainerChunker<Updates<PackedRow, (), T>>,
    VecMerger<(PackedRow, ()), T, Diff>,
    OrdKeyBuilder<KeyLayout<T>, Updates<PackedRow, (), T>>,
>;

/// Rows by a key row: one side of a join.
type PairLayout<T> = (PackedColumn, PackedColumn, Vec<T>, Vec<Diff>, OffsetList);
pub type PairSpine<T> = Spine<Rc<OrdValBatch<PairLayout<T>>>>;
pub type PairBatcher<T> = MergeBatcher<
    ContainerChunker<Updates<PackedRow, PackedRow, T>>,
    VecMerger<(PackedRow, PackedRow), T, Diff>,
    OrdValBuilder<PairLayout<T>, Updates<PackedRow, PackedRow, T>>,
>;

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::Datum;

    #[test]
    fn rows_come_back_as_pushed_including_empty_ones() {
        let rows: Vec<PackedRow> = vec![
            PackedRow::pack(&[]),
            PackedRow::pack(&[Datum::Int64(1), Datum::Text("a somewhat longer text than inline".into())]),
            PackedRow::pack(&[]),
            PackedRow::pack(&[Datum::Null]),
        ];
        let mut column = PackedColumn::with_capacity(1);
        for r in &rows {
            column.push_own(r);
        }
        assert_eq!(column.len(), rows.len());
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(column.index(i), r.as_ref());
            assert_eq!(PackedColumn::into_owned(column.index(i)), *r);
        }
        let mut merged = PackedColumn::merge_capacity(&column, &column);
        merged.push_ref(column.index(1));
        assert_eq!(merged.index(0).unpack(), rows[1].unpack());
        column.clear();
        assert!(column.is_empty());
    }
}

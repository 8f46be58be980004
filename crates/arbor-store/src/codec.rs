//! The binary encoding of a forest snapshot, which the store encrypts as one blob per structure.
//!
//! One SQL row per forest row would cost far more than the 50 ms budget for saving or loading 100,000 rows,
//! so a forest is written whole: `"AF1" ‖ rows: u32 ‖ rows × (id: u64 ‖ depth: u16 ‖ tag: u8 ‖ payload)`,
//! little-endian, where the payload is a u64 for issues and generators and `len: u32 ‖ UTF-8` for folder
//! names and memo texts. Decoding goes through [`ForestBuilder`] and the value constructors, so a blob that
//! decodes is a valid forest.

use arbor_core::forest::{Forest, ForestBuilder, Item, ItemRef};
use arbor_core::ids::{FolderName, GeneratorId, IssueId, MemoText, RowId, defuse_bidi};

const MAGIC: &[u8; 3] = b"AF1";
const TAG_ISSUE: u8 = 1;
const TAG_FOLDER: u8 = 2;
const TAG_MEMO: u8 = 3;
const TAG_GENERATOR: u8 = 4;

/// Encodes `forest` as described in the module docs.
pub fn encode_forest(forest: &Forest) -> Vec<u8> {
    let mut out = Vec::with_capacity(7 + forest.len() * 19);
    out.extend_from_slice(MAGIC);
    // `Forest` holds at most u32::MAX rows.
    out.extend_from_slice(
        &u32::try_from(forest.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for row in forest.iter() {
        out.extend_from_slice(&row.id.get().to_le_bytes());
        out.extend_from_slice(&row.depth.to_le_bytes());
        match row.item {
            ItemRef::Issue(id) => {
                out.push(TAG_ISSUE);
                out.extend_from_slice(&id.get().to_le_bytes());
            }
            ItemRef::Generator(id) => {
                out.push(TAG_GENERATOR);
                out.extend_from_slice(&id.get().to_le_bytes());
            }
            ItemRef::Folder(name) => text(&mut out, TAG_FOLDER, name.as_str()),
            ItemRef::Memo(memo) => text(&mut out, TAG_MEMO, memo.as_str()),
        }
    }
    out
}

fn text(out: &mut Vec<u8>, tag: u8, text: &str) {
    out.push(tag);
    // Folder names and memos are at most a few thousand characters.
    out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    fn text(&mut self) -> Result<&'a str, String> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|e| e.to_string())
    }
}

/// Decodes a blob written by [`encode_forest`]; the error says what is wrong and where.
pub fn decode_forest(bytes: &[u8]) -> Result<Forest, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(3)? != MAGIC {
        return Err("not a forest snapshot".into());
    }
    let rows = r.u32()? as usize;
    // Never trust a length for allocation beyond what the bytes could hold.
    let mut builder = ForestBuilder::with_capacity(rows.min(bytes.len() / 19));
    for _ in 0..rows {
        let id = RowId::new(r.u64()?).map_err(|e| e.to_string())?;
        let depth = u16::from_le_bytes(r.array()?);
        let [tag] = r.array()?;
        let pushed = match tag {
            TAG_ISSUE => {
                let issue = IssueId::new(r.u64()?).map_err(|e| e.to_string())?;
                builder.push_issue(id, depth, issue)
            }
            TAG_GENERATOR => {
                let generator = GeneratorId::new(r.u64()?).map_err(|e| e.to_string())?;
                builder.push(id, depth, Item::Generator(generator))
            }
            TAG_FOLDER => {
                let name = FolderName::new(&defuse_bidi(r.text()?)).map_err(|e| e.to_string())?;
                builder.push(id, depth, Item::Folder(name))
            }
            TAG_MEMO => {
                let memo = MemoText::new(&defuse_bidi(r.text()?)).map_err(|e| e.to_string())?;
                builder.push(id, depth, Item::Memo(memo))
            }
            other => return Err(format!("unknown item tag {other} at byte {}", r.at - 1)),
        };
        pushed.map_err(|e| e.to_string())?;
    }
    if r.at != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - r.at));
    }
    builder.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arbor_core::forest::Row;
    use arbor_core::ids::MAX_ID;
    use proptest::prelude::*;

    fn row(id: u64, depth: u16, item: Item) -> Row {
        Row::new(RowId::new(id).unwrap(), depth, item)
    }

    #[test]
    fn forests_round_trip() {
        let forest = Forest::from_rows([
            row(1, 0, Item::Folder(FolderName::new("Plan é").unwrap())),
            row(2, 1, Item::Issue(IssueId::new(10_001).unwrap())),
            row(3, 1, Item::Memo(MemoText::new("line\nnext").unwrap())),
            row(9, 0, Item::Generator(GeneratorId::new(4).unwrap())),
        ])
        .unwrap();
        let bytes = encode_forest(&forest);
        assert_eq!(decode_forest(&bytes).unwrap(), forest);
        assert_eq!(
            decode_forest(&encode_forest(&Forest::new())).unwrap(),
            Forest::new()
        );
    }

    /// `bytes` with the UTF-8 of U+FFFD replaced by that of U+202E (right-to-left override), which names can
    /// no longer hold but older snapshots may.
    pub(crate) fn with_override(bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = out
            .windows(3)
            .position(|w| w == "\u{FFFD}".as_bytes())
            .unwrap();
        out[at..at + 3].copy_from_slice("\u{202E}".as_bytes());
        out
    }

    #[test]
    fn names_stored_with_bidirectional_overrides_still_load_defused() {
        let defused = Forest::from_rows([
            row(1, 0, Item::Folder(FolderName::new("a\u{FFFD}b").unwrap())),
            row(2, 1, Item::Memo(MemoText::new("memo").unwrap())),
        ])
        .unwrap();
        let stored = with_override(&encode_forest(&defused));
        assert_eq!(decode_forest(&stored).unwrap(), defused);
    }

    fn arbitrary_item() -> impl Strategy<Value = Item> {
        prop_oneof![
            (1..=MAX_ID).prop_map(|id| Item::Issue(IssueId::new(id).unwrap())),
            (1..=MAX_ID).prop_map(|id| Item::Generator(GeneratorId::new(id).unwrap())),
            "[a-zA-Z0-9 éü]{1,40}"
                .prop_filter_map("blank", |t| FolderName::new(&t).ok().map(Item::Folder)),
            "[a-zA-Z0-9\n\t .]{1,80}"
                .prop_filter_map("blank", |t| MemoText::new(&t).ok().map(Item::Memo)),
        ]
    }

    proptest! {
        #[test]
        fn any_forest_round_trips(steps in proptest::collection::vec((0u16..3, arbitrary_item()), 0..60)) {
            let mut depth = 0u16;
            let rows = steps.into_iter().enumerate().map(|(i, (step, item))| {
                // Each row at most one deeper than the one before it.
                depth = if i == 0 { 0 } else { (depth + 1).min(step) };
                row(i as u64 * 3 + 1, depth, item)
            });
            let forest = Forest::from_rows(rows).unwrap();
            prop_assert_eq!(decode_forest(&encode_forest(&forest)).unwrap(), forest);
        }

        #[test]
        fn no_byte_string_panics_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = decode_forest(&bytes);
            let _ = decode_forest(&with_magic);
        }
    }

    #[test]
    fn bad_blobs_are_errors() {
        let forest = Forest::from_rows([row(1, 0, Item::Issue(IssueId::new(5).unwrap()))]).unwrap();
        let bytes = encode_forest(&forest);
        assert!(decode_forest(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_forest(b"XYZ").is_err());
        let mut deep = bytes.clone();
        deep[15] = 3; // depth 3 for the first row
        assert!(decode_forest(&deep).is_err());
        let mut huge = bytes;
        huge[3..7].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_forest(&huge).is_err());
    }
}

//! Exports of a structure's current view: CSV (RFC 4180) and XLSX (Office Open XML), hierarchy included.
//!
//! Invariants:
//! - The same table always gives the same bytes (the ZIP carries a fixed timestamp), so exports can be compared.
//! - No exported text is read as a formula: CSV text that a spreadsheet would evaluate gets a leading `'`, and
//!   XLSX text is always an inline string.
//! - Every XLSX part is well-formed XML 1.0 and within Excel's limits: a table with more rows or columns than a
//!   sheet holds is refused rather than cut short; rows deeper than Excel's 7 outline levels share level 7, and
//!   text past Excel's 32,767-unit cell limit is cut (Excel would otherwise declare the file damaged).

use std::fmt::Write as _;
use std::io::{self, Write};

use flate2::Compression;
use flate2::Crc;
use flate2::write::DeflateEncoder;

/// One cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

/// A table to export: column titles, and rows in forest order with their depth (0 = top level).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<ExportRow>,
}

/// One row of a [`Table`]: its depth in the forest and its cells, one per column.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    pub depth: u16,
    pub cells: Vec<Cell>,
}

/// Why a table could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the view has {rows} rows; a worksheet holds at most {max} below its header")]
    TooManyRows { rows: usize, max: usize },
    #[error("the view has {columns} columns; a worksheet holds at most {max}")]
    TooManyColumns { columns: usize, max: usize },
    #[error("the export exceeds the 4 GiB a ZIP file without ZIP64 can hold")]
    TooLarge,
    #[error("compressing the workbook failed")]
    Compression(#[from] io::Error),
}

/// Rows of an Excel worksheet, the header included.
const MAX_SHEET_ROWS: usize = 1_048_576;
/// Columns of an Excel worksheet (`XFD`).
const MAX_SHEET_COLUMNS: usize = 16_384;
/// Excel's deepest row outline level.
const MAX_OUTLINE_LEVEL: u16 = 7;
/// The deepest indent every Excel version shows (2007 stops at 15); deeper rows share it.
const MAX_INDENT: u16 = 15;
/// Excel keeps at most this many UTF-16 units in a cell and asks to "repair" a file with more.
const MAX_CELL_UNITS: usize = 32_767;
/// Cell style indexes in `xl/styles.xml`: 0 is the default, 1 the bold header, `INDENT_STYLE_BASE + n` indents by n.
const HEADER_STYLE: u16 = 1;
const INDENT_STYLE_BASE: u16 = 1;
/// Sheet XML is gathered in chunks of about this size before compression: the deflater works best on big writes.
const CHUNK: usize = 64 * 1024;

/// The table as CSV: UTF-8 with a BOM (so Excel does not guess a legacy code page), CRLF line ends, a first
/// column `Level` holding the 1-based depth, and every line as wide as the widest row.
pub fn csv(table: &Table) -> Vec<u8> {
    let width = table_width(table);
    let mut out = String::with_capacity(64 + table.rows.len() * (4 + width * 8));
    out.push('\u{feff}');
    out.push_str("Level");
    for index in 0..width {
        out.push(',');
        if let Some(title) = table.columns.get(index) {
            push_csv_text(&mut out, title);
        }
    }
    out.push_str("\r\n");
    for row in &table.rows {
        // Writing to a String cannot fail.
        let _ = write!(out, "{}", u32::from(row.depth) + 1);
        for index in 0..width {
            out.push(',');
            match row.cells.get(index) {
                None | Some(Cell::Empty) => {}
                Some(Cell::Text(text)) => push_csv_text(&mut out, text),
                Some(Cell::Number(number)) => push_number(&mut out, *number),
            }
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The table as a one-sheet XLSX workbook: a bold, frozen header row, one row per table row with its depth as
/// the row's outline level (parents above their children, so Excel's outline buttons fold subtrees), and the
/// first column indented by depth so the tree reads without expanding the outline.
pub fn xlsx(table: &Table) -> Result<Vec<u8>, ExportError> {
    let width = table_width(table);
    if width > MAX_SHEET_COLUMNS {
        return Err(ExportError::TooManyColumns {
            columns: width,
            max: MAX_SHEET_COLUMNS,
        });
    }
    if table.rows.len() >= MAX_SHEET_ROWS {
        return Err(ExportError::TooManyRows {
            rows: table.rows.len(),
            max: MAX_SHEET_ROWS - 1,
        });
    }
    let mut zip = ZipWriter::default();
    zip.add_bytes("[Content_Types].xml", CONTENT_TYPES.as_bytes())?;
    zip.add_bytes("_rels/.rels", ROOT_RELS.as_bytes())?;
    zip.add_bytes("xl/workbook.xml", WORKBOOK.as_bytes())?;
    zip.add_bytes("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes())?;
    zip.add_bytes("xl/styles.xml", styles().as_bytes())?;
    let mut sheet = Part::new();
    write_sheet(&mut sheet, table, width)?;
    zip.add("xl/worksheets/sheet1.xml", sheet)?;
    zip.finish()
}

/// The number of columns to write: titles and cells alike are kept, whichever is wider.
fn table_width(table: &Table) -> usize {
    let widest_row = table
        .rows
        .iter()
        .map(|row| row.cells.len())
        .max()
        .unwrap_or(0);
    table.columns.len().max(widest_row)
}

/// Appends one CSV field. Text a spreadsheet would run as a formula (or that starts with a character it strips
/// before looking) gets a leading `'`, per OWASP's CSV injection advice.
fn push_csv_text(out: &mut String, text: &str) {
    let guard = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = text.contains(['"', ',', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if guard {
        out.push('\'');
    }
    for ch in text.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    if quote {
        out.push('"');
    }
}

/// Appends a number in its shortest exact form (`1`, `2.5`); exponent form only where plain digits would run
/// long; nothing for NaN and infinities, which neither format can carry.
fn push_number(out: &mut String, number: f64) {
    if !number.is_finite() {
        return;
    }
    // `-0` would read back as a text oddity in some tools; it is the same value as 0.
    let number = if number == 0.0 { 0.0 } else { number };
    let magnitude = number.abs();
    // Writing to a String cannot fail.
    let _ = if magnitude != 0.0 && !(1e-7..1e21).contains(&magnitude) {
        write!(out, "{number:e}")
    } else {
        write!(out, "{number}")
    };
}

/// Appends `text` as XML character data that Excel reads back unchanged: markup characters escaped, characters
/// XML 1.0 forbids dropped, CR kept as a reference (a raw CR is turned into LF by every XML parser), Excel's own
/// `_xHHHH_` escape syntax neutralised, and the text cut at Excel's cell limit.
fn push_xml_text(out: &mut String, text: &str) {
    let mut units = 0;
    for (at, ch) in text.char_indices() {
        units += ch.len_utf16();
        if units > MAX_CELL_UNITS {
            break;
        }
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{8}'
            | '\u{b}'
            | '\u{c}'
            | '\u{e}'..='\u{1f}'
            | '\u{fffe}'
            | '\u{ffff}' => {}
            '_' if starts_excel_escape(text.get(at..).unwrap_or_default()) => {
                out.push_str("_x005F_");
            }
            _ => out.push(ch),
        }
    }
}

/// Whether `text` starts with `_xHHHH_`, which Excel would decode as an escaped character.
fn starts_excel_escape(text: &str) -> bool {
    match text.as_bytes().get(..7) {
        Some([b'_', b'x' | b'X', hex @ .., b'_']) => hex.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// The column's letters: `A`..`Z`, then `AA`, `AB`, ... (bijective base 26). `index` is 0-based.
fn column_name(index: usize) -> String {
    let mut letters = Vec::with_capacity(3);
    let mut rest = index + 1;
    while rest > 0 {
        rest -= 1;
        letters.push(char::from(b'A' + (rest % 26) as u8));
        rest /= 26;
    }
    letters.iter().rev().collect()
}

fn write_sheet(sheet: &mut Part, table: &Table, width: usize) -> Result<(), ExportError> {
    let names: Vec<String> = (0..width).map(column_name).collect();
    let deepest = table
        .rows
        .iter()
        .map(|row| row.depth)
        .max()
        .unwrap_or(0)
        .min(MAX_OUTLINE_LEVEL);
    let mut xml = String::with_capacity(CHUNK + 4096);
    xml.push_str(XML_DECLARATION);
    xml.push_str(
        "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">",
    );
    // Parents sit above their children, so the outline's fold buttons belong above the group.
    xml.push_str("<sheetPr><outlinePr summaryBelow=\"0\"/></sheetPr>");
    // Writing to a String cannot fail.
    let _ = match names.last() {
        Some(last) => write!(
            xml,
            "<dimension ref=\"A1:{last}{}\"/>",
            table.rows.len() + 1
        ),
        None => write!(xml, "<dimension ref=\"A1\"/>"),
    };
    xml.push_str(
        "<sheetViews><sheetView tabSelected=\"1\" workbookViewId=\"0\">\
         <pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>\
         <selection pane=\"bottomLeft\" activeCell=\"A2\" sqref=\"A2\"/></sheetView></sheetViews>",
    );
    let _ = write!(
        xml,
        "<sheetFormatPr defaultRowHeight=\"15\" outlineLevelRow=\"{deepest}\"/>"
    );
    if width > 0 {
        // Room for the indented tree in the first column.
        xml.push_str("<cols><col min=\"1\" max=\"1\" width=\"48\" customWidth=\"1\"/></cols>");
    }
    xml.push_str("<sheetData><row r=\"1\">");
    for (title, name) in table.columns.iter().zip(&names) {
        if !title.is_empty() {
            push_text_cell(&mut xml, name, 1, HEADER_STYLE, title);
        }
    }
    xml.push_str("</row>");
    for (row, number) in table.rows.iter().zip(2_usize..) {
        let level = row.depth.min(MAX_OUTLINE_LEVEL);
        let _ = if level > 0 {
            write!(xml, "<row r=\"{number}\" outlineLevel=\"{level}\">")
        } else {
            write!(xml, "<row r=\"{number}\">")
        };
        for (index, (cell, name)) in row.cells.iter().zip(&names).enumerate() {
            let style = if index == 0 && row.depth > 0 {
                INDENT_STYLE_BASE + row.depth.min(MAX_INDENT)
            } else {
                0
            };
            match cell {
                Cell::Empty => {}
                Cell::Text(text) if text.is_empty() => {}
                Cell::Text(text) => push_text_cell(&mut xml, name, number, style, text),
                Cell::Number(value) if !value.is_finite() => {}
                Cell::Number(value) => {
                    let _ = write!(xml, "<c r=\"{name}{number}\"");
                    if style != 0 {
                        let _ = write!(xml, " s=\"{style}\"");
                    }
                    xml.push_str("><v>");
                    push_number(&mut xml, *value);
                    xml.push_str("</v></c>");
                }
            }
        }
        xml.push_str("</row>");
        if xml.len() >= CHUNK {
            sheet.write_all(xml.as_bytes())?;
            xml.clear();
        }
    }
    xml.push_str("</sheetData></worksheet>");
    sheet.write_all(xml.as_bytes())?;
    Ok(())
}

fn push_text_cell(xml: &mut String, column: &str, row: usize, style: u16, text: &str) {
    // Writing to a String cannot fail.
    let _ = write!(xml, "<c r=\"{column}{row}\"");
    if style != 0 {
        let _ = write!(xml, " s=\"{style}\"");
    }
    xml.push_str(" t=\"inlineStr\"><is><t xml:space=\"preserve\">");
    push_xml_text(xml, text);
    xml.push_str("</t></is></c>");
}

/// Fonts, fills and borders hold the entries Excel requires; cell formats are the default, the bold header,
/// then one left-aligned format per indent level.
fn styles() -> String {
    let mut xml = String::with_capacity(4096);
    xml.push_str(XML_DECLARATION);
    xml.push_str(
        "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
         <fonts count=\"2\">\
         <font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>\
         <font><b/><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>\
         </fonts>\
         <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>\
         <fill><patternFill patternType=\"gray125\"/></fill></fills>\
         <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
         <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>",
    );
    // Writing to a String cannot fail.
    let _ = write!(
        xml,
        "<cellXfs count=\"{}\">\
         <xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
         <xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>",
        INDENT_STYLE_BASE + MAX_INDENT + 1
    );
    for indent in 1..=MAX_INDENT {
        let _ = write!(
            xml,
            "<xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyAlignment=\"1\">\
             <alignment horizontal=\"left\" indent=\"{indent}\"/></xf>"
        );
    }
    xml.push_str(
        "</cellXfs>\
         <cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>\
         </styleSheet>",
    );
    xml
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n";

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
<Default Extension=\"xml\" ContentType=\"application/xml\"/>\
<Override PartName=\"/xl/workbook.xml\" \
ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
<Override PartName=\"/xl/worksheets/sheet1.xml\" \
ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
<Override PartName=\"/xl/styles.xml\" \
ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
</Types>";

const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" \
Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" \
Target=\"xl/workbook.xml\"/>\
</Relationships>";

const WORKBOOK: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
<bookViews><workbookView/></bookViews>\
<sheets><sheet name=\"View\" sheetId=\"1\" r:id=\"rId1\"/></sheets>\
</workbook>";

const WORKBOOK_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" \
Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" \
Target=\"worksheets/sheet1.xml\"/>\
<Relationship Id=\"rId2\" \
Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" \
Target=\"styles.xml\"/>\
</Relationships>";

/// One ZIP entry while it is written: deflated and checksummed as it goes, so a large sheet is never held
/// uncompressed.
struct Part {
    crc: Crc,
    // Counted here: `Crc::amount` is a u32 that wraps.
    size: u64,
    encoder: DeflateEncoder<Vec<u8>>,
}

impl Part {
    fn new() -> Self {
        Self {
            crc: Crc::new(),
            size: 0,
            encoder: DeflateEncoder::new(Vec::new(), Compression::default()),
        }
    }
}

impl Write for Part {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.encoder.write_all(buf)?;
        self.crc.update(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}

/// Where an entry's local header is and what the central directory repeats about it.
struct Entry {
    name: &'static str,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// A ZIP archive in memory, written as entries arrive: local header and data per entry, then the central
/// directory and its end record. No ZIP64: anything past 4 GiB is refused.
#[derive(Default)]
struct ZipWriter {
    out: Vec<u8>,
    entries: Vec<Entry>,
}

/// Version 2.0, the first with deflate; what every reader accepts.
const ZIP_VERSION: u16 = 20;
const ZIP_DEFLATE: u16 = 8;
/// MS-DOS date for 1980-01-01, the earliest ZIP can say, with time 00:00: fixed so output is reproducible.
const ZIP_DATE: u16 = (1 << 5) | 1;
const ZIP_TIME: u16 = 0;

impl ZipWriter {
    fn add_bytes(&mut self, name: &'static str, data: &[u8]) -> Result<(), ExportError> {
        let mut part = Part::new();
        part.write_all(data)?;
        self.add(name, part)
    }

    fn add(&mut self, name: &'static str, part: Part) -> Result<(), ExportError> {
        let crc = part.crc.sum();
        let size = u32::try_from(part.size).map_err(|_| ExportError::TooLarge)?;
        let data = part.encoder.finish()?;
        let compressed = u32::try_from(data.len()).map_err(|_| ExportError::TooLarge)?;
        let offset = u32::try_from(self.out.len()).map_err(|_| ExportError::TooLarge)?;
        let name_len = u16::try_from(name.len()).map_err(|_| ExportError::TooLarge)?;
        let out = &mut self.out;
        put32(out, 0x0403_4b50);
        put16(out, ZIP_VERSION);
        put16(out, 0);
        put16(out, ZIP_DEFLATE);
        put16(out, ZIP_TIME);
        put16(out, ZIP_DATE);
        put32(out, crc);
        put32(out, compressed);
        put32(out, size);
        put16(out, name_len);
        put16(out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        self.entries.push(Entry {
            name,
            crc,
            compressed,
            size,
            offset,
        });
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, ExportError> {
        let Self { mut out, entries } = self;
        let directory_offset = u32::try_from(out.len()).map_err(|_| ExportError::TooLarge)?;
        for entry in &entries {
            let name_len = u16::try_from(entry.name.len()).map_err(|_| ExportError::TooLarge)?;
            put32(&mut out, 0x0201_4b50);
            put16(&mut out, ZIP_VERSION);
            put16(&mut out, ZIP_VERSION);
            put16(&mut out, 0);
            put16(&mut out, ZIP_DEFLATE);
            put16(&mut out, ZIP_TIME);
            put16(&mut out, ZIP_DATE);
            put32(&mut out, entry.crc);
            put32(&mut out, entry.compressed);
            put32(&mut out, entry.size);
            put16(&mut out, name_len);
            // Extra field, comment, disk number, internal and external attributes: none.
            put16(&mut out, 0);
            put16(&mut out, 0);
            put16(&mut out, 0);
            put16(&mut out, 0);
            put32(&mut out, 0);
            put32(&mut out, entry.offset);
            out.extend_from_slice(entry.name.as_bytes());
        }
        let directory_size = u32::try_from(out.len())
            .map_err(|_| ExportError::TooLarge)?
            .saturating_sub(directory_offset);
        let count = u16::try_from(entries.len()).map_err(|_| ExportError::TooLarge)?;
        put32(&mut out, 0x0605_4b50);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, count);
        put16(&mut out, count);
        put32(&mut out, directory_size);
        put32(&mut out, directory_offset);
        put16(&mut out, 0);
        Ok(out)
    }
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;

    fn text(value: &str) -> Cell {
        Cell::Text(value.to_owned())
    }

    fn row(depth: u16, cells: Vec<Cell>) -> ExportRow {
        ExportRow { depth, cells }
    }

    fn csv_string(table: &Table) -> String {
        let bytes = csv(table);
        assert!(
            bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
            "a UTF-8 BOM comes first"
        );
        String::from_utf8(bytes[3..].to_vec()).unwrap()
    }

    /// Every part of the workbook, read back through the `zip` crate (which checks each CRC on reading).
    fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|index| {
                let mut file = archive.by_index(index).unwrap();
                let mut content = String::new();
                file.read_to_string(&mut content).unwrap();
                (file.name().to_owned(), content)
            })
            .collect()
    }

    fn sheet_xml(table: &Table) -> String {
        let parts = unzip(&xlsx(table).unwrap());
        parts
            .into_iter()
            .find(|(name, _)| name == "xl/worksheets/sheet1.xml")
            .unwrap()
            .1
    }

    #[test]
    fn csv_has_a_level_column_and_crlf_lines() {
        let table = Table {
            columns: vec!["Summary".into(), "Points".into()],
            rows: vec![
                row(0, vec![text("Epic"), Cell::Number(8.0)]),
                row(1, vec![text("Story")]),
            ],
        };
        assert_eq!(
            csv_string(&table),
            "Level,Summary,Points\r\n1,Epic,8\r\n2,Story,\r\n"
        );
    }

    #[test]
    fn csv_quotes_what_rfc_4180_requires() {
        let table = Table {
            columns: vec!["a,b".into()],
            rows: vec![
                row(0, vec![text("say \"hi\"")]),
                row(0, vec![text("two\nlines")]),
                row(0, vec![text("cr\rhere")]),
                row(0, vec![text("plain text")]),
            ],
        };
        assert_eq!(
            csv_string(&table),
            "Level,\"a,b\"\r\n1,\"say \"\"hi\"\"\"\r\n1,\"two\nlines\"\r\n1,\"cr\rhere\"\r\n1,plain text\r\n"
        );
    }

    #[test]
    fn csv_defuses_formulas_but_keeps_negative_numbers() {
        let cells = [
            "=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "=\"a\",b", "a=b",
        ];
        let table = Table {
            columns: vec!["=HYPERLINK(\"x\")".into()],
            rows: cells
                .iter()
                .map(|value| row(0, vec![text(value)]))
                .chain([row(0, vec![Cell::Number(-3.0)])])
                .collect(),
        };
        let lines: Vec<String> = csv_string(&table)
            .split("\r\n")
            .map(str::to_owned)
            .collect();
        assert_eq!(lines[0], "Level,\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(
            &lines[1..],
            &[
                "1,'=1+1",
                "1,'+1",
                "1,'-2",
                "1,'@SUM(A1)",
                "1,'\tx",
                "1,\"'\rx\"",
                "1,\"'=\"\"a\"\",b\"",
                "1,a=b",
                "1,-3",
                ""
            ]
        );
    }

    #[test]
    fn numbers_print_without_needless_decimals() {
        let cases = [
            (1.0, "1"),
            (2.5, "2.5"),
            (-3.25, "-3.25"),
            (-0.0, "0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "100000000000000000000"),
            (1e21, "1e21"),
            (1.5e-8, "1.5e-8"),
            (f64::NAN, ""),
            (f64::INFINITY, ""),
            (f64::NEG_INFINITY, ""),
        ];
        for (number, expected) in cases {
            let mut out = String::new();
            push_number(&mut out, number);
            assert_eq!(out, expected, "{number}");
        }
    }

    #[test]
    fn csv_pads_short_rows_and_keeps_long_ones() {
        let table = Table {
            columns: vec!["A".into()],
            rows: vec![row(2, vec![]), row(0, vec![Cell::Empty, Cell::Number(1.0)])],
        };
        assert_eq!(csv_string(&table), "Level,A,\r\n3,,\r\n1,,1\r\n");
    }

    #[test]
    fn column_names_go_past_z() {
        let names: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702, 16_383]
            .into_iter()
            .map(column_name)
            .collect();
        assert_eq!(
            names,
            ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"]
        );
    }

    #[test]
    fn xml_text_is_escaped_and_stripped() {
        let mut out = String::new();
        push_xml_text(
            &mut out,
            "<script>&\"'\u{0}\u{7}\t\n\r\u{ffff}é_x0041_ _x12_",
        );
        assert_eq!(
            out,
            "&lt;script&gt;&amp;&quot;&apos;\t\n&#13;é_x005F_x0041_ _x12_"
        );
    }

    #[test]
    fn xml_text_stops_at_excels_cell_limit() {
        let mut out = String::new();
        push_xml_text(&mut out, &"😀".repeat(20_000));
        // Each emoji is two UTF-16 units: 16,383 fit in 32,767.
        assert_eq!(out.chars().count(), 16_383);
    }

    #[test]
    fn xlsx_holds_every_part_with_valid_crcs() {
        let table = Table {
            columns: vec!["Summary".into()],
            rows: vec![row(0, vec![text("x")])],
        };
        let parts = unzip(&xlsx(&table).unwrap());
        let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "xl/workbook.xml",
                "xl/_rels/workbook.xml.rels",
                "xl/styles.xml",
                "xl/worksheets/sheet1.xml"
            ]
        );
        for (name, content) in &parts {
            assert!(content.starts_with("<?xml version=\"1.0\""), "{name}");
        }
        let styles = &parts[4].1;
        assert!(styles.contains("<cellXfs count=\"17\">"));
        assert!(styles.contains("<font><b/>"));
    }

    #[test]
    fn xlsx_sheet_has_outline_levels_indents_and_escaped_text() {
        let mut columns: Vec<String> = (0..28).map(|index| format!("C{index}")).collect();
        columns[0] = "Summary <&>".into();
        let mut wide = vec![Cell::Empty; 28];
        wide[27] = Cell::Number(-4.5);
        let table = Table {
            columns,
            rows: vec![
                row(
                    0,
                    vec![
                        text("<script>&\"'"),
                        Cell::Number(1.0),
                        Cell::Empty,
                        text(""),
                    ],
                ),
                row(1, vec![text("child")]),
                row(9, wide),
            ],
        };
        let sheet = sheet_xml(&table);
        assert!(sheet.contains("<sheetPr><outlinePr summaryBelow=\"0\"/></sheetPr>"));
        assert!(sheet.contains("outlineLevelRow=\"7\""));
        assert!(sheet.contains("state=\"frozen\""));
        assert!(sheet.contains("<dimension ref=\"A1:AB4\"/>"));
        assert!(sheet.contains(
            "<c r=\"A1\" s=\"1\" t=\"inlineStr\"><is><t xml:space=\"preserve\">Summary &lt;&amp;&gt;</t></is></c>"
        ));
        assert!(sheet.contains(
            "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t xml:space=\"preserve\">&lt;script&gt;&amp;&quot;&apos;</t></is></c><c r=\"B2\"><v>1</v></c></row>"
        ));
        assert!(
            sheet.contains("<row r=\"3\" outlineLevel=\"1\"><c r=\"A3\" s=\"2\" t=\"inlineStr\">")
        );
        assert!(
            sheet.contains("<row r=\"4\" outlineLevel=\"7\"><c r=\"AB4\"><v>-4.5</v></c></row>")
        );
        assert!(!sheet.contains("<script>"));
    }

    #[test]
    fn xlsx_of_an_empty_table_is_still_a_workbook() {
        let sheet = sheet_xml(&Table::default());
        assert!(sheet.contains("<dimension ref=\"A1\"/>"));
        assert!(sheet.contains("<sheetData><row r=\"1\"></row></sheetData>"));
    }

    #[test]
    fn xlsx_is_reproducible() {
        let table = Table {
            columns: vec!["A".into()],
            rows: vec![row(0, vec![text("x")])],
        };
        assert_eq!(xlsx(&table).unwrap(), xlsx(&table).unwrap());
    }

    #[test]
    fn xlsx_refuses_what_a_sheet_cannot_hold() {
        let wide = Table {
            columns: vec![String::new(); MAX_SHEET_COLUMNS + 1],
            rows: vec![],
        };
        assert!(matches!(
            xlsx(&wide),
            Err(ExportError::TooManyColumns {
                columns: 16_385,
                max: 16_384
            })
        ));
        let long = Table {
            columns: vec![],
            rows: vec![row(0, vec![]); MAX_SHEET_ROWS],
        };
        assert!(matches!(
            xlsx(&long),
            Err(ExportError::TooManyRows {
                rows: 1_048_576,
                max: 1_048_575
            })
        ));
    }

    #[test]
    fn xlsx_of_a_hundred_thousand_rows() {
        let table = Table {
            columns: vec![
                "Summary".into(),
                "Key".into(),
                "Points".into(),
                "Status".into(),
            ],
            rows: (0..100_000_u32)
                .map(|index| {
                    row(
                        (index % 5) as u16,
                        vec![
                            text(&format!("Issue number {index}")),
                            text(&format!("ARB-{index}")),
                            Cell::Number(f64::from(index % 13)),
                            text(if index % 2 == 0 { "Open" } else { "Done" }),
                        ],
                    )
                })
                .collect(),
        };
        let bytes = xlsx(&table).unwrap();
        let sheet = unzip(&bytes).pop().unwrap().1;
        assert!(sheet.contains("<row r=\"100001\" outlineLevel=\"4\">"));
        assert!(sheet.ends_with("</sheetData></worksheet>"));
        assert!(csv(&table).len() > 3_000_000);
    }
}

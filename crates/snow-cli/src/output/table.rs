//! Tables for the terminal: column widths from the first rows, cells cut to fit.

use std::io::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Rows looked at before the column widths are fixed; later rows are cut to those widths.
pub(crate) const SAMPLE_ROWS: usize = 200;
/// The widest a column gets.
const MAX_COLUMN: usize = 50;
/// The narrowest a column is squeezed to before columns are left out.
const MIN_COLUMN: usize = 8;
const GAP: &str = "  ";

/// A table being printed: rows are held until [`SAMPLE_ROWS`] are seen, then printed as they
/// come.
#[derive(Debug)]
pub(crate) struct TablePrinter {
    header: Vec<String>,
    held: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
    max_width: usize,
    dropped: usize,
}

impl TablePrinter {
    /// A table with these column names, at most `max_width` columns of text wide.
    pub(crate) fn new(header: Vec<String>, max_width: usize) -> Self {
        Self {
            header,
            held: Vec::new(),
            widths: None,
            max_width,
            dropped: 0,
        }
    }

    /// Adds a row (one cell per column).
    pub(crate) fn row(&mut self, out: &mut impl Write, cells: Vec<String>) -> std::io::Result<()> {
        let cells: Vec<String> = cells.into_iter().map(|c| clean(&c)).collect();
        match &self.widths {
            Some(w) => write_row(out, &cells, w),
            None => {
                self.held.push(cells);
                if self.held.len() >= SAMPLE_ROWS {
                    self.flush_held(out)?;
                }
                Ok(())
            }
        }
    }

    fn flush_held(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let widths = self.layout();
        let header: Vec<String> = self.header.clone();
        write_row(out, &header, &widths)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        write_row(out, &rule, &widths)?;
        for row in std::mem::take(&mut self.held) {
            write_row(out, &row, &widths)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    /// Column widths: each column as wide as its widest sampled cell (at most
    /// [`MAX_COLUMN`]); the widest squeezed until the table fits; columns past the width left
    /// out (width 0).
    fn layout(&mut self) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                self.held
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.width())
                    .chain([h.width()])
                    .max()
                    .unwrap_or(0)
                    .clamp(1, MAX_COLUMN)
            })
            .collect();
        let total = |w: &[usize]| {
            w.iter().filter(|w| **w > 0).sum::<usize>()
                + GAP.len() * w.iter().filter(|w| **w > 0).count().saturating_sub(1)
        };
        while total(&widths) > self.max_width {
            let (i, widest) = widths
                .iter()
                .copied()
                .enumerate()
                .max_by_key(|(_, w)| *w)
                .unwrap_or((0, 0));
            if widest > MIN_COLUMN {
                widths[i] = (widest - 1).max(MIN_COLUMN);
            } else if let Some(last) = widths.iter().rposition(|w| *w > 0) {
                if last == 0 {
                    break;
                }
                widths[last] = 0;
                self.dropped += 1;
            } else {
                break;
            }
        }
        widths
    }

    /// Prints what is held; returns how many columns did not fit.
    pub(crate) fn finish(mut self, out: &mut impl Write) -> std::io::Result<usize> {
        if self.widths.is_none() {
            self.flush_held(out)?;
        }
        out.flush()?;
        Ok(self.dropped)
    }
}

/// Control characters (line breaks, tabs) become spaces, so one record stays one line.
fn clean(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        s.to_owned()
    }
}

fn write_row(out: &mut impl Write, cells: &[String], widths: &[usize]) -> std::io::Result<()> {
    let mut line = String::new();
    let shown: Vec<usize> = (0..widths.len()).filter(|i| widths[*i] > 0).collect();
    for (n, &i) in shown.iter().enumerate() {
        let cell = cells.get(i).map(String::as_str).unwrap_or("");
        let fitted = fit(cell, widths[i]);
        let w = fitted.width();
        line.push_str(&fitted);
        if n + 1 < shown.len() {
            line.extend(std::iter::repeat_n(' ', widths[i].saturating_sub(w)));
            line.push_str(GAP);
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// `s` cut to `width` columns, ending in `…` when cut.
pub(crate) fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The terminal's width, or 100 columns.
pub(crate) fn terminal_width() -> usize {
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w >= 20)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(header: &[&str], rows: &[&[&str]], width: usize) -> (String, usize) {
        let mut t = TablePrinter::new(header.iter().map(|s| s.to_string()).collect(), width);
        let mut out = Vec::new();
        for r in rows {
            t.row(&mut out, r.iter().map(|s| s.to_string()).collect())
                .unwrap();
        }
        let dropped = t.finish(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), dropped)
    }

    #[test]
    fn columns_line_up() {
        let (s, dropped) = render(&["a", "bb"], &[&["xxx", "y"], &["z", "line\nbreak"]], 80);
        assert_eq!(dropped, 0);
        assert_eq!(s, "a    bb\n---  ----------\nxxx  y\nz    line break\n");
    }

    #[test]
    fn wide_tables_are_squeezed_then_cut() {
        let long = "x".repeat(60);
        let (s, dropped) = render(&["a", "b", "c"], &[&[&long, &long, &long]], 20);
        assert!(s.lines().all(|l| l.width() <= 20), "{s}");
        assert_eq!(dropped, 1, "{s}");
        assert!(s.contains('…'));
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}

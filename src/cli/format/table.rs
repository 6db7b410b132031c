//! Column alignment exactly like Go's `text/tabwriter` as Podman configures it
//! (`tabwriter.NewWriter(w, 12, 2, 2, ' ', 0)`), and the default column headers Podman derives
//! from field names (CamelCase split into upper-case words).

/// Minimum width of a column, padding included.
const MIN_WIDTH: usize = 12;
/// Spaces added after the widest cell of a column.
const PADDING: usize = 2;

/// Aligns tab-separated text the way Go's tabwriter does: a cell is text terminated by a tab;
/// the text after the last tab of a line is not part of any column. A column block is a run of
/// consecutive lines that all have that column; its width is the widest cell plus 2, at least 12.
pub(crate) fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut widths = Vec::new();
    format(&lines, 0, lines.len(), &mut widths, &mut out);
    out
}

fn cell_width(cell: &str) -> usize {
    cell.chars().count()
}

fn format(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A cell exists in this column: the lines before it are complete.
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = MIN_WIDTH;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(cell_width(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(width);
        format(lines, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j) {
                let pad = w.saturating_sub(cell_width(cell));
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

/// Prints rows of cells (the first row usually the headers) as aligned columns, one line per
/// row, like Podman's default listings.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    align(&text)
}

/// Splits a CamelCase identifier into words like Podman's `camelcase.Split`:
/// "CreatedAt" -> ["Created", "At"], "PIDFile" -> ["PID", "File"], "Http2" -> ["Http", "2"].
pub(crate) fn split_camel(s: &str) -> Vec<String> {
    let class = |c: char| {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    // An upper-case run followed by a lower-case one gives its last letter to the next word.
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i][0].is_uppercase() && runs[i + 1][0].is_lowercase();
        if upper_then_lower {
            if let Some(c) = runs[i].pop() {
                runs[i + 1].insert(0, c);
            }
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// The header Podman shows for a field when the command has no better name for it: the last
/// element of the path, split into words and upper-cased ("Host.CreatedAt" -> "CREATED AT").
pub fn default_header(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    split_camel(last).join(" ").to_uppercase()
}

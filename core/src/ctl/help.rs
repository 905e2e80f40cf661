//! The layout of the shell's `help`: the command list as Python's `cmd`
//! module lays it out (sorted, in columns fitting 80 characters). Pure
//! text, no I/O; which commands there are and what their usage says is
//! the table's (`actions`).

/// The header, ruler and command columns of `help` with no topic, exactly
/// as the reference lays them out (scripts and eyes know the shape).
pub fn command_list(names: &[&str]) -> String {
    titled_list("default commands (type help <topic>):", names)
}

/// A list of commands under `header`, as `cmd.Cmd.print_topics` prints
/// one (a plugin's list has its own header).
pub fn titled_list(header: &str, names: &[&str]) -> String {
    let mut names = names.to_vec();
    names.sort_unstable();
    let mut out = String::from("\n");
    out.push_str(header);
    out.push('\n');
    out.push_str(&"=".repeat(header.len()));
    out.push('\n');
    out.push_str(&columnize(&names, 79));
    out.push('\n');
    out
}

/// Python `cmd.Cmd.columnize`: the fewest rows whose columns (two spaces
/// apart) fit in `width`, filled down the columns; each cell padded.
fn columnize(items: &[&str], width: usize) -> String {
    let size = items.len();
    if size == 0 {
        return "<empty>\n".to_string();
    }
    if size == 1 {
        return format!("{}\n", items[0]);
    }
    let mut layout = (size, 1, vec![0usize]);
    for nrows in 1..size {
        let ncols = size.div_ceil(nrows);
        let mut widths = Vec::with_capacity(ncols);
        let mut total: isize = -2;
        for col in 0..ncols {
            let w = (0..nrows)
                .map(|row| row + nrows * col)
                .take_while(|&i| i < size)
                .map(|i| items[i].len())
                .max()
                .unwrap_or(0);
            widths.push(w);
            total += w as isize + 2;
            if total > width as isize {
                break;
            }
        }
        if total <= width as isize {
            layout = (nrows, ncols, widths);
            break;
        }
    }
    let (nrows, ncols, widths) = layout;
    let mut out = String::new();
    for row in 0..nrows {
        let mut cells: Vec<&str> = (0..ncols)
            .map(|col| items.get(row + nrows * col).copied().unwrap_or(""))
            .collect();
        while cells.last().is_some_and(|c| c.is_empty()) {
            cells.pop();
        }
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(col, c)| format!("{c:<w$}", w = widths[col]))
            .collect();
        out.push_str(&padded.join("  "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fill_downwards_and_pad_every_cell() {
        assert_eq!(columnize(&[], 79), "<empty>\n");
        assert_eq!(columnize(&["one"], 79), "one\n");
        assert_eq!(columnize(&["a", "bb", "c"], 79), "a  bb  c\n");
        assert_eq!(columnize(&["a", "bb", "c"], 5), "a   c\nbb\n");
    }
}

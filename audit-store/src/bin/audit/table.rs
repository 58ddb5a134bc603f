//! The human tables of `audit query`, `audit stream` and `audit catalogue`.

use audit_core::Event;

/// Cuts `text` to `width` characters, marking the cut.
fn fit(text: &str, width: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(width).collect();
    if chars.next().is_some() {
        let mut head: String = head.chars().take(width.saturating_sub(1)).collect();
        head.push('…');
        head
    } else {
        head
    }
}

/// One line per event: when, tenant, action, outcome, actor, target, description.
pub(crate) fn events(events: &[Event]) -> String {
    let widths = [27, 12, 28, 8, 24, 24, 40];
    let header = [
        "OCCURRED_AT",
        "TENANT",
        "ACTION",
        "OUTCOME",
        "ACTOR",
        "TARGET",
        "DESCRIPTION",
    ];
    let mut lines = vec![row(&header.map(str::to_owned), &widths)];
    for event in events {
        let actor = event.actor();
        let target = event
            .target()
            .map(|t| format!("{}:{}", t.target_type, t.id))
            .unwrap_or_default();
        let cells = [
            event.occurred_at().to_string(),
            event.tenant_id().unwrap_or("-").to_owned(),
            event.action().as_str().to_owned(),
            event.outcome().as_str().to_owned(),
            format!("{}:{}", actor.kind.as_str(), actor.id),
            target,
            event.description().unwrap_or_default().to_owned(),
        ];
        lines.push(row(&cells, &widths));
    }
    lines.join("\n") + "\n"
}

fn row(cells: &[String; 7], widths: &[usize; 7]) -> String {
    cells
        .iter()
        .zip(widths)
        .map(|(cell, &width)| format!("{:width$}", fit(cell, width)))
        .collect::<Vec<_>>()
        .join("  ")
        .trim_end()
        .to_owned()
}

/// `text` with control characters escaped, so what a receiver or a
/// catalogue says cannot drive the terminal.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Rows as aligned columns, the first being the header.
pub(crate) fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.each_ref().map(|cell| printable(cell)))
        .collect();
    let mut widths = [0; N];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_with_a_mark_and_short_ones_padded() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit("ééééé", 5), "ééééé");
    }
}

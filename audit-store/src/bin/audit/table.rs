//! The human table of `audit query`.

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

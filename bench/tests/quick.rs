//! The quick benchmark runs every part and writes a report whose figures
//! are real numbers: all eleven sections, non-zero throughput and timings.

use std::process::Command;

/// The text of section `n` (from `## n.` to the next `## `).
fn section(report: &str, n: u8) -> Result<&str, String> {
    let heading = format!("\n## {n}. ");
    let start = report
        .find(&heading)
        .ok_or_else(|| format!("section {n} is missing"))?;
    let body = &report[start + heading.len()..];
    Ok(body.find("\n## ").map_or(body, |end| &body[..end]))
}

/// The data rows of the first table in `text`, as trimmed cells.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The number a cell starts with (`"12.5 ms (3%)"` → 12.5).
fn number(cell: &str) -> Result<f64, String> {
    let end = cell
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(cell.len());
    cell[..end]
        .parse()
        .map_err(|_| format!("{cell:?} does not start with a number"))
}

/// Check that column `col` of every row of section `n`'s first table is a
/// positive number, and that there are at least `min_rows` rows.
fn positive_column(report: &str, n: u8, col: usize, min_rows: usize) -> Result<(), String> {
    let rows = rows(section(report, n)?);
    if rows.len() < min_rows {
        return Err(format!(
            "section {n} has {} rows, expected {min_rows}",
            rows.len()
        ));
    }
    for row in &rows {
        let cell = row
            .get(col)
            .ok_or_else(|| format!("section {n}: row {row:?} has no column {col}"))?;
        let value = number(cell)?;
        if value <= 0.0 || !value.is_finite() {
            return Err(format!(
                "section {n}: {cell:?} in row {row:?} is not positive"
            ));
        }
    }
    Ok(())
}

/// Everything a report must contain.
fn check_report(report: &str) -> Result<(), String> {
    for n in 1..=11 {
        let text = section(report, n)?;
        if !text.contains("**Result:**") || !text.contains("**What bounds it:**") {
            return Err(format!("section {n} has no result or note"));
        }
    }
    // Summary: figure, baseline and ratio of every part are positive numbers.
    let summary = rows(report.split("## Summary").nth(1).ok_or("no summary")?);
    if summary.len() != 11 {
        return Err(format!("the summary has {} rows", summary.len()));
    }
    for row in &summary {
        for col in [2, 3, 4] {
            let value = number(row.get(col).ok_or("short summary row")?)?;
            if value <= 0.0 {
                return Err(format!("summary row {row:?}: column {col} is not positive"));
            }
        }
        let result = row.get(6).map(String::as_str);
        if !matches!(result, Some("met" | "missed")) {
            return Err(format!("summary row {row:?} has no verdict"));
        }
    }
    // 1: throughput and latencies of the three servers at both concurrencies.
    for col in [2, 3, 4, 6] {
        positive_column(report, 1, col, 6)?;
    }
    // 2: median per-call cost of pooled, on-demand and native.
    positive_column(report, 2, 1, 3)?;
    // 3: native, off, epoch and fuel CPU time of both workloads.
    for col in [1, 2, 3, 4] {
        positive_column(report, 3, col, 2)?;
    }
    // 4: compile and cached activation.
    positive_column(report, 4, 2, 1)?;
    positive_column(report, 4, 3, 1)?;
    // 5: RSS and the empty host's RSS for both sizes.
    positive_column(report, 5, 1, 2)?;
    positive_column(report, 5, 2, 2)?;
    // 6: quiet and noisy throughput and p99.
    positive_column(report, 6, 1, 2)?;
    positive_column(report, 6, 3, 2)?;
    // 7: the native floor, create-order and the notification round trip.
    positive_column(report, 7, 1, 5)?;
    positive_column(report, 7, 2, 5)?;
    // 8: the floor, a plain request, send and claim.
    positive_column(report, 8, 1, 4)?;
    // 9: PostgreSQL and sled p50 of the floors and the three requests.
    positive_column(report, 9, 1, 5)?;
    positive_column(report, 9, 3, 5)?;
    // 10: the host process's resident memory over time (first table).
    if !section(report, 10)?.contains("| host RSS MiB |") {
        return Err("section 10 has no resident memory over time".into());
    }
    // 11: JS, Rust and native throughput and p50 at both concurrencies,
    // the JS compile and cached activation, memory per JS plugin.
    positive_column(report, 11, 2, 6)?;
    positive_column(report, 11, 3, 6)?;
    let js = section(report, 11)?;
    for needle in [
        "| JS hello (Islet) |",
        "| js-hello |",
        "resident MiB per plugin",
    ] {
        if !js.contains(needle) {
            return Err(format!("section 11 lacks {needle:?}"));
        }
    }
    Ok(())
}

/// `report` with the first Islet throughput of part 1 set to zero.
fn zero_throughput(report: &str) -> String {
    let mut done = false;
    let start = report.find("\n## 1. ").unwrap_or(0);
    let (head, tail) = report.split_at(start);
    let tail: Vec<String> = tail
        .lines()
        .map(|line| {
            if !done && line.starts_with("| 1 | Islet |") {
                done = true;
                let mut cells: Vec<&str> = line.split('|').collect();
                cells[3] = " 0 ";
                cells.join("|")
            } else {
                line.to_string()
            }
        })
        .collect();
    format!("{head}{}", tail.join("\n"))
}

#[test]
fn quick_run_reports_all_eleven_parts_with_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.md");
    let result = Command::new(env!("CARGO_BIN_EXE_islet-bench"))
        .args(["--quick", "--output"])
        .arg(&out)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "islet-bench --quick failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report = std::fs::read_to_string(&out).unwrap();
    if let Err(e) = check_report(&report) {
        panic!("{e}\n\n{report}");
    }
    assert!(report.contains("--quick"), "the report names its command");

    // The checks catch a zero throughput and a missing part.
    let zeroed = zero_throughput(&report);
    assert_ne!(zeroed, report);
    assert!(check_report(&zeroed).is_err());
    let start = report.find("\n## 4. ").unwrap();
    let end = report.find("\n## 5. ").unwrap();
    let without_4 = format!("{}{}", &report[..start], &report[end..]);
    assert!(check_report(&without_4).is_err());
}

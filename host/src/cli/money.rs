//! `islet merchant ...`, `islet reconcile` and `islet order`: the money
//! path for platform admins from the command line.

use super::ServerArgs;
use super::client::{client, send, url};
use clap::Subcommand;
use serde_json::{Value, json};

/// `islet merchant ...`.
#[derive(Debug, Subcommand)]
pub enum MerchantCommand {
    /// List merchant accounts and the plugins granted to each.
    List {
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Open a merchant account.
    Create {
        /// Account id, e.g. `water-supply`.
        id: String,
        /// The owning department.
        #[arg(long)]
        department: String,
        /// Display name, shown in the cashier.
        #[arg(long)]
        name: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Let a plugin charge to the account.
    Grant {
        /// Account id.
        id: String,
        /// Plugin id.
        plugin: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Stop a plugin charging to the account (effective at once).
    Revoke {
        /// Account id.
        id: String,
        /// Plugin id.
        plugin: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Run a merchant command.
pub fn merchant(cmd: MerchantCommand) -> anyhow::Result<()> {
    match cmd {
        MerchantCommand::List { server } => {
            let body = send(&server, client()?.get(url(&server, "/admin/v1/merchants")))?;
            let merchants = body["merchants"].as_array().cloned().unwrap_or_default();
            if merchants.is_empty() {
                println!("no merchant accounts");
            }
            for m in &merchants {
                println!("{}", merchant_line(m));
            }
            Ok(())
        }
        MerchantCommand::Create {
            id,
            department,
            name,
            server,
        } => {
            let body = json!({ "id": id, "department": department, "name": name });
            let created = send(
                &server,
                client()?
                    .post(url(&server, "/admin/v1/merchants"))
                    .json(&body),
            )?;
            println!("opened {}", merchant_line(&created));
            Ok(())
        }
        MerchantCommand::Grant { id, plugin, server } => {
            let path = format!("/admin/v1/merchants/{id}/plugins/{plugin}");
            let after = send(&server, client()?.put(url(&server, &path)))?;
            println!("granted: {}", merchant_line(&after));
            Ok(())
        }
        MerchantCommand::Revoke { id, plugin, server } => {
            let path = format!("/admin/v1/merchants/{id}/plugins/{plugin}");
            let after = send(&server, client()?.delete(url(&server, &path)))?;
            println!("revoked: {}", merchant_line(&after));
            Ok(())
        }
    }
}

fn merchant_line(m: &Value) -> String {
    let plugins: Vec<&str> = m["plugins"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!(
        "{} ({}, department {}) plugins: {}",
        m["id"].as_str().unwrap_or("?"),
        m["name"].as_str().unwrap_or("?"),
        m["department"].as_str().unwrap_or("?"),
        if plugins.is_empty() {
            "none".to_string()
        } else {
            plugins.join(", ")
        }
    )
}

fn yuan(fen: &Value) -> String {
    match fen.as_i64() {
        Some(f) => format!(
            "{}{}.{:02}",
            if f < 0 { "-" } else { "" },
            f.abs() / 100,
            f.abs() % 100
        ),
        None => "?".into(),
    }
}

/// `islet reconcile [--date YYYY-MM-DD]`: the day's statement per merchant
/// and every mismatch with the provider.
pub fn reconcile(server: &ServerArgs, date: Option<&str>) -> anyhow::Result<()> {
    let path = match date {
        Some(d) => format!("/admin/v1/reconciliation?date={d}"),
        None => "/admin/v1/reconciliation".to_string(),
    };
    let s = send(server, client()?.get(url(server, &path)))?;
    println!(
        "reconciliation {} against {}",
        s["date"].as_str().unwrap_or("?"),
        s["provider"].as_str().unwrap_or("?")
    );
    let merchants = s["merchants"].as_object().cloned().unwrap_or_default();
    if merchants.is_empty() {
        println!("  no orders that day");
    }
    for (id, m) in &merchants {
        println!(
            "  {id}: {} orders, {} paid ¥{}, {} refunds ¥{}, net ¥{}, {} closed or expired",
            m["orders"],
            m["paid_count"],
            yuan(&m["paid_fen"]),
            m["refund_count"],
            yuan(&m["refunded_fen"]),
            yuan(&m["net_fen"]),
            m["closed_or_expired"]
        );
    }
    let mismatches = s["mismatches"].as_array().cloned().unwrap_or_default();
    if mismatches.is_empty() {
        println!("no mismatches");
    } else {
        println!("{} mismatches:", mismatches.len());
        for m in &mismatches {
            println!(
                "  order {} txn {}: {}",
                m["order_id"].as_str().unwrap_or("?"),
                m["txn_id"].as_str().unwrap_or("-"),
                m["problem"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

/// `islet order ID`: an order, its journal and its event deliveries.
pub fn order(server: &ServerArgs, id: &str) -> anyhow::Result<()> {
    let d = send(
        server,
        client()?.get(url(server, &format!("/admin/v1/orders/{id}"))),
    )?;
    let o = &d["order"];
    println!(
        "order {} of {}: ¥{} to {}, {}",
        o["id"].as_str().unwrap_or("?"),
        o["plugin"].as_str().unwrap_or("?"),
        yuan(&o["request"]["amount_fen"]),
        o["request"]["merchant"].as_str().unwrap_or("?"),
        o["status"].as_str().unwrap_or("?")
    );
    for e in d["journal"].as_array().cloned().unwrap_or_default() {
        println!(
            "  {} {} by {} ¥{} → {}",
            e["at"],
            e["event"].as_str().unwrap_or("?"),
            e["by"].as_str().unwrap_or("?"),
            yuan(&e["amount_fen"]),
            e["status"].as_str().unwrap_or("?")
        );
    }
    for e in d["events"].as_array().cloned().unwrap_or_default() {
        println!(
            "  event {} {}: {} after {} attempt(s){}",
            e["id"].as_str().unwrap_or("?"),
            e["kind"].as_str().unwrap_or("?"),
            e["status"].as_str().unwrap_or("?"),
            e["attempts"],
            e["last_error"]
                .as_str()
                .map(|why| format!(", last error: {why}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

//! `cpu-heavy`: a guest that only computes, so the benchmark can measure
//! what CPU metering (epoch deadlines, fuel) costs a busy guest. It makes no
//! host calls; the same functions run natively for the baseline.
//!
//! | Route | Behaviour |
//! | --- | --- |
//! | `POST /hash?rounds=N` | [`iterated_hash`] of the body: `{"rounds","bytes","hash"}` |
//! | `POST /json?rounds=N` | [`transform_json`] of a JSON array of [`Record`]s: its [`Summary`] |
//!
//! `rounds` defaults to 1 and may be at most [`MAX_ROUNDS`].

use islet_sdk::{Request, Response, Router};
use serde::{Deserialize, Serialize};

/// The most rounds a request may ask for.
pub const MAX_ROUNDS: u32 = 100_000;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The routes of the guest.
pub fn router() -> Router {
    Router::new().post("/hash", hash).post("/json", json)
}

fn rounds(req: &Request) -> Result<u32, Response> {
    match req.query("rounds") {
        None => Ok(1),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_ROUNDS).contains(n))
            .ok_or_else(|| {
                Response::bad_request(&format!("rounds must be an integer from 1 to {MAX_ROUNDS}"))
            }),
    }
}

fn hash(req: &Request) -> Result<Response, Response> {
    let rounds = rounds(req)?;
    let hash = iterated_hash(req.body(), rounds);
    Ok(Response::json(&serde_json::json!({
        "rounds": rounds,
        "bytes": req.body().len(),
        "hash": format!("{hash:016x}"),
    })))
}

fn json(req: &Request) -> Result<Response, Response> {
    let rounds = rounds(req)?;
    let summary = transform_json(req.body(), rounds)
        .map_err(|e| Response::bad_request(&format!("the body is not a list of records: {e}")))?;
    Ok(Response::json(&summary))
}

/// FNV-1a over `data`, `rounds` times, each round continuing from the
/// previous one's hash mixed with the round number: a tight loop of loads,
/// xors and multiplies.
pub fn iterated_hash(data: &[u8], rounds: u32) -> u64 {
    let mut hash = FNV_OFFSET;
    for round in 0..rounds {
        hash ^= u64::from(round);
        for &byte in data {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// One input record of the JSON workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record number.
    pub id: u64,
    /// A name, upper-cased by the transformation.
    pub name: String,
    /// Tags, sorted and de-duplicated by the transformation.
    pub tags: Vec<String>,
    /// A score, summed by the transformation.
    pub score: f64,
}

/// What [`transform_json`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Rounds done.
    pub rounds: u32,
    /// Records in the input.
    pub records: usize,
    /// Bytes of the last round's output document.
    pub output_bytes: usize,
    /// Sum of the scores.
    pub total_score: f64,
    /// FNV-1a of the last round's output document, hex.
    pub digest: String,
}

/// Parse `body` as a JSON array of [`Record`]s, transform each (upper-case
/// name, sorted unique tags, score doubled), serialise the result and
/// repeat `rounds` times, each round parsing the previous round's output:
/// allocation, branching, small function calls.
pub fn transform_json(body: &[u8], rounds: u32) -> Result<Summary, serde_json::Error> {
    let mut document = body.to_vec();
    let mut records = 0;
    let mut total_score = 0.0;
    for _ in 0..rounds {
        let mut list: Vec<Record> = serde_json::from_slice(&document)?;
        records = list.len();
        total_score = 0.0;
        for record in &mut list {
            record.name = record.name.to_uppercase();
            record.tags.sort_unstable();
            record.tags.dedup();
            total_score += record.score;
            // Halve and double so the values stay the same across rounds.
            record.score = (record.score * 2.0) / 2.0;
        }
        document = serde_json::to_vec(&list)?;
    }
    Ok(Summary {
        rounds,
        records,
        output_bytes: document.len(),
        total_score,
        digest: format!("{:016x}", iterated_hash(&document, 1)),
    })
}

/// A deterministic JSON workload of `n` records for [`transform_json`].
pub fn sample_records(n: usize) -> Vec<Record> {
    (0..n as u64)
        .map(|i| Record {
            id: i,
            name: format!("citizen service request number {i}"),
            tags: ["street", "light", "urgent", "lane", "street"]
                .iter()
                .map(|t| format!("{t}-{}", i % 7))
                .collect(),
            score: (i % 100) as f64 / 4.0,
        })
        .collect()
}

islet_sdk::export_service!(router);

#[cfg(test)]
mod tests {
    use super::*;
    use islet_sdk::testing::TestEnv;

    #[test]
    fn hash_is_fnv1a_for_one_round_and_depends_on_rounds() {
        // FNV-1a 64 of "a".
        assert_eq!(iterated_hash(b"a", 1), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(iterated_hash(b"abc", 2), iterated_hash(b"abc", 3));
        let env = TestEnv::new();
        let r = env.call(&router(), Request::post("/hash?rounds=2", "abc"));
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.body_json().unwrap();
        assert_eq!(v["rounds"], 2);
        assert_eq!(v["bytes"], 3);
        let bad = env.call(&router(), Request::post("/hash?rounds=0", "abc"));
        assert_eq!(bad.status(), 400);
    }

    #[test]
    fn json_transform_is_stable_across_rounds() {
        let body = serde_json::to_vec(&sample_records(10)).unwrap();
        let one = transform_json(&body, 1).unwrap();
        let three = transform_json(&body, 3).unwrap();
        assert_eq!(one.records, 10);
        assert_eq!(one.digest, three.digest);
        assert_eq!(one.total_score, three.total_score);
        let env = TestEnv::new();
        let r = env.call(&router(), Request::post("/json?rounds=2", body));
        assert_eq!(r.status(), 200);
        assert_eq!(r.body_json::<Summary>().unwrap().rounds, 2);
        let bad = env.call(&router(), Request::post("/json", "not json"));
        assert_eq!(bad.status(), 400);
    }
}

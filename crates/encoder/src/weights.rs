//! Loading and validating the model files: `config.json` (architecture) and
//! `model.safetensors` (weights). The weights are copied out of the file into owned,
//! kernel-friendly buffers (linear layers transposed to `[in, out]`, Q/K/V fused), one tensor
//! at a time (see [`crate::tensor_file`]). [`Weights::arrays`] and [`Weights::assemble`]
//! write them to and read them back from the packed-weights cache ([`crate::cache`]).

use std::path::{Path, PathBuf};

use crate::dense::{Linear, PackedMatrix};
use crate::error::EncoderError;
use crate::int8::PackedI8;
use crate::storage::{Buf, Element};
use crate::tensor_file::TensorFile;
use crate::Precision;

/// The architecture numbers this encoder implements (all-MiniLM-L6-v2).
pub(crate) const HIDDEN: usize = 384;
pub(crate) const HEADS: usize = 12;
pub(crate) const HEAD_DIM: usize = HIDDEN / HEADS;
pub(crate) const INTERMEDIATE: usize = 1536;
pub(crate) const LAYERS: usize = 6;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub vocab_size: usize,
    pub max_position: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f32,
}

pub(crate) struct LayerWeights {
    /// `[HIDDEN, 3 * HIDDEN]`, columns = [query | key | value]
    pub w_qkv: Linear,
    pub b_qkv: Buf<f32>,
    /// `[HIDDEN, HIDDEN]`
    pub w_out: Linear,
    pub b_out: Buf<f32>,
    pub ln1_g: Buf<f32>,
    pub ln1_b: Buf<f32>,
    /// `[HIDDEN, INTERMEDIATE]`
    pub w_up: Linear,
    pub b_up: Buf<f32>,
    /// `[INTERMEDIATE, HIDDEN]`
    pub w_down: Linear,
    pub b_down: Buf<f32>,
    pub ln2_g: Buf<f32>,
    pub ln2_b: Buf<f32>,
}

pub(crate) struct Weights {
    pub config: Config,
    /// `[vocab, HIDDEN]`
    pub word_emb: Buf<f32>,
    /// `[max_position, HIDDEN]`
    pub pos_emb: Buf<f32>,
    /// `[HIDDEN]`: token type 0 (single-sequence inputs only use type 0)
    pub type0_emb: Buf<f32>,
    pub emb_ln_g: Buf<f32>,
    pub emb_ln_b: Buf<f32>,
    pub layers: Vec<LayerWeights>,
}

pub(crate) fn require_file(dir: &Path, name: &str) -> Result<PathBuf, EncoderError> {
    let path = dir.join(name);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(_) => Err(EncoderError::corrupt(path, "is not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(EncoderError::ModelFileMissing { path })
        }
        Err(source) => Err(EncoderError::unreadable(path, source)),
    }
}

pub(crate) fn load_config(path: &Path) -> Result<Config, EncoderError> {
    let text = std::fs::read_to_string(path).map_err(|e| EncoderError::unreadable(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| EncoderError::corrupt(path, format!("invalid JSON: {e}")))?;
    let num = |key: &str| -> Result<f64, EncoderError> {
        v.get(key)
            .and_then(|x| x.as_f64())
            .ok_or_else(|| EncoderError::corrupt(path, format!("missing numeric field \"{key}\"")))
    };
    let expect = |key: &str, want: usize| -> Result<(), EncoderError> {
        let got = num(key)?;
        if got != want as f64 {
            return Err(EncoderError::corrupt(
                path,
                format!("\"{key}\" is {got}, but this encoder implements all-MiniLM-L6-v2 ({key} = {want})"),
            ));
        }
        Ok(())
    };
    expect("hidden_size", HIDDEN)?;
    expect("num_attention_heads", HEADS)?;
    expect("num_hidden_layers", LAYERS)?;
    expect("intermediate_size", INTERMEDIATE)?;
    if let Some(act) = v.get("hidden_act").and_then(|a| a.as_str()) {
        if act != "gelu" {
            return Err(EncoderError::corrupt(
                path,
                format!("hidden_act is \"{act}\", expected \"gelu\""),
            ));
        }
    }
    let config = Config {
        vocab_size: num("vocab_size")? as usize,
        max_position: num("max_position_embeddings")? as usize,
        type_vocab_size: num("type_vocab_size").unwrap_or(2.0) as usize,
        layer_norm_eps: v
            .get("layer_norm_eps")
            .and_then(|x| x.as_f64())
            .unwrap_or(1e-12) as f32,
    };
    if config.max_position < 256 || config.type_vocab_size < 1 || config.vocab_size < 200 {
        return Err(EncoderError::corrupt(
            path,
            format!("implausible configuration {config:?}"),
        ));
    }
    Ok(config)
}

pub(crate) fn load_weights(
    path: &Path,
    config: Config,
    precision: Precision,
    kernels: crate::Kernels,
) -> Result<Weights, EncoderError> {
    let file = TensorFile::open(path)?;
    let get = |name: &str, shape: &[usize]| file.f32(name, shape);
    // PyTorch Linear weights are [out, in]; the kernels want [in, out], packed in panels.
    let linear_t = |name: &str, out_dim: usize, in_dim: usize| -> Result<Vec<f32>, EncoderError> {
        let w = get(name, &[out_dim, in_dim])?;
        Ok(transpose(&w, out_dim, in_dim))
    };
    let linear = |name: &str, out_dim: usize, in_dim: usize| -> Result<Linear, EncoderError> {
        Ok(Linear::new(
            &linear_t(name, out_dim, in_dim)?,
            in_dim,
            out_dim,
            precision,
            kernels,
        ))
    };

    let h = HIDDEN;
    let word_emb = get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
    let pos_emb = get(
        "embeddings.position_embeddings.weight",
        &[config.max_position, h],
    )?;
    let type_emb = get(
        "embeddings.token_type_embeddings.weight",
        &[config.type_vocab_size, h],
    )?;
    let emb_ln_g = get("embeddings.LayerNorm.weight", &[h])?;
    let emb_ln_b = get("embeddings.LayerNorm.bias", &[h])?;

    let mut layers = Vec::with_capacity(LAYERS);
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}.");
        let wq = linear_t(&format!("{p}attention.self.query.weight"), h, h)?;
        let wk = linear_t(&format!("{p}attention.self.key.weight"), h, h)?;
        let wv = linear_t(&format!("{p}attention.self.value.weight"), h, h)?;
        let mut w_qkv = vec![0.0f32; h * 3 * h];
        for i in 0..h {
            let row = &mut w_qkv[i * 3 * h..(i + 1) * 3 * h];
            row[..h].copy_from_slice(&wq[i * h..(i + 1) * h]);
            row[h..2 * h].copy_from_slice(&wk[i * h..(i + 1) * h]);
            row[2 * h..].copy_from_slice(&wv[i * h..(i + 1) * h]);
        }
        let mut b_qkv = Buf::zeroed(3 * h);
        for (part, name) in b_qkv
            .as_mut()
            .chunks_exact_mut(h)
            .zip(["query", "key", "value"])
        {
            part.copy_from_slice(&get(&format!("{p}attention.self.{name}.bias"), &[h])?);
        }
        layers.push(LayerWeights {
            w_qkv: Linear::new(&w_qkv, h, 3 * h, precision, kernels),
            b_qkv,
            w_out: linear(&format!("{p}attention.output.dense.weight"), h, h)?,
            b_out: get(&format!("{p}attention.output.dense.bias"), &[h])?,
            ln1_g: get(&format!("{p}attention.output.LayerNorm.weight"), &[h])?,
            ln1_b: get(&format!("{p}attention.output.LayerNorm.bias"), &[h])?,
            w_up: linear(&format!("{p}intermediate.dense.weight"), INTERMEDIATE, h)?,
            b_up: get(&format!("{p}intermediate.dense.bias"), &[INTERMEDIATE])?,
            // Its input, the GELU output, has no massive activations like the hidden states'
            // [CLS] channel: there outlier channels cost ~5 % of the int8 time (16 candidates a
            // row on average, 8 taken) and did not improve the agreement with the reference
            // (min cosine 0.99587 with them, 0.99624 without; mean 1 - cos 7.2e-4 vs 7.7e-4).
            w_down: linear(&format!("{p}output.dense.weight"), h, INTERMEDIATE)?.without_outliers(),
            b_down: get(&format!("{p}output.dense.bias"), &[h])?,
            ln2_g: get(&format!("{p}output.LayerNorm.weight"), &[h])?,
            ln2_b: get(&format!("{p}output.LayerNorm.bias"), &[h])?,
        });
    }
    Ok(Weights {
        config,
        word_emb,
        pos_emb,
        type0_emb: Buf::from_slice(&type_emb[..h]),
        emb_ln_g,
        emb_ln_b,
        layers,
    })
}

/// One array of the weights as it goes into the cache file.
pub(crate) struct ArrayRef<'a> {
    /// [`Element::TAG`] of its type.
    pub tag: u32,
    /// Number of values.
    pub count: usize,
    /// The values' bytes (native byte order).
    pub bytes: &'a [u8],
}

impl<'a> ArrayRef<'a> {
    fn of<T: Element>(b: &'a Buf<T>) -> ArrayRef<'a> {
        ArrayRef {
            tag: T::TAG,
            count: b.len(),
            bytes: b.bytes(),
        }
    }
}

/// Hands out the arrays of a cache file in order (see [`Weights::assemble`]).
pub(crate) trait ArraySource {
    /// The next array, which must hold `count` values of `T`; `Err` says why not.
    fn next<T: Element>(&mut self, count: usize) -> Result<Buf<T>, String>;
}

impl Linear {
    fn push_arrays<'a>(&'a self, out: &mut Vec<ArrayRef<'a>>) {
        match self {
            Linear::F32(m) => out.push(ArrayRef::of(m.data())),
            Linear::Int8(m) => {
                let (data, scale, colsum) = m.parts();
                out.extend([
                    ArrayRef::of(data),
                    ArrayRef::of(scale),
                    ArrayRef::of(colsum),
                ]);
            }
        }
    }

    fn assemble(
        src: &mut impl ArraySource,
        k: usize,
        n: usize,
        precision: Precision,
        kernels: crate::Kernels,
    ) -> Result<Linear, String> {
        Ok(match precision {
            Precision::F32 => Linear::F32(PackedMatrix::from_packed(src.next(k * n)?, k, n)),
            Precision::Int8 => Linear::Int8(PackedI8::from_packed(
                src.next(k * n)?,
                src.next(n)?,
                src.next(n)?,
                k,
                n,
                kernels.int8(),
            )),
        })
    }
}

impl Weights {
    /// Every array the forward pass reads, in the order of the cache file (the order
    /// [`Weights::assemble`] takes them back in).
    pub(crate) fn arrays(&self) -> Vec<ArrayRef<'_>> {
        let mut out = vec![
            ArrayRef::of(&self.word_emb),
            ArrayRef::of(&self.pos_emb),
            ArrayRef::of(&self.type0_emb),
            ArrayRef::of(&self.emb_ln_g),
            ArrayRef::of(&self.emb_ln_b),
        ];
        for l in &self.layers {
            l.w_qkv.push_arrays(&mut out);
            out.push(ArrayRef::of(&l.b_qkv));
            l.w_out.push_arrays(&mut out);
            out.extend([&l.b_out, &l.ln1_g, &l.ln1_b].map(ArrayRef::of));
            l.w_up.push_arrays(&mut out);
            out.push(ArrayRef::of(&l.b_up));
            l.w_down.push_arrays(&mut out);
            out.extend([&l.b_down, &l.ln2_g, &l.ln2_b].map(ArrayRef::of));
        }
        out
    }

    /// Weights for `config`, `precision` and `kernels` from arrays in the order of
    /// [`Weights::arrays`] (the cache file's); `Err` if one is missing or the wrong size.
    pub(crate) fn assemble(
        config: Config,
        precision: Precision,
        kernels: crate::Kernels,
        src: &mut impl ArraySource,
    ) -> Result<Weights, String> {
        let h = HIDDEN;
        let word_emb = src.next(config.vocab_size * h)?;
        let pos_emb = src.next(config.max_position * h)?;
        let type0_emb = src.next(h)?;
        let emb_ln_g = src.next(h)?;
        let emb_ln_b = src.next(h)?;
        let mut layers = Vec::with_capacity(LAYERS);
        for _ in 0..LAYERS {
            let w_qkv = Linear::assemble(src, h, 3 * h, precision, kernels)?;
            let b_qkv = src.next(3 * h)?;
            let w_out = Linear::assemble(src, h, h, precision, kernels)?;
            let (b_out, ln1_g, ln1_b) = (src.next(h)?, src.next(h)?, src.next(h)?);
            let w_up = Linear::assemble(src, h, INTERMEDIATE, precision, kernels)?;
            let b_up = src.next(INTERMEDIATE)?;
            // as in `load_weights`: the second feed-forward product takes no outliers
            let w_down =
                Linear::assemble(src, INTERMEDIATE, h, precision, kernels)?.without_outliers();
            let (b_down, ln2_g, ln2_b) = (src.next(h)?, src.next(h)?, src.next(h)?);
            layers.push(LayerWeights {
                w_qkv,
                b_qkv,
                w_out,
                b_out,
                ln1_g,
                ln1_b,
                w_up,
                b_up,
                w_down,
                b_down,
                ln2_g,
                ln2_b,
            });
        }
        Ok(Weights {
            config,
            word_emb,
            pos_emb,
            type0_emb,
            emb_ln_g,
            emb_ln_b,
            layers,
        })
    }
}

/// `[rows, cols]` row-major -> `[cols, rows]` row-major.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

//! Load errors name the offending file and say what to do.

mod common;

use std::path::{Path, PathBuf};

use codevec_encoder::{Encoder, EncoderError, EncoderOptions};

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "codevec-encoder-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A copy of the model directory with `edit` applied to it.
fn model_copy(name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let src = common::model_dir();
    let d = scratch_dir(name);
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    edit(&d);
    d
}

fn load_err(dir: &Path) -> (EncoderError, String) {
    match Encoder::load(dir, EncoderOptions::default()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => {
            let msg = e.to_string();
            (e, msg)
        }
    }
}

#[test]
fn missing_directory() {
    let (e, msg) = load_err(Path::new("/nonexistent/codevec/models/all-MiniLM-L6-v2"));
    assert!(matches!(e, EncoderError::ModelDirMissing { .. }), "{e:?}");
    assert!(
        msg.contains("/nonexistent/codevec/models/all-MiniLM-L6-v2")
            && msg.contains("make install"),
        "{msg}"
    );
}

#[test]
fn missing_files_are_named() {
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        let d = model_copy(&format!("missing-{f}"), |d| {
            std::fs::remove_file(d.join(f)).unwrap()
        });
        let (e, msg) = load_err(&d);
        assert!(matches!(e, EncoderError::ModelFileMissing { .. }), "{e:?}");
        assert!(
            msg.contains(&d.join(f).display().to_string()) && msg.contains("is missing"),
            "{msg}"
        );
        assert!(msg.contains("make install"), "{msg}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn corrupt_files_are_named() {
    let truncate = |d: &Path| {
        let bytes = std::fs::read(d.join("model.safetensors")).unwrap();
        std::fs::write(d.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    };
    let garbage = |d: &Path| {
        std::fs::write(
            d.join("model.safetensors"),
            b"this is not a safetensors file",
        )
        .unwrap()
    };
    let bad_json = |d: &Path| std::fs::write(d.join("tokenizer.json"), b"{ not json").unwrap();
    let wrong_arch = |d: &Path| {
        let c = std::fs::read_to_string(d.join("config.json")).unwrap();
        std::fs::write(
            d.join("config.json"),
            c.replace("\"hidden_size\": 384", "\"hidden_size\": 768"),
        )
        .unwrap();
    };
    type Edit = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, &str, Edit)> = vec![
        ("truncated", "model.safetensors", Box::new(truncate)),
        ("garbage", "model.safetensors", Box::new(garbage)),
        ("badjson", "tokenizer.json", Box::new(bad_json)),
        ("arch", "config.json", Box::new(wrong_arch)),
    ];
    for (name, file, edit) in cases {
        let d = model_copy(name, |d| edit(d));
        let (e, msg) = load_err(&d);
        assert!(
            matches!(e, EncoderError::ModelFileCorrupt { .. }),
            "{name}: {e:?}"
        );
        assert!(
            msg.contains(&d.join(file).display().to_string()) && msg.contains("is corrupt"),
            "{name}: {msg}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn invalid_options() {
    let dir = common::model_dir();
    for opts in [
        EncoderOptions {
            threads: 0,
            ..Default::default()
        },
        EncoderOptions {
            max_batch: 0,
            ..Default::default()
        },
    ] {
        let r = Encoder::load(&dir, opts);
        assert!(matches!(r, Err(EncoderError::InvalidOptions(_))));
    }
}

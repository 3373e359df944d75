//! Any bytes as a config file: loading gives a config or a list of problems
//! with key paths, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("stagepass-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("app-config.yaml");
    if std::fs::write(&file, data).is_err() {
        return;
    }
    let no_env = |_: &str| None;
    if let Err(errors) = stagepass::config::load_with_env(&[file], &no_env) {
        assert!(errors.0.iter().all(|p| !p.path.is_empty()));
    }
});

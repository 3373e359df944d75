//! Placeholder until the loader lands.
mod types;
pub use types::*;

// Temporary stubs (replaced by the loader).
pub struct Loaded {
    pub config: Config,
}
impl Loaded {
    pub fn redacted_yaml(&self) -> String {
        String::new()
    }
}
pub fn load(_paths: &[std::path::PathBuf]) -> Result<Loaded, String> {
    Err("not implemented".into())
}

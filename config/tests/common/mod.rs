//! Helpers shared by the config test suites.

use std::path::{Path, PathBuf};

/// A folder under the temp folder, removed when dropped.
#[derive(Debug)]
pub struct TempFolder(PathBuf);

impl TempFolder {
    /// A fresh folder for one test case of one suite.
    pub fn new(suite: &str, case: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "bizgraph-config-{suite}-{}-{case}",
            std::process::id()
        ));
        // A leftover from an earlier run with the same process id would confuse the test.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temp folder");
        Self(path)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

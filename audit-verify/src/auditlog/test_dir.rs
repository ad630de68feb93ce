//! A temporary directory for tests that need real files (rotation, following), removed on drop.

use std::{
    fs,
    io::Write,
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("audit-verify-auditlog-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, data).unwrap();
        p
    }

    pub fn append(&self, name: &str, data: &[u8]) {
        fs::OpenOptions::new().append(true).create(true).open(self.path(name)).unwrap().write_all(data).unwrap();
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

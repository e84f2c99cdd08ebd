//! Files written whole or not at all: into a temporary file beside the
//! target, then renamed over it, so a reader sees the old file or the new
//! one. A write that fails (a full disk) removes its temporary file: left,
//! it would hold the space a retry needs once some is freed, and its name,
//! unique to the process that wrote it, is never reused.

use std::fs;
use std::io;
use std::path::Path;

/// Writes `bytes` to `path` through `temporary`, a file of the same folder
/// no other writer names. On failure, `temporary` is gone and `path` is as
/// it was.
pub fn write_whole(temporary: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let written = fs::write(temporary, bytes).and_then(|()| fs::rename(temporary, path));
    if written.is_err() {
        // Already gone, or never made: either way nothing is left.
        let _ = fs::remove_file(temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let (temporary, path) = (dir.path().join(".1.f.tmp"), dir.path().join("f"));
        fs::write(&path, b"old").unwrap();
        write_whole(&temporary, &path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!temporary.exists());
    }

    /// The rename fails here (the target is a folder that is not empty),
    /// as the write fails on a full disk: the written temporary file goes.
    #[test]
    fn a_failed_write_removes_its_temporary_and_leaves_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let (temporary, path) = (dir.path().join(".1.f.tmp"), dir.path().join("f"));
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"kept").unwrap();
        assert!(write_whole(&temporary, &path, b"new").is_err());
        assert!(!temporary.exists(), "the temporary file was removed");
        assert_eq!(fs::read(path.join("inside")).unwrap(), b"kept");
    }
}

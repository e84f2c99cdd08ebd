//! The calling process, seen from the supervisor: its memory, read and
//! written with `process_vm_readv` and `process_vm_writev`, and its working
//! folder and file descriptors, reopened through `/proc`.

use std::ffi::{CStr, CString};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A thread of the tool, blocked in the call the supervisor is answering.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tracee {
    /// Its thread id, in the supervisor's PID namespace.
    pub tid: libc::pid_t,
}

impl Tracee {
    /// A path argument: a NUL-terminated string at `address`, read a page
    /// at a time so that no read crosses into an unmapped page.
    /// `/proc/self` and `/proc/thread-self` are spelled out as the
    /// caller's, since the supervisor resolves the path in its own process.
    pub fn path(self, address: u64) -> io::Result<CString> {
        let path = self.c_string(address)?;
        let bytes = path.as_bytes();
        for alias in [&b"/proc/self"[..], b"/proc/thread-self"] {
            if let Some(rest) = bytes.strip_prefix(alias)
                && (rest.is_empty() || rest.starts_with(b"/"))
            {
                let mut spelled = format!("/proc/{}", self.tid).into_bytes();
                spelled.extend_from_slice(rest);
                return CString::new(spelled).map_err(io::Error::other);
            }
        }
        Ok(path)
    }

    fn c_string(self, mut address: u64) -> io::Result<CString> {
        const PAGE: u64 = 4096;
        let mut path = Vec::new();
        while path.len() <= libc::PATH_MAX as usize {
            let mut chunk = vec![0u8; (PAGE - address % PAGE) as usize];
            let read = self.read(address, &mut chunk)?;
            if let Some(end) = chunk[..read].iter().position(|&b| b == 0) {
                path.extend_from_slice(&chunk[..end]);
                return CString::new(path).map_err(io::Error::other);
            }
            path.extend_from_slice(&chunk[..read]);
            address += read as u64;
        }
        Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG))
    }

    /// The folder a relative `path` is resolved against in the caller (its
    /// working folder, or `dirfd`), reopened here through `/proc`. `None`
    /// for an absolute path, which needs no folder.
    fn base_folder(self, dirfd: i32, path: &CStr) -> io::Result<Option<OwnedFd>> {
        if path.to_bytes().starts_with(b"/") {
            return Ok(None);
        }
        let link = if dirfd == libc::AT_FDCWD {
            format!("/proc/{}/cwd", self.tid)
        } else {
            format!("/proc/{}/fd/{dirfd}", self.tid)
        };
        let link = CString::new(link).map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated path; the descriptor is owned at once.
        let fd = unsafe { libc::open(link.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The object a stat-like call is about, opened here (`O_PATH`): `path`
    /// resolved against `dirfd` as the caller would, not following a last
    /// symbolic link under `AT_SYMLINK_NOFOLLOW`; `dirfd` itself for an
    /// empty path under `AT_EMPTY_PATH` (`fstat`). `Err` holds the `errno`
    /// the call fails with.
    pub fn open_object(
        self,
        dirfd: i32,
        path: &CStr,
        flags: i32,
    ) -> io::Result<Result<OwnedFd, i32>> {
        if path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
            return Ok(Err(libc::ENOENT));
        }
        let base = self.base_folder(dirfd, path)?;
        if path.is_empty() {
            return base
                .map(Ok)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT));
        }
        let nofollow = if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
            libc::O_NOFOLLOW
        } else {
            0
        };
        // SAFETY: a NUL-terminated path; the descriptor is owned at once.
        let fd = unsafe {
            libc::openat(
                base.as_ref().map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd),
                path.as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC | nofollow,
            )
        };
        if fd < 0 {
            return Ok(Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)));
        }
        Ok(Ok(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Reads the caller's memory at `address` into `into`; returns how many
    /// bytes were read.
    pub fn read(self, address: u64, into: &mut [u8]) -> io::Result<usize> {
        let local = [IoSliceMut::new(into)];
        let remote = [libc::iovec {
            iov_base: address as *mut libc::c_void,
            iov_len: local[0].len(),
        }];
        // SAFETY: the local slice is ours; the kernel checks the remote one.
        let read = unsafe {
            libc::process_vm_readv(self.tid, local.as_ptr().cast(), 1, remote.as_ptr(), 1, 0)
        };
        match read {
            n if n > 0 => Ok(n as usize),
            0 => Err(io::Error::from_raw_os_error(libc::EFAULT)),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Writes `bytes` into the caller's memory at `address`, all or none.
    pub fn write(self, address: u64, bytes: &[u8]) -> io::Result<()> {
        let local = [IoSlice::new(bytes)];
        let remote = [libc::iovec {
            iov_base: address as *mut libc::c_void,
            iov_len: bytes.len(),
        }];
        // SAFETY: as in `read`.
        let written = unsafe {
            libc::process_vm_writev(self.tid, local.as_ptr().cast(), 1, remote.as_ptr(), 1, 0)
        };
        if written == bytes.len() as isize {
            Ok(())
        } else if written < 0 {
            Err(io::Error::last_os_error())
        } else {
            Err(io::Error::from_raw_os_error(libc::EFAULT))
        }
    }

    /// Writes a plain C struct (`stat`, `statx`) into the caller's memory.
    pub fn write_struct<T: Copy>(self, address: u64, value: &T) -> io::Result<()> {
        // SAFETY: `T` is a C struct of integers, read as its bytes.
        let bytes =
            unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) };
        self.write(address, bytes)
    }
}

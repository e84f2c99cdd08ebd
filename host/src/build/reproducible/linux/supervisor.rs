//! The supervisor: how each call the filter hands over is answered, and
//! what it must remember to answer the same way in every build (each
//! thread's draws of randomness, the pinned inode numbers, the frozen-clock
//! library it hands to the loader).

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::super::{PINNED_EPOCH, Pinning, WORKING_FOLDER, fixed_entropy};
use super::tracee::Tracee;

/// The frozen-clock library, compiled by the build script from
/// `frozen_clock.c`.
const FROZEN_CLOCK: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/frozen_clock.so"));

/// The file the dynamic loader reads for libraries to load into every
/// program.
const LOADER_PRELOAD_LIST: &[u8] = b"/etc/ld.so.preload";

/// The device every pinned file reports, as major and minor numbers.
pub(super) const PINNED_DEVICE: (u32, u32) = (0, 0x51a7e);

/// The flags `getrandom` accepts; anything else (glibc 2.41's request for
/// vDSO state among them) is refused, which makes the caller fall back to
/// the plain system call.
const GETRANDOM_FLAGS: u64 = (libc::GRND_NONBLOCK | libc::GRND_RANDOM | libc::GRND_INSECURE) as u64;

/// How one call is answered.
pub(super) enum Answer {
    /// The call returns this value.
    Return(i64),
    /// The call fails with this `errno`.
    Fail(i32),
    /// The kernel carries out the call as usual.
    Continue,
    /// The call returns a copy of this file, as a new descriptor of the
    /// caller's.
    Descriptor(OwnedFd),
}

/// What the supervisor remembers over one build.
pub(super) struct Supervisor {
    /// Seeds the randomness handed out ([`Pinning::seed`]).
    seed: u64,
    /// How many times each thread has drawn randomness.
    draws: HashMap<libc::pid_t, u64>,
    /// The build's own folders, canonical: their files report pinned
    /// metadata.
    own_folders: Vec<PathBuf>,
    /// Every spelling of the own folders (as given, and canonical): an
    /// absolute path under none of them is left to the kernel at once.
    own_spellings: Vec<Vec<u8>>,
    /// The build's working folder (canonical), which its processes see as
    /// [`WORKING_FOLDER`].
    working_folder: Option<PathBuf>,
    /// The preload list handed to the loader, naming the library.
    preload_list: PathBuf,
    /// Whether the build was told that the tool's memory is out of reach.
    warned_no_access: bool,
    /// Holds the library and the list until the supervisor is done.
    _folder: tempfile::TempDir,
}

impl Supervisor {
    /// A supervisor for a build pinned as `pinning` says; writes the
    /// frozen-clock library and the preload list naming it.
    pub fn new(pinning: &Pinning) -> io::Result<Supervisor> {
        let folder = tempfile::Builder::new().prefix("slate-pins-").tempdir()?;
        let library = folder.path().join("frozen_clock.so");
        std::fs::write(&library, FROZEN_CLOCK)?;
        // Whatever the system preloads stays preloaded.
        let mut list = std::fs::read(OsStr::from_bytes(LOADER_PRELOAD_LIST)).unwrap_or_default();
        list.extend_from_slice(format!("\n{}\n", library.display()).as_bytes());
        let preload_list = folder.path().join("ld.so.preload");
        std::fs::write(&preload_list, list)?;
        let canonical = |folder: &PathBuf| std::fs::canonicalize(folder);
        let own_folders: Vec<PathBuf> = pinning
            .own_folders
            .iter()
            .map(canonical)
            .collect::<io::Result<_>>()?;
        let mut own_spellings: Vec<Vec<u8>> = own_folders
            .iter()
            .chain(&pinning.own_folders)
            .map(|folder| folder.as_os_str().as_bytes().to_vec())
            .collect();
        own_spellings.sort_unstable();
        own_spellings.dedup();
        Ok(Supervisor {
            seed: pinning.seed,
            draws: HashMap::new(),
            own_folders,
            own_spellings,
            working_folder: pinning.working_folder.as_ref().map(canonical).transpose()?,
            preload_list,
            warned_no_access: false,
            _folder: folder,
        })
    }

    /// Answers one call of the tool's.
    pub fn answer(&mut self, call: &libc::seccomp_notif) -> Answer {
        let caller = Tracee {
            tid: call.pid as libc::pid_t,
        };
        let args = call.data.args;
        let at = |fd: u64| fd as i32;
        let answered = match libc::c_long::from(call.data.nr) {
            libc::SYS_getrandom => self.getrandom(caller, args[0], args[1], args[2]),
            libc::SYS_getcwd => self.getcwd(caller, args[0], args[1]),
            libc::SYS_statx => self.statx(caller, args),
            libc::SYS_newfstatat => {
                self.stat(caller, at(args[0]), Some(args[1]), args[2], at(args[3]))
            }
            libc::SYS_fstat => self.stat(caller, at(args[0]), None, args[1], libc::AT_EMPTY_PATH),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_stat => self.stat(caller, libc::AT_FDCWD, Some(args[0]), args[1], 0),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_lstat => self.stat(
                caller,
                libc::AT_FDCWD,
                Some(args[0]),
                args[1],
                libc::AT_SYMLINK_NOFOLLOW,
            ),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_access => self.access(caller, args[0], args[1]),
            libc::SYS_faccessat | libc::SYS_faccessat2 => self.access(caller, args[1], args[2]),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_open => self.open(caller, args[0]),
            libc::SYS_openat => self.open(caller, args[1]),
            _ => return Answer::Continue,
        };
        answered.unwrap_or_else(|error| {
            // The kernel's own answer, unpinned. Without access to the
            // tool's memory (ptrace restrictions) nothing can be pinned.
            if error.raw_os_error() == Some(libc::EPERM) && !self.warned_no_access {
                self.warned_no_access = true;
                tracing::warn!(
                    "cannot pin the build tool's randomness and file metadata ({error}): the \
                     component's bytes may differ between builds"
                );
            }
            Answer::Continue
        })
    }

    /// `getrandom(buffer, len, flags)`: the thread's next draw of the
    /// fixed stream.
    fn getrandom(
        &mut self,
        caller: Tracee,
        buffer: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<Answer> {
        if flags & !GETRANDOM_FLAGS != 0 {
            return Ok(Answer::Fail(libc::EINVAL));
        }
        let draw = self.draws.entry(caller.tid).or_insert(0);
        let bytes = fixed_entropy(self.seed, *draw, len as usize);
        *draw += 1;
        match caller.write(buffer, &bytes) {
            Ok(()) => Ok(Answer::Return(len as i64)),
            Err(error) if error.raw_os_error() == Some(libc::EFAULT) => {
                Ok(Answer::Fail(libc::EFAULT))
            }
            Err(error) => Err(error),
        }
    }

    /// `getcwd(buffer, size)`: [`WORKING_FOLDER`] inside the build's
    /// working folder.
    fn getcwd(&self, caller: Tracee, buffer: u64, size: u64) -> io::Result<Answer> {
        let Some(working_folder) = &self.working_folder else {
            return Ok(Answer::Continue);
        };
        let real = std::fs::read_link(format!("/proc/{}/cwd", caller.tid))?;
        if !real.starts_with(working_folder) {
            return Ok(Answer::Continue);
        }
        let spelled = CString::new(WORKING_FOLDER).map_err(io::Error::other)?;
        let bytes = spelled.as_bytes_with_nul();
        if (size as usize) < bytes.len() {
            return Ok(Answer::Fail(libc::ERANGE));
        }
        caller.write(buffer, bytes)?;
        Ok(Answer::Return(bytes.len() as i64))
    }

    /// `statx(dirfd, path, flags, mask, buffer)`.
    fn statx(&self, caller: Tracee, args: [u64; 6]) -> io::Result<Answer> {
        let flags = args[2] as i32;
        let object = match self.stat_object(caller, args[0] as i32, Some(args[1]), flags)? {
            Ok(object) => object,
            Err(answer) => return Ok(answer),
        };
        // SAFETY: a zeroed statx is a valid buffer for the kernel to fill.
        let mut status: libc::statx = unsafe { zeroed() };
        let done = unsafe {
            libc::statx(
                object.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | (flags & libc::AT_STATX_SYNC_TYPE),
                args[3] as u32,
                &mut status,
            )
        };
        if done < 0 {
            return Ok(last_failure());
        }
        if let Some(inode) = self.pinned_inode(&object) {
            (status.stx_dev_major, status.stx_dev_minor) = PINNED_DEVICE;
            status.stx_ino = inode;
            status.stx_mnt_id = 0;
            for time in [
                &mut status.stx_atime,
                &mut status.stx_btime,
                &mut status.stx_ctime,
                &mut status.stx_mtime,
            ] {
                time.tv_sec = PINNED_EPOCH;
                time.tv_nsec = 0;
            }
        }
        caller.write_struct(args[4], &status)?;
        Ok(Answer::Return(0))
    }

    /// `newfstatat(dirfd, path, buffer, flags)`, and `fstat`, `stat` and
    /// `lstat` as its special cases (`path` `None`: the descriptor itself,
    /// with `AT_EMPTY_PATH`).
    fn stat(
        &self,
        caller: Tracee,
        dirfd: i32,
        path: Option<u64>,
        buffer: u64,
        flags: i32,
    ) -> io::Result<Answer> {
        let object = match self.stat_object(caller, dirfd, path, flags)? {
            Ok(object) => object,
            Err(answer) => return Ok(answer),
        };
        // SAFETY: a zeroed stat is a valid buffer for the kernel to fill.
        let mut status: libc::stat = unsafe { zeroed() };
        let done = unsafe {
            libc::fstatat(
                object.as_raw_fd(),
                c"".as_ptr(),
                &mut status,
                libc::AT_EMPTY_PATH,
            )
        };
        if done < 0 {
            return Ok(last_failure());
        }
        if let Some(inode) = self.pinned_inode(&object) {
            status.st_dev = libc::makedev(PINNED_DEVICE.0, PINNED_DEVICE.1);
            status.st_ino = inode;
            (status.st_atime, status.st_atime_nsec) = (PINNED_EPOCH, 0);
            (status.st_mtime, status.st_mtime_nsec) = (PINNED_EPOCH, 0);
            (status.st_ctime, status.st_ctime_nsec) = (PINNED_EPOCH, 0);
        }
        caller.write_struct(buffer, &status)?;
        Ok(Answer::Return(0))
    }

    /// The object a stat-like call names (see [`Tracee::open_object`]), or
    /// the call's answer when there is nothing to pin: the kernel's own for
    /// a path plainly elsewhere, the failure the call would meet.
    fn stat_object(
        &self,
        caller: Tracee,
        dirfd: i32,
        path: Option<u64>,
        flags: i32,
    ) -> io::Result<Result<OwnedFd, Answer>> {
        let path = match path {
            Some(address) => caller.path(address)?,
            None => CString::default(),
        };
        if self.plainly_elsewhere(&path) {
            return Ok(Err(Answer::Continue));
        }
        Ok(caller
            .open_object(dirfd, &path, flags)?
            .map_err(Answer::Fail))
    }

    /// Whether `path` is absolute and names nothing in the build's own
    /// folders: the kernel answers such calls, and most of a tool's look
    /// at its own installation. (A symbolic link elsewhere that leads into
    /// an own folder would be missed; the tools make none.)
    fn plainly_elsewhere(&self, path: &CStr) -> bool {
        let path = path.to_bytes();
        path.starts_with(b"/")
            && !path.starts_with(b"/proc/")
            && !self.own_spellings.iter().any(|folder| {
                path.strip_prefix(folder.as_slice())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
            })
    }

    /// The pinned inode number of `object`, if it lies in one of the
    /// build's own folders: a hash of the folder's place in the list and of
    /// the path inside it, so that it is the same in every build whatever
    /// order the tool looks at its files in.
    fn pinned_inode(&self, object: &OwnedFd) -> Option<u64> {
        let path = std::fs::read_link(format!("/proc/self/fd/{}", object.as_raw_fd())).ok()?;
        let (index, inside) = self
            .own_folders
            .iter()
            .enumerate()
            .find_map(|(index, folder)| Some((index, path.strip_prefix(folder).ok()?)))?;
        // FNV-1a, 64 bits: fixed, unlike the standard library's hasher.
        let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
        for byte in
            std::iter::once(index as u8).chain(inside.as_os_str().as_bytes().iter().copied())
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        Some(hash >> 1 | 1)
    }

    /// `access` and `faccessat`: the preload list is there to read.
    fn access(&self, caller: Tracee, path: u64, mode: u64) -> io::Result<Answer> {
        let readable = mode & !(libc::R_OK | libc::F_OK) as u64 == 0;
        Ok(
            if readable && caller.path(path)?.as_bytes() == LOADER_PRELOAD_LIST {
                Answer::Return(0)
            } else {
                Answer::Continue
            },
        )
    }

    /// `open` and `openat` for reading: the preload list is the
    /// supervisor's.
    fn open(&self, caller: Tracee, path: u64) -> io::Result<Answer> {
        if caller.path(path)?.as_bytes() != LOADER_PRELOAD_LIST {
            return Ok(Answer::Continue);
        }
        let list = std::fs::File::open(&self.preload_list)?;
        Ok(Answer::Descriptor(list.into()))
    }
}

/// The last OS error, as the caller's failure.
fn last_failure() -> Answer {
    Answer::Fail(
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

//! The seccomp filter a pinned tool runs under: which calls it hands to the
//! supervisor, how the child installs it before `exec`, and the loop that
//! receives the calls and sends the supervisor's answers.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use super::supervisor::{Answer, Supervisor};

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// How the dynamic loader opens `/etc/ld.so.preload`: only opens with these
/// flags are handed over, so that other opens cost nothing.
const LOADER_OPEN_FLAGS: u32 = (libc::O_RDONLY | libc::O_CLOEXEC) as u32;

/// A system call handed to the supervisor, when its argument `arg` (if
/// any) has the given low 32 bits.
struct Rule {
    call: libc::c_long,
    arg: Option<(usize, u32)>,
}

const fn every(call: libc::c_long) -> Rule {
    Rule { call, arg: None }
}

const fn when(call: libc::c_long, arg: usize, value: u32) -> Rule {
    Rule {
        call,
        arg: Some((arg, value)),
    }
}

/// The calls handed to the supervisor.
fn rules() -> Vec<Rule> {
    let mut rules = vec![
        every(libc::SYS_getrandom),
        every(libc::SYS_getcwd),
        every(libc::SYS_statx),
        every(libc::SYS_newfstatat),
        every(libc::SYS_fstat),
        every(libc::SYS_faccessat),
        every(libc::SYS_faccessat2),
        when(libc::SYS_openat, 2, LOADER_OPEN_FLAGS),
    ];
    // x86-64 keeps the older calls beside their `*at` forms.
    #[cfg(target_arch = "x86_64")]
    rules.extend([
        every(libc::SYS_stat),
        every(libc::SYS_lstat),
        every(libc::SYS_access),
        when(libc::SYS_open, 1, LOADER_OPEN_FLAGS),
    ]);
    rules
}

/// Spawns `command` under the filter, answers its calls through
/// `supervisor` until every process under the filter is gone, and returns
/// the command's output.
pub(super) fn output(command: &mut Command, supervisor: Supervisor) -> io::Result<Output> {
    let (ours, theirs) = UnixStream::pair()?;
    let program = filter();
    let theirs_fd = theirs.as_raw_fd();
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls, on memory it owns.
    unsafe {
        command.pre_exec(move || install(&program, theirs_fd));
    }
    let child = command.spawn()?;
    drop(theirs);
    let listener = receive_fd(&ours)?;
    std::thread::Builder::new()
        .name("slate-build-pins".into())
        .spawn(move || answer_calls(&listener, supervisor))?;
    child.wait_with_output()
}

/// The filter program: the [`rules`] of this architecture go to the
/// supervisor, everything else runs.
fn filter() -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let load = |offset: usize| libc::sock_filter {
        code: (BPF_LD | BPF_W | BPF_ABS) as u16,
        jt: 0,
        jf: 0,
        k: offset as u32,
    };
    // If equal, go on; if not, skip `skip` instructions.
    let unless_equal_skip = |value: u32, skip: u8| libc::sock_filter {
        code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
        jt: 0,
        jf: skip,
        k: value,
    };
    let give = |action: u32| libc::sock_filter {
        code: (BPF_RET | BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: action,
    };
    let arch = std::mem::offset_of!(libc::seccomp_data, arch);
    let nr = std::mem::offset_of!(libc::seccomp_data, nr);
    let args = std::mem::offset_of!(libc::seccomp_data, args);
    let mut program = vec![
        load(arch),
        // Another architecture's calls (none expected) run as they are.
        libc::sock_filter {
            code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: AUDIT_ARCH,
        },
        give(libc::SECCOMP_RET_ALLOW),
    ];
    for rule in rules() {
        program.push(load(nr));
        match rule.arg {
            None => {
                program.push(unless_equal_skip(rule.call as u32, 1));
            }
            Some((index, value)) => {
                program.push(unless_equal_skip(rule.call as u32, 3));
                // The low 32 bits of the argument (both targets are
                // little-endian).
                program.push(load(args + index * size_of::<u64>()));
                program.push(unless_equal_skip(value, 1));
            }
        }
        program.push(give(libc::SECCOMP_RET_USER_NOTIF));
    }
    program.push(give(libc::SECCOMP_RET_ALLOW));
    program
}

/// Installs the filter, with a listener, on the calling thread, and closes
/// the listener: whether this process may pin at all. Call it on a thread
/// of its own, which the filter (and no-new-privileges) stays with until
/// the thread ends.
pub(super) fn probe() -> io::Result<()> {
    let program = filter();
    let listener = install_filter(&program)?;
    // SAFETY: the listener was just created, and is closed once.
    unsafe { libc::close(listener) };
    Ok(())
}

/// Sets no-new-privileges and installs the filter on the calling thread;
/// returns the listener's descriptor. Makes only async-signal-safe calls.
fn install_filter(program: &[libc::sock_filter]) -> io::Result<RawFd> {
    let program = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: plain system calls on valid pointers.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &program as *const libc::sock_fprog,
        );
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(listener as RawFd)
    }
}

/// In the child, before exec: installs the filter and sends its listener
/// to the parent over `socket`.
fn install(program: &[libc::sock_filter], socket: RawFd) -> io::Result<()> {
    let listener = install_filter(program)?;
    let sent = send_fd(socket, listener);
    // SAFETY: the listener was just created, and is closed once.
    unsafe { libc::close(listener) };
    sent
}

/// Room for one file descriptor's control message, aligned for it.
#[repr(C, align(8))]
struct FdMessage([u8; 32]);

/// A one-byte message with room for a control message, over `control`.
fn message(byte: &mut [u8; 1], control: &mut FdMessage) -> (libc::msghdr, libc::iovec) {
    let iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero msghdr is valid; the pointers are set below.
    let mut header: libc::msghdr = unsafe { zeroed() };
    header.msg_iovlen = 1;
    header.msg_control = control.0.as_mut_ptr().cast();
    header.msg_controllen = control.0.len() as _;
    (header, iov)
}

/// Sends `fd` over `socket` (SCM_RIGHTS), without allocating.
fn send_fd(socket: RawFd, fd: RawFd) -> io::Result<()> {
    let (mut byte, mut control) = ([0u8; 1], FdMessage([0; 32]));
    let (mut header, mut iov) = message(&mut byte, &mut control);
    header.msg_iov = &mut iov;
    // SAFETY: the header points at live buffers of the sizes given, and
    // CMSG_* stay inside `control`.
    unsafe {
        header.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&header);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(socket, &header, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives the file descriptor the child sent.
fn receive_fd(socket: &UnixStream) -> io::Result<OwnedFd> {
    let (mut byte, mut control) = ([0u8; 1], FdMessage([0; 32]));
    let (mut header, mut iov) = message(&mut byte, &mut control);
    header.msg_iov = &mut iov;
    // SAFETY: as in `send_fd`; the descriptor is owned only once it is
    // known to have come in a SCM_RIGHTS message.
    unsafe {
        if libc::recvmsg(socket.as_raw_fd(), &mut header, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&header);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::other("the build tool sent no seccomp listener"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Receives calls and sends the supervisor's answers until no process
/// under the filter is left.
fn answer_calls(listener: &OwnedFd, mut supervisor: Supervisor) {
    let fd = listener.as_raw_fd();
    loop {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut poll, 1, -1) } < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if poll.revents & libc::POLLIN == 0 {
            return; // POLLHUP: every process under the filter is gone.
        }
        // SAFETY: the kernel requires a zeroed notification to fill.
        let mut call: libc::seccomp_notif = unsafe { zeroed() };
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut call) } < 0 {
            continue; // The caller died, or a signal interrupted the wait.
        }
        let mut response = libc::seccomp_notif_resp {
            id: call.id,
            val: 0,
            error: 0,
            flags: 0,
        };
        match supervisor.answer(&call) {
            Answer::Return(value) => response.val = value,
            Answer::Fail(errno) => response.error = -errno,
            Answer::Continue => response.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            Answer::Descriptor(file) => match add_fd(fd, call.id, &file) {
                Ok(number) => response.val = number,
                Err(error) => response.error = -error.raw_os_error().unwrap_or(libc::EIO),
            },
        }
        // SAFETY: a valid response; a caller that died meanwhile only makes
        // the call fail with ENOENT.
        unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &response) };
    }
}

/// Installs a copy of `file` among the caller's descriptors (close on
/// exec), and returns its number there.
fn add_fd(listener: RawFd, id: u64, file: &OwnedFd) -> io::Result<i64> {
    let request = libc::seccomp_notif_addfd {
        id,
        flags: 0,
        srcfd: file.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: libc::O_CLOEXEC as u32,
    };
    // SAFETY: a valid request for a pending notification.
    let number = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &request) };
    if number < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(i64::from(number))
}

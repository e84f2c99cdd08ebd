//! The open-file limit a server needs: a descriptor for every connection
//! it may hold (`--max-connections`), and some for itself (the store, the
//! registry, compiled components, its log). Under a lower soft limit
//! (`ulimit -n` is often 1024, or less in a container), connections past it
//! are not refused with a 503 but fail to be accepted at all: clients
//! hang in the listen backlog. At start the soft limit is raised to what is
//! needed, as far as the hard limit allows; what it cannot reach, the
//! server says.

use std::io;

/// Descriptors the server keeps for itself, beyond one per connection.
pub const FOR_ITSELF: u64 = 128;

/// What the open-file limit holds, against what a server needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// The soft limit was enough already.
    Enough {
        /// The soft limit.
        limit: u64,
    },
    /// The soft limit was raised from `from` to `to`, what is needed.
    Raised {
        /// The soft limit the server started with.
        from: u64,
        /// The soft limit now.
        to: u64,
    },
    /// The hard limit is below what is needed: the soft limit was raised
    /// to it, and no further.
    Short {
        /// The soft limit now: the hard limit.
        limit: u64,
        /// What `connections` connections need.
        needed: u64,
    },
}

/// How many descriptors a server of `connections` connections needs.
pub fn needed_for(connections: usize) -> u64 {
    (connections as u64).saturating_add(FOR_ITSELF)
}

/// Raises the soft open-file limit toward what `connections` connections
/// need, within the hard limit.
pub fn make_room_for(connections: usize) -> io::Result<Room> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = needed_for(connections);
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    // `None` is unlimited.
    let (soft, hard) = (current.unwrap_or(u64::MAX), maximum.unwrap_or(u64::MAX));
    if soft >= needed {
        return Ok(Room::Enough { limit: soft });
    }
    let to = needed.min(hard);
    if to > soft {
        let raised = Rlimit {
            current: Some(to),
            maximum,
        };
        setrlimit(Resource::Nofile, raised)?;
    }
    Ok(match to < needed {
        true => Room::Short { limit: to, needed },
        false => Room::Raised { from: soft, to },
    })
}

/// Whether an accept failed for want of a file descriptor, the process's
/// or the machine's.
pub fn is_out_of_descriptors(error: &io::Error) -> bool {
    use rustix::io::Errno;
    let out = [Errno::MFILE, Errno::NFILE].map(Errno::raw_os_error);
    error.raw_os_error().is_some_and(|code| out.contains(&code))
}

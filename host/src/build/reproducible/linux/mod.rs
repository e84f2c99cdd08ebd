//! The Linux implementation: a seccomp filter ([`seccomp`]) hands the
//! calls to pin to a supervisor thread ([`supervisor`]), which answers them
//! by reading and writing the calling process ([`tracee`]).

mod seccomp;
mod supervisor;
mod tracee;

use std::io;
use std::process::{Command, Output};

use super::Pinning;

/// Whether the kernel offers seccomp user notification with descriptor
/// injection (Linux 5.9), and this process may use it: checked once, by
/// installing a filter on a thread made for the purpose.
pub(super) fn supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut version = release
            .trim()
            .split(['.', '-'])
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let (major, minor) = (version.next().unwrap_or(0), version.next().unwrap_or(0));
        (major, minor) >= (5, 9)
            && std::thread::spawn(seccomp::probe)
                .join()
                .is_ok_and(|installed| installed.is_ok())
    })
}

/// Runs `command` under the filter, pinned as `pinning` says.
pub(super) fn output(command: &mut Command, pinning: &Pinning) -> io::Result<Output> {
    seccomp::output(command, supervisor::Supervisor::new(pinning)?)
}

#[cfg(test)]
mod tests {
    use super::super::{PINNED_EPOCH, Pinning, available, output};
    use super::*;

    /// Runs `program args` under [`output`], and returns what it printed.
    fn pinned_run(pinning: &Pinning, program: &str, args: &[&str]) -> String {
        assert!(available(), "seccomp user notification is missing here");
        let output = output(Command::new(program).args(args), pinning).expect(program);
        assert!(output.status.success(), "{program}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// What `program args` prints, run plainly.
    fn plain_run(program: &str, args: &[&str]) -> String {
        let output = Command::new(program).args(args).output().expect(program);
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn a_tool_draws_the_same_randomness_on_every_run_of_the_same_seed() {
        // shuf seeds itself through getrandom.
        let args = ["-i", "1-1000000000", "-n", "4"];
        let seeded = |seed| Pinning {
            seed,
            ..Pinning::default()
        };
        let first = pinned_run(&seeded(7), "shuf", &args);
        assert_eq!(first.lines().count(), 4, "{first}");
        assert_eq!(first, pinned_run(&seeded(7), "shuf", &args));
        assert_ne!(
            first,
            pinned_run(&seeded(8), "shuf", &args),
            "another seed, other draws"
        );
        assert_ne!(
            first,
            plain_run("shuf", &args),
            "unpinned, shuf draws afresh"
        );
    }

    #[test]
    fn a_tool_reads_frozen_clocks_in_every_process_it_starts() {
        // The shell starts `date` with an empty environment, so nothing
        // but the loader's preload list can bring the library in.
        let script = "date -u +%s; env -i /bin/sh -c 'date -u +%Y-%m-%d; sleep 0.01; date -u +%s'";
        let printed = pinned_run(&Pinning::default(), "/bin/sh", &["-c", script]);
        assert_eq!(printed, "315532800\n1980-01-01\n315532800\n");
        assert_ne!(plain_run("date", &["-u", "+%s"]), "315532800\n");
    }

    #[test]
    fn a_process_in_the_working_folder_sees_it_as_proc_self_cwd_and_elsewhere_as_it_is() {
        let work = tempfile::tempdir().unwrap();
        std::fs::create_dir(work.path().join("sources")).unwrap();
        let pinning = Pinning {
            own_folders: vec![work.path().to_path_buf()],
            working_folder: Some(work.path().to_path_buf()),
            ..Pinning::default()
        };
        // /bin/pwd -P asks the kernel (getcwd), not the shell's PWD.
        let script = "/bin/pwd -P; cd sources && /bin/pwd -P && cat ../marker; cd / && /bin/pwd -P";
        std::fs::write(work.path().join("marker"), "the same folder\n").unwrap();
        let output = output(
            Command::new("/bin/sh")
                .args(["-c", script])
                .current_dir(work.path()),
            &pinning,
        )
        .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            "/proc/self/cwd\n/proc/self/cwd\nthe same folder\n/\n"
        );
    }

    #[test]
    fn files_in_the_builds_folders_report_pinned_metadata_and_others_their_own() {
        let stat_of = |pinning: &Pinning, files: &[&std::path::Path]| {
            let mut args = vec!["-c", "%Y %X %Z %d %i %n"];
            args.extend(files.iter().map(|file| file.to_str().unwrap()));
            pinned_run(pinning, "stat", &args)
        };
        let made = |folder: &std::path::Path| {
            std::fs::create_dir(folder.join("sdk")).unwrap();
            std::fs::write(folder.join("app.py"), "print()").unwrap();
            std::fs::write(folder.join("sdk/values.py"), "").unwrap();
            [
                folder.to_path_buf(),
                folder.join("app.py"),
                folder.join("sdk/values.py"),
            ]
        };
        let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let pinned = |folder: &std::path::Path| Pinning {
            own_folders: vec![folder.to_path_buf()],
            ..Pinning::default()
        };
        let in_first = made(first.path());
        let in_second = made(second.path());
        let first_run = stat_of(
            &pinned(first.path()),
            &in_first.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        );
        let second_run = stat_of(
            &pinned(second.path()),
            &in_second.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        );

        let device = libc::makedev(supervisor::PINNED_DEVICE.0, supervisor::PINNED_DEVICE.1);
        let epoch = PINNED_EPOCH.to_string();
        let inodes = |run: &str| -> Vec<String> {
            run.lines()
                .map(|line| {
                    let fields: Vec<&str> = line.split(' ').collect();
                    assert_eq!(
                        fields[..4],
                        [&epoch, &epoch, &epoch, &device.to_string()],
                        "{line}"
                    );
                    fields[4].to_string()
                })
                .collect()
        };
        let (first_inodes, second_inodes) = (inodes(&first_run), inodes(&second_run));
        assert_eq!(
            first_inodes, second_inodes,
            "the same file in two builds, the same inode"
        );
        let mut distinct = first_inodes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            3,
            "each file keeps an inode of its own: {first_run}"
        );
        // ls stats through newfstatat or lstat rather than statx.
        let listed = pinned_run(
            &pinned(first.path()),
            "ls",
            &["-ld", "--time-style=+%s", first.path().to_str().unwrap()],
        );
        assert_eq!(listed.split_whitespace().nth(5), Some(epoch.as_str()));

        let elsewhere = stat_of(
            &pinned(second.path()),
            &in_first.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        );
        assert!(!elsewhere.contains(&epoch), "{elsewhere}");
        assert_eq!(
            elsewhere,
            plain_run(
                "stat",
                &[
                    "-c",
                    "%Y %X %Z %d %i %n",
                    in_first[0].to_str().unwrap(),
                    in_first[1].to_str().unwrap(),
                    in_first[2].to_str().unwrap()
                ]
            )
        );
    }
}

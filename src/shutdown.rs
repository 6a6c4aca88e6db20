//! Ctrl-C and the servers this process started: every server registers here while it runs, so that an
//! interrupt stops them all before the process exits, and long work can ask whether it should end early.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static GRACEFUL: AtomicBool = AtomicBool::new(false);
static RUNNING: Mutex<BTreeMap<u32, PathBuf>> = Mutex::new(BTreeMap::new());

/// Exit status after an interrupt, as shells report SIGINT.
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

/// Installs the Ctrl-C / SIGTERM handler. Without [`set_graceful`], the first interrupt stops every
/// registered server and exits; with it, the first interrupt only raises [`interrupted`] so the running
/// work can finish cleanly, and a second one stops the servers and exits.
pub fn install_handler() {
    let result = ctrlc::set_handler(|| {
        let count = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
        if GRACEFUL.load(Ordering::SeqCst) && count == 1 {
            eprintln!("\ninterrupted: finishing the current step cleanly (press Ctrl-C again to stop at once)");
            return;
        }
        eprintln!("\ninterrupted: stopping the servers this run started");
        stop_all_servers(Duration::from_secs(30));
        std::process::exit(INTERRUPTED_EXIT_CODE);
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
}

/// Chooses whether the first interrupt only raises a flag (true) or ends the process (false).
pub fn set_graceful(graceful: bool) {
    GRACEFUL.store(graceful, Ordering::SeqCst);
}

/// Whether Ctrl-C (or SIGTERM) was received.
pub fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// Records a running postmaster so that an interrupt stops it.
pub fn register_server(pid: u32, data_dir: &Path) {
    RUNNING.lock().unwrap().insert(pid, data_dir.to_path_buf());
}

/// Forgets a postmaster that has been stopped.
pub fn unregister_server(pid: u32) {
    RUNNING.lock().unwrap().remove(&pid);
}

/// Sends every registered postmaster a fast shutdown (SIGINT), then waits up to `patience` for them to exit,
/// and kills what is left.
pub fn stop_all_servers(patience: Duration) {
    let pids: Vec<u32> = RUNNING
        .lock()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    for &pid in &pids {
        signal(pid, libc::SIGINT);
    }
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline && pids.iter().any(|&p| process_alive(p)) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for &pid in &pids {
        if process_alive(pid) {
            kill_tree(pid);
        }
    }
}

/// Sends `sig` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Kills `root` and every process descended from it at one instant, as a power failure would: all are
/// stopped first (so none can write, fork or react to another's death), then all are killed. PostgreSQL
/// puts each backend in a session of its own, so the postmaster's process group alone is not enough.
/// Returns the processes killed.
pub fn kill_tree(root: u32) -> Vec<u32> {
    let mut stopped = vec![root];
    signal(root, libc::SIGSTOP);
    // Children may be forked until their parent is stopped: collect until no new descendant appears.
    loop {
        let found: Vec<u32> = descendants(&stopped)
            .into_iter()
            .filter(|p| !stopped.contains(p))
            .collect();
        if found.is_empty() {
            break;
        }
        for &pid in &found {
            signal(pid, libc::SIGSTOP);
        }
        stopped.extend(found);
    }
    for &pid in &stopped {
        signal(pid, libc::SIGKILL);
    }
    stopped
}

/// Waits up to `patience` until none of `pids` is alive.
pub fn wait_all_gone(pids: &[u32], patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while pids.iter().any(|&p| process_alive(p)) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// `root` and every live process descended from it now (children of a dead process have been re-parented
/// and are no longer found).
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut tree = vec![root];
    loop {
        let found: Vec<u32> = descendants(&tree)
            .into_iter()
            .filter(|p| !tree.contains(p))
            .collect();
        if found.is_empty() {
            return tree.into_iter().filter(|&p| process_alive(p)).collect();
        }
        tree.extend(found);
    }
}

/// Processes whose parent is one of `parents`, from /proc.
fn descendants(parents: &[u32]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                .is_some_and(|ppid| parents.contains(&ppid))
        })
        .collect()
}

/// Whether `pid` names a live process (a zombie that has not been reaped counts as exited).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name, which may itself contain spaces.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_tree_reaches_grandchildren_in_other_sessions() {
        // A shell that starts a child in a session of its own, as the postmaster does with its backends.
        let mut parent = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 60 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(parent.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        wait_until(|| descendants(&[parent.id()]).contains(&grandchild));
        assert_eq!(process_tree(parent.id()), vec![parent.id(), grandchild]);
        let killed = kill_tree(parent.id());
        assert!(killed.contains(&grandchild), "{killed:?}");
        parent.wait().unwrap();
        assert!(wait_all_gone(&[grandchild], Duration::from_secs(10)));
    }

    fn wait_until(mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "condition not met in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn own_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }
}
